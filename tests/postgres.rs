//! The idempotency table live from the real Postgres on this machine
//! (HOPLINE_TEST_PG, default postgres://postgres@127.0.0.1:5432/postgres).
//! Each test makes its own schema and drops it. Under CI=true an unreachable
//! server fails the test; elsewhere it is skipped with a loud message.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::{run, run_ok};
use hopline::config::Config;
use hopline::index::RecordIndex;
use hopline::ingest::{ingest, ingest_pg};
use hopline::sources::postgres::{PgTarget, with_read_only};
use serde_json::Value;

fn pg_url() -> String {
    std::env::var("HOPLINE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A schema of this test's own, dropped when the guard goes.
struct Schema {
    name: String,
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Schema {
    fn new() -> Option<Schema> {
        static N: AtomicU32 = AtomicU32::new(0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let connected = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "Postgres unreachable under CI at {}: {e}",
                    pg_url()
                );
                eprintln!(
                    "\n*** SKIPPED: Postgres unreachable at {} ({e}); set HOPLINE_TEST_PG ***\n",
                    pg_url()
                );
                return None;
            }
        };
        let name = format!(
            "hopline_t_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let s = Schema { name, rt, client };
        s.exec(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
            s.name
        ));
        Some(s)
    }

    fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The connection string that puts this schema first on the search path.
    fn url(&self) -> String {
        format!("{}?options=-csearch_path%3D{}", pg_url(), self.name)
    }

    fn operation_log(&self, rows: &str) {
        self.exec(&format!(
            "CREATE TABLE {0}.operation_log (idem_key text PRIMARY KEY, payload_hash text, status text, \
             result_json jsonb, updated_at timestamptz NOT NULL); INSERT INTO {0}.operation_log VALUES {rows}",
            self.name
        ));
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.rt.block_on(
            self.client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)),
        );
    }
}

const ROWS: &str = "\
('idem_a', 'sha256:aa', 'completed', '{\"charge_id\": \"ch_1\", \"note\": \"two\\nlines\"}', '2026-11-20 09:00:01.5+00'),\
('idem_b', 'sha256:bb', 'processing', NULL, '2026-11-20 09:00:02+00'),\
('idem_c', 'sha256:cc', 'failed', '{\"error\": \"revoked, \\\"before\\\" start\"}', '2026-11-20 09:00:03.25+00')";

