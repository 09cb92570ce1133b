//! Text with no format file: lines led by a time (`1428634687123 Hello`,
//! `2024-04-25 05:32:35,018 INFO …`), and `docker compose logs` output,
//! which puts `service-1  | ` before whatever each container wrote (JSON,
//! logfmt or text, often with terminal colour codes).
//!
//! A compose line whose container wrote no time at all (a Flask banner)
//! takes the time of the nearest timed line of the same file, as a log
//! viewer shows it: the one after it when nothing came before (held until
//! then, at most [`MAX_HELD`] lines), else the one before.

use std::io::BufRead;

use crate::config::Config;
use crate::record::{Kind, Micros, Record};

use super::normalize::{Fields, FileContext, into_record};
use super::{Malformed, Parsed, StreamEnd, json, time};

/// Untimed lines held for a time to come; past this they are malformed
/// (flat memory beats placing a banner).
const MAX_HELD: usize = 256;

/// A time that starts this early in a line leads it (Redis's `1:M ` prefix
/// is four bytes; a message quoting a time is further in).
const LEAD_BYTES: usize = 16;

/// The line's leading time, when it has one.
pub fn leading_time(line: &str) -> Option<(Micros, std::ops::Range<usize>)> {
    time::leading(line).filter(|(_, r)| r.start <= LEAD_BYTES)
}

/// A text line led by a time: the rest is the message.
pub fn parse_timed_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    // A JSON line among text ones (an app's structured logger beside its
    // framework's plain one).
    if text.starts_with('{') {
        return json::parse_line(text, line, ctx, config);
    }
    let (ts, at) = leading_time(text).ok_or(Malformed::NoTimestamp)?;
    let fields = text_fields(text, Some((ts, at)));
    into_record(fields, Kind::Log, text, line, ctx, config)
}

/// Fields of a text line: the time where it leads, the level its head
/// names, and the rest as the message.
fn text_fields(text: &str, time: Option<(Micros, std::ops::Range<usize>)>) -> Fields {
    let message = match &time {
        Some((_, at)) => text[at.end..]
            .trim_start_matches([']', ' ', '\t', '-', '|', ':', '*', '#'])
            .trim_end(),
        None => text.trim(),
    };
    Fields {
        ts: time.map(|(t, _)| t),
        level: json::sniff_text_level(message),
        message: message.to_string(),
        ..Fields::default()
    }
}

