//! `hopline.toml`: what sniffing cannot guess. Typed, validated once at load,
//! and every error names the offending key so a user at 3 a.m. can fix it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

pub const FILE_NAME: &str = "hopline.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// The file as written. Unknown keys are errors: a typo must not silently
/// turn a rule off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    hub_limit: Option<u64>,
    hub_fanout: Option<usize>,
    #[serde(default)]
    ids: RawIds,
    #[serde(default)]
    mutations: Vec<RawMutation>,
    #[serde(default)]
    thresholds: RawThresholds,
    #[serde(default)]
    fields: RawFieldMap,
    #[serde(default)]
    postgres: PgTableMap,
    #[serde(default)]
    redact: Vec<RawRedact>,
    #[serde(default)]
    formats: Vec<RawFormat>,
    #[serde(default)]
    services: Vec<RawServiceRule>,
}

/// `[[services]] match = '^billing-worker-\d+$' service = "billing"`: the
/// instance names (pod, host, file name) a service runs as, for names no
/// built-in rule reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceRule {
    #[serde(rename = "match")]
    pattern: String,
    service: String,
}

/// A `[[services]]` rule: instances matching `regex` belong to `service`.
#[derive(Debug, Clone)]
pub struct ServiceRule {
    pub regex: Regex,
    pub service: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    name: String,
    pattern: String,
    time_format: Option<String>,
    timezone: Option<String>,
}

/// `[[formats]]`: a text log format sniffing cannot know, as a regex whose
/// named groups are the record's fields (`ts`/`time`, `level`, `message`/
/// `msg`, `service`, ID fields, anything else).
#[derive(Debug, Clone)]
pub struct TextFormat {
    pub name: String,
    pub regex: Regex,
    /// `[fields]` with this format's own `time_format` and `timezone`.
    pub fields: FieldMap,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedact {
    name: String,
    pattern: String,
}

/// An extra redaction rule for exports: every match is replaced.
#[derive(Debug, Clone)]
pub struct RedactRule {
    pub name: String,
    pub regex: Regex,
}

/// `[postgres]`: which table holds idempotency state when it is not one of
/// the two shapes found on their own, and which of its columns mean what.
/// Missing columns are reported against the table when it is read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgTableMap {
    /// `[schema.]table`; `--pg-table` wins over it.
    pub table: Option<String>,
    #[serde(default)]
    pub columns: PgColumns,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgColumns {
    /// The idempotency key (or event id) the row is about.
    pub key: Option<String>,
    pub status: Option<String>,
    /// When the row last changed: the incremental cursor and the row's time.
    pub time: Option<String>,
    /// What tells a replay of the same payload from a different one.
    pub fingerprint: Option<String>,
}

/// Which key holds what, for dialects the built-in key tables get wrong
/// (Zeek's `service` is an SMB share type; its log name is `_path`).
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    pub time: Option<String>,
    /// How times are written (chrono strftime), when the usual forms miss.
    pub time_format: Option<crate::parse::time::TimeFormat>,
    /// The zone of times written without one; UTC when None.
    pub zone: Option<crate::parse::time::Zone>,
    pub level: Option<String>,
    pub message: Option<String>,
    pub service: Option<String>,
    pub instance: Option<String>,
}

/// `[fields]` as written; the zone is checked and parsed once at load.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldMap {
    time: Option<String>,
    time_format: Option<String>,
    timezone: Option<String>,
    level: Option<String>,
    message: Option<String>,
    service: Option<String>,
    instance: Option<String>,
}

/// A `timezone` value, or an error naming its key.
/// A count that, when set, must be at least `min`.
fn at_least<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    value: Option<T>,
    min: T,
) -> Result<Option<T>, (String, String)> {
    match value {
        Some(v) if v < min => Err((key.to_string(), format!("must be at least {min}"))),
        v => Ok(v),
    }
}

fn zone_at(
    key: &str,
    tz: Option<&str>,
) -> Result<Option<crate::parse::time::Zone>, (String, String)> {
    tz.map(|tz| {
        crate::parse::time::parse_zone(tz).ok_or_else(|| {
            (
                key.to_string(),
                format!(
                    "`{tz}` is neither an IANA time zone like `Europe/Berlin` nor a fixed offset like `+02:00`, `-0500` or `UTC`"
                ),
            )
        })
    })
    .transpose()
}

