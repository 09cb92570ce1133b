//! `hopline diff A B`: two bundles (staging and prod, before and after a
//! deploy) side by side. Only what changed is listed: config per service
//! (the fingerprint and the settings behind it), findings by kind, task and
//! outcome figures, message templates new or gone, payload shapes changed.
//! Two runs of the same system that differ in one setting give one entry.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::detect::shape::Shapes;
use crate::detect::{Analysis, FindingKind, config_drift::ConfigSetting};
use crate::index::{IndexError, Snapshot};

use super::metrics::{Metrics, Percentiles, STATES};

/// One bundle, analysed, with its figures.
pub struct Side<'a> {
    pub label: String,
    pub snapshot: Snapshot,
    pub analysis: &'a Analysis,
    pub metrics: &'a Metrics,
    pub config: &'a Config,
}

/// The `diff --json` contract.
#[derive(Debug, Default, Serialize)]
pub struct Diff {
    pub a: Summary,
    pub b: Summary,
    pub config: Vec<ConfigChange>,
    pub findings: Vec<Change<usize>>,
    pub tasks: Vec<TaskChange>,
    pub outcomes: Vec<Change<Option<f64>>>,
    pub templates: Templates,
    /// The detail of each template whose fields changed: `added`,
    /// `removed`, `retyped` (as in a payload_shape_drift finding).
    pub shapes: Vec<Value>,
}