/// `(container, text)` of a `docker compose logs` line:
/// `web-1  | text`, after any terminal control codes before the name.
pub fn split_compose(line: &str) -> Option<(&str, &str)> {
    let line = skip_ansi(line);
    let (name, rest) = line.split_once(" |")?;
    let name = name.trim_end();
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| (name, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// The line without leading ANSI escape sequences (`ESC [ 2 K`).
fn skip_ansi(mut s: &str) -> &str {
    while let Some(rest) = s.strip_prefix("\x1b[") {
        let end = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(rest.len(), |i| i + 1);
        s = &rest[end..];
    }
    s
}

/// `text` without any ANSI escape sequences: colours are terminal dressing,
/// not what the service said.
fn strip_ansi(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\x1b') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        let at = &rest[i..];
        let after = skip_ansi(at);
        // A lone ESC (no `[` after it) is dropped alone; either way the
        // loop moves forward.
        rest = if after.len() < at.len() {
            after
        } else {
            &at[1..]
        };
    }
    out.push_str(rest);
    out.into()
}

/// Compose names a container `service-N` (v2) or `project_service_N` (v1).
fn compose_service(container: &str) -> &str {
    container
        .rsplit_once(['-', '_'])
        .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map_or(container, |(s, _)| s)
}

/// One compose line's fields, its time possibly still missing.
fn compose_fields(container: &str, inner: &str, config: &Config) -> Fields {
    let inner = strip_ansi(inner);
    let mut fields = match serde_json::from_str::<serde_json::Value>(&inner) {
        Ok(serde_json::Value::Object(obj)) => json::fields_of(obj, &config.fields),
        _ => match super::logfmt::pairs(&inner) {
            Some(p) if p.iter().filter(|(_, v)| !v.is_empty()).count() >= 2 => {
                let f = json::fields_of_strings(p, &config.fields);
                if f.ts.is_some() {
                    f
                } else {
                    text_fields(&inner, time::leading(&inner))
                }
            }
            _ => text_fields(&inner, time::leading(&inner)),
        },
    };
    fields
        .service
        .get_or_insert_with(|| compose_service(container).to_string());
    fields.instance.get_or_insert_with(|| container.to_string());
    fields
}

struct Held {
    line: u64,
    raw: String,
    fields: Fields,
}

pub fn parse_compose_stream(
    reader: &mut dyn BufRead,
    first_line: u64,
    ctx: &FileContext,
    config: &Config,
    sink: &mut dyn FnMut(Parsed),
) -> std::io::Result<StreamEnd> {
    let mut held: Vec<Held> = Vec::new();
    let mut last_ts: Option<Micros> = None;
    let emit =
        |fields: Fields, raw: &str, line: u64, sink: &mut dyn FnMut(Parsed)| match into_record(
            fields,
            Kind::Log,
            raw,
            line,
            ctx,
            config,
        ) {
            Ok(r) => sink(Parsed::Record(Box::new(r))),
            Err(why) => sink(Parsed::Malformed { line, why }),
        };
    let end = super::lines(reader, first_line, sink, &mut |line_no, text, _, sink| {
        let Some((container, inner)) = split_compose(text) else {
            sink(Parsed::Malformed {
                line: line_no,
                why: Malformed::NotCompose,
            });
            return;
        };
        let mut fields = compose_fields(container, inner, config);
        match (fields.ts, last_ts) {
            (Some(ts), _) => {
                for h in held.drain(..) {
                    let mut f = h.fields;
                    f.ts = Some(ts);
                    emit(f, &h.raw, h.line, sink);
                }
                last_ts = Some(ts);
            }
            (None, Some(before)) => fields.ts = Some(before),
            (None, None) if held.len() < MAX_HELD => {
                held.push(Held {
                    line: line_no,
                    raw: text.to_string(),
                    fields,
                });
                return;
            }
            (None, None) => {}
        }
        emit(fields, text, line_no, sink);
    })?;
    // No time anywhere after them: the file's own time places them.
    for h in held {
        let mut f = h.fields;
        f.ts = ctx.fallback_ts;
        emit(f, &h.raw, h.line, sink);
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (Vec<Record>, Vec<(u64, Malformed)>) {
        let ctx = FileContext::for_path("compose.log");
        let (mut records, mut bad) = (Vec::new(), Vec::new());
        let mut reader = input.as_bytes();
        parse_compose_stream(&mut reader, 1, &ctx, &Config::default(), &mut |p| match p {
            Parsed::Record(r) => records.push(*r),
            Parsed::Malformed { line, why } => bad.push((line, why)),
            Parsed::Checkpoint(_) => {}
        })
        .unwrap();
        (records, bad)
    }

    #[test]
    fn compose_lines_unwrap_json_and_text() {
        let (records, bad) = run(concat!(
            "\x1b[2Kweb-1  |  * Serving Flask app\n",
            "\x1b[2Kredis-1  | 1:M 20 Nov 2026 09:00:01.123 * Ready\n",
            "caddy  | {\"level\":\"warn\",\"ts\":1795165202.5,\"msg\":\"skipped\"}\n",
            "web-1  | \x1b[33mPress CTRL+C to quit\x1b[0m\n",
        ));
        assert!(bad.is_empty(), "{bad:?}");
        let got: Vec<_> = records
            .iter()
            .map(|r| (r.source.line, r.service.as_str(), r.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "web", "* Serving Flask app"),
                (2, "redis", "Ready"),
                (3, "caddy", "skipped"),
                (4, "web", "Press CTRL+C to quit"),
            ]
        );
        // The banner takes the next time; the last line the one before it.
        assert_eq!(records[0].ts, records[1].ts);
        assert_eq!(records[3].ts, records[2].ts);
        assert_eq!(records[1].instance, "redis-1");
    }

    /// Found by the sniff_and_parse fuzz target: a lone ESC after a stripped
    /// sequence looped for ever.
    #[test]
    fn control_codes_are_stripped_and_a_lone_escape_ends() {
        assert_eq!(strip_ansi("\x1b[31mred\x1b[0m \x1b lone\x1b"), "red  lone");
        assert_eq!(strip_ansi("\x1b[2K\x1b\x1b[1mx"), "x");
        assert_eq!(strip_ansi("\x1b["), "");
    }

    #[test]
    fn epoch_led_text() {
        let ctx = FileContext::for_path("app.log");
        let r =
            parse_timed_line("1795165201123 Hello, World!", 1, &ctx, &Config::default()).unwrap();
        assert_eq!(
            (r.ts, r.message.as_str()),
            (1_795_165_201_123_000, "Hello, World!")
        );
        assert!(parse_timed_line("no time here", 2, &ctx, &Config::default()).is_err());
    }
}
