//! JSON log lines of the common shapes: pino/bunyan, structlog,
//! python-json-logger, zap, zerolog, logrus, Elastic Common Schema, and the
//! Docker json-file wrapper around any of them (or around plain text).
//! One field table serves them all: each dialect differs only in which key
//! holds the time, level and message.

use serde_json::{Map, Value};

use crate::config::{Config, FieldMap};
use crate::record::{Kind, Level, Micros, Record};

use super::normalize::{Fields, FileContext, into_record};
use super::{Malformed, time};

const TIME_KEYS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "time",
    "ts",
    "asctime",
    "datetime",
    "date",
    "eventTime",
    "timeUnixNano",
    "time_unix_nano",
    "observedTimeUnixNano",
    "receiveTimestamp",
    "t",
];
const LEVEL_KEYS: &[&str] = &[
    "level",
    "levelname",
    "log.level",
    "severity",
    "lvl",
    "loglevel",
    "level_name",
    "severityText",
    "severity_text",
];
const MESSAGE_KEYS: &[&str] = &[
    "msg",
    "message",
    "event",
    "@message",
    "log.message",
    // OpenTelemetry log records and GCP Cloud Logging entries.
    "body",
    "body.stringValue",
    "textPayload",
    // journald's export (`journalctl -o json`).
    "MESSAGE",
    "jsonPayload.message",
    "jsonPayload.msg",
    // Rust `tracing`'s JSON formatter nests the message with the span fields.
    "fields.message",
];
const SERVICE_KEYS: &[&str] = &[
    "service",
    "service.name",
    "service_name",
    "svc",
    "app",
    "application",
    "resource.service.name",
    "resource.labels.service_name",
    "resource.labels.container_name",
    "serviceContext.service",
    "SYSLOG_IDENTIFIER",
    "_SYSTEMD_UNIT",
    // Kubernetes metadata as log shippers add it (Fluent Bit, Vector, the
    // OpenTelemetry collector): the container is the service.
    "kubernetes.container_name",
    "kubernetes.container.name",
    "k8s.container.name",
    "resource.k8s.container.name",
    "resource.k8s.deployment.name",
    "resource.k8s.statefulset.name",
    "ecs.container.name",
];
const INSTANCE_KEYS: &[&str] = &[
    // Pod and instance names first: a pod's host is only the node it ran on.
    "service.instance.id",
    "resource.service.instance.id",
    "kubernetes.pod_name",
    "kubernetes.pod.name",
    "k8s.pod.name",
    "resource.k8s.pod.name",
    "resource.labels.pod_name",
    "pod",
    "pod_name",
    "instance",
    "service.node.name",
    "resource.labels.instance_id",
    "hostname",
    "host.name",
    "host.hostname",
    "resource.host.name",
    "_HOSTNAME",
    "host",
];

pub fn parse_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let obj = match object(text) {
        Ok(obj) => obj,
        // A logfmt or timed text line among JSON ones (two loggers writing
        // to one file, as Celery's own lines beside an app's structlog):
        // read it as what it is rather than lose it.
        Err(e @ Malformed::BadJson(_)) if !text.trim_start().starts_with(['{', '[']) => {
            return super::logfmt::parse_line(text, line, ctx, config)
                .or_else(|_| super::plain::parse_timed_line(text, line, ctx, config))
                .map_err(|_| e);
        }
        Err(e) => return Err(e),
    };
    let fields = if is_docker_wrapper(&obj) {
        unwrap_docker(obj, &config.fields)
    } else {
        fields_of(obj, &config.fields)
    };
    into_record(fields, Kind::Log, text, line, ctx, config)
}

/// One line as a JSON object, or why it is not one.
pub fn object(text: &str) -> Result<Map<String, Value>, Malformed> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(Malformed::NotAnObject),
        Err(e) => Err(Malformed::BadJson(e.to_string())),
    }
}

/// Docker's json-file driver: `{"log": "...\n", "stream": "stdout", "time": "..."}`.
pub(crate) fn is_docker_wrapper(obj: &Map<String, Value>) -> bool {
    obj.len() <= 4
        && matches!(obj.get("log"), Some(Value::String(_)))
        && obj.contains_key("stream")
        && obj.contains_key("time")
}

fn unwrap_docker(mut obj: Map<String, Value>, map: &FieldMap) -> Fields {
    let wrapper_ts = obj.get("time").and_then(time::from_json);
    let inner = match obj.remove("log") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let stream = match obj.get("stream") {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    };
    wrapped(&inner, wrapper_ts, stream, map)
}

