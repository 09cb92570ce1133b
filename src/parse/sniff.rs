//! Which dialect a file is, from its first lines — never from its name. The
//! answer carries its reason so `hopline sniff` can show a user why.

use crate::config::TextFormat;
use serde_json::Value;

use super::{cri, idem, logfmt, metrics, otlp, plain, task, zeek};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    JsonLog,
    Logfmt,
    /// Text lines matched by one of hopline.toml's `[[formats]]`.
    Text,
    IdemCsv,
    /// The same table dumped as JSON lines (`row_to_json`).
    IdemJson,
    CeleryEvents,
    /// Generic task lifecycle records as JSON lines (task_id, state, time).
    TaskLifecycle,
    /// The same as CSV with a header.
    TaskCsv,
    /// Prometheus/OpenMetrics text exposition.
    Metrics,
    /// A tar archive (`ustar` header); its members are sniffed one by one.
    Archive,
    /// Kubernetes CRI lines (`<time> stdout F <text>`) around any dialect.
    Cri,
    /// OpenTelemetry OTLP/JSON export requests, one per line.
    Otlp,
    /// Plain text lines led by a time (epoch or calendar), no format file.
    TimedText,
    /// `docker compose logs` output: `service-1  | ` before any dialect.
    Compose,
    /// Zeek's TSV logs with their `#fields` header.
    ZeekTsv,
    Unknown,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::JsonLog => "json_log",
            Dialect::Logfmt => "logfmt",
            Dialect::Text => "text_format",
            Dialect::IdemCsv => "idem_csv",
            Dialect::IdemJson => "idem_json",
            Dialect::CeleryEvents => "celery_events",
            Dialect::TaskLifecycle => "task_lifecycle",
            Dialect::TaskCsv => "task_csv",
            Dialect::Metrics => "metrics",
            Dialect::Archive => "archive",
            Dialect::Cri => "cri",
            Dialect::Otlp => "otlp_json",
            Dialect::TimedText => "timed_text",
            Dialect::Compose => "docker_compose",
            Dialect::ZeekTsv => "zeek_tsv",
            Dialect::Unknown => "unknown",
        }
    }

    /// Line-oriented dialects can resume from a byte offset; a CSV needs its
    /// header, so a grown CSV is read again whole.
    pub fn resumable(self) -> bool {
        matches!(
            self,
            Dialect::JsonLog
                | Dialect::Logfmt
                | Dialect::Text
                | Dialect::CeleryEvents
                | Dialect::TaskLifecycle
                | Dialect::Metrics
                | Dialect::IdemJson
                | Dialect::Cri
                | Dialect::Otlp
                | Dialect::TimedText
                | Dialect::Compose
        )
    }
}

#[derive(Debug, Clone)]
pub struct Sniffed {
    pub dialect: Dialect,
    pub why: String,
}

/// How many leading lines to look at; enough to outvote a banner or a torn
/// first line, few enough to stay instant.
pub const SNIFF_LINES: usize = 32;

/// What `head` holds, from its content alone.
pub fn sniff(head: &[u8]) -> Sniffed {
    sniff_with(head, &[])
}

/// [`sniff`], with hopline.toml's `[[formats]]`: a format the user wrote
/// wins over logfmt (text lines often hold `key=value` pairs) and over
/// nothing, never over a structured dialect.
pub fn sniff_with(head: &[u8], formats: &[TextFormat]) -> Sniffed {
    // Before the NUL check: a tar header is mostly NULs.
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Sniffed {
            dialect: Dialect::Archive,
            why: "tar archive (ustar header); members are read one by one".into(),
        };
    }
    if head.contains(&0) {
        return unknown("binary data (NUL bytes) in the first block");
    }
    let text = String::from_utf8_lossy(head);
    let lines = head_lines(head, &text);
    let built_in = by_content(&lines);
    if formats.is_empty() || !matches!(built_in.dialect, Dialect::Logfmt | Dialect::Unknown) {
        return built_in;
    }
    let mut names: Vec<&str> = Vec::new();
    let mut matched = 0;
    for f in lines
        .iter()
        .filter_map(|l| super::text::format_of(formats, l))
    {
        matched += 1;
        if !names.contains(&f.name.as_str()) {
            names.push(&f.name);
        }
    }
    // Stack traces between the lines are attached, not outvoting.
    let candidates = lines.iter().filter(|l| !super::is_continuation(l)).count();
    let what = format!("matched by [[formats]] {}", names.join(", "));
    most(matched, candidates, lines.len(), Dialect::Text, &what).unwrap_or(built_in)
}

