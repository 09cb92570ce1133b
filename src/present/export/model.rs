//! What an export says, as data: built once, redacted once, then written as
//! markdown or JSON (`--format json`), so the two can never disagree. Field
//! names here are the JSON contract.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::correlate::HubSkip;
use crate::detect::{Analysis, Finding, FindingKind};
use crate::index::marks::Mark;
use crate::present::step::step_text;
use crate::record::{IdRef, Micros, Record, SourceRef, format_ts};

use super::redact::Redactor;

/// Redacts when on; counts what it removed either way it is asked.
pub struct Scrub {
    redactor: Option<Redactor>,
}

impl Scrub {
    pub fn new(redactor: Option<Redactor>) -> Scrub {
        Scrub { redactor }
    }

    pub fn text(&mut self, s: &str) -> String {
        match &mut self.redactor {
            Some(r) => r.redact(s),
            None => s.to_string(),
        }
    }

    pub fn report(&self) -> Redaction {
        match &self.redactor {
            Some(r) => Redaction {
                enabled: true,
                removed: r.counts.clone(),
            },
            None => Redaction {
                enabled: false,
                removed: BTreeMap::new(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Redaction {
    pub enabled: bool,
    /// Rule name -> how many matches were replaced.
    pub removed: BTreeMap<String, usize>,
}

impl Redaction {
    pub fn sentence(&self) -> String {
        if !self.enabled {
            return "off (--no-redact)".into();
        }
        if self.removed.is_empty() {
            return "on; nothing needed redacting".into();
        }
        let parts: Vec<String> = self
            .removed
            .iter()
            .map(|(k, n)| format!("{n} × {k}"))
            .collect();
        format!("on; removed {}", parts.join(", "))
    }
}

/// One timeline entry.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub ts: String,
    pub service: String,
    pub instance: String,
    pub kind: &'static str,
    pub level: &'static str,
    pub step: String,
    pub mutation: bool,
    /// An arrow ends here: the data shows a call into (or a reply to) this
    /// entry's service (see correlate::hops).
    pub hop: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrow: Option<StepArrow>,
    /// What the entry did on the path: sent, received, enqueued, picked.
    pub hop_kind: Option<&'static str>,
    pub source: String,
    /// Clock-skew correction applied to this entry's source, in ms.
    pub skew_ms: i64,
    /// The engineer's mark on this entry, with its note if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
}

/// Where an arrow into a step comes from, and the ID that shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StepArrow {
    pub kind: crate::correlate::hops::ArrowKind,
    pub from_service: String,
    pub from_source: String,
    pub via: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub source: String,
    /// The record's raw text, redacted, cut to a readable length.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingOut {
    pub kind: &'static str,
    pub severity: &'static str,
    pub summary: String,
    pub ids: BTreeMap<String, String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HubOut {
    pub field: String,
    pub value: String,
    pub records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarkOut {
    pub source: String,
    pub ts: Option<String>,
    pub step: Option<String>,
    pub note: Option<String>,
}

/// `hopline export ID`.
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    pub id: String,
    pub summary: Vec<String>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub services: Vec<String>,
    pub ids: Vec<IdRef>,
    pub findings: Vec<FindingOut>,
    pub timeline: Vec<Step>,
    pub hubs_skipped: Vec<HubOut>,
    pub clock_skew: Vec<String>,
    pub marks: Vec<MarkOut>,
    pub reproduce: String,
    pub redaction: Redaction,
}

/// What one event export is made from.
pub struct EventInput<'a> {
    pub id: &'a str,
    pub ids: &'a [IdRef],
    pub hubs: &'a [HubSkip],
    pub records: &'a [Record],
    pub findings: &'a [Finding],
    pub marks: &'a [Mark],
    pub reproduce: String,
    /// Records the findings cite that belong to another event (a reused
    /// key's first use): their text is quoted as evidence.
    pub cited: &'a [Record],
}

const EVIDENCE_CHARS: usize = 300;

fn evidence_of(
    f: &Finding,
    by_source: &HashMap<&SourceRef, &Record>,
    scrub: &mut Scrub,
) -> Vec<Evidence> {
    f.evidence
        .iter()
        .map(|s| Evidence {
            source: s.to_string(),
            text: by_source
                .get(s)
                // Redacted whole, then cut: a secret cut in half would no
                // longer match its rule.
                .map(|r| {
                    let text = scrub.text(&r.raw);
                    match text.char_indices().nth(EVIDENCE_CHARS) {
                        Some((cut, _)) => format!("{}…", &text[..cut]),
                        None => text,
                    }
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// A mark with the record it sits on, when that record is at hand.
fn mark_out(m: &Mark, r: Option<&Record>, scrub: &mut Scrub) -> MarkOut {
    MarkOut {
        source: m.source.to_string(),
        ts: r.map(|r| format_ts(r.ts)),
        step: r.map(|r| scrub.text(&step_text(r))),
        note: m.note_text().map(|n| scrub.text(&n)),
    }
}

fn finding_out(
    f: &Finding,
    by_source: &HashMap<&SourceRef, &Record>,
    scrub: &mut Scrub,
) -> FindingOut {
    FindingOut {
        kind: f.kind.as_str(),
        severity: f.severity.as_str(),
        summary: scrub.text(&f.summary),
        ids: f
            .ids
            .iter()
            .map(|(k, v)| (k.clone(), scrub.text(v)))
            .collect(),
        evidence: evidence_of(f, by_source, scrub),
    }
}

fn duration(micros: i64) -> String {
    let ms = micros / 1000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

pub fn event_report(input: &EventInput<'_>, scrub: &mut Scrub) -> EventReport {
    let records = input.records;
    let by_source: HashMap<&SourceRef, &Record> = input
        .cited
        .iter()
        .chain(records)
        .map(|r| (&r.source, r))
        .collect();
    let services = crate::correlate::services_in_order(records);
    let mut summary = Vec::new();
    if let (Some(first), Some(last)) = (records.first(), records.last()) {
        summary.push(format!(
            "The event was followed across {} records in {} services ({}) from {} to {} UTC ({}), through {} IDs.",
            records.len(),
            services.len(),
            services.join(", "),
            format_ts(first.ts),
            format_ts(last.ts),
            duration(last.ts - first.ts),
            input.ids.len()
        ));
    } else {
        summary.push("No record carries this ID.".into());
    }
    let marks_by_source: HashMap<&SourceRef, &Mark> =
        input.marks.iter().map(|m| (&m.source, m)).collect();
    let mut arrow_into: HashMap<usize, crate::correlate::hops::Arrow> = HashMap::new();
    for a in crate::correlate::hops::arrows(records) {
        arrow_into.insert(a.to, a);
    }
    let timeline: Vec<Step> = records
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let arrow = arrow_into.get(&k).map(|a| StepArrow {
                kind: a.kind,
                from_service: records[a.from].service.clone(),
                from_source: records[a.from].source.to_string(),
                via: scrub.text(&format!("{}={}", a.via.field, a.via.value)),
            });
            let hop = arrow.is_some();
            Step {
                ts: format_ts(r.ts),
                service: r.service.clone(),
                instance: r.instance.clone(),
                kind: r.kind.as_str(),
                level: r.level.as_str(),
                step: scrub.text(&step_text(r)),
                mutation: r.mutation,
                hop,
                arrow,
                hop_kind: crate::correlate::classify::hop(r).map(|h| h.as_str()),
                source: r.source.to_string(),
                skew_ms: crate::present::text::skew_ms(r.skew),
                mark: marks_by_source
                    .get(&r.source)
                    .map(|m| m.note_text().map_or(String::new(), |n| scrub.text(&n))),
            }
        })
        .collect();
    if !records.is_empty() {
        let mutations = timeline.iter().filter(|s| s.mutation).count();
        let calls = timeline
            .iter()
            .filter(|s| {
                s.arrow
                    .as_ref()
                    .is_some_and(|a| a.kind == crate::correlate::hops::ArrowKind::Call)
            })
            .count();
        summary.push(format!(
            "The logs show {calls} {} between services, and it made {mutations} state {}.",
            if calls == 1 { "call" } else { "calls" },
            if mutations == 1 {
                "mutation"
            } else {
                "mutations"
            }
        ));
    }
    summary.push(impact_sentence(input.findings));
    let findings = input
        .findings
        .iter()
        .map(|f| finding_out(f, &by_source, scrub))
        .collect();
    let marks = input
        .marks
        .iter()
        .filter_map(|m| Some(mark_out(m, Some(*by_source.get(&m.source)?), scrub)))
        .collect();
    EventReport {
        id: scrub.text(input.id),
        summary: summary.into_iter().map(|s| scrub.text(&s)).collect(),
        first_ts: records.first().map(|r| format_ts(r.ts)),
        last_ts: records.last().map(|r| format_ts(r.ts)),
        services,
        ids: input
            .ids
            .iter()
            .map(|i| IdRef {
                field: i.field.clone(),
                value: scrub.text(&i.value),
            })
            .collect(),
        findings,
        timeline,
        hubs_skipped: input
            .hubs
            .iter()
            .map(|h| HubOut {
                field: h.id.field.clone(),
                value: scrub.text(&h.id.value),
                records: h.carriers,
            })
            .collect(),
        clock_skew: skew_notes(records),
        marks,
        reproduce: scrub.text(&input.reproduce),
        redaction: scrub.report(),
    }
}

/// One line per instance whose times were corrected for its clock.
fn skew_notes(records: &[Record]) -> Vec<String> {
    crate::correlate::clock::corrected_instances(records)
        .into_iter()
        .map(|(instance, skew)| {
            format!(
                "{instance}: its clock ran {}; its times here are corrected by {:+.1} ms",
                crate::present::text::skew_words(skew),
                -(skew as f64) / 1000.0
            )
        })
        .collect()
}

/// One plain sentence about what the findings mean.
fn impact_sentence(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "No findings: nothing in this event looks anomalous.".into();
    }
    let mut kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    kinds.dedup();
    let mut s = format!(
        "{} finding{}: {}.",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        kinds.join(", ")
    );
    for (kind, what) in [
        (
            FindingKind::DuplicateSideEffect,
            " A side effect that must happen once happened more than once.",
        ),
        (
            FindingKind::PartialWrite,
            " A task stopped after writing part of its state.",
        ),
        (
            FindingKind::KeyConflict,
            " One idempotency key was used for different payloads.",
        ),
        (
            FindingKind::KeyDrift,
            " The services built different idempotency keys for this event.",
        ),
        (
            FindingKind::ReconciliationDelta,
            " Two services recorded different amounts or currencies for one business object.",
        ),
        (
            FindingKind::PayloadShapeDrift,
            " A service changed the fields of a payload between versions or instances.",
        ),
    ] {
        if findings.iter().any(|f| f.kind == kind) {
            s.push_str(what);
        }
    }
    s
}

/// A finding kind over the whole bundle.
#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    pub kind: &'static str,
    pub severity: &'static str,
    pub count: usize,
    /// The IDs the findings name (event id first), at most [`MAX_AFFECTED`].
    pub affected: Vec<String>,
    pub affected_total: usize,
}

pub const MAX_AFFECTED: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct DriftRow {
    pub service: String,
    pub instance: String,
    pub setting: String,
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub start: String,
    pub records: u64,
    pub errors: u64,
    pub findings: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    pub what: &'static str,
    pub count: usize,
}

/// One step of the triage checklist, as the export shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TriageRow {
    pub step: &'static str,
    pub verdict: String,
    pub count: u64,
    pub alarm: bool,
    /// False when the bundle holds nothing this step looks at.
    pub applies: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub task: String,
    /// In [`crate::analysis::metrics::STATES`] order.
    pub counts: Vec<(&'static str, u64)>,
    pub queue_wait_ms: crate::analysis::metrics::Percentiles,
    pub runtime_ms: crate::analysis::metrics::Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkflowRow {
    pub workflow: String,
    pub events: usize,
    pub with_side_effect: usize,
    pub with_duplicate_side_effect: usize,
    pub accepted_to_completed_ms: crate::analysis::metrics::Percentiles,
}

/// The metrics tables of the incident export.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsOut {
    pub tasks: Vec<TaskRow>,
    pub rows_by_status: Vec<(String, u64)>,
    pub existing_key_arrivals: u64,
    pub spikes: Vec<crate::analysis::metrics::Spike>,
    pub duplicate_side_effect_rate: Option<f64>,
    pub workflows: Vec<WorkflowRow>,
}

/// A side effect done once too often: a charge to refund.
#[derive(Debug, Clone, Serialize)]
pub struct ExtraCharge {
    pub event: String,
    /// The business object's field and value (`charge_id`), if logged.
    pub object: Option<(String, String)>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    /// The amount field, which says the unit (`amount_minor`).
    pub field: Option<String>,
    pub source: String,
}

/// Extra charges summed per currency, in major units where the unit is
/// known.
#[derive(Debug, Clone, Serialize)]
pub struct MoneyTotal {
    pub currency: String,
    pub total: String,
    pub charges: usize,
}

/// A config line: a start or a reload, in time order.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigLine {
    pub ts: String,
    pub service: String,
    pub instance: String,
    pub setting: String,
    pub value: String,
    /// Whether the value differs from this instance's previous line.
    pub changed: bool,
    /// What changed since that line: `retries: 1 → 0`.
    pub changes: Vec<String>,
    pub source: String,
}

/// `hopline export --incident`.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentReport {
    pub title: String,
    pub summary: Vec<String>,
    pub triage: Vec<TriageRow>,
    pub metrics: MetricsOut,
    pub extra_charges: Vec<ExtraCharge>,
    pub money_totals: Vec<MoneyTotal>,
    pub config_timeline: Vec<ConfigLine>,
    pub records: u64,
    pub events: usize,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub findings_by_kind: Vec<KindSummary>,
    pub impact: Vec<Impact>,
    pub config_drift: Vec<DriftRow>,
    pub histogram: Vec<Bucket>,
    /// One event per finding kind, most severe kind first, in full.
    pub representatives: Vec<(String, EventReport)>,
    pub marks: Vec<MarkOut>,
    pub reproduce: String,
    pub redaction: Redaction,
}

/// What the incident export is made from: the whole-index analysis, the
/// records of its representative events ([`representative_events`]), and
/// the few records that carry a mark (marks may sit on records of no event).
pub struct IncidentInput<'a> {
    pub title: String,
    pub analysis: &'a Analysis,
    pub event_records: &'a HashMap<usize, Vec<Record>>,
    pub marked: &'a [Record],
    /// Records the representatives' findings cite outside their events.
    pub cited: &'a [Record],
    pub only: Option<FindingKind>,
    pub marks: &'a [Mark],
    pub reproduce: String,
    pub metrics: &'a crate::analysis::metrics::Metrics,
    pub triage: &'a [crate::analysis::triage::Check],
    /// The records of every event with a duplicate_side_effect finding,
    /// for the money it cost.
    pub duplicated: &'a HashMap<usize, Vec<Record>>,
    pub config: &'a crate::config::Config,
}

const HISTOGRAM_BUCKETS: usize = 24;
/// Which finding ID names an affected event, in order of preference.
const AFFECTED_KEYS: &[&str] = &["event_id", "request_id", "idem_key", "task_id", "service"];

/// The event each finding kind is shown by in full: its first
/// (highest-ranked) finding's, most severe kind first.
pub fn representative_events(
    analysis: &Analysis,
    only: Option<FindingKind>,
) -> Vec<(FindingKind, usize)> {
    let mut out = Vec::new();
    let mut done: BTreeSet<FindingKind> = BTreeSet::new();
    let mut shown: BTreeSet<usize> = BTreeSet::new();
    // Most severe kind first; each kind by an event no earlier kind showed
    // (a double charge's event also holds its key drift: shown once).
    let mut ranked: Vec<(&Finding, Option<usize>)> = analysis
        .findings
        .iter()
        .zip(analysis.finding_events())
        .collect();
    ranked.sort_by_key(|(f, _)| (f.severity, f.kind));
    for (f, event) in ranked {
        if only.is_some_and(|k| k != f.kind) || done.contains(&f.kind) {
            continue;
        }
        if let Some(e) = event
            && shown.insert(e)
        {
            done.insert(f.kind);
            out.push((f.kind, e));
        }
    }
    out
}

pub fn incident_report(input: &IncidentInput<'_>, scrub: &mut Scrub) -> IncidentReport {
    let analysis = input.analysis;
    let all_findings = &analysis.findings;
    let events = &analysis.events.events;
    let wanted = |f: &Finding| input.only.is_none_or(|k| f.kind == k);
    let span = analysis.histogram.span();

    let mut by_kind: BTreeMap<FindingKind, (usize, BTreeSet<String>)> = BTreeMap::new();
    for f in all_findings.iter().filter(|f| wanted(f)) {
        let e = by_kind.entry(f.kind).or_default();
        e.0 += 1;
        if let Some(v) = AFFECTED_KEYS.iter().find_map(|k| f.ids.get(*k)) {
            e.1.insert(v.clone());
        }
    }
    let mut by_kind: Vec<_> = by_kind.into_iter().collect();
    by_kind.sort_by_key(|(k, _)| (k.severity(), *k));
    let findings_by_kind: Vec<KindSummary> = by_kind
        .iter()
        .map(|(kind, (count, ids))| KindSummary {
            kind: kind.as_str(),
            severity: kind.severity().as_str(),
            count: *count,
            affected: ids
                .iter()
                .take(MAX_AFFECTED)
                .map(|i| scrub.text(i))
                .collect(),
            affected_total: ids.len(),
        })
        .collect();

    let events_with = |kind: FindingKind| {
        (0..analysis.event_findings.len())
            .filter(|&e| analysis.findings_of(e).any(|f| f.kind == kind))
            .count()
    };
    let mut impact = Vec::new();
    for (kind, what) in [
        (
            FindingKind::DuplicateSideEffect,
            "with a side effect done twice (e.g. charged twice)",
        ),
        (
            FindingKind::PartialWrite,
            "with a partial write (a task stopped mid-way)",
        ),
        (
            FindingKind::KeyConflict,
            "whose idempotency key was reused for another payload",
        ),
        (
            FindingKind::KeyDrift,
            "whose services built different idempotency keys",
        ),
        (
            FindingKind::StuckProcessing,
            "with an idempotency row stuck in processing",
        ),
        (
            FindingKind::ReconciliationDelta,
            "whose amounts disagree between services",
        ),
    ] {
        if input.only.is_none_or(|k| k == kind) {
            let count = events_with(kind);
            if count > 0 {
                impact.push(Impact { what, count });
            }
        }
    }

    let config_drift = if input.only.is_none_or(|k| k == FindingKind::ConfigDrift) {
        drift_rows(analysis, scrub)
    } else {
        Vec::new()
    };
    let coarse = analysis.histogram.resample(HISTOGRAM_BUCKETS);
    let histogram = coarse
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| Bucket {
            start: format_ts(coarse.start + i as Micros * coarse.width),
            records: b.records,
            errors: b.errors,
            findings: b.findings,
        })
        .collect();

    let mut representatives = Vec::new();
    for (kind, e) in representative_events(analysis, input.only) {
        let summary = &events[e];
        let records = input.event_records.get(&e).map_or(&[][..], Vec::as_slice);
        let findings: Vec<Finding> = analysis.findings_of(e).cloned().collect();
        let report = event_report(
            &EventInput {
                id: &summary.key.value,
                ids: &summary.ids,
                hubs: &[],
                records,
                findings: &findings,
                marks: input.marks,
                reproduce: format!("hopline export {}", summary.key.value),
                cited: input.cited,
            },
            scrub,
        );
        representatives.push((kind.as_str().to_string(), report));
    }

    let total: usize = findings_by_kind.iter().map(|k| k.count).sum();
    let mut summary = vec![format!(
        "{} records from {} events{}.",
        analysis.records,
        events.len(),
        span.map_or(String::new(), |(a, b)| format!(
            " between {} and {} UTC ({})",
            format_ts(a),
            format_ts(b),
            duration(b - a)
        ))
    )];
    summary.push(if total == 0 {
        "No findings.".into()
    } else {
        let kinds: Vec<String> = findings_by_kind
            .iter()
            .map(|k| format!("{} × {}", k.count, k.kind))
            .collect();
        format!("{total} findings: {}.", kinds.join(", "))
    });
    for i in &impact {
        summary.push(format!("Events {}: {}.", i.what, i.count));
    }
    let far = analysis.histogram.far_before + analysis.histogram.far_after;
    if far > 0 {
        summary.push(format!(
            "{far} {} far outside that span (a stray clock?) and {} not drawn over time.",
            if far == 1 {
                "record lies"
            } else {
                "records lie"
            },
            if far == 1 { "is" } else { "are" }
        ));
    }
    if analysis.malformed > 0 {
        let (n, lines) = match analysis.malformed {
            1 => (1, "line of the sources"),
            n => (n, "lines of the sources"),
        };
        summary.push(format!(
            "{n} {lines} could not be read and {} not in this report (hopline ingest --report lists them).",
            if n == 1 { "is" } else { "are" }
        ));
    }
    let marks = input
        .marks
        .iter()
        .map(|m| mark_out(m, input.marked.iter().find(|r| r.source == m.source), scrub))
        .collect();
    let extra_charges = extra_charges(input, scrub);
    IncidentReport {
        title: scrub.text(&input.title),
        summary,
        triage: input
            .triage
            .iter()
            .map(|c| TriageRow {
                step: c.step,
                verdict: scrub.text(&c.verdict),
                count: c.count,
                alarm: c.alarm,
                applies: c.applies,
            })
            .collect(),
        metrics: metrics_out(input.metrics, scrub),
        extra_charges: extra_charges.clone(),
        money_totals: money_totals(&extra_charges),
        config_timeline: config_timeline(analysis, scrub),
        records: analysis.records,
        events: events.len(),
        first_ts: span.map(|s| format_ts(s.0)),
        last_ts: span.map(|s| format_ts(s.1)),
        findings_by_kind,
        impact,
        config_drift,
        histogram,
        representatives,
        marks,
        reproduce: scrub.text(&input.reproduce),
        redaction: scrub.report(),
    }
}

/// The instances and settings of every service config_drift flagged.
fn drift_rows(analysis: &Analysis, scrub: &mut Scrub) -> Vec<DriftRow> {
    let drifting: BTreeSet<&str> = analysis
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ConfigDrift)
        .filter_map(|f| f.ids.get("service").map(String::as_str))
        .collect();
    analysis
        .config_settings
        .iter()
        .filter(|s| drifting.contains(s.service.as_str()))
        .map(|s| DriftRow {
            service: s.service.clone(),
            instance: s.instance.clone(),
            setting: s.setting.clone(),
            value: scrub.text(&s.value),
            source: s.source.to_string(),
        })
        .collect()
}