impl Diff {
    /// Whether anything at all changed.
    pub fn is_empty(&self) -> bool {
        self.config.is_empty()
            && self.findings.is_empty()
            && self.tasks.is_empty()
            && self.outcomes.is_empty()
            && self.templates.new.is_empty()
            && self.templates.gone.is_empty()
            && self.shapes.is_empty()
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub label: String,
    pub records: u64,
    pub events: usize,
    pub findings: usize,
}

/// A service whose configuration differs: its fingerprints on each side
/// and each setting whose values differ.
#[derive(Debug, Serialize)]
pub struct ConfigChange {
    pub service: String,
    /// The fingerprint field and its values (one per distinct value over
    /// the instances).
    pub fingerprint: Change<Vec<String>>,
    pub settings: Vec<Change<Vec<String>>>,
}

/// One figure, on each side. `what` names it.
#[derive(Debug, Serialize)]
pub struct Change<T> {
    pub what: String,
    pub a: T,
    pub b: T,
}

#[derive(Debug, Serialize)]
pub struct TaskChange {
    pub task: String,
    pub what: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Templates {
    pub new: Vec<TemplateCount>,
    pub gone: Vec<TemplateCount>,
}

#[derive(Debug, Serialize)]
pub struct TemplateCount {
    pub service: String,
    pub template: String,
    pub records: u64,
}

pub fn diff(a: &Side, b: &Side) -> Result<Diff, IndexError> {
    let summary = |s: &Side| Summary {
        label: s.label.clone(),
        records: s.analysis.records,
        events: s.analysis.events.events.len(),
        findings: s.analysis.findings.len(),
    };
    let mut out = Diff {
        a: summary(a),
        b: summary(b),
        config: config_changes(&a.analysis.config_settings, &b.analysis.config_settings),
        ..Diff::default()
    };

    let kinds = |s: &Side| {
        let mut m: BTreeMap<FindingKind, usize> = BTreeMap::new();
        for f in &s.analysis.findings {
            *m.entry(f.kind).or_default() += 1;
        }
        m
    };
    let (ka, kb) = (kinds(a), kinds(b));
    for kind in FindingKind::ALL {
        let (x, y) = (
            ka.get(&kind).copied().unwrap_or(0),
            kb.get(&kind).copied().unwrap_or(0),
        );
        if x != y {
            out.findings.push(Change {
                what: kind.as_str().to_string(),
                a: x,
                b: y,
            });
        }
    }

    out.tasks = task_changes(a.metrics, b.metrics);
    out.outcomes = outcome_changes(a.metrics, b.metrics);

    let mut shapes = Shapes::default();
    for (name, side) in [("a", a), ("b", b)] {
        side.snapshot
            .for_each_record(&mut |r| shapes.add_as(&r, side.config, name))?;
    }
    let compared = shapes.compare("a", "b");
    let counts = |v: Vec<(String, String, u64)>| {
        v.into_iter()
            .map(|(service, template, records)| TemplateCount {
                service,
                template,
                records,
            })
            .collect()
    };
    out.templates = Templates {
        new: counts(compared.new),
        gone: counts(compared.gone),
    };
    out.shapes = compared.changed;
    Ok(out)
}

/// Per service: every fingerprint and setting value its instances ran.
type ServiceConfig =
    BTreeMap<String, (String, BTreeSet<String>, BTreeMap<String, BTreeSet<String>>)>;

fn by_service(settings: &[ConfigSetting]) -> ServiceConfig {
    let mut out: ServiceConfig = BTreeMap::new();
    for s in settings {
        let e = out.entry(s.service.clone()).or_default();
        e.0 = s.setting.clone();
        e.1.insert(s.value.clone());
        for (k, v) in &s.settings {
            e.2.entry(k.clone()).or_default().insert(v.clone());
        }
    }
    out
}

fn config_changes(a: &[ConfigSetting], b: &[ConfigSetting]) -> Vec<ConfigChange> {
    let (a, b) = (by_service(a), by_service(b));
    let services: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let none = (String::new(), BTreeSet::new(), BTreeMap::new());
    let mut out = Vec::new();
    for service in services {
        let x = a.get(service).unwrap_or(&none);
        let y = b.get(service).unwrap_or(&none);
        if x.1 == y.1 && x.2 == y.2 {
            continue;
        }
        let names: BTreeSet<&String> = x.2.keys().chain(y.2.keys()).collect();
        let values = |m: &BTreeMap<String, BTreeSet<String>>, k: &str| {
            m.get(k)
                .map(|v| v.iter().cloned().collect())
                .unwrap_or_default()
        };
        let settings = names
            .into_iter()
            .filter(|k| x.2.get(*k) != y.2.get(*k))
            .map(|k| Change {
                what: k.clone(),
                a: values(&x.2, k),
                b: values(&y.2, k),
            })
            .collect();
        out.push(ConfigChange {
            service: service.clone(),
            fingerprint: Change {
                what: if x.0.is_empty() {
                    y.0.clone()
                } else {
                    x.0.clone()
                },
                a: x.1.iter().cloned().collect(),
                b: y.1.iter().cloned().collect(),
            },
            settings,
        });
    }
    out
}

fn task_changes(a: &Metrics, b: &Metrics) -> Vec<TaskChange> {
    let names: BTreeSet<&String> = a.tasks.keys().chain(b.tasks.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (x, y) = (a.tasks.get(name), b.tasks.get(name));
        let count = |t: Option<&super::metrics::TaskMetrics>, s: &str| {
            Some(t.and_then(|t| t.counts.get(s).copied()).unwrap_or(0) as f64)
        };
        let mut figures: Vec<(String, Option<f64>, Option<f64>)> = STATES
            .iter()
            .map(|s| (s.to_string(), count(x, s), count(y, s)))
            .collect();
        let pct = |t: Option<&super::metrics::TaskMetrics>,
                   f: fn(&super::metrics::TaskMetrics) -> Percentiles| {
            t.map(f).unwrap_or_default()
        };
        for (what, f) in [
            (
                "queue_wait_ms",
                (|t: &super::metrics::TaskMetrics| t.queue_wait_ms)
                    as fn(&super::metrics::TaskMetrics) -> Percentiles,
            ),
            ("runtime_ms", |t| t.runtime_ms),
        ] {
            let (p, q) = (pct(x, f), pct(y, f));
            figures.push((format!("{what}.p50"), p.p50, q.p50));
            figures.push((format!("{what}.p99"), p.p99, q.p99));
        }
        for (what, a, b) in figures {
            if a != b {
                out.push(TaskChange {
                    task: name.clone(),
                    what,
                    a,
                    b,
                });
            }
        }
    }
    out
}

fn outcome_changes(a: &Metrics, b: &Metrics) -> Vec<Change<Option<f64>>> {
    let (x, y) = (&a.outcomes, &b.outcomes);
    let mut figures: Vec<(String, Option<f64>, Option<f64>)> = vec![
        (
            "duplicate_side_effect_rate".into(),
            x.duplicate_side_effect_rate,
            y.duplicate_side_effect_rate,
        ),
        (
            "events".into(),
            Some(x.events as f64),
            Some(y.events as f64),
        ),
        (
            "with_side_effect".into(),
            Some(x.with_side_effect as f64),
            Some(y.with_side_effect as f64),
        ),
    ];
    let flows: BTreeSet<&String> = x.workflows.keys().chain(y.workflows.keys()).collect();
    for flow in flows {
        let p = |o: &super::metrics::Outcomes| {
            o.workflows
                .get(flow)
                .map(|w| w.accepted_to_completed_ms)
                .unwrap_or_default()
        };
        let (p, q) = (p(x), p(y));
        figures.push((
            format!("{flow}: accepted_to_completed_ms.p50"),
            p.p50,
            q.p50,
        ));
        figures.push((
            format!("{flow}: accepted_to_completed_ms.p99"),
            p.p99,
            q.p99,
        ));
    }
    figures
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(what, a, b)| Change { what, a, b })
        .collect()
}
