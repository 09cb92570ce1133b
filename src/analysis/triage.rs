//! The triage checklist, in the order the incident guides give: the
//! idempotency table first, then config across instances, task timeouts and
//! cancellations, payload shapes, outcome integrity, the correlated events,
//! and one event's timeline. Each check is a one-line verdict with a count
//! and a series over the incident window; the TUI's Triage screen and the
//! incident export both show it.

use serde::Serialize;

use crate::detect::{Analysis, FindingKind};
use crate::record::Micros;

use super::metrics::Metrics;

/// Where a check's evidence is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The findings of these kinds.
    Findings(Vec<FindingKind>),
    /// Every finding.
    AllFindings,
    /// The metrics view.
    Metrics,
    /// One event (a position in the analysis' events).
    Event(usize),
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The step, in words.
    pub step: &'static str,
    /// What was found, in one line.
    pub verdict: String,
    /// The number the verdict turns on (findings, arrivals, events).
    pub count: u64,
    /// Whether this step found something to look at.
    pub alarm: bool,
    /// Whether the bundle holds what this step looks at (an idempotency
    /// table, task events, config fingerprints): "ok" on nothing is no
    /// all-clear.
    pub applies: bool,
    /// Counts over the incident window, [`SERIES_BUCKETS`] buckets (empty
    /// when the step has nothing over time).
    pub series: Vec<u64>,
    pub evidence: Evidence,
}

pub const SERIES_BUCKETS: usize = 24;

/// `(time, count)` points into buckets over the analysis' window.
fn series(analysis: &Analysis, points: impl Iterator<Item = (Micros, u64)>) -> Vec<u64> {
    bucketed(analysis, points, SERIES_BUCKETS)
}