fn metrics_out(m: &crate::analysis::metrics::Metrics, scrub: &mut Scrub) -> MetricsOut {
    use crate::analysis::metrics::STATES;
    MetricsOut {
        tasks: m
            .tasks
            .iter()
            .map(|(name, t)| TaskRow {
                task: scrub.text(name),
                counts: STATES
                    .iter()
                    .map(|s| (*s, t.counts.get(s).copied().unwrap_or(0)))
                    .collect(),
                queue_wait_ms: t.queue_wait_ms,
                runtime_ms: t.runtime_ms,
            })
            .collect(),
        rows_by_status: m
            .idempotency
            .rows_by_status
            .iter()
            .map(|(s, n)| (s.clone(), *n))
            .collect(),
        existing_key_arrivals: m.idempotency.existing_key_arrivals,
        spikes: m.idempotency.spikes.clone(),
        duplicate_side_effect_rate: m.outcomes.duplicate_side_effect_rate,
        workflows: m
            .outcomes
            .workflows
            .iter()
            .map(|(name, w)| WorkflowRow {
                workflow: scrub.text(name),
                events: w.events,
                with_side_effect: w.with_side_effect,
                with_duplicate_side_effect: w.with_duplicate_side_effect,
                accepted_to_completed_ms: w.accepted_to_completed_ms,
            })
            .collect(),
    }
}

