//! Bytes to [`Record`]s. `sniff` picks a dialect from a file's first lines;
//! one file per dialect family turns a line (or a CSV row) into fields;
//! `normalize` turns fields into a `Record` (IDs, mutation, service).
//! Nothing here knows about the index or where the bytes came from.

pub mod cri;
pub mod csv_table;
pub mod idem;
pub mod json;
pub mod logfmt;
pub mod metrics;
pub mod normalize;
pub mod otlp;
pub mod plain;
pub mod sniff;
pub mod task;
pub mod text;
pub mod time;
pub mod zeek;

use std::fmt;
use std::io::BufRead;

use crate::config::Config;
use crate::record::Record;

pub use normalize::FileContext;
pub use sniff::{Dialect, Sniffed};

/// Longer lines are rejected: nobody's log line is 4 MiB on purpose, and
/// holding several of them would break the flat-memory promise.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Why one line could not become a record. Each costs only its own line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformed {
    InvalidUtf8,
    Binary,
    TooLong(usize),
    BadJson(String),
    NotAnObject,
    NoTimestamp,
    /// A time field whose value is no moment (before 1973, after 2200,
    /// not a number a clock writes).
    TimeOutOfRange(String),
    NotLogfmt,
    BadCsv(String),
    NotATaskEvent,
    BadMetric(String),
    NotCri,
    /// A line of a `docker compose logs` capture without its `name | `.
    NotCompose,
    /// A Zeek TSV row whose values do not fit the `#fields` header.
    BadTsv(String),
    /// A line of a `[[formats]]` file that no format matches.
    NoFormat,
    /// A stack-trace line with no record before it to belong to.
    OrphanContinuation,
}

impl Malformed {
    /// A short stable name to group counts by.
    pub fn reason(&self) -> &'static str {
        match self {
            Malformed::InvalidUtf8 => "invalid UTF-8",
            Malformed::Binary => "binary data",
            Malformed::TooLong(_) => "line too long",
            Malformed::BadJson(_) => "invalid JSON",
            Malformed::NotAnObject => "JSON is not an object",
            Malformed::NoTimestamp => "no timestamp",
            Malformed::TimeOutOfRange(_) => "time out of range",
            Malformed::NotLogfmt => "not logfmt",
            Malformed::BadCsv(_) => "invalid CSV row",
            Malformed::NotATaskEvent => "not a task event",
            Malformed::BadMetric(_) => "invalid metric sample",
            Malformed::NotCri => "not a CRI log line",
            Malformed::NotCompose => "not a docker compose log line",
            Malformed::BadTsv(_) => "invalid Zeek TSV row",
            Malformed::NoFormat => "matches no [[formats]] pattern",
            Malformed::OrphanContinuation => "stack-trace line without its record",
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::TooLong(n) => write!(f, "line too long ({n} bytes)"),
            Malformed::BadJson(e) => write!(f, "invalid JSON ({e})"),
            Malformed::BadCsv(e) => write!(f, "invalid CSV row ({e})"),
            Malformed::BadMetric(e) => write!(f, "invalid metric sample ({e})"),
            Malformed::BadTsv(e) => write!(f, "invalid Zeek TSV row ({e})"),
            Malformed::TimeOutOfRange(v) => write!(
                f,
                "time out of range ({v} is no moment between 1973 and 2200)"
            ),
            other => f.write_str(other.reason()),
        }
    }
}

/// Where a stream stopped: bytes consumed and the number the next line
/// will get — what incremental ingest resumes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    pub bytes: u64,
    pub next_line: u64,
    /// The last line read had no newline yet (a writer mid-line): its number
    /// and the byte it starts at, so ingest can read it again whole later.
    pub open_line: Option<(u64, u64)>,
}

/// What a parser emits per line: a record or a malformed line (stack-trace
/// continuations are attached by `for_each_line` before anything is emitted).
#[derive(Debug)]
pub enum Parsed {
    Record(Box<Record>),
    Malformed {
        line: u64,
        why: Malformed,
    },
    /// Everything before this point of the stream has been handed over: an
    /// ingest that commits here resumes here. Sent now and then, not for
    /// every record.
    Checkpoint(StreamEnd),
}

/// Records between two checkpoints of a stream.
pub(crate) const CHECKPOINT_EVERY: u32 = 4096;

