//! What a row shows of a record: the words that say what happened.
//!
//! Messages often open with boilerplate that repeats the record's IDs
//! (`TraceID: 54de… SpanID: c23d… Start PlaceOrder`): at any width the step
//! itself never shows. Those IDs are already the record's (`Record::ids`),
//! so the row drops them and keeps the rest. Records with no message at all
//! (Zeek, metrics-like JSON) are summarised from their fields: protocol,
//! endpoints, what was done and how it ended.
//!
//! `message` stays as logged everywhere it is stored or given as JSON; this
//! text is what tables, the TUI and diagrams show (`text` in `--json`).

use std::borrow::Cow;

use crate::record::Record;

/// The text a row shows for `r`.
pub fn step_text(r: &Record) -> Cow<'_, str> {
    let message = r.message.trim();
    if message.is_empty() {
        return Cow::Owned(field_summary(r));
    }
    Cow::Borrowed(without_leading_ids(message, r))
}

/// What may stand between boilerplate IDs and the words.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '|' | ',' | ';' | ':')
}

/// `message` without the `Key: value`, `Key=value` and `[value]` pairs it
/// opens with whose value is one of the record's IDs. A bare ID opening
/// the message is kept: "pay_123 charged" says which payment. A message
/// that is nothing but IDs is kept whole.
fn without_leading_ids<'a>(message: &'a str, r: &Record) -> &'a str {
    // Context IDs (a customer, a tenant) are words worth reading.
    let ids = || {
        r.ids
            .iter()
            .map(|i| i.value.as_str())
            .filter(|v| !v.is_empty())
    };
    let mut rest = message;
    loop {
        let s = rest.trim_start_matches(is_separator);
        let (keyed, s) = match key_end(s) {
            Some(end) => (true, s[end..].trim_start()),
            None => (false, s),
        };
        let (bracket, s) = match s.strip_prefix('[') {
            Some(inner) => (true, inner),
            None => (false, s),
        };
        let quote = s.starts_with(['"', '\'']);
        let s = if quote { &s[1..] } else { s };
        if !keyed && !bracket {
            break;
        }
        let Some(value) = ids()
            .filter(|v| s.starts_with(v) && ends_word(&s[v.len()..]))
            .max_by_key(|v| v.len())
        else {
            break;
        };
        let mut after = &s[value.len()..];
        if quote {
            after = after.strip_prefix(['"', '\'']).unwrap_or(after);
        }
        if bracket {
            match after.strip_prefix(']') {
                Some(a) => after = a,
                None => break,
            }
        }
        rest = after;
    }
    // Untouched unless an ID was dropped: "-> retry" keeps its arrow.
    let words = rest.trim_start_matches(is_separator);
    if rest.len() == message.len() || words.is_empty() {
        message
    } else {
        words
    }
}

/// Where a `Key:` or `Key=` at the start of `s` ends (after the `:`/`=`).
fn key_end(s: &str) -> Option<usize> {
    let name = s
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .map_or(s.len(), |(i, _)| i);
    if name == 0 || !s.starts_with(|c: char| c.is_alphabetic()) {
        return None;
    }
    let after = s[name..].trim_start_matches(' ');
    let sep = after.strip_prefix([':', '='])?;
    Some(s.len() - sep.len())
}

/// An ID ends where its word does: `order_12` is not the start of
/// `order_123`.
fn ends_word(after: &str) -> bool {
    after
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'))
}