/// Each duplicated event's once-only side effects beyond the first, per
/// effect and service: what was done too often, with its amount.
fn extra_charges(input: &IncidentInput<'_>, scrub: &mut Scrub) -> Vec<ExtraCharge> {
    let mut out = Vec::new();
    let mut events: Vec<&usize> = input.duplicated.keys().collect();
    events.sort();
    for &e in events {
        let records = &input.duplicated[&e];
        let mut effects: BTreeMap<(&str, &str), Vec<&Record>> = BTreeMap::new();
        for r in records
            .iter()
            .filter(|r| r.mutation && r.kind == crate::record::Kind::Log)
        {
            if let Some(rule) = input.config.mutation(&r.message).filter(|m| m.once) {
                effects
                    .entry((rule.name.as_str(), r.service.as_str()))
                    .or_default()
                    .push(r);
            }
        }
        // One charge echoed by the ledger is one payment to refund: an
        // object (`charge_id`) counts once per event, whichever effect
        // logged it first.
        let mut counted: BTreeSet<(String, String)> = BTreeSet::new();
        for ((_, _), done) in effects.into_iter().filter(|(_, v)| v.len() > 1) {
            let with_money: Vec<_> = done
                .iter()
                .map(|r| (r, crate::detect::reconcile::money_of(r)))
                .collect();
            if with_money.iter().all(|(_, m)| m.is_none()) {
                continue;
            }
            for (i, (r, money)) in with_money.into_iter().enumerate() {
                let object = money.as_ref().and_then(|m| m.object.clone());
                let fresh = object.as_ref().is_none_or(|o| counted.insert(o.clone()));
                if i == 0 || !fresh {
                    continue;
                }
                out.push(ExtraCharge {
                    event: scrub.text(&input.analysis.events.events[e].key.value),
                    object: object.map(|(f, v)| (f, scrub.text(&v))),
                    amount: money.as_ref().map(|m| m.major_text()),
                    currency: money.as_ref().and_then(|m| m.currency.clone()),
                    field: money.as_ref().map(|m| m.field.clone()),
                    source: r.source.to_string(),
                });
            }
        }
    }
    out
}