/// Parses `reader` as `dialect`, starting at 1-based line `first_line`, and
/// hands every outcome to `sink`. Only I/O errors stop it; bad lines are
/// reported and skipped.
pub fn parse_stream(
    dialect: Dialect,
    reader: &mut dyn BufRead,
    first_line: u64,
    ctx: &FileContext,
    config: &Config,
    sink: &mut dyn FnMut(Parsed),
) -> std::io::Result<StreamEnd> {
    match dialect {
        Dialect::IdemCsv => idem::parse_csv(reader, ctx, config, sink),
        Dialect::Cri => cri::parse_stream(reader, first_line, ctx, config, sink),
        Dialect::Otlp => otlp::parse_stream(reader, first_line, ctx, config, sink),
        Dialect::Compose => plain::parse_compose_stream(reader, first_line, ctx, config, sink),
        Dialect::ZeekTsv => zeek::parse_stream(reader, first_line, ctx, config, sink),
        Dialect::TaskCsv => csv_table::parse(reader, sink, |columns, values, line| {
            let raw = csv_table::raw_row(values);
            task::lifecycle_row(columns, values, &raw, line, ctx, config)
        }),
        Dialect::JsonLog
        | Dialect::Logfmt
        | Dialect::Text
        | Dialect::TimedText
        | Dialect::CeleryEvents
        | Dialect::TaskLifecycle
        | Dialect::IdemJson
        | Dialect::Metrics => {
            // In plain text, a line without a time of its own belongs to
            // the one before (a wrapped message, a stack trace).
            let untimed_continues = dialect == Dialect::TimedText;
            for_each_line(
                reader,
                first_line,
                untimed_continues,
                sink,
                |line_no, text| match dialect {
                    Dialect::JsonLog => json::parse_line(text, line_no, ctx, config).map(Some),
                    Dialect::Logfmt => logfmt::parse_line(text, line_no, ctx, config).map(Some),
                    Dialect::Text => text::parse_line(text, line_no, ctx, config).map(Some),
                    Dialect::TimedText => {
                        plain::parse_timed_line(text, line_no, ctx, config).map(Some)
                    }
                    Dialect::TaskLifecycle => {
                        task::parse_lifecycle_line(text, line_no, ctx, config).map(Some)
                    }
                    Dialect::Metrics => metrics::parse_line(text, line_no, ctx, config),
                    Dialect::IdemJson => {
                        idem::parse_json_line(text, line_no, ctx, config).map(Some)
                    }
                    _ => task::parse_celery_line(text, line_no, ctx, config).map(Some),
                },
            )
        }
        Dialect::Unknown | Dialect::Archive => Ok(StreamEnd {
            bytes: 0,
            next_line: first_line,
            open_line: None,
        }),
    }
}

/// Reads complete lines, rejecting binary, oversized and non-UTF-8 lines
/// before a parser sees them. Blank lines, and lines a parser answers
/// `Ok(None)` for (comments), are skipped silently. A line that is not a
/// record but looks like part of a stack trace (indented, `Traceback`,
/// `Caused by:`, `goroutine 1 [running]:`, `java.lang.…Exception`) is
/// attached to the record before it instead of being counted as garbage;
/// that is why each record is held until the next one arrives.
fn for_each_line(
    reader: &mut dyn BufRead,
    first_line: u64,
    untimed_continues: bool,
    sink: &mut dyn FnMut(Parsed),
    mut parse: impl FnMut(u64, &str) -> Result<Option<Record>, Malformed>,
) -> std::io::Result<StreamEnd> {
    let mut held: Option<Box<Record>> = None;
    // Where the line before this one ended: a safe place to resume once the
    // record held so far is handed over.
    let mut before = StreamEnd {
        bytes: 0,
        next_line: first_line,
        open_line: None,
    };
    let mut since_checkpoint = 0u32;
    let end = lines(
        reader,
        first_line,
        sink,
        &mut |line_no, text, consumed, sink| {
            let after = StreamEnd {
                bytes: consumed,
                next_line: line_no + 1,
                open_line: None,
            };
            let resume_at = std::mem::replace(&mut before, after);
            match parse(line_no, text) {
                Ok(Some(r)) => {
                    if let Some(prev) = held.replace(Box::new(r)) {
                        sink(Parsed::Record(prev));
                        since_checkpoint += 1;
                        if since_checkpoint >= CHECKPOINT_EVERY {
                            since_checkpoint = 0;
                            sink(Parsed::Checkpoint(resume_at));
                        }
                    }
                }
                Ok(None) => {}
                Err(why)
                    if is_continuation(text)
                        || (untimed_continues && why == Malformed::NoTimestamp) =>
                {
                    match held.as_mut() {
                        Some(r) => attach_continuation(r, text),
                        None => sink(Parsed::Malformed {
                            line: line_no,
                            why: Malformed::OrphanContinuation,
                        }),
                    }
                }
                Err(why) => sink(Parsed::Malformed { line: line_no, why }),
            }
        },
    )?;
    if let Some(r) = held {
        sink(Parsed::Record(r));
    }
    Ok(end)
}