/// Field names (their last dotted part, lower case) by what they say, most
/// telling first within each.
const PROTOCOL: &[&str] = &["proto", "protocol", "transport"];
const ACTION: &[&str] = &[
    "method",
    "verb",
    "command",
    "operation",
    "action",
    "query",
    "note",
    "name",
    "analyzer",
    "type",
    "event",
];
const TARGET: &[&str] = &["path", "route", "url", "uri", "target", "endpoint", "host"];
const OUTCOME: &[&str] = &[
    "status",
    "status_code",
    "statuscode",
    "code",
    "reply_code",
    "rcode_name",
    "conn_state",
    "result",
    "outcome",
    "failure_reason",
    "error",
];
/// Source and destination, as (host, port) field names.
const FROM: (&[&str], &[&str]) = (
    &["orig_h", "src", "src_ip", "source_ip", "client_ip"],
    &["orig_p", "src_port", "source_port", "client_port"],
);
const TO: (&[&str], &[&str]) = (
    &[
        "resp_h",
        "dst",
        "dst_ip",
        "dest_ip",
        "destination_ip",
        "server_ip",
    ],
    &[
        "resp_p",
        "dst_port",
        "dest_port",
        "destination_port",
        "server_port",
    ],
);
/// Never shown in a summary: secrets, and bookkeeping every line has.
const NEVER: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "_path",
    "_write_ts",
    "ts",
    "time",
    "timestamp",
    "@timestamp",
];
const VALUE_MAX: usize = 48;

fn last_part(key: &str) -> String {
    key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase()
}

/// A line for a record that logged no message, from its fields.
fn field_summary(r: &Record) -> String {
    let attrs: Vec<(String, &str)> = r
        .attrs
        .iter()
        .map(|(k, v)| (last_part(k), v.as_str()))
        .filter(|(k, v)| !v.is_empty() && !NEVER.contains(&k.as_str()))
        .collect();
    // A field named exactly so, else one whose name ends so, as services
    // that prefix their fields write them (Cloudflare's
    // `ClientRequestMethod`, `EdgeResponseStatus`); of those, a response's
    // own first (`EdgeResponseStatus` before `CacheCacheStatus`).
    let find = |names: &[&str]| -> Option<(usize, &str)> {
        let exact = names
            .iter()
            .find_map(|n| attrs.iter().position(|(k, _)| k == n));
        let suffixed = || {
            let ends = |k: &str| names.iter().any(|n| n.len() >= 3 && k.ends_with(n));
            attrs
                .iter()
                .position(|(k, _)| ends(k) && k.contains("response"))
                .or_else(|| attrs.iter().position(|(k, _)| ends(k)))
        };
        exact.or_else(suffixed).map(|i| (i, attrs[i].1))
    };
    let mut used = Vec::new();
    let take = |names: &[&str], keyed: bool, used: &mut Vec<usize>| {
        find(names).map(|(i, v)| {
            used.push(i);
            if keyed {
                format!("{}={}", attrs[i].0, short(v))
            } else {
                short(v)
            }
        })
    };
    let endpoint = |(hosts, ports): (&[&str], &[&str]), used: &mut Vec<usize>| {
        let (h, host) = find(hosts)?;
        used.push(h);
        Some(match find(ports) {
            Some((p, port)) => {
                used.push(p);
                format!("{host}:{port}")
            }
            None => host.to_string(),
        })
    };
    let mut parts: Vec<String> = Vec::new();
    parts.extend(take(PROTOCOL, false, &mut used));
    match (endpoint(FROM, &mut used), endpoint(TO, &mut used)) {
        (Some(f), Some(t)) => parts.push(format!("{f} → {t}")),
        (Some(one), None) | (None, Some(one)) => parts.push(one),
        (None, None) => {}
    }
    parts.extend(take(ACTION, false, &mut used));
    parts.extend(take(TARGET, false, &mut used));
    parts.extend(take(OUTCOME, true, &mut used));
    // Nothing telling: the first fields, as they were logged.
    if used.is_empty() {
        parts.extend(
            attrs
                .iter()
                .take(3)
                .map(|(k, v)| format!("{k}={}", short(v))),
        );
    }
    parts.join(" ")
}

/// Field names that hold an HTTP status (last dotted part, lower case).
const HTTP_STATUS: &[&str] = &[
    "status",
    "status_code",
    "statuscode",
    "http_status",
    "response_code",
    "code",
];

