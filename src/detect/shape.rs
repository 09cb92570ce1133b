//! payload_shape_drift: the records one service writes for one message
//! template change their fields between versions or instances: a field
//! added, removed, or written with another type. A consumer that reads the
//! old shape breaks quietly (a missing amount reads as zero, a string where
//! a number was reads as an error somewhere else).
//!
//! Records are grouped by (service, message template) and, within that, by
//! side: the version the record states (`version`, `service.version`, …) or
//! else its instance. Sides are compared in the order they first appear.
//! To keep optional fields from crying wolf, a field counts as added only
//! when no record of the older side has it and every record of the newer
//! side does; removed, the other way round; retyped, when every record of
//! both sides has it and the types never overlap. Sides with fewer than
//! [`MIN_SIDE`] records are not compared.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::config::Config;
use crate::record::{Kind, Micros, Record, SourceRef, format_ts, message_template_into};

use super::{Finding, FindingKind, event_ids};

/// A side needs this many records before its "always" and "never" mean
/// anything.
pub const MIN_SIDE: u64 = 3;

/// Templates tracked at most: a logger that puts a fresh value in every
/// message would otherwise grow this without end.
const MAX_TEMPLATES: usize = 20_000;

/// Fields that name the side rather than the payload.
const VERSION_FIELDS: &[&str] = &[
    "version",
    "service.version",
    "service_version",
    "app.version",
    "app_version",
    "resource.service.version",
];

const STRING: u8 = 1;
const NUMBER: u8 = 2;
const BOOL: u8 = 4;
const OBJECT: u8 = 8;
const ARRAY: u8 = 16;
/// A field of a text format (logfmt, plain text): every value is text.
const TEXT: u8 = 32;

fn type_names(mask: u8) -> String {
    let names: Vec<&str> = [
        (STRING, "string"),
        (NUMBER, "number"),
        (BOOL, "bool"),
        (OBJECT, "object"),
        (ARRAY, "array"),
        (TEXT, "text"),
    ]
    .iter()
    .filter(|(bit, _)| mask & bit != 0)
    .map(|(_, n)| *n)
    .collect();
    names.join("|")
}

/// A record's payload shape: its fields with their JSON types (text for
/// the fields of text formats), version fields left out.
fn shape(record: &Record) -> impl Iterator<Item = (&str, u8)> {
    let mut types = record.attr_types.bytes();
    record
        .attrs
        .iter()
        .map(move |(k, _)| {
            let t = match types.next() {
                Some(b's') => STRING,
                Some(b'n') => NUMBER,
                Some(b'b') => BOOL,
                Some(b'a') => ARRAY,
                Some(b'o') => OBJECT,
                Some(b'z') => 0,
                _ => TEXT,
            };
            (k.as_str(), t)
        })
        .filter(|(k, _)| !VERSION_FIELDS.contains(k))
}

/// The version a record states, if any.
fn stated_version(record: &Record) -> Option<&str> {
    VERSION_FIELDS
        .iter()
        .find_map(|f| record.attr(f))
        .filter(|v| !v.is_empty())
}

#[derive(Debug, Clone)]
struct Seen {
    ts: Micros,
    source: SourceRef,
    ids: BTreeMap<String, String>,
}

impl Seen {
    fn of(record: &Record, config: &Config) -> Seen {
        Seen {
            ts: record.ts,
            source: record.source.clone(),
            ids: event_ids(std::slice::from_ref(record), config, &["event", "idem"]),
        }
    }

    fn key(&self) -> (Micros, &SourceRef) {
        (self.ts, &self.source)
    }
}

#[derive(Debug, Clone, Default)]
struct FieldSeen {
    records: u64,
    types: u8,
}

/// One shape (fields with their types, in order) and how many records
/// had it.
type ShapeCount = (Vec<(String, u8)>, u64);

#[derive(Debug, Clone)]
struct Side {
    records: u64,
    first: Seen,
    last: Seen,
    /// The distinct shapes, by a hash of each: a side writes a handful,
    /// and counting whole shapes costs one hash per record where counting
    /// fields cost a map lookup per field.
    shapes: BTreeMap<u64, ShapeCount>,
}

impl Side {
    /// Each field: in how many records, with which types.
    fn fields(&self) -> BTreeMap<&str, FieldSeen> {
        let mut out: BTreeMap<&str, FieldSeen> = BTreeMap::new();
        for (shape, n) in self.shapes.values() {
            for (field, t) in shape {
                let f = out.entry(field).or_default();
                f.records += n;
                f.types |= t;
            }
        }
        out
    }
}