/// The built-in dialects, told apart by the head's first lines.
fn by_content(lines: &[&str]) -> Sniffed {
    let Some(first) = lines.first() else {
        return unknown("empty");
    };
    // A task table may carry the event id it served; its task id column
    // is what tells it from an idempotency table keyed by event id.
    if zeek::is_header(first) {
        return Sniffed {
            dialect: Dialect::ZeekTsv,
            why: "Zeek TSV (#separator/#fields header)".into(),
        };
    }
    if !first.trim_start().starts_with('{') && task::is_lifecycle_header(first) {
        return Sniffed {
            dialect: Dialect::TaskCsv,
            why: format!(
                "CSV header with task id and state columns: {}",
                first.trim()
            ),
        };
    }
    if !first.trim_start().starts_with('{') && idem::is_idem_header(first) {
        return Sniffed {
            dialect: Dialect::IdemCsv,
            why: format!("CSV header with key and status columns: {}", first.trim()),
        };
    }
    let total = lines.len();
    let cri_lines = lines.iter().filter(|l| cri::split(l).is_some()).count();
    if let Some(s) = most(
        cri_lines,
        total,
        total,
        Dialect::Cri,
        "Kubernetes CRI lines (time stream P|F text)",
    ) {
        return s;
    }
    let compose_lines = lines
        .iter()
        .filter(|l| plain::split_compose(l).is_some())
        .count();
    if let Some(s) = most(
        compose_lines,
        total,
        total,
        Dialect::Compose,
        "docker compose logs lines (name | text)",
    ) {
        return s;
    }
    let objects: Vec<serde_json::Map<String, Value>> = lines
        .iter()
        .filter_map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        })
        .collect();
    if objects.len() * 2 > lines.len() {
        if objects.iter().any(otlp::is_otlp) {
            return Sniffed {
                dialect: Dialect::Otlp,
                why: "OpenTelemetry OTLP/JSON (resourceLogs)".into(),
            };
        }
        let count = |is: &dyn Fn(&serde_json::Map<String, Value>) -> bool| {
            objects.iter().filter(|o| is(o)).count()
        };
        let of_objects = |n, dialect, what| most(n, objects.len(), total, dialect, what);
        let celery = |o: &serde_json::Map<String, Value>| {
            o.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("task-"))
                && o.contains_key("uuid")
        };
        return of_objects(
            count(&celery),
            Dialect::CeleryEvents,
            "Celery task events (type task-*, uuid)",
        )
        .or_else(|| {
            of_objects(
                count(&idem::is_idem_object),
                Dialect::IdemJson,
                "idempotency-table rows as JSON (key, status, no message)",
            )
        })
        .or_else(|| {
            of_objects(
                count(&task::is_lifecycle),
                Dialect::TaskLifecycle,
                "task lifecycle records (task id, state, no message)",
            )
        })
        .unwrap_or_else(|| Sniffed {
            dialect: Dialect::JsonLog,
            why: format!(
                "{}/{total} lines are JSON objects{}",
                objects.len(),
                time_field(&objects)
            ),
        });
    }
    let typed = lines
        .iter()
        .any(|l| l.starts_with("# TYPE ") || l.starts_with("# HELP "));
    let samples = lines
        .iter()
        .filter(|l| metrics::looks_like_metrics(l))
        .count();
    if typed
        && let Some(s) = most(
            samples,
            total,
            total,
            Dialect::Metrics,
            "Prometheus exposition text (# TYPE/# HELP, samples)",
        )
    {
        return s;
    }
    let logfmt_lines = lines
        .iter()
        .filter(|l| {
            logfmt::pairs(l).is_some_and(|p| p.iter().filter(|(_, v)| !v.is_empty()).count() >= 2)
        })
        .count();
    if let Some(s) = most(
        logfmt_lines,
        total,
        total,
        Dialect::Logfmt,
        "key=value pairs",
    ) {
        return s;
    }
    let timed = lines
        .iter()
        .filter(|l| plain::leading_time(l).is_some())
        .count();
    // Untimed lines between timed ones are stack traces and wrapped text.
    if timed * 2 > total
        && let Some(s) = most(
            timed,
            total,
            total,
            Dialect::TimedText,
            "text led by a time",
        )
    {
        return s;
    }
    unknown(&format!(
        "no known dialect in the first {total} lines (not JSON, logfmt or an idempotency CSV)"
    ))
}