/// The line a container runtime wrapped (Docker json-file, CRI): JSON
/// fields when it is a JSON object, else plain text with a guessed level.
pub fn wrapped(
    inner: &str,
    wrapper_ts: Option<crate::record::Micros>,
    stream: &str,
    map: &FieldMap,
) -> Fields {
    let inner = inner.trim_end_matches(['\n', '\r']);
    let mut fields = match serde_json::from_str::<Value>(inner) {
        Ok(Value::Object(inner_obj)) => fields_of(inner_obj, map),
        _ => Fields {
            message: inner.to_string(),
            level: sniff_text_level(inner),
            ..Fields::default()
        },
    };
    // The wrapper's time is a full UTC time written by the runtime; an inner
    // time without a date or zone (`14:03:07.123`) is worse, so the wrapper
    // wins unless the inner one parsed as a full timestamp.
    if fields.ts.is_none() {
        fields.ts = wrapper_ts;
    }
    if !stream.is_empty() {
        fields.attrs.push(("stream".into(), stream.to_string()));
    }
    fields
}

pub(crate) fn sniff_text_level(text: &str) -> Option<Level> {
    let head: String = text
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_uppercase();
    for (word, level) in [
        ("ERROR", Level::Error),
        ("WARN", Level::Warn),
        ("INFO", Level::Info),
        ("DEBUG", Level::Debug),
        ("FATAL", Level::Fatal),
    ] {
        if head.contains(word) {
            return Some(level);
        }
    }
    None
}

/// Flattens the object and takes the well-known keys out of it (or the
/// keys `[fields]` in config names).
/// [`fields_of`] for text dialects whose values are all strings: logfmt
/// pairs, a `[[formats]]` pattern's named groups.
pub fn fields_of_strings(
    pairs: impl IntoIterator<Item = (String, String)>,
    map: &FieldMap,
) -> Fields {
    let obj = pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    fields_of(obj, map)
}

pub fn fields_of(obj: Map<String, Value>, map: &FieldMap) -> Fields {
    let mut flat: Vec<(String, Value)> = Vec::with_capacity(obj.len());
    flatten("", obj, &mut flat);
    let mut fields = Fields::default();

    let text = |v: &Value| v.as_str().map(str::to_string);
    if let Some((i, ts)) = find(&flat, map.time.as_deref(), TIME_KEYS, |v| {
        time::from_json_in(v, map.zone, map.time_format.as_deref())
    }) {
        fields.time_key = Some(flat.remove(i).0);
        fields.ts = Some(ts);
    } else if map.time.is_none()
        && let Some((at, ts)) = time_by_name(&flat, map)
    {
        fields.time_key = Some(flat[at[0]].0.clone());
        for i in at.into_iter().rev() {
            flat.remove(i);
        }
        fields.ts = Some(ts);
    }
    if fields.ts.is_none() {
        // A time field that is there but holds no moment says why the line
        // has no time.
        let names: &[&str] = match map.time.as_deref() {
            Some(t) => &[t][..],
            None => TIME_KEYS,
        };
        fields.bad_time = flat
            .iter()
            .find(|(k, v)| names.contains(&k.as_str()) && (v.is_number() || v.is_string()))
            .map(|(_, v)| {
                let text = text_of(v);
                let cut: String = text.chars().take(40).collect();
                cut
            });
    }
    if let Some((i, level)) = find(&flat, map.level.as_deref(), LEVEL_KEYS, |v| match v {
        Value::Number(n) => Some(Level::from_number(n.as_i64().unwrap_or(30))),
        Value::String(s) => Some(Level::parse(s)),
        _ => None,
    }) {
        flat.remove(i);
        fields.level = Some(level);
    } else if let Some(i) = flat.iter().position(|(k, _)| k == "PRIORITY") {
        // journald: syslog severities, 0 (emergency) to 7 (debug), as text.
        let level = match flat[i].1.as_str() {
            Some("0" | "1" | "2") => Some(Level::Fatal),
            Some("3") => Some(Level::Error),
            Some("4") => Some(Level::Warn),
            Some("5" | "6") => Some(Level::Info),
            Some("7") => Some(Level::Debug),
            _ => None,
        };
        if level.is_some() {
            flat.remove(i);
            fields.level = level;
        }
    }
    if let Some((i, message)) = find(&flat, map.message.as_deref(), MESSAGE_KEYS, text) {
        flat.remove(i);
        fields.message = message;
    }
    fields.service = find(&flat, map.service.as_deref(), SERVICE_KEYS, text).map(|(_, s)| s);
    fields.instance = find(&flat, map.instance.as_deref(), INSTANCE_KEYS, text).map(|(_, s)| s);
    fields.attr_types = flat.iter().map(|(_, v)| type_letter(v)).collect();
    fields.attrs = flat.into_iter().map(|(k, v)| (k, text_of(&v))).collect();
    fields
}

