//! `hopline metrics`: task and idempotency-table figures counted from the
//! records themselves (Celery events, generic lifecycle rows, table rows),
//! so a test can recount them from the raw files.
//!
//! Task states follow the incident guides' triage words. A failure from a
//! time limit or a timeout is `timed_out` and also `failed`; `revoked` is
//! Celery's revoke; `cancelled` is the application's own cancellation (a
//! cancel state, or CancelledError in the exception).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::config::Config;
use crate::detect::{Analysis, FindingKind};
use crate::index::{IndexError, Snapshot};
use crate::record::{Kind, Micros, Record, format_ts};

/// The states counted for every task name, in this order.
pub const STATES: [&str; 8] = [
    "received",
    "started",
    "succeeded",
    "failed",
    "retried",
    "revoked",
    "timed_out",
    "cancelled",
];

/// The `metrics --json` contract.
#[derive(Debug, Default, Serialize)]
pub struct Metrics {
    pub idempotency: Idempotency,
    pub outcomes: Outcomes,
    /// Every Prometheus sample ingested, with where it was read.
    pub snapshots: Vec<Sample>,
    /// Per task name.
    pub tasks: BTreeMap<String, TaskMetrics>,
    /// Every task's lifecycle events by state and minute (on the corrected
    /// clock); minutes with none are left out.
    pub task_states_per_minute: BTreeMap<&'static str, Vec<Count>>,
}

/// One Prometheus sample.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub metric: String,
    /// `path:line`.
    pub source: String,
    pub ts: String,
    pub value: f64,
    #[serde(skip)]
    at: Micros,
}