/// The HTTP status a record reports, if any: a 504, a 422 and a 201 all
/// read "request completed" otherwise.
pub fn http_status(r: &Record) -> Option<u16> {
    r.attrs.iter().find_map(|(k, v)| {
        let status: u16 = v.parse().ok()?;
        let name = last_part(k);
        // `EdgeResponseStatus`: a prefixed status name counts too (not a
        // prefixed `code`, which is anything from zip codes to errors).
        let named = HTTP_STATUS.contains(&name.as_str())
            || ["status", "statuscode", "status_code"]
                .iter()
                .any(|s| name.ends_with(s));
        (named && (100..=599).contains(&status)).then_some(status)
    })
}

/// The shortest prefix of each ID (at least `min` characters) that no
/// other of `ids` starts with, so a row can name the IDs it carries in a
/// few columns and each can still be pasted into `timeline`.
pub fn short_ids<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    min: usize,
) -> std::collections::HashMap<&'a str, &'a str> {
    let mut sorted: Vec<&str> = ids.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let common = |a: &str, b: &str| {
        a.char_indices()
            .zip(b.chars())
            .take_while(|((_, x), y)| x == y)
            .count()
    };
    (0..sorted.len())
        .map(|i| {
            let id = sorted[i];
            let before = i.checked_sub(1).map_or(0, |j| common(id, sorted[j]));
            let after = sorted.get(i + 1).map_or(0, |next| common(id, next));
            let chars = (before.max(after) + 1).max(min);
            let end = id.char_indices().nth(chars).map_or(id.len(), |(at, _)| at);
            (id, &id[..end])
        })
        .collect()
}

