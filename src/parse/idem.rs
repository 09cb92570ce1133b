//! Idempotency-table dumps: CSV as `\copy operation_log TO … CSV HEADER`
//! writes it (quoted JSON with doubled quotes, embedded newlines, NULL as an
//! empty unquoted field). One row is one record of kind `idem_row`, placed at
//! its `updated_at`; the row's state is a state mutation by definition.

use std::io::BufRead;

use crate::config::Config;
use crate::record::{Kind, Level};

use super::normalize::{Fields, FileContext, into_record};
use super::{Malformed, Parsed, StreamEnd, csv_table, time};

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

/// A `\copy … CSV HEADER` dump of the table, row by row.
pub fn parse_csv(
    reader: &mut dyn BufRead,
    ctx: &FileContext,
    config: &Config,
    sink: &mut dyn FnMut(Parsed),
) -> std::io::Result<StreamEnd> {
    let mut shape: Option<RowShape> = None;
    csv_table::parse(reader, sink, |columns, values, line| {
        let shape = shape.get_or_insert_with(|| RowShape::of(columns));
        row_record(shape, values, line, None, ctx, config)
    })
}

/// One JSON line of a table dump (`SELECT row_to_json(t) FROM operation_log
/// t`): the same record as the row read live, keeping the line as raw text.
pub fn parse_json_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<crate::record::Record, Malformed> {
    let obj = super::json::object(text)?;
    let columns: Vec<String> = obj.keys().cloned().collect();
    let values: Vec<String> = obj.values().map(super::json::text_of).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    shaped_record(
        &RowShape::of(&columns),
        &values,
        text,
        line,
        None,
        ctx,
        config,
    )
}

/// Is this JSON object a table row (key and status, no log message)?
pub fn is_idem_object(obj: &serde_json::Map<String, serde_json::Value>) -> bool {
    let has = |set: &[&str]| {
        obj.keys()
            .any(|k| set.contains(&k.to_ascii_lowercase().as_str()))
    };
    has(KEY_COLUMNS)
        && has(STATUS_COLUMNS)
        && !["msg", "message", "event", "level", "task_id"]
            .iter()
            .any(|k| obj.contains_key(*k))
}

/// Which columns of an idempotency table hold what.
pub struct RowShape {
    pub columns: Vec<String>,
    /// The attribute each column's value is kept under.
    names: Vec<String>,
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
            names: columns.to_vec(),
            status: pick(STATUS_COLUMNS),
            time: pick(TIME_COLUMNS),
            key: pick(KEY_COLUMNS),
        }
    }

    /// The shape with `[postgres.columns]` applied. A mapped column keeps
    /// its value under the name the known shapes use (`idem_key`, `status`,
    /// `updated_at`, `payload_hash`), so IDs, states and fingerprints are
    /// found the same way. Errors with the config key whose column is missing.
    pub fn mapped(
        columns: &[String],
        map: &crate::config::PgColumns,
    ) -> Result<RowShape, (&'static str, String)> {
        let mut shape = RowShape::of(columns);
        for (key, column, canonical) in [
            ("key", &map.key, "idem_key"),
            ("status", &map.status, "status"),
            ("time", &map.time, "updated_at"),
            ("fingerprint", &map.fingerprint, "payload_hash"),
        ] {
            let Some(column) = column else { continue };
            let i = columns
                .iter()
                .position(|c| c == column)
                .ok_or((key, column.clone()))?;
            shape.names[i] = canonical.to_string();
            match key {
                "key" => shape.key = Some(i),
                "status" => shape.status = Some(i),
                "time" => shape.time = Some(i),
                _ => {}
            }
        }
        Ok(shape)
    }

    /// The column that says when a row last changed, if any.
    pub fn time_column(&self) -> Option<&str> {
        self.time.map(|i| self.columns[i].as_str())
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
    let raw = csv_table::raw_row(values);
    shaped_record(shape, values, &raw, line, fallback_ts, ctx, config)
}

/// The same with the raw text at hand (a JSON line keeps itself).
fn shaped_record(
    shape: &RowShape,
    values: &[&str],
    raw: &str,
    line: u64,
    fallback_ts: Option<crate::record::Micros>,
    ctx: &FileContext,
    config: &Config,
) -> Result<crate::record::Record, Malformed> {
    let get = |i: Option<usize>| i.and_then(|i| values.get(i).copied()).unwrap_or("");
    let status = get(shape.status);
    let key = get(shape.key);
    let mut attrs: Vec<(String, String)> = shape
        .names
        .iter()
        .zip(values.iter())
        .map(|(c, v)| (c.clone(), v.to_string()))
        .collect();
    // A table keyed by a column named only `key` still holds idempotency
    // keys: say so, or the row joins nothing.
    if let Some(column) = shape.key.and_then(|i| shape.names.get(i))
        && config.id_kind(column).is_none()
        && !key.is_empty()
    {
        attrs.push(("idempotency_key".into(), key.to_string()));
    }
    // A namespaced key (`capture:<task id>`, `refund:<order id>`) names the
    // object it guards: that object's ID joins the row to its event.
    if let Some((_, object)) = key.rsplit_once(':')
        && object.len() >= 6
        && object.bytes().any(|b| b.is_ascii_digit())
    {
        attrs.push(("idempotency_key_ref".into(), object.to_string()));
    }
    let fields = Fields {
        time_key: None,
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
        attrs,
        attr_types: String::new(),
        bad_time: None,
    };
    into_record(fields, Kind::IdemRow, raw, line, ctx, config)
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
        parse_csv(&mut reader, &ctx, &Config::default(), &mut |p| match p {
            Parsed::Record(r) => records.push(*r),
            Parsed::Malformed { line, why } => bad.push((line, why)),
            Parsed::Checkpoint(_) => {}
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
