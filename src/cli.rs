//! The command line, and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hopline::detect::FindingKind;
use hopline::parse::time;

const AFTER_HELP: &str = "\
Examples:
  hopline open samples/payments-incident        ingest a bundle and open the TUI
  hopline ingest ./incident-bundle --report     index files, list every bad line
  hopline timeline req_4c1d9e2a7b30             one event across every service
  hopline findings --fail-on duplicate_side_effect,partial_write
  hopline export evt_9b2e61f0c4d7 -o postmortem.md

Exit status: 0 ok; 1 error; 2 bad usage; 3 nothing found (no index, unknown
ID, nothing ingested); 4 `findings --fail-on` matched.

The index lives in the cache directory keyed by the bundle's absolute path
(override with --index or HOPLINE_INDEX); read commands use the index of the
bundle named with --bundle, else the one ingested last.";

#[derive(Debug, Parser)]
#[command(
    name = "hopline",
    version,
    about = "Follow one business event across services, idempotency rows and task events",
    long_about = "hopline ingests an incident's evidence — JSON and logfmt logs from every \
service, idempotency-table dumps, Celery task events — into a local index, follows one \
event across every ID it carried (request id -> event id -> idempotency key -> task id), \
and shows its service hops and state mutations in true order, with the findings that \
explain the incident (double charges, reused keys, partial writes, retry storms).",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Index directory (default: per bundle, in the cache directory)
    #[arg(long, global = true, env = "HOPLINE_INDEX", value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Use the index of this bundle (as given to `ingest`)
    #[arg(long, global = true, value_name = "PATH")]
    pub bundle: Option<PathBuf>,
    /// hopline.toml to use (default: the one at the bundle root, if any)
    #[arg(long, global = true, env = "HOPLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Never colour output (also: NO_COLOR set to anything)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest a bundle (if needed) and open the triage TUI on it
    Open {
        /// Bundle directories, files or tar archives
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Also read the idempotency table live from this Postgres (see `ingest --help`);
        /// in follow mode (`f`) changed rows appear as they change
        #[arg(long, value_name = "URL")]
        pg: Option<String>,
        /// The idempotency table, optionally schema-qualified
        #[arg(long, value_name = "[SCHEMA.]TABLE", requires = "pg")]
        pg_table: Option<String>,
        /// Where `e` writes event reports (default: the current directory);
        /// an existing file is never replaced: a numbered name is used
        #[arg(long, value_name = "DIR")]
        export_dir: Option<PathBuf>,
    },
    /// Read files and directories into the index; re-running adds only what is new
    #[command(after_help = "Postgres: --pg takes a libpq URL or key=value string \