/// A Prometheus counter that names a task and a state, beside the count
/// of that state's events.
#[derive(Debug, Clone, Serialize)]
pub struct Counter {
    pub events: u64,
    pub metric: String,
    /// Set when the counter and the events disagree.
    pub note: Option<String>,
    /// `path:line` of the last snapshot's sample.
    pub source: String,
    pub state: &'static str,
    /// The last snapshot's value (counters are cumulative).
    pub value: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Idempotency {
    /// Row records by their `status` (every version a dump or a live read
    /// gave).
    pub rows_by_status: BTreeMap<String, u64>,
    /// The same by minute of the row's time; minutes with no row are left
    /// out.
    pub rows_per_minute: Vec<RowMinute>,
    /// Requests that arrived with a key an earlier record already carried
    /// (a replay, a retry with the key, a reuse for another payload): a
    /// record carrying the key and a request ID the key had not been seen
    /// with.
    pub existing_key_arrivals: u64,
    /// By minute; minutes with none are left out, but count as zero for
    /// the median.
    pub existing_key_arrivals_per_minute: Vec<Count>,
    /// The median minute's arrivals, over every minute from the first key
    /// record to the last.
    pub median_minute: u64,
    /// Runs of minutes above 3× the median minute (and at least
    /// [`SPIKE_FLOOR`] arrivals: one replay is no spike).
    pub spikes: Vec<Spike>,
}

/// Arrivals a minute needs, whatever the median, to be a spike: with a
/// median of 0, three replays that happen to share a minute would be one.
pub const SPIKE_FLOOR: u64 = 5;

#[derive(Debug, Clone, Serialize)]
pub struct RowMinute {
    pub minute: String,
    pub by_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub minute: String,
    pub count: u64,
    #[serde(skip)]
    pub at: Micros,
}

#[derive(Debug, Clone, Serialize)]
pub struct Spike {
    /// First and last minute of the run.
    pub from: String,
    pub to: String,
    pub arrivals: u64,
    /// The busiest minute's arrivals.
    pub peak: u64,
}

/// Outcome integrity, from the analysis' events (on the corrected clock).
#[derive(Debug, Default, Serialize)]
pub struct Outcomes {
    pub events: usize,
    /// Events with a once-only side effect (a charge, a ledger write).
    pub with_side_effect: usize,
    /// Events with a duplicate_side_effect finding.
    pub with_duplicate_side_effect: usize,
    /// The two above divided; null with no side effect.
    pub duplicate_side_effect_rate: Option<f64>,
    /// By minute of the events' first record.
    pub per_minute: Vec<OutcomeMinute>,
    /// By workflow: the service and message template an event starts with.
    pub workflows: BTreeMap<String, Workflow>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct OutcomeMinute {
    #[serde(skip)]
    pub at: Micros,
    pub minute: String,
    pub events: usize,
    pub with_side_effect: usize,
    pub with_duplicate_side_effect: usize,
    pub duplicate_side_effect_rate: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Workflow {
    pub events: usize,
    pub with_side_effect: usize,
    pub with_duplicate_side_effect: usize,
    pub duplicate_side_effect_rate: Option<f64>,
    /// From the event's first record to its last state mutation, over the
    /// events that mutated anything.
    pub accepted_to_completed_ms: Percentiles,
    pub per_minute: Vec<WorkflowMinute>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkflowMinute {
    pub minute: String,
    pub events: usize,
    pub accepted_to_completed_ms: Percentiles,
}

const MINUTE: Micros = 60_000_000;

fn minute_of(ts: Micros) -> Micros {
    ts.div_euclid(MINUTE) * MINUTE
}

fn rate(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Events, side effects, duplicates and accepted-to-completed times, whole
/// and by workflow and minute.
pub fn outcomes(analysis: &Analysis) -> Outcomes {
    let mut out = Outcomes::default();
    #[derive(Default)]
    struct Tally {
        events: usize,
        side: usize,
        dup: usize,
        durations: Vec<f64>,
    }
    let mut minutes: BTreeMap<Micros, Tally> = BTreeMap::new();
    let mut flows: BTreeMap<&str, (Tally, BTreeMap<Micros, Tally>)> = BTreeMap::new();
    for (i, e) in analysis.events.events.iter().enumerate() {
        let side = e.side_effects > 0;
        let dup = analysis
            .findings_of(i)
            .any(|f| f.kind == FindingKind::DuplicateSideEffect);
        let took = e
            .last_mutation_ts
            .filter(|t| *t >= e.first_ts)
            .map(|t| (t - e.first_ts) as f64 / 1000.0);
        let minute = minute_of(e.first_ts);
        let (flow, flow_minutes) = flows.entry(e.workflow.as_str()).or_default();
        for t in [
            minutes.entry(minute).or_default(),
            flow,
            flow_minutes.entry(minute).or_default(),
        ] {
            t.events += 1;
            t.side += usize::from(side);
            t.dup += usize::from(dup);
            t.durations.extend(took);
        }
    }
    for t in minutes.values() {
        out.events += t.events;
        out.with_side_effect += t.side;
        out.with_duplicate_side_effect += t.dup;
    }
    out.duplicate_side_effect_rate = rate(out.with_duplicate_side_effect, out.with_side_effect);
    out.per_minute = minutes
        .into_iter()
        .map(|(m, t)| OutcomeMinute {
            at: m,
            minute: format_ts(m),
            events: t.events,
            with_side_effect: t.side,
            with_duplicate_side_effect: t.dup,
            duplicate_side_effect_rate: rate(t.dup, t.side),
        })
        .collect();
    for (name, (t, by_minute)) in flows {
        out.workflows.insert(
            name.to_string(),
            Workflow {
                events: t.events,
                with_side_effect: t.side,
                with_duplicate_side_effect: t.dup,
                duplicate_side_effect_rate: rate(t.dup, t.side),
                accepted_to_completed_ms: Percentiles::of(t.durations),
                per_minute: by_minute
                    .into_iter()
                    .map(|(m, t)| WorkflowMinute {
                        minute: format_ts(m),
                        events: t.events,
                        accepted_to_completed_ms: Percentiles::of(t.durations),
                    })
                    .collect(),
            },
        );
    }
    out
}

/// Arrivals of an existing key, from `(ts, key, request)` sightings: the
/// count, by minute, the median minute and the spikes.
fn key_arrivals(mut seen: Vec<(Micros, String, Option<String>)>, out: &mut Idempotency) {
    seen.sort();
    let (Some(first), Some(last)) = (seen.first().map(|s| s.0), seen.last().map(|s| s.0)) else {
        return;
    };
    let mut keys: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut per_minute: BTreeMap<Micros, u64> = BTreeMap::new();
    for (ts, key, request) in &seen {
        let existed = keys.contains_key(key.as_str());
        let requests = keys.entry(key.as_str()).or_default();
        if let Some(r) = request
            && requests.insert(r.as_str())
            && existed
        {
            out.existing_key_arrivals += 1;
            *per_minute.entry(minute_of(*ts)).or_default() += 1;
        }
    }
    let span = ((minute_of(last) - minute_of(first)) / MINUTE + 1) as usize;
    let mut busy: Vec<u64> = per_minute.values().copied().collect();
    busy.sort_unstable();
    // Nearest-rank median over every minute, the quiet ones as zeros.
    let rank = span.div_ceil(2);
    let quiet = span - busy.len();
    out.median_minute = if rank <= quiet {
        0
    } else {
        busy[rank - quiet - 1]
    };
    let threshold = (3 * out.median_minute).max(SPIKE_FLOOR - 1);
    for (&m, &n) in &per_minute {
        if n <= threshold {
            continue;
        }
        match out.spikes.last_mut() {
            Some(s) if s.to == format_ts(m - MINUTE) => {
                s.to = format_ts(m);
                s.arrivals += n;
                s.peak = s.peak.max(n);
            }
            _ => out.spikes.push(Spike {
                from: format_ts(m),
                to: format_ts(m),
                arrivals: n,
                peak: n,
            }),
        }
    }
    out.existing_key_arrivals_per_minute = per_minute
        .into_iter()
        .map(|(m, count)| Count {
            minute: format_ts(m),
            count,
            at: m,
        })
        .collect();
}

#[derive(Debug, Default, Serialize)]
pub struct TaskMetrics {
    pub counts: BTreeMap<&'static str, u64>,
    /// Prometheus counters for this task's states, when snapshots hold
    /// them.
    pub prometheus: Vec<Counter>,
    /// By worker instance (the one that started the task, else the one
    /// that logged the event).
    pub instances: BTreeMap<String, InstanceMetrics>,
    pub queue_wait_ms: Percentiles,
    pub runtime_ms: Percentiles,
}

#[derive(Debug, Default, Serialize)]
pub struct InstanceMetrics {
    pub counts: BTreeMap<&'static str, u64>,
    pub queue_wait_ms: Percentiles,
    pub runtime_ms: Percentiles,
}

/// Nearest-rank percentiles over the tasks' own durations; null when no
/// task had one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

impl Percentiles {
    pub fn of(mut values: Vec<f64>) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let k = ((p / 100.0) * values.len() as f64).ceil() as usize;
            values[k.clamp(1, values.len()) - 1]
        };
        Percentiles {
            n: values.len(),
            p50: Some(rank(50.0)),
            p99: Some(rank(99.0)),
        }
    }
}

/// The states one task event counts for: one, or two for a timeout
/// (`failed` and `timed_out`).
pub fn states_of(r: &Record) -> Vec<&'static str> {
    let word = r.attr("type").or_else(|| r.attr("state")).unwrap_or("");
    let exception = r
        .attr("exception")
        .or_else(|| r.attr("error"))
        .unwrap_or("");
    let timed_out_error = ["TimeLimitExceeded", "TimeoutError", "timed out"]
        .iter()
        .any(|w| exception.contains(w));
    match state_of_word(word) {
        Some("failed") if exception.contains("CancelledError") => vec!["failed", "cancelled"],
        Some("failed") if timed_out_error => vec!["failed", "timed_out"],
        Some("timed_out") => vec!["failed", "timed_out"],
        Some(state) => vec![state],
        None => Vec::new(),
    }
}

/// The state a lifecycle word names (`task-` prefix and case aside): the
/// one vocabulary for events and for Prometheus counters, so the two are
/// counted alike.
fn state_of_word(word: &str) -> Option<&'static str> {
    match word
        .trim_start_matches("task-")
        .to_ascii_lowercase()
        .as_str()
    {
        "received" | "sent" | "enqueue" | "enqueued" | "queued" => Some("received"),
        "started" | "start" => Some("started"),
        "succeeded" | "complete" | "completed" | "success" => Some("succeeded"),
        "failed" | "fail" | "failure" => Some("failed"),
        "timeout" | "timed_out" => Some("timed_out"),
        "retried" | "retry" => Some("retried"),
        "revoked" => Some("revoked"),
        "cancel" | "cancelled" | "canceled" => Some("cancelled"),
        _ => None,
    }
}

/// Queue waits and runtimes, in milliseconds.
type Durations = (Vec<f64>, Vec<f64>);

/// What is known of one task id.
#[derive(Default)]
struct Task {
    name: Option<String>,
    received: Option<Micros>,
    started: Option<(Micros, String)>,
    ended: Option<Micros>,
    /// Celery's own `runtime` (seconds) on the success event.
    runtime_s: Option<f64>,
    /// (state, instance) of each event.
    events: Vec<(&'static str, String)>,
}

/// The figures of an index, with `analysis` of the same snapshot (its
/// events and clock).
pub fn metrics(
    snapshot: &Snapshot,
    analysis: &Analysis,
    config: &Config,
) -> Result<Metrics, IndexError> {
    let mut out = record_metrics(snapshot, &analysis.clock, config)?;
    out.outcomes = outcomes(analysis);
    Ok(out)
}

/// Everything but the outcomes: one pass over the records, on `clock`.
pub fn record_metrics(
    snapshot: &Snapshot,
    clock: &crate::correlate::Clock,
    config: &Config,
) -> Result<Metrics, IndexError> {
    let mut tasks: HashMap<String, Task> = HashMap::new();
    let mut out = Metrics::default();
    let mut rows_per_minute: BTreeMap<Micros, BTreeMap<String, u64>> = BTreeMap::new();
    let mut states_per_minute: BTreeMap<&'static str, BTreeMap<Micros, u64>> = BTreeMap::new();
    let mut key_sightings: Vec<(Micros, String, Option<String>)> = Vec::new();
    snapshot.for_each_record(&mut |mut r| {
        clock.apply(&mut r);
        if r.kind != Kind::Metric {
            let of_kind = |kind: &str| {
                r.ids
                    .iter()
                    .find(|id| config.id_kind(&id.field) == Some(kind))
                    .map(|id| id.value.clone())
            };
            if let Some(key) = of_kind("idem") {
                key_sightings.push((r.ts, key, of_kind("request")));
            }
        }
        if r.kind == Kind::TaskEvent && r.attr("task_id").is_some() {
            for state in states_of(&r) {
                *states_per_minute
                    .entry(state)
                    .or_default()
                    .entry(minute_of(r.ts))
                    .or_default() += 1;
            }
        }
        tally(&mut r, &mut out, &mut tasks, &mut rows_per_minute);
    })?;
    out.task_states_per_minute = states_per_minute
        .into_iter()
        .map(|(state, minutes)| {
            let counts = minutes
                .into_iter()
                .map(|(at, count)| Count {
                    minute: format_ts(at),
                    count,
                    at,
                })
                .collect();
            (state, counts)
        })
        .collect();
    out.idempotency.rows_per_minute = rows_per_minute
        .into_iter()
        .map(|(m, by_status)| RowMinute {
            minute: format_ts(m),
            by_status,
        })
        .collect();
    key_arrivals(key_sightings, &mut out.idempotency);
    finish_tasks(tasks, &mut out);
    Ok(out)
}

/// One record into the task, row and snapshot figures.
fn tally(
    r: &mut Record,
    out: &mut Metrics,
    tasks: &mut HashMap<String, Task>,
    rows_per_minute: &mut BTreeMap<Micros, BTreeMap<String, u64>>,
) {
    match r.kind {
        Kind::Metric => {
            let Some(value) = r.attr("value").and_then(|v| v.parse().ok()) else {
                return;
            };
            out.snapshots.push(Sample {
                labels: r
                    .attrs
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("label:")?.to_string(), v.clone())))
                    .collect(),
                metric: r.attr("metric").unwrap_or("").to_string(),
                source: r.source.to_string(),
                ts: crate::record::format_ts(r.ts),
                value,
                at: r.ts,
            });
        }
        Kind::IdemRow => {
            let status = r.attr("status").unwrap_or("").to_string();
            *rows_per_minute
                .entry(minute_of(r.ts))
                .or_default()
                .entry(status.clone())
                .or_default() += 1;
            *out.idempotency.rows_by_status.entry(status).or_default() += 1;
        }
        Kind::TaskEvent => {
            let Some(id) = r.attr("task_id").map(str::to_string) else {
                return;
            };
            let t = tasks.entry(id).or_default();
            if let Some(name) = r.attr("name").filter(|n| !n.is_empty()) {
                t.name.get_or_insert_with(|| name.to_string());
            }
            for state in states_of(r) {
                match state {
                    "received" => {
                        t.received = Some(t.received.map_or(r.ts, |at| at.min(r.ts)));
                    }
                    "started" if t.started.as_ref().is_none_or(|(at, _)| r.ts < *at) => {
                        t.started = Some((r.ts, r.instance.clone()));
                    }
                    "succeeded" | "failed" | "revoked" | "cancelled" => {
                        t.ended = Some(t.ended.map_or(r.ts, |at| at.max(r.ts)));
                        if let Some(s) = r.attr("runtime").and_then(|v| v.parse().ok()) {
                            t.runtime_s = Some(s);
                        }
                    }
                    _ => {}
                }
                t.events.push((state, r.instance.clone()));
            }
        }
        _ => {}
    }
}

