//! Findings: the anomalies that explain an incident, each a small pure
//! function over one event's records (or, for config drift, over all
//! records), with the IDs involved and `path:line` evidence. Benign twins —
//! a safe replay, a clean cancel, a retry that succeeded once — are not
//! findings: false alarms cost on-call engineers as much as misses.

pub mod config_drift;
mod duplicate;
mod idempotency;
pub mod overview;
pub mod reconcile;
mod retry;
pub mod shape;
mod spill;
mod task;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::correlate::clock::Brackets;
use crate::correlate::events::{NO_EVENT, summarise};
use crate::correlate::{Clock, EventSummary, Events, IdGraph, RecordScan, sort_true_order};
use crate::record::{Kind, Level, Micros, Record, SourceRef};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum FindingKind {
    DuplicateSideEffect,
    KeyConflict,
    KeyDrift,
    PartialWrite,
    StuckProcessing,
    RetryStorm,
    ConfigDrift,
    ClockSkew,
    ReconciliationDelta,
    PayloadShapeDrift,
}

impl FindingKind {
    pub const ALL: [FindingKind; 10] = [
        FindingKind::DuplicateSideEffect,
        FindingKind::KeyConflict,
        FindingKind::KeyDrift,
        FindingKind::PartialWrite,
        FindingKind::StuckProcessing,
        FindingKind::RetryStorm,
        FindingKind::ConfigDrift,
        FindingKind::ClockSkew,
        FindingKind::ReconciliationDelta,
        FindingKind::PayloadShapeDrift,
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
            FindingKind::ReconciliationDelta => "reconciliation_delta",
            FindingKind::PayloadShapeDrift => "payload_shape_drift",
        }
    }

    pub fn parse(s: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::DuplicateSideEffect => Severity::Critical,
            FindingKind::PartialWrite
            | FindingKind::KeyConflict
            | FindingKind::KeyDrift
            | FindingKind::ReconciliationDelta => Severity::High,
            FindingKind::StuckProcessing
            | FindingKind::RetryStorm
            | FindingKind::PayloadShapeDrift => Severity::Medium,
            FindingKind::ConfigDrift => Severity::Low,
            FindingKind::ClockSkew => Severity::Info,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// The `findings --json` contract: field names are stable. `detail` is
/// there only for the kinds that have more to say than a summary (the two
/// amounts of a reconciliation delta, the fields a payload shape drift
/// added, removed and retyped).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub ids: BTreeMap<String, String>,
    pub summary: String,
    pub evidence: Vec<SourceRef>,
    #[serde(default)]
    pub detail: Option<Detail>,
}

/// Written by hand so that `detail` is left out of JSON when there is
/// none, while a compact format (the kept analysis) always has the field:
/// such a format cannot tell a missing field from the next one.
impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let with_detail = self.detail.is_some() || !s.is_human_readable();
        let mut st = s.serialize_struct("Finding", 5 + usize::from(with_detail))?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("ids", &self.ids)?;
        st.serialize_field("summary", &self.summary)?;
        st.serialize_field("evidence", &self.evidence)?;
        if with_detail {
            st.serialize_field("detail", &self.detail)?;
        }
        st.end()
    }
}

/// A finding's detail: a JSON object, kept as its text. In JSON it is the
/// object itself; in a compact format, the text (a compact format cannot
/// read back a value whose shape it is not told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail(String);