/// Which field the JSON lines' time is read from, as `sniff` says it:
/// `; time from "started_at"`, or that none was found.
fn time_field(objects: &[serde_json::Map<String, Value>]) -> String {
    let map = crate::config::FieldMap::default();
    let keys: Vec<Option<String>> = objects
        .iter()
        .take(4)
        .map(|o| super::json::fields_of(o.clone(), &map).time_key)
        .collect();
    match keys.iter().flatten().next() {
        Some(k) => format!("; time from \"{k}\""),
        None => "; no time field found (name one with [fields] time)".into(),
    }
}

/// The non-blank lines of `head` (as `text`) that sniffing looks at.
fn head_lines<'a>(head: &[u8], text: &'a str) -> Vec<&'a str> {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // The last line of a block may be cut mid-way.
    if lines.len() > 1 && !head.ends_with(b"\n") {
        lines.pop();
    }
    lines.truncate(SNIFF_LINES);
    lines
}

/// `dialect` when `n` of `of` candidate lines are `what` — most of them —
/// said as `n` of all `total` lines read.
fn most(n: usize, of: usize, total: usize, dialect: Dialect, what: &str) -> Option<Sniffed> {
    (n * 2 > of).then(|| Sniffed {
        dialect,
        why: format!("{n}/{total} lines are {what}"),
    })
}

fn unknown(why: &str) -> Sniffed {
    Sniffed {
        dialect: Dialect::Unknown,
        why: why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_not_names() {
        assert_eq!(
            sniff(b"{\"time\":1,\"msg\":\"a\"}\n{\"time\":2,\"msg\":\"b\"}\n").dialect,
            Dialect::JsonLog
        );
        assert_eq!(
            sniff(b"{\"type\":\"task-received\",\"uuid\":\"u\",\"timestamp\":1}\n").dialect,
            Dialect::CeleryEvents
        );
        assert_eq!(
            sniff(b"time=2026-11-20T09:00:01Z level=info msg=hi\n").dialect,
            Dialect::Logfmt
        );
        assert_eq!(
            sniff(b"idem_key,payload_hash,status,updated_at\nk,h,done,2026-11-20 09:00:00\n")
                .dialect,
            Dialect::IdemCsv
        );
        assert_eq!(
            sniff(b"{\"task_id\":\"t\",\"state\":\"start\",\"time\":1}\n").dialect,
            Dialect::TaskLifecycle
        );
        assert_eq!(
            sniff(b"{\"task_id\":\"t\",\"state\":\"start\",\"msg\":\"a log line\"}\n").dialect,
            Dialect::JsonLog
        );
        assert_eq!(
            sniff(b"task_id,name,state,time\nt,x,start,2026-11-20 09:00:00\n").dialect,
            Dialect::TaskCsv
        );
        assert_eq!(
            sniff(b"# HELP tasks_total Tasks.\n# TYPE tasks_total counter\ntasks_total{state=\"ok\"} 4\n")
                .dialect,
            Dialect::Metrics
        );
        assert_eq!(sniff(b"").dialect, Dialect::Unknown);
        assert_eq!(sniff(b"\x7fELF\x00\x01").dialect, Dialect::Unknown);
        assert_eq!(
            sniff(b"Nov 20 09:00:01 host sshd[1]: hello there\n").dialect,
            Dialect::Unknown
        );
    }

    #[test]
    fn a_torn_first_line_is_outvoted() {
        let head = b"\"msg\":\"tail of a rotated line\"}\n{\"time\":1,\"msg\":\"a\"}\n{\"time\":2,\"msg\":\"b\"}\n";
        assert_eq!(sniff(head).dialect, Dialect::JsonLog);
    }
}
