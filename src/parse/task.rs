//! Task lifecycle events. Celery's event stream (`celery events --dump`, or a
//! JSON-lines capture of the event receiver): task-received, -started,
//! -succeeded, -failed, -retried, -revoked, keyed by `uuid`.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::config::Config;
use crate::record::{Kind, Record};

use super::normalize::{Fields, FileContext, into_record};
use super::{Malformed, json, time};

pub use crate::record::{TaskState, task_state};

pub fn parse_celery_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let obj = json::object(text)?;
    // The same stream carries the workers' own events (online, heartbeat,
    // offline): worker lifecycle, a record of the worker's, not a task's.
    if let Some(worker_event) = obj
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| t.starts_with("worker-"))
    {
        let message = worker_event.to_string();
        let mut fields = json::fields_of(obj, &config.fields);
        fields.message = message;
        return into_record(fields, Kind::Log, text, line, ctx, config);
    }
    let event_type = obj
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| t.starts_with("task-"))
        .ok_or(Malformed::NotATaskEvent)?
        .to_string();
    let uuid = obj
        .get("uuid")
        .and_then(Value::as_str)
        .ok_or(Malformed::NotATaskEvent)?
        .to_string();
    let ts = obj.get("timestamp").and_then(time::from_json);
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let hostname = obj
        .get("hostname")
        .and_then(Value::as_str)
        .map(str::to_string);

    let mut attrs: Vec<(String, String)> = vec![("task_id".into(), uuid)];
    let mut extra = String::new();
    for (k, v) in &obj {
        match k.as_str() {
            "uuid" | "timestamp" => {}
            "kwargs" | "args" => {
                // Celery ships kwargs as Python repr text; IDs inside it are
                // what ties a task to its event.
                for (ik, iv) in python_repr_pairs(&json::text_of(v)) {
                    attrs.push((format!("{k}.{ik}"), iv));
                }
                attrs.push((k.clone(), json::text_of(v)));
            }
            _ => attrs.push((k.clone(), json::text_of(v))),
        }
        match k.as_str() {
            "exception" => extra = format!(": {}", json::text_of(v)),
            "terminated" if v == &Value::Bool(true) => extra.push_str(" (terminated)"),
            _ => {}
        }
    }
    let state = TaskState::of(&event_type);
    let level = state.level();
    let message = if name.is_empty() {
        format!("{event_type}{extra}")
    } else {
        format!("{event_type} {name}{extra}")
    };
    let fields = Fields {
        time_key: None,
        ts,
        level: Some(level),
        message,
        service: None,
        instance: hostname,
        attrs,
        attr_types: String::new(),
        bad_time: None,
    };
    into_record(fields, Kind::TaskEvent, text, line, ctx, config)
}

/// Task-id and time fields of the generic lifecycle format.
const LIFECYCLE_ID_FIELDS: &[&str] = &["task_id", "job_id", "task"];
const LIFECYCLE_TIME_FIELDS: &[&str] = &["time", "ts", "timestamp", "at"];

/// Is this object a generic lifecycle record (a task id and a known state,
/// no log message)? What the sniffer asks of each line.
pub fn is_lifecycle(obj: &serde_json::Map<String, Value>) -> bool {
    let has_id = LIFECYCLE_ID_FIELDS.iter().any(|f| obj.contains_key(*f));
    let state = obj.get("state").and_then(Value::as_str);
    let has_message = ["msg", "message", "event"]
        .iter()
        .any(|k| obj.contains_key(*k));
    has_id && state.is_some_and(is_lifecycle_state) && !has_message
}

/// A state word [`TaskState::of`] knows: the one vocabulary for Celery
/// event types and lifecycle states.
pub fn is_lifecycle_state(state: &str) -> bool {
    TaskState::of(state) != TaskState::Other
}

/// Does a CSV header look like a lifecycle table (task id and state)?
pub fn is_lifecycle_header(header: &str) -> bool {
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    cols.iter()
        .any(|c| LIFECYCLE_ID_FIELDS.contains(&c.as_str()))
        && cols.iter().any(|c| c == "state")
}

/// One JSON line of the generic lifecycle format:
/// `{"task_id":…,"name":…,"state":"start|complete|cancel|timeout|fail","time":…,"event_id":…}`.
pub fn parse_lifecycle_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let obj = json::object(text)?;
    let ts = LIFECYCLE_TIME_FIELDS
        .iter()
        .find_map(|f| obj.get(*f).and_then(time::from_json));
    let pairs = obj
        .iter()
        .map(|(k, v)| (k.clone(), json::text_of(v)))
        .collect();
    lifecycle_record(pairs, ts, text, line, ctx, config)
}

/// One CSV row of the same format; values as text.
pub fn lifecycle_row(
    columns: &[String],
    values: &[&str],
    raw: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let pairs: Vec<(String, String)> = columns
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(c, v)| (c.clone(), v.to_string()))
        .collect();
    let ts = pairs
        .iter()
        .find(|(k, _)| LIFECYCLE_TIME_FIELDS.contains(&k.as_str()))
        .and_then(|(_, v)| time::from_str(v));
    lifecycle_record(pairs, ts, raw, line, ctx, config)
}

