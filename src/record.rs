//! The one shared vocabulary: every input — a log line, an idempotency row, a
//! task lifecycle event — becomes a [`Record`]. Nothing here knows where bytes
//! come from or where records go; every other module imports this one.

use std::fmt;

use chrono::{SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch, UTC. Microseconds because zap and
/// structlog write them, and nanoseconds would overflow an i64 in 2262 only
/// to gain nothing we can use.
pub type Micros = i64;

pub fn format_ts(ts: Micros) -> String {
    match Utc.timestamp_micros(ts).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Micros, true),
        None => format!("@{ts}us"),
    }
}

/// Where a record came from: a path relative to the bundle root (or a table
/// name) and the 1-based line or row number in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceRef {
    pub path: String,
    pub line: u64,
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Log,
    IdemRow,
    TaskEvent,
    /// A Prometheus/OpenMetrics sample: context over time, never evidence
    /// of one event.
    Metric,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Log => "log",
            Kind::IdemRow => "idem_row",
            Kind::TaskEvent => "task_event",
            Kind::Metric => "metric",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    Unknown,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
            Level::Unknown => "unknown",
        }
    }

    /// Accepts the spellings the common loggers write (`WARNING`, `err`,
    /// `critical`, pino's numbers as text).
    pub fn parse(s: &str) -> Level {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" | "10" => Level::Trace,
            "debug" | "dbg" | "20" => Level::Debug,
            "info" | "information" | "notice" | "30" => Level::Info,
            "warn" | "warning" | "40" => Level::Warn,
            "error" | "err" | "50" => Level::Error,
            "fatal" | "critical" | "crit" | "panic" | "dpanic" | "emergency" | "alert" | "60" => {
                Level::Fatal
            }
            _ => Level::Unknown,
        }
    }

    /// pino/bunyan numeric levels.
    pub fn from_number(n: i64) -> Level {
        match n {
            ..=10 => Level::Trace,
            11..=20 => Level::Debug,
            21..=30 => Level::Info,
            31..=40 => Level::Warn,
            41..=50 => Level::Error,
            _ => Level::Fatal,
        }
    }
}

/// One correlation ID carried by a record: the field it was found under (or
/// the pattern's name when it came from message text) and its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdRef {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub ts: Micros,
    pub source: SourceRef,
    pub service: String,
    pub instance: String,
    pub kind: Kind,
    pub level: Level,
    pub message: String,
    pub ids: Vec<IdRef>,
    /// IDs that say who the event concerns (a customer, a user, a tenant):
    /// indexed, so they can be searched, but never followed — a customer's
    /// three payments are three events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_ids: Vec<IdRef>,
    /// Every other field, flattened to `dotted.key = text`, in input order.
    pub attrs: Vec<(String, String)>,
    /// The JSON type of the first `attr_types.len()` attributes, a letter
    /// each (`s`tring, `n`umber, `b`ool, `a`rray, `o`bject, `z` null):
    /// attributes are text, and a field that turned from a number into a
    /// string is a payload change worth seeing. Empty for text formats.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub attr_types: String,
    /// The original text of the line or row, exactly as read.
    pub raw: String,
    pub mutation: bool,
    /// How far this record's instance clock ran ahead, already taken off
    /// `ts` (see `correlate::clock`); never stored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skew: Micros,
}

fn is_zero(v: &Micros) -> bool {
    *v == 0
}

impl Record {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The context ID (see `context_ids`) with this value, if any.
    pub fn context_id(&self, value: &str) -> Option<&IdRef> {
        self.context_ids.iter().find(|id| id.value == value)
    }

    pub fn carries(&self, value: &str) -> bool {
        self.ids.iter().any(|id| id.value == value)
    }

    /// True order key: time, then provenance so that records written in the
    /// same microsecond keep the order their file gave them.
    pub fn order_key(&self) -> (Micros, &str, u64) {
        (self.ts, self.source.path.as_str(), self.source.line)
    }
}

/// A message with its variable parts masked: a word that holds one of the
/// record's IDs, and each piece of a word (split at `/`, `:`, `=`) that is
/// a number or a longer token with a digit in it (a count, a time, an ID),
/// becomes `<*>`. Short pieces such as the `v1` of a path stay.
pub fn message_template(record: &Record) -> String {
    let mut out = String::new();
    message_template_into(record, &mut out);
    out
}

/// [`message_template`] into `out` (cleared first): no allocation once
/// `out` has grown, for callers that template every record.
pub fn message_template_into(record: &Record, out: &mut String) {
    out.clear();
    let words: Vec<&str> = record.message.split_whitespace().take(16).collect();
    // `TraceID: 4bf9… SpanID: 00f0… Start PlaceOrder`: the ID pairs a
    // logger puts first say nothing of the step (see present::step).
    let is_id = |w: &str| record.ids.iter().any(|id| w.contains(id.value.as_str()));
    let mut skip = 0;
    while skip + 1 < words.len()
        && words[skip].ends_with([':', '='])
        && is_id(words[skip + 1])
        && skip + 2 < words.len()
    {
        skip += 2;
    }
    for word in &words[skip..] {
        if !out.is_empty() {
            out.push(' ');
        }
        if is_id(word) {
            out.push_str("<*>");
            continue;
        }
        for piece in word.split_inclusive(['/', ':', '=']) {
            let (body, sep) = match piece.char_indices().last() {
                Some((i, '/' | ':' | '=')) => (&piece[..i], &piece[i..]),
                _ => (piece, ""),
            };
            let digits = body.bytes().filter(u8::is_ascii_digit).count();
            let variable = digits > 0 && (body.len() > 3 || digits == body.len());
            out.push_str(if variable { "<*>" } else { body });
            out.push_str(sep);
        }
    }
}

