//! Zeek's (Bro's) own TSV logs: a `#separator`/`#fields`/`#types` header,
//! then one tab-separated row per record, `-` for an unset field and
//! `(empty)` for an empty set. The log's name (`#path conn`) is its
//! service: Zeek's own `service` column names a protocol, not who logged.

use std::io::BufRead;

use crate::config::Config;
use crate::record::Kind;

use super::normalize::{FileContext, into_record};
use super::{Malformed, Parsed, StreamEnd, json};

/// True when `first` opens a Zeek TSV header.
pub fn is_header(first: &str) -> bool {
    first.starts_with("#separator ") || first.starts_with("#fields\t")
}

/// `\x09` as Zeek writes the separator in its header.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest
            .get(i + 2..i + 4)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn parse_stream(
    reader: &mut dyn BufRead,
    first_line: u64,
    ctx: &FileContext,
    config: &Config,
    sink: &mut dyn FnMut(Parsed),
) -> std::io::Result<StreamEnd> {
    let mut separator = "\t".to_string();
    let mut unset = "-".to_string();
    let mut empty = "(empty)".to_string();
    let mut path: Option<String> = None;
    let mut columns: Vec<String> = Vec::new();
    super::lines(reader, first_line, sink, &mut |line_no, text, _, sink| {
        if let Some(directive) = text.strip_prefix('#') {
            let (key, value) = directive.split_once([' ', '\t']).unwrap_or((directive, ""));
            match key {
                "separator" => separator = unescape(value),
                "unset_field" => unset = value.to_string(),
                "empty_field" => empty = value.to_string(),
                "path" => path = Some(value.to_string()),
                "fields" => columns = value.split(separator.as_str()).map(String::from).collect(),
                _ => {}
            }
            return;
        }
        let values: Vec<&str> = text.split(separator.as_str()).collect();
        if columns.is_empty() || values.len() != columns.len() {
            sink(Parsed::Malformed {
                line: line_no,
                why: Malformed::BadTsv(format!(
                    "{} values for {} #fields",
                    values.len(),
                    columns.len()
                )),
            });
            return;
        }
        let pairs = columns
            .iter()
            .zip(values)
            .filter(|(_, v)| **v != unset)
            .map(|(k, v)| {
                let v = if v == empty { "" } else { v };
                (k.clone(), v.to_string())
            });
        let mut fields = json::fields_of_strings(pairs, &config.fields);
        if config.fields.service.is_none()
            && let Some(p) = &path
        {
            fields.service = Some(p.clone());
        }
        match into_record(fields, Kind::Log, text, line_no, ctx, config) {
            Ok(r) => sink(Parsed::Record(Box::new(r))),
            Err(why) => sink(Parsed::Malformed { line: line_no, why }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_then_rows() {
        let input = "#separator \\x09\n#unset_field\t-\n#path\tconn\n#fields\tts\tuid\tservice\n#types\ttime\tstring\tstring\n1795165201.123\tCabc\thttp\n1795165202.5\tCdef\t-\n1\t2\n";
        let ctx = FileContext::for_path("conn.log");
        let config = Config::from_toml(
            "[ids]\nconnection = [\"uid\"]\n",
            std::path::Path::new("hopline.toml"),
        )
        .unwrap();
        let (mut records, mut bad) = (Vec::new(), Vec::new());
        parse_stream(&mut input.as_bytes(), 1, &ctx, &config, &mut |p| match p {
            Parsed::Record(r) => records.push(*r),
            Parsed::Malformed { line, why } => bad.push((line, why)),
            Parsed::Checkpoint(_) => {}
        })
        .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].ts, 1_795_165_201_123_000);
        assert_eq!(records[0].service, "conn");
        assert_eq!(records[0].ids[0].value, "Cabc");
        assert_eq!(records[1].source.line, 7);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 8);
    }
}
