//! The idempotency table, live, with tokio-postgres: the only module that
//! imports it. Safe against production by construction: a READ ONLY
//! transaction, a statement timeout and a connect timeout; identifiers are
//! quoted, never spliced as text; rows are streamed, never collected. Every
//! column is read as text — Postgres's own text output, the same bytes a
//! `\copy … CSV` dump holds — so a dump and a live read give one record.

use std::pin::pin;
use std::str::FromStr;
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, NoTls, Socket};

pub mod pgpass;
pub mod tls;

use tls::{SslMode, TlsPolicy};

/// Table names tried, in order, when none is given.
pub const KNOWN_TABLES: &[&str] = &["operation_log", "processed_events"];
const TIME_COLUMNS: &[&str] = &["updated_at", "processed_at", "created_at"];

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("invalid Postgres connection string: {0}")]
    Url(String),
    #[error("cannot connect to Postgres at {target}: {why}")]
    Connect { target: String, why: String },
    #[error("Postgres at {target}: {why}")]
    Query { target: String, why: String },
    #[error("no idempotency table at {target}: looked for {looked_for} (name one with --pg-table)")]
    NoTable { target: String, looked_for: String },
    #[error("table {table} has no column {column} (from {origin})")]
    MissingColumn {
        table: String,
        column: String,
        origin: String,
    },
    #[error("TLS: {0}")]
    Tls(String),
}

/// Where to connect: a libpq-style URL or key=value string, completed from
/// the PG* variables the way libpq users expect.
#[derive(Clone)]
pub struct PgTarget {
    config: Config,
    /// For messages: host, port, database and user — never the password.
    pub label: String,
    pub tls: TlsPolicy,
    /// Things the user should hear about (an ignored ~/.pgpass, say).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl PgTarget {
    pub fn parse(conn: &str) -> Result<PgTarget, PgError> {
        // tokio-postgres knows three sslmodes and no sslrootcert: take both
        // out and apply libpq's full meaning ourselves.
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (mode, conn) = take_param(conn, "sslmode");
        let (root_cert, conn) = take_param(&conn, "sslrootcert");
        let mode_text = mode.or_else(|| env("PGSSLMODE"));
        let mode = match mode_text.as_deref() {
            None => SslMode::Prefer,
            Some(m) => SslMode::parse(m).ok_or_else(|| {
                PgError::Url(format!(
                    "sslmode={m} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ))
            })?,
        };
        let root_cert = root_cert
            .or_else(|| env("PGSSLROOTCERT"))
            .map(std::path::PathBuf::from);
        let mut config = Config::from_str(&conn).map_err(|e| PgError::Url(e.to_string()))?;
        config.ssl_mode(mode.wire());
        if config.get_hosts().is_empty() {
            config.host(env("PGHOST").as_deref().unwrap_or("localhost"));
        }
        if config.get_ports().is_empty()
            && let Some(p) = env("PGPORT").and_then(|p| p.parse().ok())
        {
            config.port(p);
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".into());
            config.user(&user);
        }
        if config.get_dbname().is_none()
            && let Some(db) = env("PGDATABASE")
        {
            config.dbname(&db);
        }
        if config.get_password().is_none()
            && let Some(pw) = env("PGPASSWORD")
        {
            config.password(pw);
        }
        let mut warnings = Vec::new();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("hopline");
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        if config.get_password().is_none()
            && let Some(path) = pgpass::default_path()
        {
            let user = config.get_user().unwrap_or("").to_string();
            let db = config.get_dbname().unwrap_or(&user).to_string();
            if let Some(pw) =
                pgpass::lookup(&path, &host, port, &db, &user, &mut |w| warnings.push(w))
            {
                config.password(pw);
            }
        }
        let label = format!(
            "{}@{host}:{port}/{}",
            config.get_user().unwrap_or("?"),
            config
                .get_dbname()
                .unwrap_or(config.get_user().unwrap_or("?"))
        );
        Ok(PgTarget {
            config,
            label,
            tls: TlsPolicy { mode, root_cert },
            warnings,
        })
    }
}

/// Removes `key=value` from a URL query or a key=value string, returning
/// the value (percent-decoded in a URL) and the rest.
fn take_param(conn: &str, key: &str) -> (Option<String>, String) {
    let is_url = conn.starts_with("postgres://") || conn.starts_with("postgresql://");
    let needle = format!("{key}=");
    let start = conn
        .match_indices(&needle)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || matches!(conn.as_bytes()[i - 1], b'?' | b'&' | b' ' | b'\t'));
    let Some(i) = start else {
        return (None, conn.to_string());
    };
    let value_start = i + needle.len();
    let end = conn[value_start..]
        .find(['&', ' ', '\t'])
        .map_or(conn.len(), |e| value_start + e);
    let raw = &conn[value_start..end];
    let value = if is_url {
        percent_decode(raw)
    } else {
        raw.trim_matches('\'').to_string()
    };
    let mut rest = format!("{}{}", &conn[..i], &conn[end..]);
    for junk in ["?&", "&&"] {
        rest = rest.replace(junk, &junk[..1]);
    }
    (
        Some(value),
        rest.trim_end_matches(['?', '&', ' ']).to_string(),
    )
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `"` doubled inside double quotes: the only safe way to put a name in SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table as found: schema, name, its columns in order, and the column
/// that says when a row last changed.
#[derive(Debug, Clone)]
pub struct IdemTable {
    pub schema: String,
    pub name: String,
    pub columns: Vec<String>,
    pub time_column: Option<String>,
}

impl IdemTable {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// What one read saw: the table, how many rows, and the cursor to resume from.
#[derive(Debug, Clone)]
pub struct PgRead {
    pub table: IdemTable,
    pub rows: u64,
    /// The largest time-column value seen (Postgres text), or the one given.
    pub cursor: Option<String>,
}

/// How long one statement may run before the server cancels it.
pub const STATEMENT_TIMEOUT: &str = "60s";

/// Connects, opens a READ ONLY transaction with a statement timeout, and
/// hands the client to `work`. The transaction is rolled back afterwards:
/// hopline never commits anything to the database.
pub fn with_read_only<T>(
    target: &PgTarget,
    work: impl AsyncFnOnce(&Client) -> Result<T, PgError>,
) -> Result<T, PgError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PgError::Connect {
            target: target.label.clone(),
            why: e.to_string(),
        })?;
    rt.block_on(async {
        let (client, conn) = match target.tls.mode {
            SslMode::Disable => connect(target, NoTls).await?,
            _ => {
                let config = target.tls.client_config().map_err(PgError::Tls)?;
                connect(target, tokio_postgres_rustls::MakeRustlsConnect::new(config)).await?
            }
        };
        let q = |e: tokio_postgres::Error| PgError::Query {
            target: target.label.clone(),
            why: describe(&e),
        };
        client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"
            ))
            .await
            .map_err(q)?;
        let out = work(&client).await;
        let _ = client.batch_execute("ROLLBACK").await;
        drop(client);
        let _ = conn.await;
        out
    })
}

