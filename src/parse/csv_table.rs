//! CSV with a header, as `\copy … CSV HEADER` and most exporters write it
//! (quoted fields with doubled quotes, embedded newlines, NULL as an empty
//! unquoted field): the row loop shared by idempotency dumps and task
//! lifecycle tables. Line numbers are the row's first physical line.

use std::io::BufRead;

use crate::record::Record;

use super::{Malformed, Parsed, StreamEnd};

/// Reads the header, then hands each row (column names, values, line) to
/// `row`. A bad row costs only itself; only I/O errors stop the read.
pub fn parse(
    reader: &mut dyn BufRead,
    sink: &mut dyn FnMut(Parsed),
    mut row: impl FnMut(&[String], &[&str], u64) -> Result<Record, Malformed>,
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
                open_line: None,
            });
        }
    };
    let columns: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line() + 1;
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                let values: Vec<&str> = record.iter().collect();
                match row(&columns, &values, line) {
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
        open_line: None,
    })
}

/// The row as CSV text again, quoted the way Postgres quotes it: the raw
/// text a record keeps, the same for a dump and a live read.
pub fn raw_row(row: &[&str]) -> String {
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
