//! Idempotency-table dumps: CSV as `\copy operation_log TO … CSV HEADER`
//! writes it (quoted JSON with doubled quotes, embedded newlines, NULL as an
//! empty unquoted field). One row is one record of kind `idem_row`, placed at
//! its `updated_at`; the row's state is a state mutation by definition.

use std::io::BufRead;

use crate::config::Config;
use crate::record::{Kind, Level};

use super::normalize::{Fields, FileContext, into_record};
use super::{Malformed, Parsed, StreamEnd, time};

const KEY_COLUMNS: &[&str] = &["idem_key", "idempotency_key", "event_id", "key"];
const STATUS_COLUMNS: &[&str] = &["status", "state"];
const TIME_COLUMNS: &[&str] = &[
    "updated_at",
    "created_at",
    "processed_at",
    "ts",
    "timestamp",
];

/// Does a CSV header look like an idempotency table?
pub fn is_idem_header(header: &str) -> bool {
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let has = |set: &[&str]| cols.iter().any(|c| set.contains(&c.as_str()));
    has(KEY_COLUMNS) && has(STATUS_COLUMNS)
}

pub fn parse_csv(
    reader: &mut dyn BufRead,
    _first_line: u64,
    ctx: &FileContext,
    config: &Config,
    sink: &mut dyn FnMut(Parsed),
) -> std::io::Result<StreamEnd> {
    let mut counting = CountingReader {
        inner: reader,
        n: 0,
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(&mut counting);
    let headers = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            sink(Parsed::Malformed {
                line: 1,
                why: Malformed::BadCsv(e.to_string()),
            });
            drop(csv);
            return Ok(StreamEnd {
                bytes: counting.n,
                next_line: 2,
            });
        }
    };
    let cols: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    let shape = RowShape::of(&cols);
    let mut row = csv::StringRecord::new();
    loop {
        let line = csv.position().line() + 1;
        match csv.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {
                let line = row.position().map_or(line, |p| p.line());
                let values: Vec<&str> = row.iter().collect();
                match row_record(&shape, &values, line, None, ctx, config) {
                    Ok(r) => sink(Parsed::Record(Box::new(r))),
                    Err(why) => sink(Parsed::Malformed { line, why }),
                }
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                sink(Parsed::Malformed {
                    line,
                    why: Malformed::BadCsv(e.to_string()),
                });
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    let next_line = csv.position().line() + 1;
    drop(csv);
    Ok(StreamEnd {
        bytes: counting.n,
        next_line,
    })
}

/// Which columns of an idempotency table hold what.
pub struct RowShape {
    pub columns: Vec<String>,
    status: Option<usize>,
    time: Option<usize>,
    key: Option<usize>,
}

impl RowShape {
    pub fn of(columns: &[String]) -> RowShape {
        let pick = |set: &[&str]| {
            columns
                .iter()
                .position(|c| set.contains(&c.to_ascii_lowercase().as_str()))
        };
        RowShape {
            columns: columns.to_vec(),
            status: pick(STATUS_COLUMNS),
            time: pick(TIME_COLUMNS),
            key: pick(KEY_COLUMNS),
        }
    }
}

/// One row (values as Postgres text, NULL as empty) to a record. Shared by
/// the CSV dump and the live table, so both give the same record.
/// `fallback_ts` places rows of a table that has no time column (the time
/// of the read, for a live table).
pub fn row_record(
    shape: &RowShape,
    values: &[&str],
    line: u64,
    fallback_ts: Option<crate::record::Micros>,
    ctx: &FileContext,
    config: &Config,
) -> Result<crate::record::Record, Malformed> {
    let get = |i: Option<usize>| i.and_then(|i| values.get(i).copied()).unwrap_or("");
    let status = get(shape.status);
    let key = get(shape.key);
    let fields = Fields {
        ts: shape
            .time
            .and_then(|i| time::from_str(values.get(i)?))
            .or(fallback_ts),
        level: Some(match status {
            "failed" | "error" => Level::Warn,
            _ => Level::Info,
        }),
        message: format!("idempotency row {key} status={status}"),
        service: None,
        instance: None,
        attrs: shape
            .columns
            .iter()
            .zip(values.iter())
            .map(|(c, v)| (c.clone(), v.to_string()))
            .collect(),
    };
    into_record(fields, Kind::IdemRow, &raw_row(values), line, ctx, config)
}

/// The row as CSV text again, quoted the way Postgres quotes it.
fn raw_row(row: &[&str]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    if w.write_record(row).is_err() {
        return row.join(",");
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

struct CountingReader<'a> {
    inner: &'a mut dyn BufRead,
    n: u64,
}

impl std::io::Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn copy_csv_with_quoted_json_newlines_and_nulls() {
        let input = "idem_key,payload_hash,status,result_json,updated_at\n\
idem_a,sha256:aa,completed,\"{\"\"charge_id\"\": \"\"ch_1\"\",\n\"\"note\"\": \"\"two lines\"\"}\",2026-11-20 09:00:01.123+00\n\
idem_b,sha256:bb,processing,,2026-11-20 09:00:02.5+00\n\
idem_c,too,few\n";
        let ctx = FileContext::for_path("db/operation_log.csv");
        let mut records: Vec<Record> = Vec::new();
        let mut bad = Vec::new();
        let mut reader = input.as_bytes();
        parse_csv(&mut reader, 1, &ctx, &Config::default(), &mut |p| match p {
            Parsed::Record(r) => records.push(*r),
            Parsed::Malformed { line, why } => bad.push((line, why)),
        })
        .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].source.line, 2);
        assert_eq!(records[1].source.line, 4);
        assert_eq!(records[0].ts, 1_795_165_201_123_000);
        assert!(
            records[0]
                .attr("result_json")
                .unwrap()
                .contains("two lines")
        );
        assert_eq!(records[1].attr("status"), Some("processing"));
        assert_eq!(records[1].ids[0].value, "idem_b");
        assert!(records[1].mutation);
        assert_eq!(records[1].service, "operation_log");
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 5);
    }

    #[test]
    fn header_detection() {
        assert!(is_idem_header(
            "idem_key,payload_hash,status,result_json,updated_at"
        ));
        assert!(is_idem_header("event_id,fingerprint,status,response"));
        assert!(!is_idem_header("a,b,c"));
    }
}