fn lifecycle_record(
    mut attrs: Vec<(String, String)>,
    ts: Option<crate::record::Micros>,
    raw: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let state = get("state")
        .filter(|s| is_lifecycle_state(s))
        .ok_or(Malformed::NotATaskEvent)?;
    let id_field = LIFECYCLE_ID_FIELDS
        .iter()
        .find(|f| get(f).is_some())
        .ok_or(Malformed::NotATaskEvent)?;
    let name = get("name").unwrap_or_default();
    let worker = get("worker").or_else(|| get("hostname"));
    let task_state = TaskState::of(&state);
    let level = task_state.level();
    let mut message = format!("task {state}");
    if !name.is_empty() {
        message.push(' ');
        message.push_str(&name);
    }
    if let Some(reason) = get("reason").or_else(|| get("error")) {
        message.push_str(": ");
        message.push_str(&reason);
    }
    let service = get("service");
    // `task` is a name in some exporters and an id in others; as the id
    // field it is kept as `task_id` so the ID rules pick it up.
    if *id_field == "task"
        && let Some(pair) = attrs.iter_mut().find(|(k, _)| k == "task")
    {
        pair.0 = "task_id".into();
    }
    let fields = Fields {
        time_key: None,
        ts,
        level: Some(level),
        message,
        service,
        instance: worker,
        attrs,
        attr_types: String::new(),
        bad_time: None,
    };
    into_record(fields, Kind::TaskEvent, raw, line, ctx, config)
}

/// `{'event_id': 'evt_1', 'amount': 4200}` -> [("event_id", "evt_1"), ("amount", "4200")].
fn python_repr_pairs(text: &str) -> Vec<(String, String)> {
    static PAIR: OnceLock<Regex> = OnceLock::new();
    let re = PAIR.get_or_init(|| {
        Regex::new(
            r#"['"](?P<k>[A-Za-z_]\w*)['"]\s*:\s*(?:'(?P<s>[^']*)'|"(?P<d>[^"]*)"|(?P<n>[-\w.]+))"#,
        )
        .expect("repr regex")
    });
    re.captures_iter(text)
        .filter_map(|c| {
            let v = c.name("s").or(c.name("d")).or(c.name("n"))?;
            Some((c["k"].to_string(), v.as_str().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    #[test]
    fn celery_event_carries_task_and_event_ids() {
        let ctx = FileContext::for_path("celery-events.jsonl");
        let r = parse_celery_line(
            r#"{"type":"task-revoked","uuid":"3f2a9c1e-1111-4222-8333-944455556666","hostname":"celery@billing-worker-7f9c6d8b5-h3j6m","timestamp":1795165201.123,"kwargs":"{'event_id': 'evt_1', 'amount': 4200}","terminated":true}"#,
            2,
            &ctx,
            &Config::default(),
        )
        .unwrap();
        assert_eq!(r.kind, Kind::TaskEvent);
        assert_eq!(r.service, "billing-worker");
        assert_eq!(r.level, Level::Warn);
        assert!(r.message.contains("(terminated)"), "{}", r.message);
        let ids: Vec<_> = r
            .ids
            .iter()
            .map(|i| (i.field.as_str(), i.value.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("task_id", "3f2a9c1e-1111-4222-8333-944455556666"),
                ("kwargs.event_id", "evt_1")
            ]
        );
        assert_eq!(task_state(&r), Some(TaskState::Revoked));
    }

    #[test]
    fn generic_lifecycle_json_and_csv_give_one_record() {
        let ctx = FileContext::for_path("tasks/lifecycle.jsonl");
        let config = Config::default();
        let json = parse_lifecycle_line(
            r#"{"task_id":"t-1","name":"billing.charge","state":"timeout","time":"2026-11-20T09:00:05Z","event_id":"evt_1","worker":"billing-worker-7f9c6d8b5-h3j6m"}"#,
            4,
            &ctx,
            &config,
        )
        .unwrap();
        assert_eq!(json.kind, Kind::TaskEvent);
        assert_eq!(task_state(&json), Some(TaskState::Revoked));
        assert_eq!(json.service, "billing-worker");
        assert_eq!(json.ts, 1_795_165_205_000_000);
        assert!(json.carries("t-1") && json.carries("evt_1"));
        assert_eq!(json.message, "task timeout billing.charge");

        let cols: Vec<String> = ["task_id", "name", "state", "time", "event_id"]
            .map(String::from)
            .to_vec();
        let csv = lifecycle_row(
            &cols,
            &[
                "t-1",
                "billing.charge",
                "complete",
                "2026-11-20 09:00:06",
                "evt_1",
            ],
            "t-1,billing.charge,complete,2026-11-20 09:00:06,evt_1",
            2,
            &ctx,
            &config,
        )
        .unwrap();
        assert_eq!(task_state(&csv), Some(TaskState::Succeeded));
        assert!(csv.carries("evt_1"));
        assert!(is_lifecycle_header("task_id,name,state,time,event_id"));
        assert!(!is_lifecycle_header("idem_key,status"));
    }

    #[test]
    fn non_task_lines_are_malformed() {
        let ctx = FileContext::for_path("celery-events.jsonl");
        let e = parse_celery_line(r#"{"type":"queue-purged"}"#, 1, &ctx, &Config::default());
        assert_eq!(e.unwrap_err(), Malformed::NotATaskEvent);
        // The workers' own events are worker records, not tasks, not garbage.
        let r = parse_celery_line(
            r#"{"type":"worker-online","hostname":"celery@billing-worker-1","timestamp":1795165201.123}"#,
            2,
            &ctx,
            &Config::default(),
        )
        .unwrap();
        assert_eq!(
            (
                r.kind,
                r.message.as_str(),
                r.service.as_str(),
                r.instance.as_str()
            ),
            (
                Kind::Log,
                "worker-online",
                "billing-worker",
                "billing-worker-1"
            )
        );
    }
}