/// FNV-1a over the field names and types of a shape.
fn shape_hash<'a>(shape: impl Iterator<Item = (&'a str, u8)>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (field, t) in shape {
        for b in field.bytes().chain([0xff, t]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Shapes gathered over any number of records in any order (two threads
/// each gather some, then [`Shapes::merge`]).
#[derive(Debug, Default)]
pub struct Shapes {
    /// (service, template) -> side (version or instance) -> what it wrote.
    templates: HashMap<(String, String), HashMap<String, Side>>,
    /// The key and side of the record at hand, built in place: every event
    /// record passes through here, and allocating both for each costs more
    /// than the rest of the check.
    key: (String, String),
    side: String,
}

impl Shapes {
    pub fn add(&mut self, record: &Record, config: &Config) {
        let mut side = std::mem::take(&mut self.side);
        side.clear();
        match stated_version(record) {
            Some(v) => {
                side.push_str("version ");
                side.push_str(v);
            }
            None => {
                side.push_str("instance ");
                side.push_str(&record.instance);
            }
        }
        self.add_as(record, config, &side);
        self.side = side;
    }

    /// [`Shapes::add`] with the side named by the caller (`diff` puts each
    /// bundle on a side of its own).
    pub fn add_as(&mut self, record: &Record, config: &Config, side_name: &str) {
        if record.kind != Kind::Log || record.message.trim().is_empty() {
            return;
        }
        self.key.0.clear();
        self.key.0.push_str(&record.service);
        message_template_into(record, &mut self.key.1);
        if !self.templates.contains_key(&self.key) {
            if self.templates.len() >= MAX_TEMPLATES {
                return;
            }
            self.templates.insert(self.key.clone(), HashMap::new());
        }
        let Some(sides) = self.templates.get_mut(&self.key) else {
            return;
        };
        let side = match sides.get_mut(side_name) {
            Some(side) => side,
            None => sides.entry(side_name.to_string()).or_insert_with(|| {
                let seen = Seen::of(record, config);
                Side {
                    records: 0,
                    first: seen.clone(),
                    last: seen,
                    shapes: BTreeMap::new(),
                }
            }),
        };
        side.records += 1;
        let at = (record.ts, &record.source);
        if at < side.first.key() {
            side.first = Seen::of(record, config);
        }
        // Records mostly come in time order: the last one moves with nearly
        // every record, so it is overwritten in place and keeps no IDs.
        if at > side.last.key() {
            side.last.ts = record.ts;
            side.last.source.path.clone_from(&record.source.path);
            side.last.source.line = record.source.line;
        }
        side.shapes
            .entry(shape_hash(shape(record)))
            .or_insert_with(|| {
                let fields = shape(record).map(|(f, t)| (f.to_string(), t)).collect();
                (fields, 0)
            })
            .1 += 1;
    }

    pub fn merge(&mut self, other: Shapes) {
        for (key, sides) in other.templates {
            let mine = self.templates.entry(key).or_default();
            for (name, side) in sides {
                match mine.get_mut(&name) {
                    None => {
                        mine.insert(name, side);
                    }
                    Some(m) => {
                        m.records += side.records;
                        if side.first.key() < m.first.key() {
                            m.first = side.first;
                        }
                        if side.last.key() > m.last.key() {
                            m.last = side.last;
                        }
                        for (h, (shape, n)) in side.shapes {
                            m.shapes.entry(h).or_insert((shape, 0)).1 += n;
                        }
                    }
                }
            }
        }
    }

    /// One finding per (service, template) and pair of sides whose shapes
    /// differ, with the time the new shape was first seen.
    pub fn findings(&self) -> Vec<(Finding, Micros)> {
        let mut out = Vec::new();
        let mut keys: Vec<&(String, String)> = self.templates.keys().collect();
        keys.sort();
        for key in keys {
            let mut sides: Vec<(&String, &Side)> = self.templates[key]
                .iter()
                .filter(|(_, s)| s.records >= MIN_SIDE)
                .collect();
            sides.sort_by(|a, b| a.1.first.key().cmp(&b.1.first.key()).then(a.0.cmp(b.0)));
            for pair in sides.windows(2) {
                if let Some(f) = drift(key, pair[0], pair[1]) {
                    out.push((f, pair[1].1.first.ts));
                }
            }
        }
        out
    }
}

/// Two named sides compared template by template (see [`Shapes::add_as`]).
#[derive(Debug, Default)]
pub struct Compared {
    /// (service, template, records) only the new side wrote.
    pub new: Vec<(String, String, u64)>,
    /// ... and only the old side.
    pub gone: Vec<(String, String, u64)>,
    /// The detail of each template whose shape changed (see `drift`).
    pub changed: Vec<serde_json::Value>,
}

impl Shapes {
    pub fn compare(&self, old: &str, new: &str) -> Compared {
        let mut out = Compared::default();
        let mut keys: Vec<&(String, String)> = self.templates.keys().collect();
        keys.sort();
        for key in keys {
            let sides = &self.templates[key];
            match (sides.get_key_value(old), sides.get_key_value(new)) {
                (Some(_), None) => {
                    out.gone
                        .push((key.0.clone(), key.1.clone(), sides[old].records))
                }
                (None, Some(_)) => out
                    .new
                    .push((key.0.clone(), key.1.clone(), sides[new].records)),
                (Some(a), Some(b)) if a.1.records >= MIN_SIDE && b.1.records >= MIN_SIDE => {
                    if let Some(f) = drift(key, a, b)
                        && let Some(d) = f.detail
                    {
                        out.changed.push(d.value());
                    }
                }
                _ => {}
            }
        }
        out
    }
}

fn drift(
    (service, template): &(String, String),
    (old_name, old): (&String, &Side),
    (new_name, new): (&String, &Side),
) -> Option<Finding> {
    let always = |s: &Side, f: &FieldSeen| f.records == s.records;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut retyped = Vec::new();
    let (old_fields, new_fields) = (old.fields(), new.fields());
    for (name, f) in &new_fields {
        match old_fields.get(name) {
            None if always(new, f) => {
                added.push(json!({"field": name, "type": type_names(f.types)}))
            }
            Some(o)
                if always(old, o)
                    && always(new, f)
                    && o.types != 0
                    && f.types != 0
                    && o.types & f.types == 0 =>
            {
                retyped.push(json!({
                    "field": name,
                    "from": type_names(o.types),
                    "to": type_names(f.types),
                }));
            }
            _ => {}
        }
    }
    for (name, o) in &old_fields {
        if !new_fields.contains_key(name) && always(old, o) {
            removed.push(json!({"field": name, "type": type_names(o.types)}));
        }
    }
    if added.is_empty() && removed.is_empty() && retyped.is_empty() {
        return None;
    }
    // Flattening turns a string that became an object into a field gone
    // and its children new: said as one change.
    let field_of = |v: &serde_json::Value| v["field"].as_str().unwrap_or("").to_string();
    let mut reshaped = Vec::new();
    for r in &removed {
        let name = field_of(r);
        let prefix = format!("{name}.");
        let children: Vec<String> = added
            .iter()
            .map(field_of)
            .filter(|a| a.starts_with(&prefix))
            .collect();
        if !children.is_empty() {
            reshaped.push(json!({
                "field": name,
                "from": r["type"],
                "to": "object",
                "fields": children,
            }));
        }
    }
    let in_reshaped = |f: &str| {
        reshaped.iter().any(|r| {
            let name = r["field"].as_str().unwrap_or("");
            f == name || f.starts_with(&format!("{name}."))
        })
    };
    let plain = |v: &[serde_json::Value]| {
        v.iter()
            .map(field_of)
            .filter(|f| !in_reshaped(f))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut changes = Vec::new();
    for r in &reshaped {
        changes.push(format!(
            "{} {}→object ({})",
            r["field"].as_str().unwrap_or(""),
            r["from"].as_str().unwrap_or(""),
            r["fields"]
                .as_array()
                .map(|f| f
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ));
    }
    let (new_fields, gone_fields) = (plain(&added), plain(&removed));
    if !new_fields.is_empty() {
        changes.push(format!("added {new_fields}"));
    }
    if !gone_fields.is_empty() {
        changes.push(format!("removed {gone_fields}"));
    }
    if !retyped.is_empty() {
        let what: Vec<String> = retyped
            .iter()
            .map(|r| {
                format!(
                    "{} {}→{}",
                    r["field"].as_str().unwrap_or(""),
                    r["from"].as_str().unwrap_or(""),
                    r["to"].as_str().unwrap_or("")
                )
            })
            .collect();
        changes.push(format!("retyped {}", what.join(", ")));
    }
    let summary = format!(
        "{service} \"{template}\": {} since {} ({old_name} → {new_name})",
        changes.join("; "),
        format_ts(new.first.ts),
    );
    let mut ids = new.first.ids.clone();
    ids.insert("service".into(), service.clone());
    let side = |name: &str, s: &Side| {
        json!({
            "side": name,
            "records": s.records,
            "first": s.first.source.to_string(),
            "last": s.last.source.to_string(),
        })
    };
    let detail = json!({
        "service": service,
        "template": template,
        "since": format_ts(new.first.ts),
        "old": side(old_name, old),
        "new": side(new_name, new),
        "added": added,
        "removed": removed,
        "retyped": retyped,
        "reshaped": reshaped,
    });
    Some(
        Finding::new(
            FindingKind::PayloadShapeDrift,
            ids,
            summary,
            [old.last.source.clone(), new.first.source.clone()],
        )
        .with_detail(detail),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    /// A JSON line read by the real parser, at second `ts` of an hour.
    fn line(ts: i64, instance: &str, raw: &str) -> Record {
        let raw = raw.replacen(
            '{',
            &format!(r#"{{"time":"2026-11-20T09:00:{ts:02}Z","event_id":"evt_{ts}","#),
            1,
        );
        let ctx = crate::parse::normalize::FileContext::for_path("api.log");
        let mut r = crate::parse::json::parse_line(&raw, ts as u64, &ctx, &Config::default())
            .expect("a JSON line");
        r.instance = instance.into();
        r
    }

    fn findings(records: &[Record]) -> Vec<Finding> {
        let c = Config::default();
        let mut s = Shapes::default();
        for r in records {
            s.add(r, &c);
        }
        s.findings().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn a_retyped_an_added_and_a_removed_field_are_found_between_versions() {
        let mut records = Vec::new();
        for i in 0..5 {
            let coupon = if i % 2 == 0 { r#","coupon":"W""# } else { "" };
            records.push(line(
                i,
                "api-1",
                &format!(
                    r#"{{"msg":"payment received","version":"1.0","amount":1234,"source":"web"{coupon}}}"#
                ),
            ));
        }
        for i in 5..10 {
            let coupon = if i % 2 == 1 { r#","coupon":"W""# } else { "" };
            records.push(line(
                i,
                "api-1",
                &format!(
                    r#"{{"msg":"payment received","version":"1.1","amount":"12.34","source":{{"channel":"web"}}{coupon}}}"#
                ),
            ));
        }
        let f = findings(&records);
        assert_eq!(f.len(), 1, "{f:?}");
        let d = f[0].detail.as_ref().unwrap().value();
        // Nested objects are flattened: an object in place of a string is
        // the string's field gone and the object's fields new.
        assert_eq!(d["added"][0]["field"], "source.channel");
        assert_eq!(d["removed"][0]["field"], "source");
        assert_eq!(d["retyped"][0]["field"], "amount");
        assert_eq!(d["retyped"][0]["from"], "number");
        assert_eq!(d["retyped"][0]["to"], "string");
        assert_eq!(d["old"]["side"], "version 1.0");
        assert_eq!(d["new"]["side"], "version 1.1");
        // Evidence: the old shape's last record, the new shape's first.
        assert_eq!(f[0].evidence[0].line, 4);
        assert_eq!(f[0].evidence[1].line, 5);
        assert_eq!(f[0].ids["event_id"], "evt_5");
        assert!(
            f[0].summary.contains("retyped amount number→string"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn optional_fields_nulls_and_small_sides_are_no_drift() {
        let mut records = Vec::new();
        for i in 0..6 {
            // `note` is sometimes there on both instances, `amount` is
            // sometimes null.
            let note = if i % 3 == 0 { r#","note":"x""# } else { "" };
            let amount = if i % 2 == 0 { "12" } else { "null" };
            let instance = if i < 3 { "api-1" } else { "api-2" };
            records.push(line(
                i,
                instance,
                &format!(r#"{{"msg":"payment received","amount":{amount}{note}}}"#),
            ));
        }
        // Two records of a third instance with another shape: too few.
        for i in 6..8 {
            records.push(line(i, "api-3", r#"{"msg":"payment received","extra":1}"#));
        }
        assert!(findings(&records).is_empty(), "{:?}", findings(&records));
    }

    #[test]
    fn shapes_read_json_types_and_give_text_formats_names() {
        let mut r = rec(1, 1, "api", &[("request_id", "r1")], "hi");
        r.attrs.push(("version".into(), "1".into()));
        r.attrs.push(("n".into(), "1".into()));
        r.attr_types = "ssn".into();
        assert_eq!(
            shape(&r).collect::<Vec<_>>(),
            vec![("request_id", STRING), ("n", NUMBER)]
        );
        r.attr_types.clear();
        assert_eq!(
            shape(&r).collect::<Vec<_>>(),
            vec![("request_id", TEXT), ("n", TEXT)]
        );
    }
}