/// One letter per JSON type, for `Record::attr_types`.
fn type_letter(v: &Value) -> char {
    match v {
        Value::String(_) => 's',
        Value::Number(_) => 'n',
        Value::Bool(_) => 'b',
        Value::Array(_) => 'a',
        Value::Object(_) => 'o',
        Value::Null => 'z',
    }
}

/// A time under a name no list foresaw (`started_at`, `EdgeStartTimestamp`,
/// journald's `__REALTIME_TIMESTAMP`, Log4j2's `instant.epochSecond` with
/// `instant.nanoOfSecond`): a key that names a time and a value that reads
/// as a plausible moment. A start beats an end (a request's log line is
/// about when it began), and a monotonic clock is no moment at all.
/// Returns the indices of the keys used, first the one to name.
fn time_by_name(flat: &[(String, Value)], map: &FieldMap) -> Option<(Vec<usize>, Micros)> {
    for (i, (k, v)) in flat.iter().enumerate() {
        if let Some(base) = k.strip_suffix("epochSecond")
            && let Some(seconds) = v.as_i64()
        {
            let nanos_key = format!("{base}nanoOfSecond");
            let nanos = flat.iter().position(|(k, _)| *k == nanos_key);
            let n = nanos.and_then(|j| flat[j].1.as_i64()).unwrap_or(0);
            if let Some(ts) = time::from_seconds_and_nanos(seconds, n) {
                return Some((std::iter::once(i).chain(nanos).collect(), ts));
            }
        }
    }
    let mut best: Option<(u8, usize, Micros)> = None;
    for (i, (k, v)) in flat.iter().enumerate() {
        let Some(rank) = time_name_rank(k) else {
            continue;
        };
        if best.is_some_and(|(r, _, _)| r <= rank) {
            continue;
        }
        if let Some(ts) = time::from_json_in(v, map.zone, map.time_format.as_deref()) {
            best = Some((rank, i, ts));
        }
    }
    best.map(|(_, i, ts)| (vec![i], ts))
}

/// How well a key's last segment names the moment of a record (lower is
/// better), or None when it names no time or a clock that is no moment.
fn time_name_rank(key: &str) -> Option<u8> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let name = crate::config::normalise_field(last);
    if name.contains("monotonic") || name.contains("duration") || name.contains("elapsed") {
        return None;
    }
    let names_time = name.contains("timestamp")
        || name.contains("time")
        || name.contains("date")
        || name.ends_with("ts")
        || (name.ends_with("at") && last.len() > 3 && last[..last.len() - 2].ends_with(['_', '-']))
        || last.ends_with("At");
    if !names_time {
        return None;
    }
    Some(if name.contains("realtime") || name.contains("start") {
        0
    } else if name.contains("end") || name.contains("stop") || name.contains("update") {
        2
    } else {
        1
    })
}

/// The first of `keys` present with a value `read` accepts, with where it
/// is and what it read (so a timestamp is parsed once); a key named in
/// config replaces the built-in list.
fn find<T>(
    flat: &[(String, Value)],
    over: Option<&str>,
    keys: &[&str],
    read: impl Fn(&Value) -> Option<T>,
) -> Option<(usize, T)> {
    let at = |key: &str| {
        flat.iter().enumerate().find_map(|(i, (k, v))| {
            if k == key {
                read(v).map(|t| (i, t))
            } else {
                None
            }
        })
    };
    match over {
        Some(key) => at(key),
        None => keys.iter().find_map(|key| at(key)),
    }
}

fn flatten(prefix: &str, obj: Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) if !inner.is_empty() => flatten(&key, inner, out),
            other => out.push((key, other)),
        }
    }
}

pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    const T: i64 = 1_795_165_201_123_000;

    fn parse(line: &str) -> Record {
        let ctx = FileContext::for_path("payments-api-6c8d7b5f9-q4w8n.log");
        parse_line(line, 7, &ctx, &Config::default()).unwrap()
    }

    #[test]
    fn pino() {
        let r = parse(
            r#"{"level":40,"time":1795165201123,"pid":1,"hostname":"api-gateway-5d7f8c9b4-k2x7p","reqId":"req_a","msg":"upstream timeout"}"#,
        );
        assert_eq!(
            (r.ts, r.level, r.message.as_str()),
            (T, Level::Warn, "upstream timeout")
        );
        assert_eq!(r.instance, "api-gateway-5d7f8c9b4-k2x7p");
        // The pod name the record carries beats the file it was saved to.
        assert_eq!(r.service, "api-gateway");
        assert_eq!(r.ids[0].value, "req_a");
        assert_eq!(r.source.line, 7);
    }

    #[test]
    fn structlog_python_json_logger_zap() {
        let r = parse(
            r#"{"event":"charge created","timestamp":"2026-11-20T09:00:01.123Z","level":"info","event_id":"evt_1"}"#,
        );
        assert_eq!(
            (r.ts, r.message.as_str(), r.mutation),
            (T, "charge created", true)
        );
        let r = parse(
            r#"{"asctime":"2026-11-20 09:00:01,123","levelname":"WARNING","name":"billing.worker","message":"slow","task_id":"t1"}"#,
        );
        assert_eq!((r.ts, r.level), (T, Level::Warn));
        let r = parse(
            r#"{"level":"error","ts":1795165201.123,"caller":"x.go:1","msg":"boom","idem_key":"k"}"#,
        );
        assert_eq!(
            (r.ts, r.level, r.ids[0].field.as_str()),
            (T, Level::Error, "idem_key")
        );
    }

    #[test]
    fn ecs_nested_keys_flatten() {
        let r = parse(
            r#"{"@timestamp":"2026-11-20T09:00:01.123Z","log":{"level":"info"},"message":"ok","service":{"name":"cart"},"trace":{"id":"abc"}}"#,
        );
        assert_eq!(
            (r.ts, r.level, r.service.as_str()),
            (T, Level::Info, "cart")
        );
        assert_eq!(r.ids[0].field, "trace.id");
    }

    #[test]
    fn docker_wrapper_around_json_and_text() {
        let r = parse(
            r#"{"log":"{\"severity\":\"info\",\"message\":\"charged\",\"request_id\":\"r1\"}\n","stream":"stdout","time":"2026-11-20T09:00:01.123Z"}"#,
        );
        assert_eq!(
            (r.ts, r.message.as_str(), r.ids[0].value.as_str()),
            (T, "charged", "r1")
        );
        let r = parse(
            r#"{"log":"2026/11/20 INFO payment went through TraceID: 4bf92f3577b34da6a3ce929d0e0e4736\n","stream":"stderr","time":"2026-11-20T09:00:01.123Z"}"#,
        );
        assert_eq!(r.level, Level::Info);
        assert_eq!(r.ids[0].value, "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    /// Times under names no list has, told by name and value range.
    #[test]
    fn times_found_by_name_and_range() {
        let r =
            parse(r#"{"instant":{"epochSecond":1795165201,"nanoOfSecond":123000000},"msg":"hi"}"#);
        assert_eq!((r.ts, r.message.as_str()), (T, "hi"));
        assert!(r.attr("instant.nanoOfSecond").is_none());
        let r = parse(
            r#"{"__MONOTONIC_TIMESTAMP":"38708007","__REALTIME_TIMESTAMP":"1795165201123000","PRIORITY":"3","MESSAGE":"disk","_HOSTNAME":"node-1"}"#,
        );
        assert_eq!(
            (r.ts, r.level, r.message.as_str(), r.instance.as_str()),
            (T, Level::Error, "disk", "node-1")
        );
        let r = parse(
            r#"{"EdgeEndTimestamp":1795165209000000000,"EdgeStartTimestamp":1795165201123000000}"#,
        );
        assert_eq!(r.ts, T);
        let r = parse(r#"{"started_at":1795165201123.0,"request":{"uri":"/"}}"#);
        assert_eq!(r.ts, T);
        let r = parse(r#"{"createdAt":"2026-11-20T09:00:01.123Z","msg":"x"}"#);
        assert_eq!(r.ts, T);
        // A counter under a time-like name is no moment.
        let ctx = FileContext::for_path("a.log");
        let e = parse_line(
            r#"{"uptime_ms":12345,"msg":"x"}"#,
            1,
            &ctx,
            &Config::default(),
        );
        assert_eq!(e.unwrap_err(), Malformed::NoTimestamp);
        // A time field that holds no moment says so.
        let e = parse_line(r#"{"time":1e22,"msg":"x"}"#, 1, &ctx, &Config::default());
        assert_eq!(e.unwrap_err(), Malformed::TimeOutOfRange("1e+22".into()));
        let e = parse_line(
            r#"{"timestamp":"0001-01-01T00:00:00Z","msg":"x"}"#,
            1,
            &ctx,
            &Config::default(),
        );
        assert!(matches!(e.unwrap_err(), Malformed::TimeOutOfRange(_)));
    }

    #[test]
    fn a_logfmt_line_among_json_lines() {
        let r = parse(r#"timestamp="2026-11-20T09:00:01.123Z" level="INFO" msg="Hello""#);
        assert_eq!((r.ts, r.message.as_str()), (T, "Hello"));
    }

    #[test]
    fn missing_time_is_malformed_not_a_panic() {
        let ctx = FileContext::for_path("a.log");
        let e = parse_line(r#"{"msg":"x"}"#, 1, &ctx, &Config::default()).unwrap_err();
        assert_eq!(e, Malformed::NoTimestamp);
        let e = parse_line("[1,2]", 1, &ctx, &Config::default()).unwrap_err();
        assert_eq!(e, Malformed::NotAnObject);
    }
}