/// `(time, count)` points summed into `n` buckets over the analysis'
/// window (the metrics view draws its sparklines with it too); empty when
/// the window is.
pub fn bucketed(
    analysis: &Analysis,
    points: impl Iterator<Item = (Micros, u64)>,
    n: usize,
) -> Vec<u64> {
    let h = &analysis.histogram;
    let Some((start, _)) = h.span().filter(|_| n > 0) else {
        return Vec::new();
    };
    let end = h.end().max(start + 1);
    let width = ((end - start) / n as Micros).max(1);
    let mut out = vec![0; n];
    for (at, count) in points {
        if at < start || at >= end {
            continue;
        }
        out[(((at - start) / width) as usize).min(n - 1)] += count;
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn triage(analysis: &Analysis, metrics: &Metrics) -> Vec<Check> {
    let count = |kinds: &[FindingKind]| {
        analysis
            .findings
            .iter()
            .filter(|f| kinds.contains(&f.kind))
            .count() as u64
    };
    let mut checks = Vec::new();

    // 1. The idempotency table: keys arriving again, in spikes.
    let idem = &metrics.idempotency;
    let key_kinds = vec![
        FindingKind::KeyConflict,
        FindingKind::KeyDrift,
        FindingKind::StuckProcessing,
    ];
    let key_findings = count(&key_kinds);
    let processing = idem.rows_by_status.get("processing").copied().unwrap_or(0);
    checks.push(Check {
        step: "idempotency table",
        verdict: format!(
            "{}; {} reused a key, {}, {} processing",
            plural(key_findings, "key finding", "key findings"),
            plural(idem.existing_key_arrivals, "request", "requests"),
            plural(idem.spikes.len() as u64, "spike", "spikes"),
            plural(processing, "row", "rows"),
        ),
        count: key_findings,
        alarm: key_findings > 0 || !idem.spikes.is_empty(),
        applies: !idem.rows_by_status.is_empty()
            || idem.existing_key_arrivals > 0
            || key_findings > 0,
        series: series(
            analysis,
            idem.existing_key_arrivals_per_minute
                .iter()
                .map(|c| (c.at, c.count)),
        ),
        evidence: Evidence::Findings(key_kinds),
    });

    // 2. Config across instances.
    let drift = count(&[FindingKind::ConfigDrift]);
    let instances = analysis.config_settings.len() as u64;
    let reloads = crate::detect::config_drift::changed_lines(&analysis.config_history) as u64;
    let reloaded = if reloads == 0 {
        String::new()
    } else {
        format!(
            "; {} changed settings",
            plural(reloads, "reload", "reloads")
        )
    };
    checks.push(Check {
        step: "config hash",
        verdict: if instances == 0 {
            "no instance logged its config".to_string()
        } else if drift == 0 {
            format!(
                "one config per service ({} logged one){reloaded}",
                plural(instances, "instance", "instances")
            )
        } else {
            format!(
                "{} with instances on different configs{reloaded}",
                plural(drift, "service", "services")
            )
        },
        count: drift + reloads,
        alarm: drift > 0 || reloads > 0,
        applies: instances > 0,
        series: series(analysis, analysis.config_history.iter().map(|s| (s.ts, 1))),
        evidence: Evidence::Findings(vec![FindingKind::ConfigDrift]),
    });

    // 3. Task timeouts and cancellations: silent ones leave partial writes.
    let state = |s: &str| {
        metrics
            .tasks
            .values()
            .map(|t| t.counts.get(s).copied().unwrap_or(0))
            .sum::<u64>()
    };
    let partial = count(&[FindingKind::PartialWrite]);
    let (timed_out, revoked, cancelled) =
        (state("timed_out"), state("revoked"), state("cancelled"));
    let stopped = ["timed_out", "revoked", "cancelled"];
    checks.push(Check {
        step: "timeouts, cancellations",
        verdict: format!(
            "{}; {timed_out} timed out, {revoked} revoked, {cancelled} cancelled",
            plural(partial, "partial write", "partial writes")
        ),
        count: partial,
        alarm: partial > 0,
        applies: !metrics.tasks.is_empty() || partial > 0,
        series: series(
            analysis,
            stopped
                .iter()
                .filter_map(|s| metrics.task_states_per_minute.get(s))
                .flatten()
                .map(|c| (c.at, c.count)),
        ),
        evidence: if partial > 0 {
            Evidence::Findings(vec![FindingKind::PartialWrite])
        } else {
            Evidence::Metrics
        },
    });

    // 4. Payload shapes.
    let shapes = count(&[FindingKind::PayloadShapeDrift]);
    checks.push(Check {
        step: "payload shapes",
        verdict: if shapes == 0 {
            "no message template changed its fields".to_string()
        } else {
            format!(
                "{} changed fields between versions or instances",
                plural(shapes, "template", "templates")
            )
        },
        count: shapes,
        alarm: shapes > 0,
        applies: true,
        series: Vec::new(),
        evidence: Evidence::Findings(vec![FindingKind::PayloadShapeDrift]),
    });

    // 5. Outcome integrity: side effects done twice, amounts that disagree.
    let o = &metrics.outcomes;
    let deltas = count(&[FindingKind::ReconciliationDelta]);
    let rate = o
        .duplicate_side_effect_rate
        .map_or("-".to_string(), |r| format!("{:.2}%", r * 100.0));
    checks.push(Check {
        step: "outcome integrity",
        verdict: format!(
            "{} of {} side effects done twice ({rate}); {}",
            o.with_duplicate_side_effect,
            o.with_side_effect,
            plural(deltas, "amount delta", "amount deltas")
        ),
        count: o.with_duplicate_side_effect as u64 + deltas,
        alarm: o.with_duplicate_side_effect > 0 || deltas > 0,
        applies: o.with_side_effect > 0 || deltas > 0,
        series: series(
            analysis,
            o.per_minute
                .iter()
                .map(|m| (m.at, m.with_duplicate_side_effect as u64)),
        ),
        evidence: Evidence::Findings(vec![
            FindingKind::DuplicateSideEffect,
            FindingKind::ReconciliationDelta,
        ]),
    });

    // 6. The events, correlated across every ID.
    let events = analysis.events.events.len() as u64;
    let with = analysis
        .event_findings
        .iter()
        .filter(|f| !f.is_empty())
        .count() as u64;
    checks.push(Check {
        step: "correlated events",
        verdict: format!(
            "{}, {} with findings; {} in all",
            plural(events, "event", "events"),
            with,
            plural(analysis.findings.len() as u64, "finding", "findings")
        ),
        count: with,
        alarm: with > 0,
        applies: events > 0,
        series: {
            let h = analysis.histogram.resample(SERIES_BUCKETS);
            h.buckets.iter().map(|b| b.findings).collect()
        },
        evidence: Evidence::AllFindings,
    });

    // 7. One event's timeline: the most severe finding's.
    let worst = analysis
        .findings
        .iter()
        .zip(analysis.finding_events())
        .find_map(|(f, e)| e.map(|e| (f, e)));
    if let Some((f, e)) = worst {
        let event = &analysis.events.events[e];
        checks.push(Check {
            step: "one event's timeline",
            verdict: format!(
                "{} ({}): {} records, {}",
                event.key.value,
                f.kind.as_str(),
                event.records,
                plural(event.services.len() as u64, "service", "services")
            ),
            count: event.records as u64,
            alarm: true,
            applies: true,
            series: Vec::new(),
            evidence: Evidence::Event(e),
        });
    }
    checks
}