fn ingest_json(tmp: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Output {
    run(common::hopline(&tmp.join("cache"))
        .arg("--index")
        .arg(tmp.join("ix"))
        .args(["ingest", "--json", "--pg", url])
        .args(extra))
}

fn ingest_ok(tmp: &std::path::Path, url: &str) -> Value {
    let out = ingest_json(tmp, url, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn operation_log_live_places_rows_on_the_timeline() {
    let Some(s) = Schema::new() else { return };
    s.operation_log(ROWS);
    let tmp = tempfile::tempdir().unwrap();
    let v = ingest_ok(tmp.path(), &s.url());
    assert_eq!(v["postgres"]["rows_read"], 3);
    assert_eq!(v["postgres"]["table"], format!("{}.operation_log", s.name));
    let t: Value = serde_json::from_str(&run_ok(
        common::hopline(&tmp.path().join("cache"))
            .arg("--index")
            .arg(tmp.path().join("ix"))
            .args(["timeline", "idem_b", "--json"]),
    ))
    .unwrap();
    let e = &t["entries"][0];
    assert_eq!(e["kind"], "idem_row");
    assert_eq!(e["mutation"], true);
    assert_eq!(e["ts"], "2026-11-20T09:00:02.000000Z");
    assert_eq!(e["source"]["path"], "postgres:operation_log");
    assert!(e["message"].as_str().unwrap().contains("status=processing"));
}

#[test]
fn processed_events_shape_needs_no_config() {
    let Some(s) = Schema::new() else { return };
    s.exec(&format!(
        "CREATE TABLE {0}.processed_events (event_id text, fingerprint text, status text, response text); \
         INSERT INTO {0}.processed_events VALUES ('evt_1', 'fp1', 'done', 'ok'), ('evt_2', 'fp2', 'processing', NULL)",
        s.name
    ));
    let tmp = tempfile::tempdir().unwrap();
    let v = ingest_ok(tmp.path(), &s.url());
    assert_eq!(v["postgres"]["records_added"], 2);
    // No time column: a second read replaces the first instead of doubling it.
    let again: Value =
        serde_json::from_slice(&ingest_json(tmp.path(), &s.url(), &[]).stdout).unwrap();
    assert_eq!(again["records_total"], 2);
}

#[test]
fn large_table_is_read_incrementally() {
    let Some(s) = Schema::new() else { return };
    s.exec(&format!(
        "CREATE TABLE {0}.operation_log (idem_key text PRIMARY KEY, payload_hash text, status text, \
         result_json jsonb, updated_at timestamptz NOT NULL); \
         INSERT INTO {0}.operation_log SELECT 'idem_' || i, 'sha256:' || md5(i::text), 'completed', NULL, \
         timestamptz '2026-11-20 09:00:00+00' + i * interval '1 ms' FROM generate_series(1, 100000) i",
        s.name
    ));
    let tmp = tempfile::tempdir().unwrap();
    let first: Value =
        serde_json::from_slice(&ingest_json(tmp.path(), &s.url(), &[]).stdout).unwrap();
    assert_eq!(first["postgres"]["rows_read"], 100_000);
    assert_eq!(first["records_total"], 100_000);
    let none: Value =
        serde_json::from_slice(&ingest_json(tmp.path(), &s.url(), &[]).stdout).unwrap();
    assert_eq!(none["postgres"]["rows_read"], 0);
    s.exec(&format!(
        "UPDATE {0}.operation_log SET status = 'failed', updated_at = timestamptz '2026-11-20 10:00:00+00' \
         WHERE idem_key IN ('idem_7', 'idem_70', 'idem_700')",
        s.name
    ));
    let moved: Value =
        serde_json::from_slice(&ingest_json(tmp.path(), &s.url(), &[]).stdout).unwrap();
    assert_eq!(moved["postgres"]["rows_read"], 3);
    assert_eq!(
        moved["records_total"], 100_003,
        "the status change is a new record; the old state stays"
    );
}

#[test]
fn the_connection_is_read_only() {
    let Some(s) = Schema::new() else { return };
    s.operation_log(ROWS);
    let target = PgTarget::parse(&s.url()).unwrap();
    let table = format!("{}.operation_log", s.name);
    let err = with_read_only(&target, async |client| {
        client
            .execute(&format!("DELETE FROM {table}"), &[])
            .await
            .map(|_| ())
            .map_err(|e| hopline::sources::postgres::PgError::Query {
                target: String::new(),
                why: e
                    .as_db_error()
                    .map(|d| d.code().code().to_string())
                    .unwrap_or_default(),
            })
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("25006"),
        "write was not refused as read-only: {err}"
    );
    // And the rows are all still there.
    s.exec(&format!(
        "DO $$ BEGIN IF (SELECT count(*) FROM {table}) <> 3 THEN RAISE 'rows lost'; END IF; END $$"
    ));
}

#[test]
fn failures_are_one_clear_line_and_leave_the_index_as_it_was() {
    let Some(s) = Schema::new() else { return };
    s.operation_log(ROWS);
    let tmp = tempfile::tempdir().unwrap();
    assert!(ingest_json(tmp.path(), &s.url(), &[]).status.success());

    let expect_fail = |url: &str, extra: &[&str], needle: &str| {
        let out = ingest_json(tmp.path(), url, extra);
        assert_eq!(out.status.code(), Some(1), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert!(!err.contains("s3cret"), "password leaked: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    };
    // Server down: nothing listens on port 1.
    expect_fail(
        "postgres://app:s3cret@127.0.0.1:1/postgres",
        &[],
        "cannot connect to Postgres at app@127.0.0.1:1/postgres",
    );
    // No such table.
    expect_fail(
        &s.url(),
        &["--pg-table", "no_such_table"],
        "no idempotency table",
    );
    // Permission denied: a role that may not read the table.
    let role = format!("{}_ro", s.name);
    s.exec(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD 's3cret'"
    ));
    let url = s.url().replacen(
        "postgres://postgres@",
        &format!("postgres://{role}:s3cret@"),
        1,
    );
    expect_fail(
        &url,
        &["--pg-table", &format!("{}.operation_log", s.name)],
        "permission denied",
    );
    s.exec(&format!("DROP ROLE IF EXISTS {role}"));

    let index = RecordIndex::open_existing(&tmp.path().join("ix")).unwrap();
    assert_eq!(index.count().unwrap(), 3);
}

#[test]
fn a_dump_gives_the_same_records_as_the_live_table() {
    let Some(s) = Schema::new() else { return };
    s.operation_log(ROWS);
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::default();

    let live = RecordIndex::open_or_create(&tmp.path().join("live")).unwrap();
    ingest_pg(&live, &PgTarget::parse(&s.url()).unwrap(), None, &config).unwrap();

    // What `\copy operation_log TO … CSV HEADER` writes.
    let dump_dir = tmp.path().join("bundle");
    std::fs::create_dir_all(&dump_dir).unwrap();
    let csv = s.rt.block_on(async {
        use futures_util::TryStreamExt;
        let sql = format!(
            "COPY {}.operation_log TO STDOUT WITH (FORMAT csv, HEADER)",
            s.name
        );
        let stream = s.client.copy_out(&sql).await.unwrap();
        let chunks: Vec<bytes_like::Chunk> =
            stream.map_ok(|b| b.to_vec()).try_collect().await.unwrap();
        chunks.concat()
    });
    std::fs::write(dump_dir.join("operation_log.csv"), csv).unwrap();
    let dumped = RecordIndex::open_or_create(&tmp.path().join("dump")).unwrap();
    ingest(&dumped, &[dump_dir], &config, &mut |_| {}).unwrap();

    let strip = |mut rs: Vec<hopline::record::Record>| {
        rs.sort_by_key(|r| r.ts);
        rs.into_iter()
            .map(|mut r| {
                r.source.path.clear();
                r.source.line = 0;
                r
            })
            .collect::<Vec<_>>()
    };
    let a = strip(live.all_records().unwrap());
    let b = strip(dumped.all_records().unwrap());
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
}

mod bytes_like {
    pub type Chunk = Vec<u8>;
}

/// One value from the server, over the test's own connection.
fn scalar(s: &Schema, sql: &str) -> String {
    s.rt.block_on(s.client.query_one(sql, &[]))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Asks the server, over hopline's own connection, whether it is TLS.
fn connection_is_tls(url: &str) -> Result<bool, String> {
    let target = PgTarget::parse(url).map_err(|e| e.to_string())?;
    with_read_only(&target, async |client| {
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(|e| hopline::sources::postgres::PgError::Query {
                target: String::new(),
                why: e.to_string(),
            })?;
        Ok(row.get::<_, bool>(0))
    })
    .map_err(|e| e.to_string())
}

#[test]
fn tls_modes_mean_what_libpq_says() {
    let Some(s) = Schema::new() else { return };
    if scalar(&s, "SHOW ssl") != "on" {
        // The server of our own covers TLS wherever it can start; this one
        // is the shared server's own setting.
        assert!(
            std::env::var_os("CI").is_none(),
            "the server at {} has ssl=off under CI",
            pg_url()
        );
        eprintln!(
            "\n*** SKIPPED: the server at {} has ssl=off ***\n",
            pg_url()
        );
        return;
    }
    let url = s.url();
    assert_eq!(
        connection_is_tls(&format!("{url}&sslmode=disable")),
        Ok(false)
    );
    assert_eq!(
        connection_is_tls(&format!("{url}&sslmode=require")),
        Ok(true)
    );
    assert_eq!(connection_is_tls(&url), Ok(true), "prefer is the default");
    // The local server's certificate is self-signed: not trusted by the
    // system roots, so verification must refuse it, clearly.
    let err = connection_is_tls(&format!("{url}&sslmode=verify-full")).unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    assert!(err.starts_with("cannot connect to Postgres"), "{err}");
    // Given as the root, it is trusted; verify-ca ignores that it was issued
    // for `localhost` while we dialled 127.0.0.1, verify-full does not.
    let cert = scalar(&s, "SHOW ssl_cert_file");
    if std::fs::read(&cert).is_ok() {
        let root = format!("&sslrootcert={}", cert.replace('/', "%2F"));
        assert_eq!(
            connection_is_tls(&format!("{url}&sslmode=verify-ca{root}")),
            Ok(true)
        );
        let err = connection_is_tls(&format!("{url}&sslmode=verify-full{root}")).unwrap_err();
        assert!(err.contains("certificate"), "{err}");
    } else {
        eprintln!("\n*** server certificate {cert} unreadable; verify-ca not tried ***\n");
    }
}

#[test]
fn any_table_reads_through_a_column_mapping() {
    let Some(s) = Schema::new() else { return };
    s.exec(&format!(
        "CREATE TABLE {0}.dedupe (dedupe_token text, body_sha text, phase text, changed_at timestamptz); \
         INSERT INTO {0}.dedupe VALUES ('tok_1', 'sha:1', 'processing', '2026-11-20 09:00:01+00'), \
         ('tok_2', 'sha:2', 'completed', '2026-11-20 09:00:02+00')",
        s.name
    ));
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("hopline.toml");
    let write_config = |status: &str| {
        std::fs::write(
            &config,
            format!(
                "[postgres]\ntable = \"dedupe\"\n[postgres.columns]\nkey = \"dedupe_token\"\n\
                 status = \"{status}\"\ntime = \"changed_at\"\nfingerprint = \"body_sha\"\n"
            ),
        )
        .unwrap();
    };
    write_config("phase");
    let with_config =
        |tmp: &std::path::Path| ingest_json(tmp, &s.url(), &["--config", config.to_str().unwrap()]);
    let out = with_config(tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["postgres"]["rows_read"], 2);
    let records = RecordIndex::open_existing(&tmp.path().join("ix"))
        .unwrap()
        .all_records()
        .unwrap();
    let tok1 = records
        .iter()
        .find(|r| r.carries("tok_1"))
        .expect("key became an ID");
    assert_eq!(tok1.attr("status"), Some("processing"));
    assert_eq!(hopline::record::fingerprint(tok1), Some("sha:1"));
    assert_eq!(
        hopline::record::format_ts(tok1.ts),
        "2026-11-20T09:00:01.000000Z"
    );
    // Incremental by the mapped time column.
    let again: Value = serde_json::from_slice(&with_config(tmp.path()).stdout).unwrap();
    assert_eq!(again["postgres"]["rows_read"], 0);

    // A mapping that names a missing column says which key and column.
    write_config("stage");
    let out = with_config(tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("postgres.columns.status") && err.contains("stage"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let index = RecordIndex::open_existing(&tmp.path().join("ix")).unwrap();
    assert_eq!(index.count().unwrap(), 2);
}

#[test]
fn a_server_gone_mid_read_leaves_the_index_as_it_was() {
    let Some(s) = Schema::new() else { return };
    s.operation_log(ROWS);
    // A table-shaped view that stalls in the middle of producing its rows,
    // so the server can be taken away while hopline is reading.
    s.exec(&format!(
        "CREATE VIEW {0}.stalling AS SELECT 'k_' || i AS idem_key, 'h' AS payload_hash, \
         'completed' AS status, timestamptz '2026-11-20 09:00:00+00' + i * interval '1 ms' AS updated_at \
         FROM generate_series(1, 5000) i WHERE i <> 4000 OR pg_sleep(60) IS NOT NULL",
        s.name
    ));
    let tmp = tempfile::tempdir().unwrap();
    ingest_ok(tmp.path(), &s.url());
    let child = common::hopline(&tmp.path().join("cache"))
        .arg("--index")
        .arg(tmp.path().join("ix"))
        .args(["ingest", "--pg", &s.url(), "--pg-table", "stalling"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let find = format!(
        "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity \
         WHERE application_name = 'hopline' AND wait_event = 'PgSleep' AND query LIKE '%{}%stalling%'",
        s.name
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while scalar(&s, &find) == "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "hopline never reached the stall"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Postgres at"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let index = RecordIndex::open_existing(&tmp.path().join("ix")).unwrap();
    assert_eq!(
        index.count().unwrap(),
        3,
        "nothing of the broken read was kept"
    );
}

#[test]
fn a_json_lines_dump_gives_the_same_rows_as_the_live_table() {
    let Some(s) = Schema::new() else { return };
    s.operation_log(ROWS);
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::default();
    let live = RecordIndex::open_or_create(&tmp.path().join("live")).unwrap();
    ingest_pg(&live, &PgTarget::parse(&s.url()).unwrap(), None, &config).unwrap();

    // What `psql -At -c "SELECT row_to_json(t) FROM operation_log t"` writes.
    let rows =
        s.rt.block_on(s.client.query(
            &format!(
                "SELECT row_to_json(t)::text FROM {}.operation_log t",
                s.name
            ),
            &[],
        ))
        .unwrap();
    let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let dump_dir = tmp.path().join("bundle");
    std::fs::create_dir_all(&dump_dir).unwrap();
    std::fs::write(
        dump_dir.join("operation_log.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let dumped = RecordIndex::open_or_create(&tmp.path().join("dump")).unwrap();
    let report = ingest(&dumped, &[dump_dir], &config, &mut |_| {}).unwrap();
    assert_eq!(report.files[0].dialect.as_str(), "idem_json");

    // JSON spells timestamps and jsonb differently from Postgres's text
    // output; what the timeline and the detectors use must agree.
    let essence = |mut rs: Vec<hopline::record::Record>| {
        rs.sort_by_key(|r| r.ts);
        rs.into_iter()
            .map(|r| {
                (
                    r.ts,
                    r.kind,
                    r.service.clone(),
                    r.message.clone(),
                    r.ids.clone(),
                    r.mutation,
                    hopline::record::fingerprint(&r).map(str::to_string),
                )
            })
            .collect::<Vec<_>>()
    };
    let a = essence(live.all_records().unwrap());
    assert_eq!(a.len(), 3);
    assert_eq!(a, essence(dumped.all_records().unwrap()));
}

#[test]
fn the_tui_follows_a_row_changing_in_postgres() {
    let Some(s) = Schema::new() else { return };
    s.exec(&format!(
        "CREATE TABLE {0}.operation_log (idem_key text PRIMARY KEY, payload_hash text, status text, \
         result_json jsonb, updated_at timestamptz NOT NULL); \
         INSERT INTO {0}.operation_log VALUES ('idem_live01', 'sha256:aa', 'processing', NULL, '2026-11-20 09:00:01+00')",
        s.name
    ));
    let cache = tempfile::tempdir().unwrap();
    let bundle = cache.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(
        bundle.join("payments-api-6c8d7b5f9-q4w8n.log"),
        "{\"time\":1795165200500,\"level\":30,\"msg\":\"idempotency key reserved\",\"event_id\":\"evt_live01\",\"idem_key\":\"idem_live01\"}\n",
    )
    .unwrap();
    let Some(tmux) = common::tmux::open_in_tmux_with(
        "pgfollow",
        &bundle,
        cache.path(),
        &format!("--pg '{}'", s.url()),
    ) else {
        return;
    };
    tmux.wait_for("Triage");
    tmux.send(&["Escape"]);
    let first = tmux.wait_for("Events (1)");
    assert!(
        first.contains("stuck_processing"),
        "the row is stuck: {first}"
    );
    tmux.send(&["f"]);
    tmux.wait_for("follow ●");
    s.exec(&format!(
        "UPDATE {0}.operation_log SET status = 'completed', updated_at = '2026-11-20 09:00:03+00'",
        s.name
    ));
    // The row completed: a new state on the timeline, and no longer stuck.
    let after = tmux.wait_for("0 findings");
    assert!(after.contains("3 records"), "{after}");
    tmux.send(&["q"]);
    tmux.wait_for("HOPLINE-EXIT=0");
}

/// A Postgres of the test's own, started for it: TLS with a certificate
/// made for `localhost`, and password (SCRAM) authentication, which the
/// shared server (trust, maybe no TLS) cannot show. Under CI=true a machine
/// that cannot start one fails the test; elsewhere it is skipped loudly.
struct OwnServer {
    dir: tempfile::TempDir,
    port: u16,
    pg_ctl: std::path::PathBuf,
    /// `runuser -u postgres --` when we are root: Postgres refuses root.
    as_user: Vec<String>,
}

const OWN_PASSWORD: &str = "own-s3cret-pw";

impl OwnServer {
    fn start() -> Option<OwnServer> {
        match OwnServer::try_start() {
            Ok(s) => Some(s),
            Err(why) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "could not start a Postgres of the test's own under CI: {why}"
                );
                eprintln!("\n*** SKIPPED: no Postgres of the test's own ({why}) ***\n");
                None
            }
        }
    }

    fn sh(as_user: &[String], program: &std::path::Path, args: &[&str]) -> Result<(), String> {
        let mut cmd = match as_user.split_first() {
            Some((first, rest)) => {
                let mut c = std::process::Command::new(first);
                c.args(rest).arg(program);
                c
            }
            None => std::process::Command::new(program),
        };
        let out = cmd
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {args:?}: {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn try_start() -> Result<OwnServer, String> {
        use std::os::unix::fs::PermissionsExt;
        let bindir = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|d| !d.is_empty())
            .ok_or("pg_config --bindir gave nothing")?;
        let bin = std::path::PathBuf::from(bindir);
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path();
        let is_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let as_user: Vec<String> = if is_root {
            vec![
                "runuser".into(),
                "-u".into(),
                "postgres".into(),
                "--".into(),
            ]
        } else {
            Vec::new()
        };
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| e.to_string())?;
        std::fs::write(root.join("pw"), OWN_PASSWORD).map_err(|e| e.to_string())?;
        std::fs::set_permissions(root.join("pw"), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| e.to_string())?;
        let data = root.join("data");
        let data_s = data.display().to_string();
        let pw = root.join("pw").display().to_string();
        OwnServer::sh(
            &as_user,
            &bin.join("initdb"),
            &[
                "-D",
                &data_s,
                "-U",
                "hopline",
                "-A",
                "scram-sha-256",
                "--pwfile",
                &pw,
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        // A certificate authority of the test's own, and a certificate for
        // localhost that it signed.
        let file = |name: &str| root.join(name).display().to_string();
        let (ca_crt, ca_key, csr) = (file("ca.crt"), file("ca.key"), file("server.csr"));
        let crt = file("server.crt");
        let key = file("server.key");
        let ext = file("server.ext");
        std::fs::write(
            &ext,
            "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n",
        )
        .map_err(|e| e.to_string())?;
        let openssl = std::path::Path::new("openssl");
        for args in [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=hopline test CA",
                "-keyout",
                &ca_key,
                "-out",
                &ca_crt,
            ][..],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                &key,
                "-out",
                &csr,
            ][..],
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_crt,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ][..],
        ] {
            OwnServer::sh(&as_user, openssl, args)?;
        }
        OwnServer::sh(&as_user, std::path::Path::new("chmod"), &["600", &key])?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = '{crt}'\nssl_key_file = '{key}'\nfsync = off\n",
            root.display()
        );
        let mut text = std::fs::read_to_string(data.join("postgresql.conf"))
            .map_err(|e| format!("postgresql.conf: {e}"))?;
        text.push_str(&conf);
        let conf_path = root.join("extra.conf");
        std::fs::write(&conf_path, text).map_err(|e| e.to_string())?;
        OwnServer::sh(
            &as_user,
            std::path::Path::new("cp"),
            &[
                &conf_path.display().to_string(),
                &data.join("postgresql.conf").display().to_string(),
            ],
        )?;
        let log = root.join("log").display().to_string();
        let pg_ctl = bin.join("pg_ctl");
        OwnServer::sh(
            &as_user,
            &pg_ctl,
            &["-D", &data_s, "-l", &log, "-w", "-t", "30", "start"],
        )
        .map_err(|e| {
            format!(
                "{e}; log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        Ok(OwnServer {
            dir,
            port,
            pg_ctl,
            as_user,
        })
    }

    fn url(&self, password: &str, host: &str, extra: &str) -> String {
        format!(
            "postgres://hopline:{password}@{host}:{}/postgres?{extra}",
            self.port
        )
    }

    /// The authority that signed the server's certificate.
    fn cert(&self) -> String {
        self.dir.path().join("ca.crt").display().to_string()
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let _ = OwnServer::sh(
            &self.as_user,
            &self.pg_ctl,
            &["-D", &data, "-m", "immediate", "stop"],
        );
    }
}

#[test]
fn a_wrong_password_and_tls_against_a_server_of_our_own() {
    let Some(srv) = OwnServer::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // A wrong password: one clear line, exit 1, the password nowhere.
    let out = ingest_json(
        tmp.path(),
        &srv.url("not-the-pw-9", "127.0.0.1", "sslmode=require"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("not-the-pw-9"), "password leaked: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // TLS as libpq means it.
    let at = |host: &str, extra: &str| connection_is_tls(&srv.url(OWN_PASSWORD, host, extra));
    assert_eq!(at("127.0.0.1", "sslmode=disable"), Ok(false));
    assert_eq!(at("127.0.0.1", "sslmode=require"), Ok(true));
    assert_eq!(at("127.0.0.1", ""), Ok(true), "prefer is the default");
    let root = format!("sslrootcert={}", srv.cert().replace('/', "%2F"));
    // Not signed by a system root: refused, clearly.
    let err = at("localhost", "sslmode=verify-full").unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    // Given as the root it is trusted, for the name it was made for.
    assert_eq!(
        at("localhost", &format!("sslmode=verify-full&{root}")),
        Ok(true)
    );
    assert_eq!(
        at("127.0.0.1", &format!("sslmode=verify-ca&{root}")),
        Ok(true)
    );
    let err = at("127.0.0.1", &format!("sslmode=verify-full&{root}")).unwrap_err();
    assert!(err.contains("certificate"), "{err}");
}

#[test]
fn a_row_that_cannot_be_read_keeps_its_reason() {
    let Some(s) = Schema::new() else { return };
    s.exec(&format!(
        "CREATE TABLE {0}.operation_log (idem_key text PRIMARY KEY, payload_hash text, status text, \
         updated_at text); INSERT INTO {0}.operation_log VALUES \
         ('idem_a', 'sha256:aa', 'completed', '2026-11-20 09:00:01+00'), \
         ('idem_b', 'sha256:bb', 'completed', 'not a time')",
        s.name
    ));
    let tmp = tempfile::tempdir().unwrap();
    let v = ingest_ok(tmp.path(), &s.url());
    let pg = &v["postgres"];
    assert_eq!(pg["malformed"], 1, "{v}");
    let why = pg["malformed_rows"][0][1].as_str().unwrap_or("");
    assert!(why.contains("time"), "{v}");
}