impl Detail {
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl Serialize for Detail {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            self.value().serialize(s)
        } else {
            s.serialize_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Detail {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Detail, D::Error> {
        if d.is_human_readable() {
            let v = serde_json::Value::deserialize(d)?;
            Ok(Detail(v.to_string()))
        } else {
            String::deserialize(d).map(Detail)
        }
    }
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
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Finding {
        self.detail = Some(Detail(detail.to_string()));
        self
    }
}

/// Findings over one event's records (a footprint or an index component),
/// in true order. A key reused with another payload is found where the
/// records are split into events (see [`event_parts`]).
pub fn event_findings(records: &[Record], config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(duplicate::duplicate_side_effects(records, config));
    out.extend(idempotency::key_drift(records, config));
    out.extend(task::partial_writes(records, config));
    out.extend(idempotency::stuck_processing(records, config));
    out.extend(retry::retry_storm(records, config));
    out.extend(reconcile::reconciliation_deltas(records, config));
    out
}

/// A footprint's findings: its event's, or each event's when the asked ID
/// is a key several events used, with the key conflicts it holds.
pub fn footprint_findings(fp: &crate::correlate::Footprint, config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    if fp.events.is_empty() {
        out.extend(event_findings(&fp.records, config));
    } else {
        for e in 0..fp.events.len() {
            let mine: Vec<Record> = fp
                .records
                .iter()
                .zip(&fp.event_of)
                .filter(|(_, of)| **of == e)
                .map(|(r, _)| r.clone())
                .collect();
            out.extend(event_findings(&mine, config));
        }
    }
    out.extend(idempotency::key_conflicts(&fp.conflicts));
    out
}

/// The whole index, analysed: its events and every finding, ranked.
#[derive(Debug, Serialize, Deserialize)]
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
    /// Every config line in time order (starts and reloads, the first
    /// [`config_drift::MAX_HISTORY`]): the timeline of config changes.
    pub config_history: Vec<config_drift::ConfigSetting>,
    /// The instances whose clock was off; event records are ordered on the
    /// corrected clock.
    pub clock: Clock,
    /// Lines of the sources that could not be read (`ingest --report`
    /// lists them): evidence the analysis did not see.
    pub malformed: u64,
    /// The first of them, with why (see `RecordIndex::malformed`).
    pub malformed_lines: Vec<(SourceRef, String)>,
}

impl Analysis {
    /// The findings of event `e` (a position in `events.events`).
    pub fn findings_of(&self, e: usize) -> impl Iterator<Item = &Finding> + '_ {
        self.event_findings
            .get(e)
            .into_iter()
            .flatten()
            .map(|&i| &self.findings[i])
    }