/// A stack trace kept with its record stops growing here (flat memory).
const MAX_STACK_BYTES: usize = 64 << 10;

fn attach_continuation(r: &mut Record, text: &str) {
    match r.attrs.iter_mut().find(|(k, _)| k == "stack") {
        Some((_, v)) if v.len() < MAX_STACK_BYTES => {
            v.push('\n');
            v.push_str(text);
        }
        Some(_) => return,
        None => r.attrs.push(("stack".into(), text.to_string())),
    }
    r.raw.push('\n');
    r.raw.push_str(text);
}

pub(crate) fn is_continuation(text: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^(\s+\S|Traceback \(most recent call last\)|During handling of the above exception|Caused by: |goroutine \d+ \[|panic: |\[signal |[\w$]+(\.[\w$]+)*(Exception|Error|Throwable)(: |$)|\.\.\. \d+ more)",
        )
        .expect("continuation pattern compiles")
    });
    re.is_match(text)
}

/// What the line loop calls per line: number, text, bytes consumed so far,
/// and the sink to report into.
pub(crate) type OnLine<'a> = dyn FnMut(u64, &str, u64, &mut dyn FnMut(Parsed)) + 'a;

/// The line loop every line-oriented dialect shares: complete lines only,
/// binary, oversized and non-UTF-8 lines reported as such; `on_line` gets
/// the 1-based number, the text, and the bytes consumed through this line.
pub(crate) fn lines(
    reader: &mut dyn BufRead,
    first_line: u64,
    sink: &mut dyn FnMut(Parsed),
    on_line: &mut OnLine<'_>,
) -> std::io::Result<StreamEnd> {
    let mut buf = Vec::with_capacity(4096);
    let mut consumed = 0u64;
    let mut line_no = first_line;
    // The last line, when the stream ended before its newline.
    let mut open_line = None;
    loop {
        buf.clear();
        let n = read_line_capped(reader, &mut buf)?;
        if n == 0 {
            return Ok(StreamEnd {
                bytes: consumed,
                next_line: line_no,
                open_line,
            });
        }
        let this = line_no;
        open_line = (n <= MAX_LINE_BYTES && buf.last() != Some(&b'\n')).then_some((this, consumed));
        consumed += n as u64;
        line_no += 1;
        if n > MAX_LINE_BYTES {
            sink(Parsed::Malformed {
                line: this,
                why: Malformed::TooLong(n),
            });
            continue;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if buf.contains(&0) {
            sink(Parsed::Malformed {
                line: this,
                why: Malformed::Binary,
            });
            continue;
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            sink(Parsed::Malformed {
                line: this,
                why: Malformed::InvalidUtf8,
            });
            continue;
        };
        on_line(this, text, consumed, sink);
    }
}

/// Like `read_until(b'\n')`, but stops buffering past [`MAX_LINE_BYTES`]
/// while still consuming the rest of the line. Returns bytes consumed.
fn read_line_capped(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let (done, used) = {
            let available = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(total);
            }
            let (done, used) = match memchr::memchr(b'\n', available) {
                Some(i) => (true, i + 1),
                None => (false, available.len()),
            };
            if buf.len() <= MAX_LINE_BYTES {
                buf.extend_from_slice(&available[..used]);
            }
            (done, used)
        };
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `line(1..=n)` parsed as `dialect`: each checkpoint with the number of
    /// records handed over before it. One is expected after the 4,096th
    /// record, at the byte where line 4,097 starts.
    pub(crate) fn assert_one_checkpoint(dialect: Dialect, n: u32, line: impl Fn(u32) -> String) {
        let input: String = (1..=n).map(&line).collect();
        let ctx = FileContext::for_path("pods/svc-a-0/0.log");
        let config = Config::default();
        let mut sent = 0u32;
        let mut at = Vec::new();
        parse_stream(
            dialect,
            &mut input.as_bytes(),
            1,
            &ctx,
            &config,
            &mut |p| match p {
                Parsed::Record(_) => sent += 1,
                Parsed::Checkpoint(end) => at.push((sent, end)),
                Parsed::Malformed { .. } => {}
            },
        )
        .unwrap();
        let bytes: u64 = (1..=4096).map(|i| line(i).len() as u64).sum();
        let want = StreamEnd {
            bytes,
            next_line: 4097,
            open_line: None,
        };
        assert_eq!(at, vec![(4096, want)]);
    }

    /// A checkpoint stands where everything before it has been handed over:
    /// after the 4,096th record's line, with that many records sent first.
    #[test]
    fn checkpoints_mark_a_place_to_resume() {
        assert_one_checkpoint(Dialect::JsonLog, 5000, |i| {
            format!(
                "{{\"timestamp\":\"2026-11-20T09:00:00Z\",\"msg\":\"n{i}\",\"event_id\":\"evt_{i:06}\"}}\n"
            )
        });
    }

    fn run(dialect: Dialect, input: &[u8]) -> (Vec<Record>, Vec<(u64, Malformed)>) {
        let ctx = FileContext::for_path("svc-a.log");
        let config = Config::default();
        let mut records = Vec::new();
        let mut bad = Vec::new();
        let mut reader = input;
        parse_stream(dialect, &mut reader, 1, &ctx, &config, &mut |p| match p {
            Parsed::Record(r) => records.push(*r),
            Parsed::Malformed { line, why } => bad.push((line, why)),
            Parsed::Checkpoint(_) => {}
        })
        .unwrap();
        (records, bad)
    }

    #[test]
    fn bad_lines_cost_only_themselves() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"time\":1795165201123,\"msg\":\"one\"}\n");
        input.extend_from_slice(b"{\"time\":1795165201123,\"msg\":\"tru\n");
        input.extend_from_slice(b"\xff\xfe garbage\n");
        input.extend_from_slice(b"bin\x00ary\n\n");
        input.extend_from_slice(b"{\"time\":1795165202123,\"msg\":\"two\"}");
        let (records, bad) = run(Dialect::JsonLog, &input);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].source.line, 6);
        let reasons: Vec<_> = bad.iter().map(|(l, m)| (*l, m.reason())).collect();
        assert_eq!(
            reasons,
            vec![
                (2, "invalid JSON"),
                (3, "invalid UTF-8"),
                (4, "binary data")
            ]
        );
    }

    #[test]
    fn stack_traces_stay_with_their_record() {
        let input = concat!(
            "{\"time\":1795165201123,\"level\":\"error\",\"msg\":\"charge failed\"}\n",
            "Traceback (most recent call last):\n",
            "  File \"billing/worker.py\", line 88, in charge\n",
            "ValueError: card declined\n",
            "{\"time\":1795165202123,\"msg\":\"next\"}\n"
        )
        .as_bytes();
        let (records, bad) = run(Dialect::JsonLog, input);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(records.len(), 2);
        let stack = records[0].attr("stack").unwrap();
        assert!(
            stack.starts_with("Traceback") && stack.ends_with("card declined"),
            "{stack}"
        );
        assert_eq!(records[1].source.line, 5);
        // Java and Go shapes, in logfmt.
        let input = concat!(
            "time=2026-11-20T09:00:01Z level=error msg=boom\n",
            "java.lang.IllegalStateException: no charge\n",
            "\tat com.pay.Billing.charge(Billing.java:42)\n",
            "Caused by: java.io.IOException: reset\n",
            "\t... 12 more\n",
            "goroutine 1 [running]:\n"
        )
        .as_bytes();
        let (records, bad) = run(Dialect::Logfmt, input);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(records[0].attr("stack").unwrap().lines().count(), 5);
    }

    #[test]
    fn huge_lines_are_rejected_without_losing_the_next() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.push(b'\n');
        input.extend_from_slice(b"{\"time\":1795165201123,\"msg\":\"after\"}\n");
        let (records, bad) = run(Dialect::JsonLog, &input);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].source.line, 2);
        assert_eq!(bad[0].1.reason(), "line too long");
    }
}