/// How a task's life ended, as far as the event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Received,
    Started,
    Succeeded,
    Failed,
    Retried,
    Revoked,
    Other,
}

impl TaskState {
    pub fn of(event_type: &str) -> TaskState {
        // Celery's `task-*` event types, and the generic lifecycle words:
        // a timeout ends a task from outside, as a revoke does.
        let word = event_type.strip_prefix("task-").unwrap_or(event_type);
        match word.to_ascii_lowercase().as_str() {
            "received" | "sent" | "enqueue" | "enqueued" | "queued" => TaskState::Received,
            "started" | "start" => TaskState::Started,
            "succeeded" | "complete" | "completed" | "success" => TaskState::Succeeded,
            "failed" | "fail" => TaskState::Failed,
            "retried" | "retry" => TaskState::Retried,
            "revoked" | "cancel" | "cancelled" | "canceled" | "timeout" | "timed_out" => {
                TaskState::Revoked
            }
            _ => TaskState::Other,
        }
    }

    /// The level a lifecycle record gets: failures are errors, a revoke or
    /// a retry is a warning.
    pub fn level(self) -> Level {
        match self {
            TaskState::Failed => Level::Error,
            TaskState::Revoked | TaskState::Retried => Level::Warn,
            _ => Level::Info,
        }
    }
}

/// The state of a task-event record (None for other records).
pub fn task_state(record: &Record) -> Option<TaskState> {
    (record.kind == Kind::TaskEvent)
        .then(|| {
            record
                .attr("type")
                .or_else(|| record.attr("state"))
                .map(TaskState::of)
        })
        .flatten()
}

/// Whether an ID field holds a span id (OpenTelemetry's `spanId`,
/// `span_id`, a `SpanID:` in the text): a unit of work inside one request.
/// A trace joins dozens of them; that makes it no hub.
pub fn is_span_field(field: &str) -> bool {
    let last = field.rsplit('.').next().unwrap_or(field);
    let mut name = last
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase());
    matches!(
        (name.next(), name.next(), name.next(), name.next()),
        (Some('s'), Some('p'), Some('a'), Some('n'))
    ) && matches!(name.collect::<String>().as_str(), "" | "id")
}

const FINGERPRINT_FIELDS: &[&str] = &[
    "payload_hash",
    "payload_fingerprint",
    "fingerprint",
    "request_hash",
    "body_hash",
];

/// A field that holds a payload's fingerprint: a known name, or a
/// `*_hash`/`*_digest`/`*_fingerprint` that is not a configuration's.
fn is_fingerprint_field(name: &str) -> bool {
    let ends_with = |suffix: &str| {
        name.len() >= suffix.len()
            && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    let starts_with = |prefix: &str| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    FINGERPRINT_FIELDS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
        || (["_hash", "_digest", "_fingerprint", "hash"]
            .iter()
            .any(|s| ends_with(s))
            && !starts_with("config")
            && !name.to_ascii_lowercase().contains("password"))
}

/// The payload fingerprint a record carries, if any: how key conflicts and
/// key drift are told apart from safe replays.
pub fn fingerprint(record: &Record) -> Option<&str> {
    record.attrs.iter().find_map(|(k, v)| {
        let last = k.rsplit('.').next().unwrap_or(k);
        FINGERPRINT_FIELDS
            .contains(&last)
            .then_some(v.as_str())
            .filter(|v| !v.is_empty())
    })
}

/// Fingerprints this long or longer are compared on their first
/// [`FINGERPRINT_CLASS`] characters: one service logs a hash cut short,
/// another stores it whole.
pub const FINGERPRINT_CLASS: usize = 12;

/// Every payload fingerprint a record carries, each reduced to the part
/// that is compared (algorithm prefix off, lower case, cut to
/// [`FINGERPRINT_CLASS`]), distinct, in field order. More than one when the
/// record states a comparison (`request_hash: {stored, received}`).
pub fn fingerprint_classes(record: &Record) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (k, v) in &record.attrs {
        let mut segments = k.rsplit('.');
        let last = segments.next().unwrap_or(k);
        let parent = segments.next().unwrap_or("");
        if !(is_fingerprint_field(last) || is_fingerprint_field(parent)) {
            continue;
        }
        let value = v.rsplit(':').next().unwrap_or(v).trim();
        if value.len() < 6 || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let class: String = value
            .chars()
            .take(FINGERPRINT_CLASS)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !out.contains(&class) {
            out.push(class);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    #[test]
    fn templates_mask_what_varies() {
        let mut r = rec(
            1,
            1,
            "api",
            &[("order", "ord-x")],
            "charged 4200 for ord-x in 35ms",
        );
        assert_eq!(message_template(&r), "charged <*> for <*> in <*>");
        r.message = "POST /v1/payments received".into();
        assert_eq!(message_template(&r), "POST /v1/payments received");
        r.message = "GET /v1/orders/12345 took=35ms at 10:04:07".into();
        assert_eq!(
            message_template(&r),
            "GET /v1/orders/<*> took=<*> at <*>:<*>:<*>"
        );
        // Leading ID pairs are no part of the step; an ID later on is.
        r.ids.push(IdRef {
            field: "trace".into(),
            value: "4bf92f35".into(),
        });
        r.message = "TraceID: 4bf92f35 Start PlaceOrder for ord-x".into();
        assert_eq!(message_template(&r), "Start PlaceOrder for <*>");
        r.message = "TraceID: 4bf92f35".into();
        assert_eq!(message_template(&r), "TraceID: <*>");
    }
}
