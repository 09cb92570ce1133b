//! The `--json` contracts of `timeline` and `events` as types, so a field
//! cannot be dropped or renamed by a typo in a `json!` literal; design.md
//! lists the required fields and `tests/golden/` pins every one of them.
//!
//! Fields are declared in alphabetical order: that is the order the
//! contracts have always been written in (serde_json sorts object keys), so
//! the bytes stay what scripts have seen.

use serde::Serialize;

use crate::correlate::Footprint;
use crate::correlate::hops::{Arrow, ArrowKind, arrows};
use crate::detect::{Analysis, Finding};
use crate::present::step::step_text;
use crate::record::{IdRef, Record, format_ts};

/// `timeline ID --json`.
#[derive(Serialize)]
pub struct Timeline<'a> {
    pub entries: Vec<Entry<'a>>,
    /// The events the asked ID touched (several for a reused key).
    pub events: &'a [IdRef],
    pub findings: &'a [Finding],
    pub hubs_skipped: Vec<HubSkipped<'a>>,
    pub ids: &'a [IdRef],
    /// The full ID a unique prefix stood for.
    pub prefix: Option<&'a str>,
    pub query: &'a str,
    pub truncated: bool,
}

#[derive(Serialize)]
pub struct HubSkipped<'a> {
    pub carriers: u64,
    pub field: &'a str,
    pub value: &'a str,
}

/// One record of a timeline.
#[derive(Serialize)]
pub struct Entry<'a> {
    /// The call or reply that ends here, when the data shows one.
    pub arrow: Option<EntryArrow<'a>>,
    /// The event (by its naming ID) this record belongs to, when the asked
    /// ID touched several.
    pub event: Option<&'a str>,
    pub hop: Option<&'static str>,
    pub ids: &'a [IdRef],
    pub instance: &'a str,
    pub kind: &'static str,
    pub level: &'static str,
    /// As logged.
    pub message: &'a str,
    pub mutation: bool,
    pub service: &'a str,
    pub skew_ms: i64,
    pub source: Place<'a>,
    /// What the table shows (see `present::step`).
    pub text: String,
    /// On the corrected clock.
    pub ts: String,
}

#[derive(Serialize)]
pub struct EntryArrow<'a> {
    pub from: From<'a>,
    pub kind: ArrowKind,
    pub via: &'a IdRef,
    pub why: &'a str,
}

#[derive(Serialize)]
pub struct From<'a> {
    pub line: u64,
    pub path: &'a str,
    pub service: &'a str,
}

#[derive(Serialize)]
pub struct Place<'a> {
    pub line: u64,
    pub path: &'a str,
}

/// A clock correction in whole milliseconds, as the contracts give it.
pub fn skew_ms(skew: crate::record::Micros) -> i64 {
    (skew as f64 / 1000.0).round() as i64
}

impl<'a> Entry<'a> {
    /// `r`, with the arrow that ends at it and its caller's record.
    pub fn of(
        r: &'a Record,
        arrow: Option<(&'a Arrow, &'a Record)>,
        event: Option<&'a str>,
    ) -> Self {
        Entry {
            arrow: arrow.map(|(a, from)| EntryArrow {
                from: From {
                    line: from.source.line,
                    path: &from.source.path,
                    service: &from.service,
                },
                kind: a.kind,
                via: &a.via,
                why: &a.why,
            }),
            event,
            hop: crate::correlate::classify::hop(r).map(|h| h.as_str()),
            ids: &r.ids,
            instance: &r.instance,
            kind: r.kind.as_str(),
            level: r.level.as_str(),
            message: &r.message,
            mutation: r.mutation,
            service: &r.service,
            skew_ms: skew_ms(r.skew),
            source: Place {
                line: r.source.line,
                path: &r.source.path,
            },
            text: step_text(r).into_owned(),
            ts: format_ts(r.ts),
        }
    }
}

/// Keeps the arrows alive while a [`Timeline`] borrows them.
pub struct Arrows(std::collections::HashMap<usize, Arrow>);

impl Arrows {
    pub fn of(records: &[Record]) -> Arrows {
        Arrows(arrows(records).into_iter().map(|a| (a.to, a)).collect())
    }
}

impl<'a> Timeline<'a> {
    pub fn of(fp: &'a Footprint, findings: &'a [Finding], arrows: &'a Arrows) -> Self {
        let entries = fp
            .records
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let arrow = arrows.0.get(&k).map(|a| (a, &fp.records[a.from]));
                let event = fp
                    .event_of
                    .get(k)
                    .and_then(|&i| fp.events.get(i))
                    .map(|n| n.value.as_str());
                Entry::of(r, arrow, event)
            })
            .collect();
        Timeline {
            entries,
            events: &fp.events,
            findings,
            hubs_skipped: fp
                .hubs
                .iter()
                .map(|h| HubSkipped {
                    carriers: h.carriers,
                    field: &h.id.field,
                    value: &h.id.value,
                })
                .collect(),
            ids: &fp.ids,
            prefix: fp.prefix.as_deref(),
            query: &fp.query,
            truncated: fp.truncated,
        }
    }
}

/// One line of `events --json`.
#[derive(Serialize)]
pub struct Event<'a> {
    /// The kinds of the event's findings.
    pub findings: Vec<&'static str>,
    pub first_ts: String,
    pub ids: &'a [IdRef],
    /// The ID that names the event.
    pub key: &'a IdRef,
    pub last_ts: String,
    pub mutations: usize,
    pub records: usize,
    pub services: &'a [String],
}

impl<'a> Event<'a> {
    /// Event `i` of the analysis.
    pub fn of(a: &'a Analysis, i: usize) -> Self {
        let e = &a.events.events[i];
        Event {
            findings: a.findings_of(i).map(|f| f.kind.as_str()).collect(),
            first_ts: format_ts(e.first_ts),
            ids: &e.ids,
            key: &e.key,
            last_ts: format_ts(e.last_ts),
            mutations: e.mutations,
            records: e.records,
            services: &e.services,
        }
    }
}

/// One line of `sniff --json`: what a file is taken for, and why.
#[derive(Serialize)]
pub struct Sniffed<'a> {
    pub dialect: &'a str,
    pub path: &'a str,
    pub why: &'a str,
}

/// A malformed line, as `ingest --json --report` lists it.
#[derive(Serialize)]
pub struct MalformedLine<'a> {
    pub line: u64,
    pub path: &'a str,
    pub reason: &'a str,
}

/// `ingest --json`: the report, where the index is, the Postgres read
/// (with `--pg`) and, with `--report`, every malformed line.
#[derive(Serialize)]
pub struct Ingested<'a, P: Serialize> {
    #[serde(flatten)]
    pub report: &'a crate::ingest::IngestReport,
    pub index: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<Vec<MalformedLine<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres: Option<&'a P>,
}