/// A `time_format` value, read, or an error naming its key.
fn time_format_at(
    key: &str,
    f: Option<String>,
) -> Result<Option<crate::parse::time::TimeFormat>, (String, String)> {
    f.map(|f| {
        crate::parse::time::compile_format(&f).ok_or_else(|| {
            (
                key.to_string(),
                format!("`{f}` is not a strftime format (chrono)"),
            )
        })
    })
    .transpose()
}

// No deny_unknown_fields here: serde cannot combine it with `flatten`, and
// every other key under [ids] is a kind name anyway.
#[derive(Debug, Default, Deserialize)]
struct RawIds {
    #[serde(default)]
    patterns: BTreeMap<String, String>,
    #[serde(flatten)]
    fields: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMutation {
    name: String,
    pattern: String,
    #[serde(default)]
    once: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    retry_storm: Option<usize>,
    clock_skew_brackets: Option<u64>,
    clock_skew_min_ms: Option<u64>,
}

/// A regex over message text whose group `id` is an ID of kind `kind`.
#[derive(Debug, Clone)]
pub struct IdPattern {
    pub kind: String,
    pub regex: Regex,
}

/// A message pattern that marks a record as a state mutation. `once` effects
/// must happen at most once per event (a charge, a ledger write); others,
/// like an idempotency row moving through its states, repeat by design.
#[derive(Debug, Clone)]
pub struct MutationRule {
    pub name: String,
    pub regex: Regex,
    pub once: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Normalised field name (see [`normalise_field`]) -> ID kind.
    pub id_fields: BTreeMap<String, String>,
    pub id_patterns: Vec<IdPattern>,
    pub mutations: Vec<MutationRule>,
    /// IDs carried by more records than this are hubs and are not followed.
    pub hub_limit: u64,
    /// ...and so are IDs whose records carry more distinct values of one
    /// other ID field than this (see correlate::footprint).
    pub hub_fanout: usize,
    pub retry_storm: usize,
    /// Caller/callee brackets an instance pair needs before its clocks are
    /// compared (see correlate::clock).
    pub clock_skew_brackets: u64,
    /// Offsets up to this are timestamp precision, not skew (µs).
    pub clock_skew_min: crate::record::Micros,
    pub fields: FieldMap,
    pub postgres: PgTableMap,
    pub redact: Vec<RedactRule>,
    pub formats: Vec<TextFormat>,
    pub services: Vec<ServiceRule>,
    pub origin: Option<PathBuf>,
    /// What the records were read with: a hash of the file's text (or
    /// `default`), kept with the index so a changed config is noticed.
    pub fingerprint: String,
}

/// `requestId`, `request_id`, `Request-ID` and `request.id` are one field.
pub fn normalise_field(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// [`normalise_field`] into `buf` for ASCII names that fit; None otherwise.
fn normalise_into<'b>(name: &str, buf: &'b mut [u8; 64]) -> Option<&'b str> {
    if !name.is_ascii() || name.len() > buf.len() {
        return None;
    }
    let mut n = 0;
    for b in name.bytes().filter(|b| !matches!(b, b'_' | b'-' | b'.')) {
        buf[n] = b.to_ascii_lowercase();
        n += 1;
    }
    std::str::from_utf8(&buf[..n]).ok()
}

const DEFAULT_ID_FIELDS: &[(&str, &[&str])] = &[
    (
        "request",
        &[
            "request_id",
            "reqId",
            "req_id",
            "x_request_id",
            "http.request.id",
            "http.req.id",
        ],
    ),
    ("event", &["event_id", "evt_id", "message_id"]),
    ("idem", &["idem_key", "idempotency_key"]),
    ("task", &["task_id", "celery_task_id", "job_id"]),
    ("trace", &["trace_id", "trace.id", "otel_trace_id"]),
    ("correlation", &["correlation_id"]),
];

const DEFAULT_ID_PATTERNS: &[(&str, &str)] = &[
    // Celery's own worker lines: `Task billing.charge[3f2a…] received`,
    // `Hard time limit (60s) exceeded for billing.charge[3f2a…]`, `Discarding
    // revoked task: billing.charge[3f2a…]`.
    (
        "task",
        r"(?:\bTask [\w.:]+|\b\w+(?:\.\w+)+)\[(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\]",
    ),
    // ...and its bare task ids: `Tasks flagged as revoked: 3f2a…`,
    // `Terminating 3f2a… (Signals.SIGTERM)`.
    (
        "task",
        r"(?:\bTasks flagged as revoked: |\bTerminating )(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b",
    ),
    // `TraceID: 4bf9…`, `trace_id=4bf9…` inside free text.
    (
        "trace",
        r"(?i)\btrace[ _-]?id\b[\s:=]+(?P<id>[0-9a-f]{16,32})\b",
    ),
    // `TraceID: 4bf9… SpanID: 00f0…`: the span a line was written under.
    ("span", r"(?i)\bspan[ _-]?id\b[\s:=]+(?P<id>[0-9a-f]{16})\b"),
    // `Get OrderID d845c8bb-…`, `[OrderId: 42-a]`, `order_id=…` in text.
    (
        "order",
        r"(?i)\border[ _-]?id\b[\s:=]+(?P<id>[0-9A-Za-z][\w-]{5,})",
    ),
    (
        "transaction",
        r"(?i)\btransaction[ _-]?id\b[\s:=]+(?P<id>[0-9A-Za-z][\w-]{5,})",
    ),
];