/// Task counts and durations, by name and worker, and the Prometheus
/// counters beside them.
fn finish_tasks(tasks: HashMap<String, Task>, out: &mut Metrics) {
    // (queue waits, runtimes) by task name, and by name and worker.
    let mut durations: BTreeMap<(String, Option<String>), Durations> = BTreeMap::new();
    for t in tasks.into_values() {
        let name = t.name.clone().unwrap_or_else(|| "(unnamed)".into());
        let entry = out.tasks.entry(name.clone()).or_default();
        let worker = t.started.as_ref().map(|(_, w)| w.clone());
        for (state, instance) in &t.events {
            *entry.counts.entry(state).or_default() += 1;
            let at = worker.clone().unwrap_or_else(|| instance.clone());
            *entry
                .instances
                .entry(at)
                .or_default()
                .counts
                .entry(state)
                .or_default() += 1;
        }
        let queue_wait = match (t.received, &t.started) {
            (Some(r), Some((s, _))) if *s >= r => Some((s - r) as f64 / 1000.0),
            _ => None,
        };
        let runtime = t
            .runtime_s
            .map(|s| s * 1000.0)
            .or(match (&t.started, t.ended) {
                (Some((s, _)), Some(e)) if e >= *s => Some((e - s) as f64 / 1000.0),
                _ => None,
            });
        let d = durations.entry((name.clone(), None)).or_default();
        d.0.extend(queue_wait);
        d.1.extend(runtime);
        if let Some(w) = worker {
            let d = durations.entry((name, Some(w))).or_default();
            d.0.extend(queue_wait);
            d.1.extend(runtime);
        }
    }
    for ((name, instance), (queue, run)) in durations {
        let Some(task) = out.tasks.get_mut(&name) else {
            continue;
        };
        match instance {
            None => {
                task.queue_wait_ms = Percentiles::of(queue);
                task.runtime_ms = Percentiles::of(run);
            }
            Some(i) => {
                let inst = task.instances.entry(i).or_default();
                inst.queue_wait_ms = Percentiles::of(queue);
                inst.runtime_ms = Percentiles::of(run);
            }
        }
    }
    // Every state appears, at zero when none happened: a script reads
    // `counts.timed_out` without guarding.
    for task in out.tasks.values_mut() {
        for s in STATES {
            task.counts.entry(s).or_default();
        }
    }
    out.snapshots
        .sort_by(|a, b| (a.at, &a.source).cmp(&(b.at, &b.source)));
    compare_counters(out);
}

