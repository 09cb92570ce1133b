//! The Kubernetes CRI log format (containerd, CRI-O; what kubelet keeps
//! under /var/log/pods): `<RFC 3339 time> <stdout|stderr> <P|F> <text>`.
//! A `P` line is a partial piece of a long line; pieces are joined up to
//! the `F` that ends them, and the record points at the first piece's line.

use std::io::BufRead;

use crate::config::Config;
use crate::record::{Kind, Micros};

use super::normalize::{FileContext, into_record};
use super::{Malformed, Parsed, StreamEnd, json, time};

/// `(time, stream, full, text)` of one CRI line.
pub fn split(line: &str) -> Option<(&str, &str, bool, &str)> {
    let mut parts = line.splitn(4, ' ');
    let ts = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or("");
    let full = match tag {
        "F" => true,
        "P" => false,
        _ => return None,
    };
    (matches!(stream, "stdout" | "stderr") && ts.len() >= 20 && ts.as_bytes()[4] == b'-')
        .then_some((ts, stream, full, text))
}

struct Pending {
    line: u64,
    ts: Option<Micros>,
    stream: String,
    text: String,
    raw: String,
}

pub fn parse_stream(
    reader: &mut dyn BufRead,
    first_line: u64,
    ctx: &FileContext,
    config: &Config,
    sink: &mut dyn FnMut(Parsed),
) -> std::io::Result<StreamEnd> {
    let mut pending: Option<Pending> = None;
    // Where a resume may start: after the last line that closed a record.
    let mut committed = StreamEnd {
        bytes: 0,
        next_line: first_line,
        open_line: None,
    };
    let mut since_checkpoint = 0u32;
    let end = super::lines(
        reader,
        first_line,
        sink,
        &mut |line_no, text, consumed, sink| {
            let Some((ts, stream, full, body)) = split(text) else {
                sink(Parsed::Malformed {
                    line: line_no,
                    why: Malformed::NotCri,
                });
                if pending.is_none() {
                    committed = StreamEnd {
                        bytes: consumed,
                        next_line: line_no + 1,
                        open_line: None,
                    };
                }
                return;
            };
            let p = pending.get_or_insert_with(|| Pending {
                line: line_no,
                ts: time::from_str(ts),
                stream: stream.to_string(),
                text: String::new(),
                raw: String::new(),
            });
            p.text.push_str(body);
            if !p.raw.is_empty() {
                p.raw.push('\n');
            }
            p.raw.push_str(text);
            if full {
                let Some(p) = pending.take() else { return };
                let fields = json::wrapped(&p.text, p.ts, &p.stream, &config.fields);
                match into_record(fields, Kind::Log, &p.raw, p.line, ctx, config) {
                    Ok(r) => sink(Parsed::Record(Box::new(r))),
                    Err(why) => sink(Parsed::Malformed { line: p.line, why }),
                }
                committed = StreamEnd {
                    bytes: consumed,
                    next_line: line_no + 1,
                    open_line: None,
                };
                since_checkpoint += 1;
                if since_checkpoint >= super::CHECKPOINT_EVERY {
                    since_checkpoint = 0;
                    sink(Parsed::Checkpoint(committed));
                }
            }
        },
    )?;
    // A file that ends inside a long line: its pieces are read again, whole,
    // once the runtime writes the rest.
    Ok(if pending.is_some() { committed } else { end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    /// After a record's final piece is a place to resume; every 4,096
    /// records one is handed over.
    #[test]
    fn checkpoints_follow_whole_records() {
        crate::parse::tests::assert_one_checkpoint(crate::parse::Dialect::Cri, 4100, |i| {
            format!("2026-11-20T09:00:01Z stdout F {{\"msg\":\"n{i}\"}}\n")
        });
    }

    #[test]
    fn partial_lines_are_joined_and_the_runtime_time_fills_in() {
        let input = "2026-11-20T09:00:01.123456789Z stdout P {\"level\":\"info\",\"msg\":\"charge \n\
2026-11-20T09:00:01.123456790Z stdout F created\",\"event_id\":\"evt_1\"}\n\
2026-11-20T09:00:02.5Z stderr F plain ERROR text\n\
garbage\n\
2026-11-20T09:00:03Z stdout P never finished";
        let ctx = FileContext::for_path("pods/payments-api-6c8d7b5f9-q4w8n/0.log");
        let mut records: Vec<Record> = Vec::new();
        let mut bad = Vec::new();
        let end = parse_stream(
            &mut input.as_bytes(),
            1,
            &ctx,
            &Config::default(),
            &mut |p| match p {
                Parsed::Record(r) => records.push(*r),
                Parsed::Malformed { line, why } => bad.push((line, why)),
                Parsed::Checkpoint(_) => {}
            },
        )
        .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].message, "charge created");
        assert_eq!(records[0].source.line, 1);
        assert!(records[0].carries("evt_1"));
        assert_eq!(records[0].ts, 1_795_165_201_123_456);
        assert_eq!(records[1].message, "plain ERROR text");
        assert_eq!(records[1].level, crate::record::Level::Error);
        assert_eq!(bad, vec![(4, Malformed::NotCri)]);
        // The unfinished piece is not consumed: a later resume reads it whole.
        assert_eq!(end.next_line, 5);
        assert!((end.bytes as usize) < input.len());
    }
}