const DEFAULT_MUTATIONS: &[(&str, &str, bool)] = &[
    (
        "charge",
        r"(?i)\bcharge (created|captured|succeeded)\b",
        true,
    ),
    ("refund", r"(?i)\brefund (created|issued)\b", true),
    (
        "ledger_write",
        r"(?i)\bledger (entry )?(written|posted)\b",
        true,
    ),
    (
        "idem_status",
        r"(?i)\bidempotency (key|row) (reserved|completed|failed|released)\b",
        false,
    ),
    (
        "row_write",
        r"(?i)\b(row|record|order) (inserted|updated|deleted)\b",
        false,
    ),
];

impl Default for Config {
    fn default() -> Self {
        let mut id_fields = BTreeMap::new();
        for (kind, fields) in DEFAULT_ID_FIELDS {
            for f in *fields {
                id_fields.insert(normalise_field(f), kind.to_string());
            }
        }
        let id_patterns = DEFAULT_ID_PATTERNS
            .iter()
            .map(|(kind, re)| IdPattern {
                kind: kind.to_string(),
                regex: Regex::new(re).expect("default ID pattern compiles"),
            })
            .collect();
        let mutations = DEFAULT_MUTATIONS
            .iter()
            .map(|(name, re, once)| MutationRule {
                name: name.to_string(),
                regex: Regex::new(re).expect("default mutation pattern compiles"),
                once: *once,
            })
            .collect();
        Config {
            id_fields,
            id_patterns,
            mutations,
            hub_limit: 1000,
            hub_fanout: 32,
            retry_storm: 5,
            clock_skew_brackets: 5,
            clock_skew_min: 2_000,
            fields: FieldMap::default(),
            postgres: PgTableMap::default(),
            redact: Vec::new(),
            formats: Vec::new(),
            services: Vec::new(),
            origin: None,
            fingerprint: "default".into(),
        }
    }
}

impl Config {
    /// The service a `[[services]]` rule gives this instance, if any.
    pub fn service_rule(&self, instance: &str) -> Option<String> {
        self.services
            .iter()
            .find(|r| r.regex.is_match(instance))
            .map(|r| r.service.clone())
    }