    /// The most severe of event `e`'s findings.
    pub fn worst_severity(&self, e: usize) -> Option<Severity> {
        self.findings_of(e).map(|f| f.severity).min()
    }

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

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("reading records: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
    #[error("stored record is unreadable: {0}")]
    Corrupt(serde_json::Error),
    #[error("the records changed while they were analysed; run it again")]
    Changed,
    #[error(transparent)]
    Spill(#[from] spill::SpillError),
}

/// What the first pass needs of a record, read without building it.
#[derive(Deserialize)]
struct Skim<'a> {
    ts: Micros,
    kind: Kind,
    level: Level,
    #[serde(borrow)]
    ids: Vec<SkimId<'a>>,
}

#[derive(Deserialize)]
struct SkimId<'a> {
    #[serde(borrow)]
    field: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

/// The analysis in bounded memory, in three passes: (1) every record's IDs,
/// time and level, which give the events (see [`IdGraph`]), the histogram
/// and config settings; (2) each event's records into buckets by event;
/// (3) one bucket at a time, each event's records grouped, ordered,
/// summarised and checked. Peak memory is the ID graph plus one bucket,
/// whatever the number of records.
pub fn analyse_scan<S: RecordScan>(scan: &S, config: &Config) -> Result<Analysis, AnalysisError> {
    let store = |e: S::Error| AnalysisError::Store(Box::new(e));
    let config_finder = memchr::memmem::Finder::new(b"config_");
    // `config loaded` lines with no fingerprint field (see
    // config_drift::is_config_line).
    let loaded_finder = memchr::memmem::Finder::new(b"onfig");
    let loaded_words =
        [b"loaded".as_slice(), b"applied", b"updated"].map(memchr::memmem::Finder::new);
    let mut graph = IdGraph::new(config);
    let mut times = overview::Times::default();
    let mut settings = config_drift::Settings::default();
    let mut bytes = 0u64;
    let mut corrupt = None;
    scan.scan(&mut |json| {
        let skim = match serde_json::from_slice::<Skim>(json) {
            Ok(s) => s,
            Err(e) => {
                corrupt.get_or_insert(e);
                graph.add([]);
                return;
            }
        };
        graph.add(
            skim.ids
                .iter()
                .map(|i| (i.field.as_ref(), i.value.as_ref())),
        );
        bytes += json.len() as u64;
        times.add(skim.ts, skim.kind, skim.level);
        // Startup lines that log a config fingerprint are rare: only they
        // are read in full here.
        let says_loaded = || {
            loaded_finder.find(json).is_some()
                && loaded_words.iter().any(|w| w.find(json).is_some())
        };
        if (config_finder.find(json).is_some() || says_loaded())
            && let Ok(r) = serde_json::from_slice::<Record>(json)
        {
            settings.add(&r);
        }
    })
    .map_err(store)?;
    if let Some(e) = corrupt {
        return Err(AnalysisError::Corrupt(e));
    }
    let total = graph.records() as u64;
    let mut histogram = times.histogram();
    let (config_settings, config_history) = settings.finish();
    let mut findings = config_drift::config_drift(&config_settings);
    let settings_ts: HashMap<&SourceRef, Micros> =
        config_settings.iter().map(|s| (&s.source, s.ts)).collect();
    let mut finding_ts: Vec<Option<Micros>> = findings
        .iter()
        .map(|f| first_evidence_ts(f, &settings_ts))
        .collect();

    let mut components = graph.finish();
    let mut shapes = shape::Shapes::default();
    let mut buckets = fill_buckets(scan, &mut components, bytes, config, &mut shapes)?;
    components.hubs.sort();
    let hubs: HashSet<&str> = components.hubs.iter().map(|(h, _)| h.as_str()).collect();
    let pass = EventPass {
        events: components.events,
        config,
        hubs: &hubs,
    };
    let mut brackets = Brackets::default();
    let mut checked = pass.check(
        &mut buckets,
        &Clock::default(),
        Some((&mut brackets, &mut shapes)),
    )?;
    // Clocks found off change the order inside events, and findings read
    // that order: the events are checked again on the corrected clock.
    let clock = brackets.resolve(config.clock_skew_brackets, config.clock_skew_min);
    if !clock.is_empty() {
        checked = pass.check(&mut buckets, &clock, None)?;
    }
    drop(buckets);
    for f in clock_findings(&clock) {
        findings.push(f);
        finding_ts.push(None);
    }
    let shape_findings = findings.len();
    for (f, since) in shapes.findings() {
        findings.push(f);
        finding_ts.push(Some(since));
    }
    let shape_findings = shape_findings..findings.len();
    // Events in time order of their first record.
    let mut events: Vec<(EventSummary, Vec<usize>)> = Vec::new();
    for (summary, timed) in checked.into_iter().flatten() {
        let start = findings.len();
        for (f, ts) in timed {
            findings.push(f);
            finding_ts.push(ts);
        }
        events.push((summary, (start..findings.len()).collect()));
    }
    // A payload drift belongs to the event of the first record in the new
    // shape (its IDs name it): that is where the TUI and the export show it.
    for f in shape_findings {
        let named: Vec<&str> = findings[f]
            .ids
            .iter()
            .filter(|(k, _)| *k != "service")
            .map(|(_, v)| v.as_str())
            .collect();
        if let Some((_, found)) = events
            .iter_mut()
            .find(|(s, _)| s.ids.iter().any(|id| named.contains(&id.value.as_str())))
        {
            found.push(f);
        }
    }
    events.sort_by(|a, b| (a.0.first_ts, &a.0.key.value).cmp(&(b.0.first_ts, &b.0.key.value)));

    // Rank the findings; events keep pointing at them by position.
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| rank_key(&findings[a]).cmp(&rank_key(&findings[b])));
    let mut new_pos = vec![0; findings.len()];
    for (pos, &old) in order.iter().enumerate() {
        new_pos[old] = pos;
    }
    for &ts in finding_ts.iter().flatten() {
        histogram.add_finding(ts);
    }
    let mut slots: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    let ranked: Vec<Finding> = order.iter().filter_map(|&i| slots[i].take()).collect();
    let (summaries, event_findings): (Vec<EventSummary>, Vec<Vec<usize>>) = events
        .into_iter()
        .map(|(s, idx)| {
            let mut v: Vec<usize> = idx.into_iter().map(|i| new_pos[i]).collect();
            v.sort();
            (s, v)
        })
        .unzip();
    Ok(Analysis {
        events: Events {
            events: summaries,
            hubs: components.hubs,
            loose: components.loose,
        },
        findings: ranked,
        event_findings,
        records: total,
        histogram,
        config_settings,
        config_history,
        clock,
        malformed: 0,
        malformed_lines: Vec::new(),
    })
}

/// Pass 2: every event record's JSON filed into buckets by its event; the
/// payload shapes of the records outside events (pass 3 reads the others).
fn fill_buckets<S: RecordScan>(
    scan: &S,
    components: &mut crate::correlate::events::Components,
    bytes: u64,
    config: &Config,
    shapes: &mut shape::Shapes,
) -> Result<spill::Buckets, AnalysisError> {
    let mut buckets = spill::Buckets::new(bytes, scan.spill_dir().as_deref())?;
    let mut at = 0usize;
    let mut spill_error = None;
    scan.scan(&mut |json| {
        let event = components.of_record.get(at).copied().unwrap_or(NO_EVENT);
        // A hub found relative to its field is named from a record of its.
        if components
            .unnamed_hubs
            .first()
            .is_some_and(|h| h.1 as usize == at)
            && let Ok(skim) = serde_json::from_slice::<Skim>(json)
        {
            components.name_hubs(at as u32, skim.ids.iter().map(|i| i.value.as_ref()));
        }
        at += 1;
        if event == NO_EVENT
            && let Ok(r) = serde_json::from_slice::<Record>(json)
        {
            shapes.add(&r, config);
        }
        if event != NO_EVENT
            && spill_error.is_none()
            && let Err(e) = buckets.push(event, json)
        {
            spill_error = Some(e);
        }
    })
    .map_err(|e| AnalysisError::Store(Box::new(e)))?;
    if let Some(e) = spill_error {
        return Err(e.into());
    }
    if at != components.of_record.len() {
        return Err(AnalysisError::Changed);
    }
    Ok(buckets)
}

