//! logfmt (`time=… level=info msg="webhook delivered" event_id=evt_1`), as
//! written by logrus's text formatter, go-kit and Heroku. Hand-written: the
//! grammar is a dozen lines and the crates that exist for it are unmaintained
//! and allocate per pair anyway.

use crate::config::Config;
use crate::record::{Kind, Record};

use super::normalize::{FileContext, into_record};
use super::{Malformed, json};

/// Splits a logfmt line into pairs. Returns None when the line is not
/// logfmt (no `key=value` pair at all, or an unterminated quote).
pub fn pairs(line: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut key_end = line.len();
        let mut has_value = false;
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' {
                key_end = i;
                has_value = true;
                chars.next();
                break;
            }
            if c.is_whitespace() {
                key_end = i;
                break;
            }
            chars.next();
        }
        let key = &line[start..key_end];
        if key.is_empty() || key.contains('"') {
            return None;
        }
        let mut value = String::new();
        if has_value {
            if let Some(&(_, '"')) = chars.peek() {
                chars.next();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, 't')) => value.push('\t'),
                            Some((_, other)) => value.push(other),
                            None => return None,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        other => value.push(other),
                    }
                }
                if !closed {
                    return None;
                }
            } else {
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.to_string(), value));
    }
    out.iter().any(|(_, v)| !v.is_empty()).then_some(out)
}

pub fn parse_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let pairs = pairs(text).ok_or(Malformed::NotLogfmt)?;
    // Reuse the JSON field table: logfmt keys are the same names (time,
    // level, msg) that the JSON loggers use.
    let fields = json::fields_of_strings(pairs, &config.fields);
    into_record(fields, Kind::Log, text, line, ctx, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    #[test]
    fn quoted_values_and_escapes() {
        let p = pairs(r#"time=2026-11-20T09:00:01.123Z level=info msg="webhook \"ok\" delivered" event_id=evt_1 flag"#).unwrap();
        assert_eq!(p[2], ("msg".into(), "webhook \"ok\" delivered".into()));
        assert_eq!(p[4], ("flag".into(), String::new()));
        assert!(pairs("just some words").is_none());
        assert!(pairs(r#"msg="unterminated"#).is_none());
    }

    #[test]
    fn a_line_becomes_a_record() {
        let ctx = FileContext::for_path("webhook-dispatcher-6b7c8d9e1-r5t6y.log");
        let r = parse_line(
            r#"time=2026-11-20T09:00:01.123Z level=warn msg="webhook delivered" event_id=evt_1 status=200"#,
            4,
            &ctx,
            &Config::default(),
        )
        .unwrap();
        assert_eq!(r.ts, 1_795_165_201_123_000);
        assert_eq!(r.level, Level::Warn);
        assert_eq!(r.service, "webhook-dispatcher");
        assert_eq!(r.ids[0].value, "evt_1");
        assert_eq!(r.attr("status"), Some("200"));
    }
}