fn money_totals(charges: &[ExtraCharge]) -> Vec<MoneyTotal> {
    let mut by_currency: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in charges {
        if let Some(a) = &c.amount {
            by_currency
                .entry(c.currency.clone().unwrap_or_else(|| "(no currency)".into()))
                .or_default()
                .push(a);
        }
    }
    by_currency
        .into_iter()
        .map(|(currency, amounts)| MoneyTotal {
            total: crate::detect::reconcile::sum_amounts(amounts.iter().copied())
                .unwrap_or_else(|| "?".into()),
            charges: amounts.len(),
            currency,
        })
        .collect()
}

/// Every config line in time order, each marked when it changed its
/// instance's value: starts, reloads and the changes made to mitigate.
fn config_timeline(analysis: &Analysis, scrub: &mut Scrub) -> Vec<ConfigLine> {
    let mut last: HashMap<(&str, &str), &crate::detect::config_drift::ConfigSetting> =
        HashMap::new();
    analysis
        .config_history
        .iter()
        .map(|s| {
            let previous = last.insert((&s.service, &s.instance), s);
            let before = previous.map(|p| p.value.as_str());
            let changes = previous
                .map(|p| crate::detect::config_drift::changes(&p.settings, &s.settings))
                .unwrap_or_default()
                .into_iter()
                .map(|c| scrub.text(&c))
                .collect();
            ConfigLine {
                changes,
                ts: format_ts(s.ts),
                service: s.service.clone(),
                instance: s.instance.clone(),
                setting: s.setting.clone(),
                value: scrub.text(&s.value),
                changed: before.is_some_and(|b| b != s.value),
                source: s.source.to_string(),
            }
        })
        .collect()
}
