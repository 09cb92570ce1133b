//! Task lifecycle events. Celery's event stream (`celery events --dump`, or a
//! JSON-lines capture of the event receiver): task-received, -started,
//! -succeeded, -failed, -retried, -revoked, keyed by `uuid`.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::config::Config;
use crate::record::{Kind, Level, Record};

use super::normalize::{Fields, FileContext, into_record};
use super::{Malformed, json, time};

pub use crate::record::{TaskState, task_state};

pub fn parse_celery_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let value: Value = serde_json::from_str(text).map_err(|e| Malformed::BadJson(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(Malformed::NotAnObject);
    };
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
    let level = match state {
        TaskState::Failed => Level::Error,
        TaskState::Revoked | TaskState::Retried => Level::Warn,
        _ => Level::Info,
    };
    let message = if name.is_empty() {
        format!("{event_type}{extra}")
    } else {
        format!("{event_type} {name}{extra}")
    };
    let fields = Fields {
        ts,
        level: Some(level),
        message,
        service: None,
        instance: hostname,
        attrs,
    };
    into_record(fields, Kind::TaskEvent, text, line, ctx, config)
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
    fn non_task_lines_are_malformed() {
        let ctx = FileContext::for_path("celery-events.jsonl");
        let e = parse_celery_line(
            r#"{"type":"worker-heartbeat"}"#,
            1,
            &ctx,
            &Config::default(),
        );
        assert_eq!(e.unwrap_err(), Malformed::NotATaskEvent);
    }
}