/// Pass 3 over the events [`IdGraph`] found.
struct EventPass<'a> {
    events: usize,
    config: &'a Config,
    hubs: &'a HashSet<&'a str>,
}

/// Per component: the events it holds (see [`event_parts`]), each with its
/// summary and its findings with the time of their first evidence.
type PassOutput = Vec<Vec<(EventSummary, Vec<Timed>)>>;

impl EventPass<'_> {
    /// Checks one bucket of events at a time on both cores, with `clock`
    /// applied to the records; `gather` collects the clock evidence and the
    /// payload shapes (on the first pass only: neither needs the clock).
    fn check(
        &self,
        buckets: &mut spill::Buckets,
        clock: &Clock,
        mut gather: Option<(&mut Brackets, &mut shape::Shapes)>,
    ) -> Result<PassOutput, AnalysisError> {
        let mut out: PassOutput = (0..self.events).map(|_| Vec::new()).collect();
        let mut corrupt = None;
        let collect = gather.is_some();
        let check = |groups: &[(u32, Vec<&[u8]>)]| {
            let mut g = collect.then(|| (Brackets::default(), shape::Shapes::default()));
            let done = check_events(
                groups,
                self.config,
                self.hubs,
                clock,
                g.as_mut().map(|(b, s)| (b, s)),
            );
            (done, g)
        };
        buckets.each(&mut |entries| {
            let mut by_event: HashMap<u32, Vec<&[u8]>> = HashMap::new();
            for (event, json) in entries {
                by_event.entry(event).or_default().push(json);
            }
            let groups: Vec<(u32, Vec<&[u8]>)> = by_event.into_iter().collect();
            // Both cores: half the bucket's events each.
            let (left, right) = groups.split_at(groups.len() / 2);
            let ((mut done, mine), other) = std::thread::scope(|s| {
                let other = s.spawn(|| check(left));
                (check(right), other.join())
            });
            let (more, theirs) = match other {
                Ok(o) => o,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            done.extend(more);
            if let Some((brackets, shapes)) = gather.as_mut() {
                for (b, s) in [mine, theirs].into_iter().flatten() {
                    brackets.merge(b);
                    shapes.merge(s);
                }
            }
            for checked in done {
                let event = checked.event as usize;
                match checked.outcome {
                    Ok(events) => out[event] = events,
                    Err(e) => {
                        corrupt.get_or_insert(e);
                    }
                }
            }
        })?;
        match corrupt {
            Some(e) => Err(AnalysisError::Corrupt(e)),
            None => Ok(out),
        }
    }
}

/// One `clock_skew` finding per instance whose clock was corrected.
fn clock_findings(clock: &Clock) -> Vec<Finding> {
    let ms = |us: Micros| us as f64 / 1000.0;
    clock
        .offsets
        .iter()
        .map(|o| {
            let mut ids = BTreeMap::new();
            ids.insert("service".to_string(), o.service.clone());
            ids.insert("instance".to_string(), o.instance.clone());
            let way = if o.offset_us > 0 { "ahead of" } else { "behind" };
            let summary = format!(
                "{}: clock runs {:.1} ms {way} {} ({} caller/callee brackets put it between {:.1} and {:.1} ms); its records were moved {:+.1} ms",
                o.instance,
                ms(o.offset_us.abs()),
                o.against.join(", "),
                o.brackets,
                ms(o.low_us),
                ms(o.high_us),
                -ms(o.offset_us),
            );
            Finding::new(FindingKind::ClockSkew, ids, summary, o.evidence.clone())
        })
        .collect()
}

/// Severity, then impact (evidence lines), then a stable order.
fn rank_key(
    f: &Finding,
) -> (
    Severity,
    std::cmp::Reverse<usize>,
    FindingKind,
    &[SourceRef],
) {
    (
        f.severity,
        std::cmp::Reverse(f.evidence.len()),
        f.kind,
        &f.evidence,
    )
}