/// Label keys that name a task, and that name a state.
const TASK_LABELS: &[&str] = &["name", "task", "task_name"];
const STATE_LABELS: &[&str] = &["state", "status", "event", "type"];

/// The state a counter counts: from a state label, else from its name
/// (`celery_task_succeeded_total`).
fn counter_state(s: &Sample) -> Option<&'static str> {
    if let Some(word) = STATE_LABELS.iter().find_map(|k| s.labels.get(*k)) {
        return state_of_word(word);
    }
    // The last word of the name, or the last two (`…_timed_out_total`).
    let name = s.metric.trim_end_matches("_total");
    let mut words = name.rsplitn(3, '_');
    let last = words.next()?;
    let two = words.next().map(|w| format!("{w}_{last}"));
    two.and_then(|two| state_of_word(&two))
        .or_else(|| state_of_word(last))
}

/// For every series that names a task and a state, its last value beside
/// the count of events, with a note where they disagree.
fn compare_counters(out: &mut Metrics) {
    // The last sample of each series (metric and labels), in time order.
    let mut last: BTreeMap<(&str, &BTreeMap<String, String>), &Sample> = BTreeMap::new();
    for s in &out.snapshots {
        last.insert((&s.metric, &s.labels), s);
    }
    for s in last.into_values() {
        let Some(task) = TASK_LABELS.iter().find_map(|k| s.labels.get(*k)) else {
            continue;
        };
        let (Some(state), Some(t)) = (counter_state(s), out.tasks.get_mut(task)) else {
            continue;
        };
        let events = t.counts.get(state).copied().unwrap_or(0);
        let note = (s.value != events as f64).then(|| {
            format!(
                "{} says {} {state}, the task events {events}: events were lost, or the counter covers more than this bundle",
                s.metric, s.value
            )
        });
        t.prometheus.push(Counter {
            events,
            metric: s.metric.clone(),
            note,
            source: s.source.clone(),
            state,
            value: s.value,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(attrs: &[(&str, &str)]) -> Record {
        let mut r = crate::correlate::footprint::tests::rec(0, 1, "worker", &[], "");
        r.kind = Kind::TaskEvent;
        r.attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        r
    }

    #[test]
    fn timeouts_and_cancellations_are_told_apart() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: [Case; 7] = [
            (
                &[
                    ("type", "task-failed"),
                    ("exception", "SoftTimeLimitExceeded()"),
                ],
                &["failed", "timed_out"],
            ),
            (
                &[("type", "task-failed"), ("exception", "ValueError('bad')")],
                &["failed"],
            ),
            (
                &[
                    ("type", "task-failed"),
                    ("exception", "asyncio.CancelledError"),
                ],
                &["failed", "cancelled"],
            ),
            (
                &[("type", "task-revoked"), ("terminated", "true")],
                &["revoked"],
            ),
            (&[("state", "timeout")], &["failed", "timed_out"]),
            (&[("state", "cancel")], &["cancelled"]),
            (&[("state", "heartbeat")], &[]),
        ];
        for (attrs, want) in cases {
            assert_eq!(states_of(&event(attrs)), want, "{attrs:?}");
        }
    }

    #[test]
    fn arrivals_of_existing_keys_and_their_spikes() {
        let m = |minute: i64, second: i64| minute * MINUTE + second * 1_000_000;
        let mut seen = Vec::new();
        // Minutes 0..10: one key a minute, first sight then one replay.
        for minute in 0..10 {
            let key = format!("k{minute}");
            seen.push((m(minute, 0), key.clone(), None));
            seen.push((m(minute, 1), key.clone(), Some(format!("r{minute}"))));
            seen.push((m(minute, 2), key, Some(format!("r{minute}-again"))));
        }
        // Minutes 4 and 5: a burst of replays of k4; minute 7: two.
        for i in 0..14 {
            seen.push((m(4 + i % 2, 30), "k4".into(), Some(format!("burst{i}"))));
        }
        seen.push((m(7, 40), "k7".into(), Some("x1".into())));
        seen.push((m(7, 41), "k7".into(), Some("x1".into())));
        let mut out = Idempotency::default();
        key_arrivals(seen, &mut out);
        // The first request of a key that was seen first without one is
        // an arrival too: the key existed.
        assert_eq!(out.existing_key_arrivals, 10 * 2 + 14 + 1);
        assert_eq!(out.median_minute, 2);
        assert_eq!(out.spikes.len(), 1, "{:?}", out.spikes);
        let spike = &out.spikes[0];
        assert_eq!(spike.from, format_ts(m(4, 0)));
        assert_eq!(spike.to, format_ts(m(5, 0)));
        // 2 + 7 each, above 3 × 2; minute 7's 3 is not.
        assert_eq!((spike.arrivals, spike.peak), (18, 9));
        // A quiet run: one replay is no spike, whatever the median.
        let mut quiet = Idempotency::default();
        key_arrivals(
            vec![
                (m(0, 0), "k".into(), Some("a".into())),
                (m(9, 0), "k".into(), Some("b".into())),
            ],
            &mut quiet,
        );
        assert_eq!((quiet.existing_key_arrivals, quiet.median_minute), (1, 0));
        assert!(quiet.spikes.is_empty());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.n, p.p50, p.p99), (100, Some(50.0), Some(99.0)));
        let one = Percentiles::of(vec![7.0]);
        assert_eq!((one.p50, one.p99), (Some(7.0), Some(7.0)));
        assert_eq!(Percentiles::of(Vec::new()), Percentiles::default());
    }
}
