//! Findings: the anomalies that explain an incident, each a small pure
//! function over one event's records (or, for config drift, over all
//! records), with the IDs involved and `path:line` evidence. Benign twins —
//! a safe replay, a clean cancel, a retry that succeeded once — are not
//! findings: false alarms cost on-call engineers as much as misses.

pub mod config_drift;
mod duplicate;
mod idempotency;
pub mod overview;
mod retry;
mod task;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::correlate::{Events, group_events};
use crate::record::{Record, SourceRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    DuplicateSideEffect,
    KeyConflict,
    KeyDrift,
    PartialWrite,
    StuckProcessing,
    RetryStorm,
    ConfigDrift,
    ClockSkew,
}

impl FindingKind {
    pub const ALL: [FindingKind; 8] = [
        FindingKind::DuplicateSideEffect,
        FindingKind::KeyConflict,
        FindingKind::KeyDrift,
        FindingKind::PartialWrite,
        FindingKind::StuckProcessing,
        FindingKind::RetryStorm,
        FindingKind::ConfigDrift,
        FindingKind::ClockSkew,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::DuplicateSideEffect => "duplicate_side_effect",
            FindingKind::KeyConflict => "key_conflict",
            FindingKind::KeyDrift => "key_drift",
            FindingKind::PartialWrite => "partial_write",
            FindingKind::StuckProcessing => "stuck_processing",
            FindingKind::RetryStorm => "retry_storm",
            FindingKind::ConfigDrift => "config_drift",
            FindingKind::ClockSkew => "clock_skew",
        }
    }

    pub fn parse(s: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::DuplicateSideEffect => Severity::Critical,
            FindingKind::PartialWrite | FindingKind::KeyConflict | FindingKind::KeyDrift => {
                Severity::High
            }
            FindingKind::StuckProcessing | FindingKind::RetryStorm => Severity::Medium,
            FindingKind::ConfigDrift => Severity::Low,
            FindingKind::ClockSkew => Severity::Info,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// The `findings --json` contract: field names are stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub ids: BTreeMap<String, String>,
    pub summary: String,
    pub evidence: Vec<SourceRef>,
}

impl Finding {
    pub fn new(
        kind: FindingKind,
        ids: BTreeMap<String, String>,
        summary: String,
        evidence: impl IntoIterator<Item = SourceRef>,
    ) -> Finding {
        let mut evidence: Vec<SourceRef> = evidence.into_iter().collect();
        evidence.dedup();
        Finding {
            kind,
            severity: kind.severity(),
            ids,
            summary,
            evidence,
        }
    }
}

/// Findings over one event's records (a footprint or an index component),
/// in true order.
pub fn event_findings(records: &[Record], config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(duplicate::duplicate_side_effects(records, config));
    out.extend(idempotency::key_conflicts(records, config));
    out.extend(idempotency::key_drift(records, config));
    out.extend(task::partial_writes(records, config));
    out.extend(idempotency::stuck_processing(records, config));
    out.extend(retry::retry_storm(records, config));
    out
}

/// The whole index, analysed: its events and every finding, ranked.
pub struct Analysis {
    pub events: Events,
    pub findings: Vec<Finding>,
    /// For each event (same order as `events.events`), indices into `findings`.
    pub event_findings: Vec<Vec<usize>>,
    pub records: u64,
    /// Records, errors and findings over time.
    pub histogram: overview::Histogram,
    /// Each instance's latest configuration fingerprint (config_drift's
    /// evidence, and the incident report's drift table).
    pub config_settings: Vec<config_drift::ConfigSetting>,
}

impl Analysis {
    /// For each finding, the event it belongs to (None for config drift,
    /// which spans instances): `event_findings` inverted.
    pub fn finding_events(&self) -> Vec<Option<usize>> {
        let mut out = vec![None; self.findings.len()];
        for (e, found) in self.event_findings.iter().enumerate() {
            for &f in found {
                out[f] = Some(e);
            }
        }
        out
    }
}

pub fn analyse(records: Vec<Record>, config: &Config) -> Analysis {
    let total = records.len() as u64;
    let mut histogram = overview::Histogram::of(&records);
    let config_settings = config_drift::config_settings(&records);
    let mut findings = config_drift::config_drift(&config_settings);
    // When each piece of evidence happened, to place findings over time.
    let mut when: std::collections::HashMap<SourceRef, i64> = config_settings
        .iter()
        .map(|s| (s.source.clone(), s.ts))
        .collect();
    let events = group_events(
        records.into_iter().filter(|r| !r.ids.is_empty()).collect(),
        config,
    );
    let mut per_event = Vec::with_capacity(events.events.len());
    for (_, recs) in &events.events {
        let found = event_findings(recs, config);
        for s in found.iter().flat_map(|f| f.evidence.iter()) {
            if let Some(r) = recs.iter().find(|r| &r.source == s) {
                when.insert(s.clone(), r.ts);
            }
        }
        let start = findings.len();
        findings.extend(found);
        per_event.push((start..findings.len()).collect::<Vec<_>>());
    }
    // Rank: severity, then impact (evidence lines), then a stable order.
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (&findings[a], &findings[b]);
        (
            fa.severity,
            std::cmp::Reverse(fa.evidence.len()),
            fa.kind,
            &fa.evidence,
        )
            .cmp(&(
                fb.severity,
                std::cmp::Reverse(fb.evidence.len()),
                fb.kind,
                &fb.evidence,
            ))
    });
    let mut new_pos = vec![0; findings.len()];
    for (pos, &old) in order.iter().enumerate() {
        new_pos[old] = pos;
    }
    let ranked: Vec<Finding> = order.iter().map(|&i| findings[i].clone()).collect();
    let event_findings = per_event
        .into_iter()
        .map(|idx| {
            let mut v: Vec<usize> = idx.into_iter().map(|i| new_pos[i]).collect();
            v.sort();
            v
        })
        .collect();
    for f in &ranked {
        if let Some(ts) = f.evidence.iter().filter_map(|s| when.get(s)).min() {
            histogram.add_finding(*ts);
        }
    }
    Analysis {
        events,
        findings: ranked,
        event_findings,
        records: total,
        histogram,
        config_settings,
    }
}

/// ID field -> value for the event's identity, used in every finding's `ids`.
pub(crate) fn event_ids(
    records: &[Record],
    config: &Config,
    kinds: &[&str],
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for r in records {
        for id in &r.ids {
            let last = id.field.rsplit('.').next().unwrap_or(&id.field);
            if let Some(kind) = config.id_kind(&id.field)
                && kinds.contains(&kind)
            {
                m.entry(last.to_string())
                    .or_insert_with(|| id.value.clone());
            }
        }
    }
    m
}