/// When the first piece of a finding's evidence happened, to place it on
/// the histogram.
fn first_evidence_ts(f: &Finding, ts_of: &HashMap<&SourceRef, Micros>) -> Option<Micros> {
    f.evidence
        .iter()
        .filter_map(|s| ts_of.get(s))
        .min()
        .copied()
}

/// A finding with the time of its first piece of evidence.
type Timed = (Finding, Option<Micros>);

struct Checked {
    event: u32,
    /// The events the group's records hold: one, or more when a reused
    /// idempotency key joined them (see `correlate::split`).
    outcome: Result<Vec<(EventSummary, Vec<Timed>)>, serde_json::Error>,
}

/// The events one group of records (in true order) holds, each with its
/// findings: the group itself (`None`), or its parts when an idempotency key
/// reused with another payload joined separate events.
pub fn event_parts(
    records: &[Record],
    config: &Config,
    follows: impl Fn(&str) -> bool,
) -> Vec<(Option<Vec<Record>>, Vec<Finding>)> {
    let parts = crate::correlate::split::split(records, config, follows);
    if parts.count <= 1 {
        let mut found = event_findings(records, config);
        found.extend(idempotency::key_conflicts(&parts.conflicts));
        return vec![(None, found)];
    }
    (0..parts.count)
        .map(|p| {
            let mine = parts.records_of(records, p);
            let mut found = event_findings(&mine, config);
            found.extend(idempotency::key_conflicts(
                parts.conflicts.iter().filter(|c| c.other == p),
            ));
            (Some(mine), found)
        })
        .collect()
}

/// Each event's records decoded, put in true order, summarised and
/// checked; each finding with the time of its first evidence.
fn check_events(
    groups: &[(u32, Vec<&[u8]>)],
    config: &Config,
    hubs: &HashSet<&str>,
    clock: &Clock,
    mut gather: Option<(&mut Brackets, &mut shape::Shapes)>,
) -> Vec<Checked> {
    groups
        .iter()
        .map(|(event, jsons)| {
            let outcome = jsons
                .iter()
                .map(|j| serde_json::from_slice::<Record>(j))
                .collect::<Result<Vec<Record>, _>>()
                .map(|mut records| {
                    if !clock.is_empty() {
                        records.iter_mut().for_each(|r| clock.apply(r));
                    }
                    sort_true_order(&mut records);
                    if let Some((b, s)) = gather.as_mut() {
                        b.add_event(&records, hubs);
                        for r in &records {
                            s.add(r, config);
                        }
                    }
                    let parts = event_parts(&records, config, |v| !hubs.contains(v));
                    // Most events have no finding: the lookup is built only
                    // when one has.
                    let ts_of: HashMap<&SourceRef, Micros> =
                        if parts.iter().any(|(_, found)| !found.is_empty()) {
                            records.iter().map(|r| (&r.source, r.ts)).collect()
                        } else {
                            HashMap::new()
                        };
                    parts
                        .into_iter()
                        .map(|(part, findings)| {
                            let part = part.as_deref().unwrap_or(&records);
                            let found = findings
                                .into_iter()
                                .map(|f| {
                                    let ts = first_evidence_ts(&f, &ts_of);
                                    (f, ts)
                                })
                                .collect();
                            (summarise(part, config, hubs), found)
                        })
                        .collect()
                });
            Checked {
                event: *event,
                outcome,
            }
        })
        .collect()
}

/// ID field -> value for the event's identity, used in every finding's `ids`.
pub(crate) fn event_ids(
    records: &[Record],
    config: &Config,
    kinds: &[&str],
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut named = false;
    for r in records {
        for id in &r.ids {
            let last = id.field.rsplit('.').next().unwrap_or(&id.field);
            if let Some(kind) = config.id_kind(&id.field)
                && kinds.contains(&kind)
            {
                named |= kind == "event";
                m.entry(last.to_string())
                    .or_insert_with(|| id.value.clone());
            }
        }
    }
    // Logs with no event id still name their event: by the ID kind that
    // names events best (an idempotency key, a request id), so a finding
    // can always be traced to its event.
    if !named && kinds.contains(&"event") {
        let ids = records.iter().flat_map(|r| r.ids.iter());
        if let Some(id) = crate::correlate::events::naming_id(ids, config) {
            let last = id.field.rsplit('.').next().unwrap_or(&id.field);
            m.insert(last.to_string(), id.value.clone());
        }
    }
    m
}