fn short(v: &str) -> String {
    match v.char_indices().nth(VALUE_MAX) {
        Some((i, _)) => format!("{}…", &v[..i]),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    /// A record as `rec` builds them, with these fields besides its IDs.
    fn record(message: &str, ids: &[(&str, &str)], attrs: &[(&str, &str)]) -> Record {
        let mut r = rec(0, 1, "svc", ids, message);
        r.attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        r
    }

    #[test]
    fn trace_and_span_boilerplate_gives_way_to_the_step() {
        // nezha-onlineboutique, as its services log.
        let r = record(
            "TraceID: 54de0079cdcd169c7af8fb78ec5bc3dc SpanID: c23d802f686d1db0 Start PlaceOrder user_id=\"0f82\"",
            &[
                ("trace", "54de0079cdcd169c7af8fb78ec5bc3dc"),
                ("span", "c23d802f686d1db0"),
            ],
            &[],
        );
        assert_eq!(step_text(&r), "Start PlaceOrder user_id=\"0f82\"");
    }

    #[test]
    fn keyed_bracketed_and_quoted_ids_are_dropped_but_not_other_words() {
        let ids = [("request_id", "req-7"), ("event_id", "evt_1")];
        let cases = [
            ("[req-7] charge created", "charge created"),
            (
                "request_id=req-7 | event_id=\"evt_1\" - charge created",
                "charge created",
            ),
            ("req=req-7: charge created", "charge created"),
            // A bare ID says what the line is about.
            ("req-7 charge created", "req-7 charge created"),
            // A key whose value is not an ID of the record is words.
            ("user=bob charge created", "user=bob charge created"),
            // Only whole IDs: req-77 is another request.
            (
                "request_id=req-77 charge created",
                "request_id=req-77 charge created",
            ),
            // Nothing but IDs: the message is kept whole.
            ("request_id=req-7", "request_id=req-7"),
            (
                "charge created for request_id=req-7",
                "charge created for request_id=req-7",
            ),
            ("-> retry 2", "-> retry 2"),
        ];
        for (message, want) in cases {
            assert_eq!(step_text(&record(message, &ids, &[])), want, "{message}");
        }
    }

    #[test]
    fn short_ids_are_unique_prefixes() {
        let ids = [
            "evt_39febed3e92d",
            "evt_39fe0000aaaa",
            "72523b24-f17c-45dc-a532-04563256da37",
            "req_1",
        ];
        let short = short_ids(ids, 8);
        assert_eq!(short["evt_39febed3e92d"], "evt_39feb");
        assert_eq!(short["evt_39fe0000aaaa"], "evt_39fe0");
        assert_eq!(short["72523b24-f17c-45dc-a532-04563256da37"], "72523b24");
        assert_eq!(short["req_1"], "req_1");
        for (id, s) in &short {
            assert!(id.starts_with(s));
            let others = ids.iter().filter(|o| o.starts_with(s)).count();
            assert_eq!(others, 1, "{s} is ambiguous");
        }
    }

    /// lnav's Cloudflare test log (../shared/datasets/lnav-test-logs): no
    /// message, and every field name carries a prefix.
    #[test]
    fn prefixed_field_names_are_summarised_too() {
        let r = record(
            "",
            &[],
            &[
                ("ClientIP", "89.163.242.206"),
                ("ClientRequestHost", "www.example.com"),
                ("ClientRequestMethod", "GET"),
                ("ClientRequestURI", "/"),
                ("EdgeResponseBytes", "12480"),
                ("EdgeResponseStatus", "403"),
                ("CacheCacheStatus", "miss"),
            ],
        );
        assert_eq!(step_text(&r), "GET www.example.com edgeresponsestatus=403");
        assert_eq!(http_status(&r), Some(403));
    }

    #[test]
    fn http_statuses_are_found_under_the_names_services_use() {
        for (key, value, want) in [
            ("statusCode", "504", Some(504)),
            ("http.status_code", "422", Some(422)),
            ("res.status", "201", Some(201)),
            ("status", "completed", None),
            ("code", "42", None),
            ("bytes", "404", None),
        ] {
            let r = record("request completed", &[], &[(key, value)]);
            assert_eq!(http_status(&r), want, "{key}={value}");
        }
    }

    #[test]
    fn a_record_without_a_message_is_summarised_from_its_fields() {
        // Zeek's dpd, ftp and known_hosts logs.
        let dpd = record(
            "",
            &[("uid", "C8pPAS1MvRUZRkBO18")],
            &[
                ("_path", "dpd"),
                ("id.orig_h", "10.164.94.120"),
                ("id.orig_p", "36171"),
                ("id.resp_h", "10.47.8.218"),
                ("id.resp_p", "80"),
                ("proto", "tcp"),
                ("analyzer", "HTTP"),
                ("failure_reason", "not a http request line"),
            ],
        );
        assert_eq!(
            step_text(&dpd),
            "tcp 10.164.94.120:36171 → 10.47.8.218:80 HTTP failure_reason=not a http request line"
        );
        let ftp = record(
            "",
            &[],
            &[
                ("id.orig_h", "10.164.94.120"),
                ("id.resp_h", "10.47.27.80"),
                ("user", "anonymous"),
                ("password", "nessus@nessus.org"),
                ("command", "PASV"),
                ("reply_code", "227"),
            ],
        );
        let text = step_text(&ftp);
        assert_eq!(text, "10.164.94.120 → 10.47.27.80 PASV reply_code=227");
        let hosts = record("", &[], &[("host", "10.164.94.120")]);
        assert_eq!(step_text(&hosts), "10.164.94.120");
        // Nothing telling: the first fields, never a secret.
        let other = record(
            "",
            &[],
            &[
                ("password", "hunter2"),
                ("peer", "zeek"),
                ("bytes", "12"),
                ("depth", "1"),
                ("more", "x"),
            ],
        );
        assert_eq!(step_text(&other), "peer=zeek bytes=12 depth=1");
        let long = "x".repeat(100);
        let cut = record("", &[], &[("path", &long)]);
        assert_eq!(step_text(&cut).chars().count(), VALUE_MAX + 1);
    }
}