(postgres://user@host:5432/db, \"host=db user=ro dbname=pay\"); PGHOST, PGPORT, PGUSER, \
PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT and ~/.pgpass (or PGPASSFILE) fill what it \
leaves out, as libpq does. TLS: sslmode=disable|allow|prefer (default)|require encrypt without \
checking the server; verify-ca checks its certificate against sslrootcert=PATH or the system \
roots; verify-full also checks the host name. The table (operation_log or processed_events \
unless --pg-table or [postgres] table in hopline.toml names one; [postgres.columns] maps \
key, status, time and fingerprint) is read in a READ ONLY transaction with a statement \
timeout; a later run reads only rows whose updated_at moved. The password never appears \
in output or errors.")]
    Ingest {
        /// Bundle directories, files or tar archives (.tar, .tgz, .tar.zst), or - for standard input (optional with --pg)
        #[arg(value_name = "PATH", required_unless_present = "pg")]
        paths: Vec<PathBuf>,
        /// Read the idempotency table live from this Postgres
        #[arg(long, value_name = "URL")]
        pg: Option<String>,
        /// The idempotency table, optionally schema-qualified
        #[arg(long, value_name = "[SCHEMA.]TABLE", requires = "pg")]
        pg_table: Option<String>,
        /// List every malformed line as path:line: reason
        #[arg(long)]
        report: bool,
        /// Leave the whole-index analysis to the first command that needs it
        /// (by default ingest ends by analysing and keeping the findings, so
        /// `findings`, `events` and the TUI answer at once)
        #[arg(long)]
        no_analysis: bool,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// One event's footprint in true order: every record reachable from ID
    Timeline {
        /// Any ID the event carried: request id, event id, idempotency key, task id
        id: String,
        #[arg(long)]
        json: bool,
        /// Follow ID even when it only says who events concern (a customer,
        /// user or tenant id): every event it touches, as one timeline
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        window: Window,
    },
    /// Anomalies over the whole index, most severe first
    Findings {
        /// Only findings of this kind
        #[arg(long, value_name = "KIND")]
        kind: Option<FindingKind>,
        /// Exit with status 4 when any finding of these kinds exists
        #[arg(long, value_name = "KIND[,KIND]", value_delimiter = ',')]
        fail_on: Vec<FindingKind>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        window: Window,
    },
    /// Task, idempotency-table and outcome figures: task states, queue wait
    /// and runtime per task name and worker, table rows and requests with
    /// an existing key per minute, duplicate side-effect rate and
    /// accepted-to-completed time per workflow
    Metrics {
        #[arg(long)]
        json: bool,
    },
    /// Two bundles side by side (staging vs prod, before vs after a
    /// deploy): what changed in config, findings, task and outcome figures,
    /// message templates and payload shapes
    #[command(
        after_help = "A and B are bundle paths (ingested first when needed, each into its own \
index) or index directories. Only differences are listed; nothing listed means the two agree \
on everything compared. Exit status 0 either way.

Examples:
  hopline diff ./staging-bundle ./prod-bundle
  hopline diff before/ after/ --json | jq '.config'"
    )]
    Diff {
        /// The first bundle or index (the "before")
        a: PathBuf,
        /// The second bundle or index (the "after")
        b: PathBuf,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Every event in the index with its time span, services and findings
    Events {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        window: Window,
    },
    /// Write a postmortem: one event (ID), or the whole incident (--incident)
    #[command(after_help = "Examples:
  hopline export evt_39febed3e92d -o postmortem.md
  hopline export --incident -o incident.md
  hopline export --incident --kind duplicate_side_effect --format json

Secrets are redacted by default (bearer tokens, Authorization headers, API keys, \
AWS keys, JWTs, passwords in URLs, e-mail addresses, Luhn-valid card numbers, and \
[[redact]] rules in hopline.toml); the report says what was removed. Marks and \
notes made in the TUI are included.")]
    Export {
        /// Any ID of the event, or a unique prefix
        #[arg(required_unless_present = "incident", conflicts_with = "incident")]
        id: Option<String>,
        /// Report on the whole bundle instead of one event
        #[arg(long)]
        incident: bool,
        /// With --incident: only findings of this kind
        #[arg(long, value_name = "KIND", requires = "incident")]
        kind: Option<FindingKind>,
        /// Output file (default: standard output)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// md: GitHub-flavoured markdown with Mermaid; json: the same content as data
        #[arg(long, value_name = "FORMAT", value_enum, default_value_t = ExportFormat::Md)]
        format: ExportFormat,
        /// Keep secrets and personal data in the output
        #[arg(long)]
        no_redact: bool,
        /// With an ID: only the event's records in this window (findings
        /// stay the whole event's)
        #[command(flatten)]
        window: Window,
    },
    /// Show what each file would be read as, and why
    Sniff {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script
    #[command(after_help = "Examples:
  hopline completions bash > ~/.local/share/bash-completion/completions/hopline
  hopline completions zsh > \"${fpath[1]}/_hopline\"
  hopline completions fish > ~/.config/fish/completions/hopline.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff)
    #[command(after_help = "Example:
  hopline man > ~/.local/share/man/man1/hopline.1 && man hopline")]
    Man,
}

/// A time window over what a read command shows.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Window {
    /// Only from this time: a duration back from the newest record (30m,
    /// 2h, 1d) or a time (2026-11-20T09:15:00Z; UTC unless a zone is given)
    #[arg(long, value_name = "WHEN", value_parser = time::parse_bound)]
    pub since: Option<time::Bound>,
    /// Only up to this time, in the same forms as --since
    #[arg(long, value_name = "WHEN", value_parser = time::parse_bound)]
    pub until: Option<time::Bound>,
}

impl Window {
    pub fn bounds(&self) -> time::Window {
        time::Window {
            since: self.since,
            until: self.until,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Md,
    Json,
}
