//! The record as the detail pane shows it: the line the application wrote,
//! out of the envelope a container runtime put around it (Docker's
//! json-file, CRI), pretty-printed in the order it was written. The
//! envelope is kept as one line of metadata.
//!
//! Key order matters to a reader (services put `level` and `message`
//! first), and `serde_json::Value` sorts keys. Turning on serde_json's
//! `preserve_order` would reorder every `--json` output and slow ingest, so
//! the text is transcoded token by token instead (serde_transcode), which
//! keeps it as written.

use crate::parse::cri;

/// A record's raw text, unwrapped and pretty-printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unwrapped {
    /// The envelope, in words: `docker json-file · stdout · <time>`.
    pub wrapper: Option<String>,
    /// What the application wrote, pretty-printed when it is JSON.
    pub body: String,
}

pub fn unwrap(raw: &str) -> Unwrapped {
    if let Some((stream, time, inner)) = docker(raw) {
        return Unwrapped {
            wrapper: Some(format!("docker json-file · {stream} · {time}")),
            body: pretty(inner.trim_end_matches(['\n', '\r'])),
        };
    }
    // CRI: a long line comes as partial pieces, one raw line each.
    let pieces: Option<Vec<_>> = raw.lines().map(cri::split).collect();
    if let Some(pieces) = pieces.filter(|p| !p.is_empty()) {
        let (time, stream, _, _) = pieces[0];
        let text: String = pieces.iter().map(|p| p.3).collect();
        return Unwrapped {
            wrapper: Some(format!("CRI · {stream} · {time}")),
            body: pretty(&text),
        };
    }
    Unwrapped {
        wrapper: None,
        body: pretty(raw),
    }
}

/// `(stream, time, log)` of a Docker json-file line.
fn docker(raw: &str) -> Option<(String, String, String)> {
    if !raw.starts_with('{') {
        return None;
    }
    let serde_json::Value::Object(obj) = serde_json::from_str(raw).ok()? else {
        return None;
    };
    if !crate::parse::json::is_docker_wrapper(&obj) {
        return None;
    }
    let text = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    Some((text("stream"), text("time"), text("log")))
}

/// A JSON object or array pretty-printed with its keys in input order;
/// any other text as it is.
pub fn pretty(text: &str) -> String {
    if !text.trim_start().starts_with(['{', '[']) {
        return text.to_string();
    }
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut de = serde_json::Deserializer::from_str(text);
    let mut ser = serde_json::Serializer::pretty(&mut out);
    match serde_transcode::transcode(&mut de, &mut ser).and_then(|()| de.end()) {
        Ok(()) => String::from_utf8(out).unwrap_or_else(|_| text.to_string()),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_in_the_order_they_were_written() {
        let shown = pretty(
            r#"{"severity":"info","message":"charged","amount":{"units":5,"currency":"EUR"}}"#,
        );
        let keys: Vec<&str> = shown
            .lines()
            .filter_map(|l| l.trim().split('"').nth(1))
            .collect();
        assert_eq!(keys, ["severity", "message", "amount", "units", "currency"]);
    }

    #[test]
    fn the_application_line_comes_out_of_its_docker_envelope() {
        // nezha-onlineboutique's checkoutservice, as Docker kept it.
        let raw = r#"{"log":"{\"message\":\"TraceID: 54de SpanID: c23d Start PlaceOrder user_currency=\\\"USD\\\"\",\"severity\":\"info\",\"timestamp\":\"2022-08-22T05:18:23.842388995Z\"}\n","stream":"stdout","time":"2022-08-22T05:18:23.842686441Z"}"#;
        let shown = unwrap(raw);
        assert_eq!(
            shown.wrapper.as_deref(),
            Some("docker json-file · stdout · 2022-08-22T05:18:23.842686441Z")
        );
        assert!(shown.body.starts_with("{\n  \"message\": \"TraceID: 54de SpanID: c23d Start PlaceOrder user_currency=\\\"USD\\\"\",\n  \"severity\""), "{}", shown.body);
        // Plain text inside the envelope stays plain.
        let plain = unwrap(
            r#"{"log":"05:18:20.847 INFO  - Received ad request\n","stream":"stdout","time":"2022-08-22T05:18:20.847757258Z"}"#,
        );
        assert_eq!(plain.body, "05:18:20.847 INFO  - Received ad request");
    }

    #[test]
    fn cri_pieces_are_joined_and_the_envelope_named() {
        let raw = "2026-11-20T09:00:01.123456789Z stdout P {\"level\":\"info\",\n2026-11-20T09:00:01.123456789Z stdout F \"msg\":\"ok\"}";
        let shown = unwrap(raw);
        assert_eq!(
            shown.wrapper.as_deref(),
            Some("CRI · stdout · 2026-11-20T09:00:01.123456789Z")
        );
        assert_eq!(
            shown.body,
            "{\n  \"level\": \"info\",\n  \"msg\": \"ok\"\n}"
        );
    }

    #[test]
    fn anything_else_is_shown_as_written() {
        for raw in ["plain text line", "{not json", "{\"a\":1} trailing", "[1,2"] {
            let shown = unwrap(raw);
            assert_eq!(
                shown,
                Unwrapped {
                    wrapper: None,
                    body: raw.to_string()
                }
            );
        }
    }
}