    /// Loads `path`, or the defaults when `path` is None.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// `hopline.toml` at the bundle root when there is one.
    pub fn for_bundle(
        explicit: Option<&Path>,
        bundle_roots: &[PathBuf],
    ) -> Result<Config, ConfigError> {
        if explicit.is_some() {
            return Config::load(explicit);
        }
        let found = bundle_roots
            .iter()
            .map(|root| root.join(FILE_NAME))
            .find(|p| p.is_file());
        Config::load(found.as_deref())
    }

    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let mut config = Config {
            origin: Some(path.to_path_buf()),
            fingerprint: format!(
                "{:016x}",
                crate::index::manifest::head_hash(text.as_bytes())
            ),
            ..Config::default()
        };
        let named = |(key, message)| invalid(key, message);
        let t = &raw.thresholds;
        config.hub_limit = at_least("hub_limit", raw.hub_limit, 2)
            .map_err(named)?
            .unwrap_or(config.hub_limit);
        config.hub_fanout = at_least("hub_fanout", raw.hub_fanout, 1)
            .map_err(named)?
            .unwrap_or(config.hub_fanout);
        config.retry_storm = at_least("thresholds.retry_storm", t.retry_storm, 2)
            .map_err(named)?
            .unwrap_or(config.retry_storm);
        config.clock_skew_brackets =
            at_least("thresholds.clock_skew_brackets", t.clock_skew_brackets, 1)
                .map_err(named)?
                .unwrap_or(config.clock_skew_brackets);
        if let Some(ms) = raw.thresholds.clock_skew_min_ms {
            config.clock_skew_min = i64::try_from(ms.saturating_mul(1000)).map_err(|_| {
                invalid(
                    "thresholds.clock_skew_min_ms".into(),
                    "is more than any clock is off".into(),
                )
            })?;
        }
        let f = raw.fields;
        config.fields = FieldMap {
            zone: zone_at("fields.timezone", f.timezone.as_deref()).map_err(named)?,
            time_format: time_format_at("fields.time_format", f.time_format).map_err(named)?,
            time: f.time,
            level: f.level,
            message: f.message,
            service: f.service,
            instance: f.instance,
        };
        for (key, value) in [
            ("table", &raw.postgres.table),
            ("columns.key", &raw.postgres.columns.key),
            ("columns.status", &raw.postgres.columns.status),
            ("columns.time", &raw.postgres.columns.time),
            ("columns.fingerprint", &raw.postgres.columns.fingerprint),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(invalid(format!("postgres.{key}"), "empty name".into()));
            }
        }
        config.postgres = raw.postgres;
        for (i, r) in raw.services.into_iter().enumerate() {
            let regex = Regex::new(&r.pattern)
                .map_err(|e| invalid(format!("services[{i}].match"), e.to_string()))?;
            if r.service.trim().is_empty() {
                return Err(invalid(
                    format!("services[{i}].service"),
                    "empty name".into(),
                ));
            }
            config.services.push(ServiceRule {
                regex,
                service: r.service,
            });
        }
        for (i, r) in raw.redact.into_iter().enumerate() {
            let regex = Regex::new(&r.pattern)
                .map_err(|e| invalid(format!("redact[{i}].pattern"), e.to_string()))?;
            if r.name.trim().is_empty() {
                return Err(invalid(format!("redact[{i}].name"), "empty name".into()));
            }
            config.redact.push(RedactRule {
                name: r.name,
                regex,
            });
        }
        for (i, f) in raw.formats.into_iter().enumerate() {
            if f.name.trim().is_empty() {
                return Err(invalid(format!("formats[{i}].name"), "empty name".into()));
            }
            let key = format!("formats[{i}].pattern");
            let regex = Regex::new(&f.pattern).map_err(|e| invalid(key.clone(), e.to_string()))?;
            if regex.capture_names().flatten().next().is_none() {
                return Err(invalid(
                    key,
                    "pattern needs named groups, e.g. `(?P<time>\\S+) (?P<level>\\w+) (?P<msg>.*)`"
                        .into(),
                ));
            }
            let mut fields = config.fields.clone();
            if let Some(zone) =
                zone_at(&format!("formats[{i}].timezone"), f.timezone.as_deref()).map_err(named)?
            {
                fields.zone = Some(zone);
            }
            if let Some(tf) = time_format_at(&format!("formats[{i}].time_format"), f.time_format)
                .map_err(named)?
            {
                fields.time_format = Some(tf);
            }
            config.formats.push(TextFormat {
                name: f.name,
                regex,
                fields,
            });
        }
        for (kind, fields) in raw.ids.fields {
            for f in fields {
                if f.trim().is_empty() {
                    return Err(invalid(format!("ids.{kind}"), "empty field name".into()));
                }
                config.id_fields.insert(normalise_field(&f), kind.clone());
            }
        }
        for (kind, pattern) in raw.ids.patterns {
            let key = format!("ids.patterns.{kind}");
            let regex = Regex::new(&pattern).map_err(|e| invalid(key.clone(), e.to_string()))?;
            if !regex.capture_names().any(|n| n == Some("id")) {
                return Err(invalid(
                    key,
                    "pattern needs a named group `(?P<id>...)`".into(),
                ));
            }
            config.id_patterns.push(IdPattern { kind, regex });
        }
        for (i, m) in raw.mutations.into_iter().enumerate() {
            let regex = Regex::new(&m.pattern)
                .map_err(|e| invalid(format!("mutations[{i}].pattern"), e.to_string()))?;
            config.mutations.push(MutationRule {
                name: m.name,
                regex,
                once: m.once,
            });
        }
        Ok(config)
    }

    /// The ID kind of a field name, if it is an ID field. A nested key
    /// (`kwargs.event_id`, `trace.id`) counts by its full name first, then
    /// by its last segment.
    /// Called for every attribute of every record, so the common case
    /// (a short ASCII key) is normalised on the stack, not allocated.
    pub fn id_kind(&self, field: &str) -> Option<&str> {
        let lookup = |f: &str| {
            let mut buf = [0u8; 64];
            let key = normalise_into(f, &mut buf);
            match key {
                Some(k) => self.id_fields.get(k),
                None => self.id_fields.get(&normalise_field(f)),
            }
            .map(String::as_str)
        };
        lookup(field).or_else(|| lookup(field.rsplit_once('.')?.1))
    }

    /// The first mutation rule matching a message.
    pub fn mutation(&self, message: &str) -> Option<&MutationRule> {
        self.mutations.iter().find(|m| m.regex.is_match(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("hopline.toml"))
    }

    #[test]
    fn defaults_know_common_id_spellings() {
        let c = Config::default();
        for f in [
            "reqId",
            "request_id",
            "requestId",
            "Request-ID",
            "idempotency_key",
            "task_id",
        ] {
            assert!(c.id_kind(f).is_some(), "{f}");
        }
        assert_eq!(c.id_kind("amount"), None);
        // Past the stack buffer and outside ASCII, the same answer.
        assert_eq!(
            c.id_kind(&format!("{}.request_id", "x".repeat(80))),
            Some("request")
        );
        assert_eq!(c.id_kind("Évènement.task_id"), Some("task"));
    }

    #[test]
    fn celery_worker_lines_give_their_task_id() {
        let c = Config::default();
        let id = "3f2a9c1e-1111-4222-8333-944455556666";
        for line in [
            format!("Task billing.charge[{id}] received"),
            format!("Hard time limit (60s) exceeded for billing.tasks.capture[{id}]"),
            format!("Discarding revoked task: billing.tasks.capture[{id}]"),
            format!("Tasks flagged as revoked: {id}"),
            format!("Terminating {id} (Signals.SIGTERM)"),
        ] {
            let found: Vec<&str> = c
                .id_patterns
                .iter()
                .filter(|p| p.kind == "task")
                .filter_map(|p| p.regex.captures(&line)?.name("id"))
                .map(|m| m.as_str())
                .collect();
            assert_eq!(found, [id], "{line}");
        }
    }

    #[test]
    fn extra_fields_and_patterns_load() {
        let c = load(
            "hub_limit = 50\n[ids]\nevent = [\"evt\"]\n[ids.patterns]\norder = 'OrderNo (?P<id>\\d+)'\n",
        )
        .unwrap();
        assert_eq!(c.id_kind("evt"), Some("event"));
        assert_eq!(c.hub_limit, 50);
        assert!(c.id_patterns.iter().any(|p| p.regex.is_match("OrderNo 12")));
    }

    #[test]
    fn errors_name_the_key() {
        let e = load("[ids.patterns]\norder = '(unclosed'\n").unwrap_err();
        assert!(e.to_string().contains("ids.patterns.order"), "{e}");
        let e = load("[ids.patterns]\norder = 'no group'\n").unwrap_err();
        assert!(e.to_string().contains("named group"), "{e}");
        let e = load("hub_limt = 5\n").unwrap_err();
        assert!(e.to_string().contains("hub_limt"), "{e}");
        let e = load("[fields]\ntimezone = 'Mars/Olympus'\n").unwrap_err();
        assert!(e.to_string().contains("fields.timezone"), "{e}");
        let e = load("[[formats]]\nname = 'x'\npattern = '.*'\n").unwrap_err();
        assert!(e.to_string().contains("formats[0].pattern"), "{e}");
        assert!(e.to_string().contains("named groups"), "{e}");
        let e = load(
            "[[formats]]\nname = 'x'\npattern = '(?P<msg>.*)'\ntimezone = 'Europe/Atlantis'\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("formats[0].timezone"), "{e}");
        let e = load("[[formats]]\nname = 'x'\npattern = '(?P<msg>.*)'\ntime_format = '%Q'\n")
            .unwrap_err();
        assert!(e.to_string().contains("formats[0].time_format"), "{e}");
        let e = load("[[formats]]\nname = ''\npattern = '(?P<msg>.*)'\n").unwrap_err();
        assert!(e.to_string().contains("formats[0].name"), "{e}");
        let e = load("[[mutations]]\nname = 'x'\npattern = '('\n").unwrap_err();
        assert!(e.to_string().contains("mutations[0].pattern"), "{e}");
        let e = load("[postgres.columns]\nkey = ''\n").unwrap_err();
        assert!(e.to_string().contains("postgres.columns.key"), "{e}");
        let e = load("[postgres.columns]\nstatuz = 'x'\n").unwrap_err();
        assert!(e.to_string().contains("statuz"), "{e}");
    }
}
