//! hopline under the mistakes of a tired human (issue 20): no all-clear on
//! an index that cannot vouch for it, no lost work, exit codes a script can
//! act on.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{hopline, run, run_ok, sample};
use serde_json::Value;

struct Hop {
    _dir: tempfile::TempDir,
    cache: PathBuf,
    index: PathBuf,
}

impl Hop {
    fn new() -> Hop {
        let dir = tempfile::tempdir().unwrap();
        Hop {
            cache: dir.path().join("cache"),
            index: dir.path().join("ix"),
            _dir: dir,
        }
    }
    fn cmd(&self) -> Command {
        let mut c = hopline(&self.cache);
        c.arg("--index").arg(&self.index);
        c
    }
    /// Starts an ingest of `bundle` that commits as often as it can, and
    /// kills it after `ms` milliseconds (it may have finished by then).
    fn kill_ingest_after(&self, bundle: &Path, ms: u64) -> std::process::ExitStatus {
        let mut child = self
            .cmd()
            .env("HOPLINE_COMMIT_EVERY_MS", "0")
            .arg("ingest")
            .arg(bundle)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        child.wait().unwrap()
    }
    fn stderr(out: &std::process::Output) -> String {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn a_typo_in_the_path_is_an_error_that_names_it_and_makes_nothing() {
    let hop = Hop::new();
    // Through the cache, as a user with no --index would go.
    let typo = hop.cache.join("no-such-bundle");
    let out = run(hopline(&hop.cache).arg("ingest").arg(&typo));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(Hop::stderr(&out).contains("no-such-bundle"), "{out:?}");
    // No index was made, and none became "the index ingested last".
    let out = run(hopline(&hop.cache).arg("findings"));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(Hop::stderr(&out).contains("no index"), "{out:?}");

    // One good path and one typo: the good one is read, the typo named,
    // and the exit says something was wrong.
    let out = run(hop.cmd().arg("ingest").arg(sample()).arg(&typo));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(Hop::stderr(&out).contains("no-such-bundle"), "{out:?}");
    let found = run(hop.cmd().args(["findings", "--json"]));
    assert_eq!(found.status.code(), Some(0), "{found:?}");
    assert!(!found.stdout.is_empty());
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let hop = Hop::new();
    run_ok(hop.cmd().arg("ingest").arg(sample()));
    // Bad usage: 2, like clap's own.
    let bad = run(hop.cmd().args(["findings", "--kind", "double_charge"]));
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let bad = run(hop.cmd().args(["findings", "--fail-on", "nope"]));
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let bad = run(hop.cmd().args(["findings", "--no-such-flag"]));
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    // A path that is not there: 1.
    let out = run(hop.cmd().args(["sniff", "/nonexistent/hopline-bundle"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Nothing to vouch for: 3. A gate that matched: 4.
    let out = run(hop.cmd().args(["timeline", "req_not_there"]));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let out = run(hop.cmd().args(["findings", "--fail-on", "partial_write"]));
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let out = run(hop.cmd().args(["findings", "--fail-on", "retry_storm"]));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_busy_index_gives_no_all_clear_and_a_second_writer_is_told_who_writes() {
    let hop = Hop::new();
    run_ok(hop.cmd().arg("ingest").arg(sample()));
    let lock = common::hold_writer_lock(&hop.index);
    let gate = run(hop.cmd().args(["findings", "--fail-on", "retry_storm"]));
    assert_eq!(gate.status.code(), Some(3), "{gate:?}");
    assert!(Hop::stderr(&gate).contains("is running"), "{gate:?}");
    // Findings that exist are still shown, and a gate they match fails.
    let gate = run(hop.cmd().args(["findings", "--fail-on", "partial_write"]));
    assert_eq!(gate.status.code(), Some(4), "{gate:?}");
    let second = run(hop.cmd().arg("ingest").arg(sample()));
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    let err = Hop::stderr(&second);
    assert!(err.contains("is running"), "{err}");
    assert!(!err.contains("LockBusy"), "{err}");
    assert_eq!(err.matches("is running").count(), 1, "said once: {err}");
    drop(lock);
    run_ok(hop.cmd().arg("ingest").arg(sample()));
}

/// A small bundle of many files, so an ingest commits many times.
fn many_files(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    for f in 0..12 {
        let mut text = String::new();
        for i in 0..400 {
            let evt = (f * 400 + i) / 3;
            text.push_str(&format!(
                "{{\"timestamp\":\"2026-11-20T09:{:02}:{:02}.{:03}Z\",\"level\":\"info\",\"service\":\"svc{}\",\"event\":\"step {i}\",\"event_id\":\"evt_{evt:06}\",\"request_id\":\"req_{f:02}{i:04}\"}}\n",
                (i / 60) % 60,
                i % 60,
                f * 7 % 1000,
                f % 4,
            ));
        }
        std::fs::write(bundle.join(format!("svc-{f:02}.log")), text).unwrap();
    }
    bundle
}

/// What a clean ingest of `bundle` gives (its `--json` report and the
/// whole `events --json`), and how long one takes here in ms, to kill
/// other ingests inside that time.
fn clean_ingest(bundle: &Path) -> (Value, String, u64) {
    let clean = Hop::new();
    let report: Value =
        serde_json::from_str(&run_ok(clean.cmd().args(["ingest", "--json"]).arg(bundle))).unwrap();
    let events = run_ok(clean.cmd().args(["events", "--json"]));
    let t = std::time::Instant::now();
    run_ok(Hop::new().cmd().arg("ingest").arg(bundle));
    (report, events, t.elapsed().as_millis() as u64)
}

/// Kills ingest at random points, then lets it finish: the index ends
/// equal to a clean ingest's, some reruns resumed from a commit, and no
/// all-clear was given on a partial index in between.
#[test]
fn an_interrupted_ingest_resumes_and_ends_equal_to_a_clean_one() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = many_files(dir.path());
    let (want, want_events, whole) = clean_ingest(&bundle);

    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut resumed = 0;
    let mut interrupted = 0;
    for round in 0..20 {
        let hop = Hop::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = seed % whole.max(1);
        let status = hop.kill_ingest_after(&bundle, at);
        if hop.index.join("meta.json").is_file() {
            // Whatever the kill left, a gate never passes on part of it. (A
            // kill after the ingest wrote that it finished leaves a whole
            // index.)
            let finished = std::fs::read(hop.index.join("ingest.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v["finished"] == true);
            let gate = run(hop.cmd().args(["findings", "--fail-on", "retry_storm"]));
            if !finished {
                interrupted += 1;
                assert_eq!(
                    gate.status.code(),
                    Some(3),
                    "round {round}, killed at {at} ms ({status}): {gate:?}"
                );
            }
        }
        let rerun: Value = serde_json::from_str(&run_ok(
            hop.cmd()
                .env("HOPLINE_COMMIT_EVERY_MS", "0")
                .args(["ingest", "--json"])
                .arg(&bundle),
        ))
        .unwrap();
        let unchanged = rerun["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "unchanged")
            .count();
        if unchanged > 0 && unchanged < 12 {
            resumed += 1;
        }
        assert_eq!(
            rerun["records_total"], want["records_total"],
            "round {round}, killed at {at} ms"
        );
        assert_eq!(
            run_ok(hop.cmd().args(["events", "--json"])),
            want_events,
            "round {round}"
        );
        let gate = run(hop.cmd().args(["findings", "--fail-on", "retry_storm"]));
        assert_eq!(gate.status.code(), Some(0), "round {round}: {gate:?}");
    }
    assert!(interrupted > 0, "no kill landed inside an ingest");
    assert!(resumed > 0, "no rerun resumed from a commit");
}

#[test]
fn a_changed_config_is_noticed_and_everything_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = many_files(dir.path());
    let hop = Hop::new();
    run_ok(hop.cmd().arg("ingest").arg(&bundle));
    let config = dir.path().join("hopline.toml");
    std::fs::write(&config, "[ids]\nevent = [\"event_id\"]\n").unwrap();
    let out: Value = serde_json::from_str(&run_ok(
        hop.cmd()
            .arg("--config")
            .arg(&config)
            .args(["ingest", "--json"])
            .arg(&bundle),
    ))
    .unwrap();
    assert_eq!(out["config_changed"], true, "{out}");
    assert!(
        out["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "replaced"),
        "{out}"
    );
    assert_eq!(out["records_total"], 12 * 400);
}

#[test]
fn controls_in_file_names_are_shown_not_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\u{202e}gol.txt\u{1b}[2J";
    std::fs::write(dir.path().join(name), "not a log\n").unwrap();
    let hop = Hop::new();
    let out = run(hop.cmd().arg("sniff").arg(dir.path()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\u{202e}') && !text.contains('\u{1b}'),
        "{text}"
    );
    assert!(
        text.contains("\\u{202e}") && text.contains("\\e[2J"),
        "{text}"
    );
}

/// A writer mid-line: the half line is read, but the next ingest reads the
/// whole line again and replaces its record, so no truncated record stays.
#[test]
fn a_half_written_last_line_is_read_again_whole() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b");
    std::fs::create_dir_all(&bundle).unwrap();
    let log = bundle.join("api.log");
    std::fs::write(
        &log,
        "time=2026-11-20T09:00:01Z level=info msg=first request_id=req_111111\n\
         time=2026-11-20T09:00:02Z level=info msg=charge request_id=req_55",
    )
    .unwrap();
    let hop = Hop::new();
    let first: Value =
        serde_json::from_str(&run_ok(hop.cmd().args(["ingest", "--json"]).arg(&bundle))).unwrap();
    assert_eq!(first["records_total"], 2, "{first}");
    // The truncated line is there to see, for now.
    run_ok(hop.cmd().args(["timeline", "req_55"]));

    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(
        b"5555 amount=10\ntime=2026-11-20T09:00:03Z level=info msg=third request_id=req_333333\n",
    )
    .unwrap();
    drop(f);
    let second: Value =
        serde_json::from_str(&run_ok(hop.cmd().args(["ingest", "--json"]).arg(&bundle))).unwrap();
    assert_eq!(second["records_total"], 3, "{second}");
    assert_eq!(second["files"][0]["status"], "grown", "{second}");
    // No record carries the truncated ID any more: it is only the start of
    // the whole one.
    let gone: Value =
        serde_json::from_str(&run_ok(hop.cmd().args(["timeline", "--json", "req_55"]))).unwrap();
    assert_eq!(
        gone["prefix"], "req_55",
        "the truncated record stayed: {gone}"
    );
    let whole: Value = serde_json::from_str(&run_ok(hop.cmd().args([
        "timeline",
        "--json",
        "req_555555",
    ])))
    .unwrap();
    assert_eq!(whole["entries"].as_array().unwrap().len(), 1, "{whole}");
    assert_eq!(whole["entries"][0]["source"]["line"], 2);
}

/// The index remembers what was malformed: a rerun that reads nothing new
/// still lists it, and the incident report says how much was not read.
#[test]
fn malformed_lines_are_remembered_by_the_index() {
    let hop = Hop::new();
    run_ok(hop.cmd().arg("ingest").arg(sample()));
    let again = run_ok(hop.cmd().args(["ingest", "--report"]).arg(sample()));
    assert!(
        again.contains("payments-api-6c8d7b5f9-q4w8n.log:132: invalid JSON"),
        "{again}"
    );
    let json: Value = serde_json::from_str(&run_ok(
        hop.cmd()
            .args(["ingest", "--report", "--json"])
            .arg(sample()),
    ))
    .unwrap();
    assert_eq!(json["malformed"][0]["line"], 132, "{json}");
    let report = run_ok(hop.cmd().args(["export", "--incident"]));
    assert!(report.contains("could not be read"), "{report}");
}

/// One long file: the ingest commits inside it (every few thousand
/// records), so a kill part way resumes part way through the file.
#[test]
fn a_long_file_commits_inside_and_resumes_there() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("long");
    std::fs::create_dir_all(&bundle).unwrap();
    let mut text = String::new();
    for i in 0..30_000u32 {
        text.push_str(&format!(
            "{{\"timestamp\":\"2026-11-20T09:{:02}:{:02}.{:03}Z\",\"level\":\"info\",\"event\":\"step\",\"event_id\":\"evt_{:06}\"}}\n",
            (i / 1000) % 60,
            (i / 10) % 60,
            i % 1000,
            i / 3
        ));
    }
    std::fs::write(bundle.join("api.log"), text).unwrap();
    let (want, want_events, whole) = clean_ingest(&bundle);

    let mut grown = 0;
    for round in 0..6u64 {
        let hop = Hop::new();
        let at = whole * (2 + round) / 10;
        hop.kill_ingest_after(&bundle, at);
        let out = run(hop.cmd().args(["ingest", "--json"]).arg(&bundle));
        assert!(out.status.success(), "{out:?}");
        let rerun: Value = serde_json::from_slice(&out.stdout).unwrap();
        if rerun["files"][0]["status"] == "grown" {
            grown += 1;
            // The ingest says it goes on from where the last one stopped.
            assert!(
                Hop::stderr(&out).contains("resuming the ingest that stopped at"),
                "{out:?}"
            );
        }
        assert_eq!(
            rerun["records_total"], want["records_total"],
            "round {round}"
        );
        assert_eq!(
            run_ok(hop.cmd().args(["events", "--json"])),
            want_events,
            "round {round}"
        );
    }
    assert!(grown > 0, "no rerun resumed inside the file");
}