/// Connects and spawns the connection task, which ends when the client
/// drops; its error, if any, surfaces through the client's next call.
async fn connect<T>(
    target: &PgTarget,
    tls: T,
) -> Result<(Client, tokio::task::JoinHandle<()>), PgError>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = target
        .config
        .connect(tls)
        .await
        .map_err(|e| PgError::Connect {
            target: target.label.clone(),
            why: describe(&e),
        })?;
    let conn = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, conn))
}

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    }
}

/// Finds the table (given, or one of [`KNOWN_TABLES`] on the search path)
/// and its columns through information_schema.
pub async fn find_table(
    client: &Client,
    target: &PgTarget,
    table: Option<&str>,
) -> Result<IdemTable, PgError> {
    let q = |e: tokio_postgres::Error| PgError::Query {
        target: target.label.clone(),
        why: describe(&e),
    };
    let candidates: Vec<(Option<String>, String)> = match table {
        Some(t) => match t.split_once('.') {
            Some((s, n)) => vec![(Some(s.to_string()), n.to_string())],
            None => vec![(None, t.to_string())],
        },
        None => KNOWN_TABLES.iter().map(|t| (None, t.to_string())).collect(),
    };
    for (schema, name) in &candidates {
        let rows = client
            .query(
                "SELECT c.table_schema::text, c.column_name::text \
                 FROM information_schema.columns c \
                 WHERE c.table_name = $1 \
                   AND (c.table_schema = $2 OR ($2 IS NULL AND c.table_schema = ANY (current_schemas(false)))) \
                 ORDER BY array_position(current_schemas(false), c.table_schema::name), c.ordinal_position",
                &[name, schema],
            )
            .await
            .map_err(q)?;
        let Some(first) = rows.first() else {
            // information_schema hides tables the role may not read; let the
            // server say so instead of claiming there is no table.
            let qualified = match schema {
                Some(s) => format!("{}.{}", quote_ident(s), quote_ident(name)),
                None => quote_ident(name),
            };
            let exists: Option<String> = client
                .query_one("SELECT to_regclass($1)::text", &[&qualified])
                .await
                .map_err(q)?
                .get(0);
            if exists.is_some() {
                client
                    .execute(&format!("SELECT FROM {qualified} LIMIT 0"), &[])
                    .await
                    .map_err(q)?;
            }
            continue;
        };
        let found_schema: String = first.get(0);
        let columns: Vec<String> = rows
            .iter()
            .filter(|r| r.get::<_, String>(0) == found_schema)
            .map(|r| r.get(1))
            .collect();
        let time_column = TIME_COLUMNS
            .iter()
            .find(|t| columns.iter().any(|c| c == *t))
            .map(|t| t.to_string());
        return Ok(IdemTable {
            schema: found_schema,
            name: name.clone(),
            columns,
            time_column,
        });
    }
    Err(PgError::NoTable {
        target: target.label.clone(),
        looked_for: candidates
            .iter()
            .map(|(s, n)| s.as_ref().map_or(n.clone(), |s| format!("{s}.{n}")))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Receives each row: the column names and the values as text (None: NULL).
pub type RowSink<'a> = dyn FnMut(&[String], Vec<Option<String>>) + Send + 'a;

/// Streams the table's rows (only those changed after `since`, when the
/// table has a time column) as text, in time order, to `row`.
pub async fn stream_rows(
    client: &Client,
    target: &PgTarget,
    table: &IdemTable,
    since: Option<&str>,
    row: &mut RowSink<'_>,
) -> Result<PgRead, PgError> {
    let q = |e: tokio_postgres::Error| PgError::Query {
        target: target.label.clone(),
        why: describe(&e),
    };
    let select: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{}::text", quote_ident(c)))
        .collect();
    let mut sql = format!("SELECT {} FROM {}", select.join(", "), table.qualified());
    let mut params: Vec<Option<String>> = Vec::new();
    if let Some(tc) = &table.time_column {
        if since.is_some() {
            sql.push_str(&format!(
                " WHERE {} > $1::text::timestamptz",
                quote_ident(tc)
            ));
            params.push(since.map(str::to_string));
        }
        sql.push_str(&format!(" ORDER BY {} NULLS FIRST", quote_ident(tc)));
    }
    let stream = client.query_raw(&sql, params.iter()).await.map_err(q)?;
    let mut stream = pin!(stream);
    let time_idx = table
        .time_column
        .as_ref()
        .and_then(|tc| table.columns.iter().position(|c| c == tc));
    let mut read = PgRead {
        table: table.clone(),
        rows: 0,
        cursor: since.map(str::to_string),
    };
    while let Some(r) = stream.try_next().await.map_err(q)? {
        let values: Vec<Option<String>> = (0..table.columns.len()).map(|i| r.get(i)).collect();
        if let Some(t) = time_idx.and_then(|i| values[i].clone()) {
            read.cursor = Some(t);
        }
        read.rows += 1;
        row(&table.columns, values);
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_not_spliced() {
        assert_eq!(quote_ident("operation_log"), "\"operation_log\"");
        assert_eq!(
            quote_ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
    }

    #[test]
    fn labels_never_show_the_password() {
        let t = PgTarget::parse("postgres://app:hunter2@db.internal:6543/pay").unwrap();
        assert_eq!(t.label, "app@db.internal:6543/pay");
        assert!(!format!("{t:?}").contains("hunter2"));
        let kv = PgTarget::parse("host=db user=app password=hunter2 dbname=pay").unwrap();
        assert!(!kv.label.contains("hunter2"));
    }

    #[test]
    fn every_sslmode_and_a_root_cert_are_understood() {
        let t = PgTarget::parse(
            "postgres://a@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        assert_eq!(
            t.tls.root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        let kv = PgTarget::parse("host=h sslmode=verify-ca sslrootcert='/ca.pem' user=a").unwrap();
        assert_eq!(kv.tls.mode, SslMode::VerifyCa);
        assert_eq!(
            kv.tls.root_cert.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        let e = PgTarget::parse("postgres://a@h/db?sslmode=sometimes").unwrap_err();
        assert!(e.to_string().contains("sslmode=sometimes"), "{e}");
    }
}
