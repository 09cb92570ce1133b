//! OpenTelemetry logs as OTLP/JSON (`{"resourceLogs":[…]}`), one export
//! request per line as the collector's file exporter writes them. Every log
//! record inside becomes a record with its resource's attributes (the
//! service name first of all); all of them point at the request's line.

use std::io::BufRead;

use serde_json::{Map, Value};

use crate::config::Config;
use crate::record::Kind;

use super::normalize::{FileContext, into_record};
use super::{Malformed, Parsed, StreamEnd, json};

pub fn is_otlp(obj: &Map<String, Value>) -> bool {
    obj.get("resourceLogs").is_some_and(Value::is_array)
}

/// OTLP's `AnyValue`: `{"stringValue": "x"}`, `{"intValue": "42"}`, …
fn any_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    for key in [
        "stringValue",
        "intValue",
        "doubleValue",
        "boolValue",
        "bytesValue",
    ] {
        if let Some(inner) = obj.get(key) {
            return inner.clone();
        }
    }
    if let Some(kv) = obj.get("kvlistValue").and_then(|k| k.get("values")) {
        return Value::Object(attributes(kv));
    }
    if let Some(arr) = obj
        .get("arrayValue")
        .and_then(|a| a.get("values"))
        .and_then(Value::as_array)
    {
        return Value::Array(arr.iter().map(any_value).collect());
    }
    v.clone()
}

/// `[{"key": "k", "value": {…}}]` → `{"k": value}`.
fn attributes(list: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for kv in list.as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (kv.get("key").and_then(Value::as_str), kv.get("value")) {
            out.insert(k.to_string(), any_value(v));
        }
    }
    out
}

pub fn parse_stream(
    reader: &mut dyn BufRead,
    first_line: u64,
    ctx: &FileContext,
    config: &Config,
    sink: &mut dyn FnMut(Parsed),
) -> std::io::Result<StreamEnd> {
    // Each line is whole in itself: after any line is a place to resume.
    let mut before = StreamEnd {
        bytes: 0,
        next_line: first_line,
        open_line: None,
    };
    let mut since_checkpoint = 0u32;
    super::lines(
        reader,
        first_line,
        sink,
        &mut |line_no, text, consumed, sink| {
            if since_checkpoint >= super::CHECKPOINT_EVERY {
                since_checkpoint = 0;
                sink(Parsed::Checkpoint(before));
            }
            before = StreamEnd {
                bytes: consumed,
                next_line: line_no + 1,
                open_line: None,
            };
            since_checkpoint += 1;
            let bad = |why| Parsed::Malformed { line: line_no, why };
            let obj = match json::object(text) {
                Ok(o) if is_otlp(&o) => o,
                Ok(_) => return sink(bad(Malformed::NotAnObject)),
                Err(why) => return sink(bad(why)),
            };
            for rl in obj["resourceLogs"].as_array().into_iter().flatten() {
                let resource = attributes(&rl["resource"]["attributes"]);
                for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                    for lr in sl["logRecords"].as_array().into_iter().flatten() {
                        let Some(lr) = lr.as_object() else { continue };
                        let mut flat = Map::new();
                        for (k, v) in lr {
                            match k.as_str() {
                                "attributes" => flat.extend(attributes(v)),
                                "body" => {
                                    flat.insert("body".into(), any_value(v));
                                }
                                _ => {
                                    flat.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        flat.insert("resource".into(), Value::Object(resource.clone()));
                        let raw = serde_json::to_string(&flat).unwrap_or_default();
                        let fields = json::fields_of(flat, &config.fields);
                        match into_record(fields, Kind::Log, &raw, line_no, ctx, config) {
                            Ok(r) => sink(Parsed::Record(Box::new(r))),
                            Err(why) => sink(bad(why)),
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Level, Record};

    #[test]
    fn every_log_record_of_a_request_with_its_resource() {
        let line = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"host.name","value":{"stringValue":"checkout-7d9f8-abcde"}}]},"scopeLogs":[{"scope":{"name":"app"},"logRecords":[{"timeUnixNano":"1795165201123456789","severityText":"ERROR","body":{"stringValue":"charge failed"},"traceId":"5b8efff798038103d269b633813fc60c","attributes":[{"key":"event_id","value":{"stringValue":"evt_9"}}]},{"timeUnixNano":"1795165202000000000","severityText":"INFO","body":{"stringValue":"retrying"},"traceId":"5b8efff798038103d269b633813fc60c"}]}]}]}"#;
        let ctx = FileContext::for_path("otel/logs.json");
        let mut out: Vec<Record> = Vec::new();
        parse_stream(
            &mut line.as_bytes(),
            1,
            &ctx,
            &Config::default(),
            &mut |p| {
                if let Parsed::Record(r) = p {
                    out.push(*r)
                }
            },
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].service, "checkout");
        assert_eq!(out[0].instance, "checkout-7d9f8-abcde");
        assert_eq!(out[0].level, Level::Error);
        assert_eq!(out[0].message, "charge failed");
        assert_eq!(out[0].ts, 1_795_165_201_123_456);
        assert!(out[0].carries("evt_9"));
        assert!(out[1].carries("5b8efff798038103d269b633813fc60c"));
        assert_eq!(out[1].source.line, 1);
    }
}
