//! Generated bundles with ground truth (examples/gen_bundle.rs): findings
//! must have precision and recall 1.0 against the planted anomalies, benign
//! traps must stay silent, and timelines must come out in true order.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::run_ok;
use serde_json::Value;

struct Truth {
    /// event_id -> its ground truth object
    events: BTreeMap<String, Value>,
    /// any ID -> event_id
    owner: BTreeMap<String, String>,
}

fn generate(dir: &Path, events: u32, seed: u32, skew_ms: i64) -> Truth {
    generate_with(dir, events, seed, skew_ms, &[])
}

fn generate_with(dir: &Path, events: u32, seed: u32, skew_ms: i64, extra: &[&str]) -> Truth {
    let ok = Command::new(common::generator())
        .args(extra)
        .args([
            "--events",
            &events.to_string(),
            "--seed",
            &seed.to_string(),
            "--skew-ms",
            &skew_ms.to_string(),
            "--out",
        ])
        .arg(dir)
        .status()
        .unwrap();
    assert!(ok.success());
    let text = std::fs::read_to_string(dir.join(".truth.jsonl")).unwrap();
    let mut truth = Truth {
        events: BTreeMap::new(),
        owner: BTreeMap::new(),
    };
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let evt = v["event_id"].as_str().unwrap().to_string();
        for key in ["request_ids", "idem_keys", "task_ids"] {
            for id in v[key].as_array().unwrap() {
                truth
                    .owner
                    .insert(id.as_str().unwrap().to_string(), evt.clone());
            }
        }
        truth.owner.insert(evt.clone(), evt.clone());
        truth.events.insert(evt, v);
    }
    truth
}

/// An event's records in true order, as the generator wrote them down.
fn true_order(truth: &Value) -> Vec<(String, u64)> {
    truth["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_u64().unwrap()))
        .collect()
}

/// A `timeline --json` answer's entries as `path:line`s, in its order.
fn entry_order(timeline: &Value) -> Vec<(String, u64)> {
    timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"]["path"].as_str().unwrap().to_string(),
                e["source"]["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `skew_ms`: how far the generator runs the ledger-service clock ahead.
fn check_seed(events: u32, seed: u32, skew_ms: i64) {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let truth = generate(&bundle, events, seed, skew_ms);
    let cache = tmp.path().join("cache");
    let index = tmp.path().join("index");
    let hop = || {
        let mut c = common::hopline(&cache);
        c.arg("--index").arg(&index);
        c
    };
    let ingest: Value =
        serde_json::from_str(&run_ok(hop().args(["ingest", "--json"]).arg(&bundle))).unwrap();
    assert_eq!(ingest["malformed_total"], 0, "{ingest}");

    // Expected: (kind, event) for every planted anomaly.
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for (evt, v) in &truth.events {
        for a in v["anomalies"].as_array().unwrap() {
            expected.insert((a.as_str().unwrap().to_string(), evt.clone()));
        }
    }
    assert!(!expected.is_empty(), "seed {seed} planted nothing");

    let out = run_ok(hop().args(["findings", "--json"]));
    let mut got: BTreeSet<(String, String)> = BTreeSet::new();
    let mut skewed: Vec<Value> = Vec::new();
    for line in out.lines() {
        let f: Value = serde_json::from_str(line).unwrap();
        if f["kind"] == "clock_skew" {
            // About an instance, not an event.
            skewed.push(f);
            continue;
        }
        let owner = f["ids"]
            .as_object()
            .unwrap()
            .values()
            .find_map(|id| truth.owner.get(id.as_str().unwrap()))
            .unwrap_or_else(|| panic!("finding names no known event: {f}"));
        got.insert((f["kind"].as_str().unwrap().to_string(), owner.clone()));
    }
    let missed: Vec<_> = expected.difference(&got).collect();
    let false_alarms: Vec<_> = got.difference(&expected).collect();
    assert!(missed.is_empty(), "seed {seed}: missed {missed:?}");
    assert!(
        false_alarms.is_empty(),
        "seed {seed}: false alarms {false_alarms:?}"
    );
    if skew_ms == 0 {
        assert!(
            skewed.is_empty(),
            "seed {seed}: no clock is off: {skewed:?}"
        );
    } else {
        assert_eq!(skewed.len(), 1, "seed {seed}: {skewed:?}");
        let instance = skewed[0]["ids"]["instance"].as_str().unwrap();
        assert!(instance.starts_with("ledger-service-"), "{skewed:?}");
    }

    check_metrics(&bundle, &truth, &hop);

    // A payload drift belongs to the event where the new shape starts, so
    // the event list, the TUI and the export can show it with that event.
    let events = run_ok(hop().args(["events", "--json"]));
    for (_, evt) in expected.iter().filter(|(k, _)| k == "payload_shape_drift") {
        let listed: Value = events
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|e| {
                e["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["value"] == evt.as_str())
            })
            .unwrap_or_else(|| panic!("seed {seed}: {evt} not listed"));
        assert!(
            listed["findings"]
                .to_string()
                .contains("payload_shape_drift"),
            "seed {seed}: {listed}"
        );
    }

    // True order, for one event of each story.
    let mut seen_story = BTreeSet::new();
    for (evt, v) in &truth.events {
        let story = format!("{:?}{:?}", v["anomalies"], v["trap"]);
        if !seen_story.insert(story) {
            continue;
        }
        let t: Value =
            serde_json::from_str(&run_ok(hop().args(["timeline", evt, "--json"]))).unwrap();
        assert_eq!(
            entry_order(&t),
            true_order(v),
            "seed {seed}: order of {evt}"
        );
        for e in t["entries"].as_array().unwrap() {
            let moved = e["skew_ms"].as_i64().unwrap();
            if e["service"] == "ledger-service" {
                assert!((moved - skew_ms).abs() <= 2, "seed {seed}: {e}");
            } else {
                assert_eq!(moved, 0, "seed {seed}: {e}");
            }
        }
    }
}

/// `metrics --json` recounted from the raw files and the truth: task
/// states from celery-events.jsonl, rows from the CSV dump, outcomes from
/// the lines each event's truth lists, key arrivals from the API's lines.
fn check_metrics(bundle: &Path, truth: &Truth, hop: &dyn Fn() -> Command) {
    let m: Value = serde_json::from_str(&run_ok(hop().args(["metrics", "--json"]))).unwrap();
    let read = |rel: &str| std::fs::read_to_string(bundle.join(rel)).unwrap();
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in truth.events.values() {
        for (path, _) in true_order(v) {
            files
                .entry(path.clone())
                .or_insert_with(|| read(&path).lines().map(str::to_string).collect());
        }
    }

    let mut states: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut name_of: BTreeMap<String, String> = BTreeMap::new();
    let celery: Vec<Value> = files["celery-events.jsonl"]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in &celery {
        if let Some(name) = e["name"].as_str() {
            name_of.insert(e["uuid"].as_str().unwrap().into(), name.into());
        }
    }
    for e in &celery {
        let state = e["type"].as_str().unwrap().trim_start_matches("task-");
        let name = name_of[e["uuid"].as_str().unwrap()].clone();
        *states.entry((name, state.to_string())).or_default() += 1;
    }
    assert!(!states.is_empty());
    for ((name, state), n) in &states {
        assert_eq!(m["tasks"][name]["counts"][state], *n, "{name} {state}");
    }

    let rows = &files["db/operation_log.csv"];
    let by_minute: u64 = m["idempotency"]["rows_per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["by_status"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_minute, rows.len() as u64 - 1, "every row, header aside");

    let once = ["charge created", "ledger entry written", "refund created"];
    let with_side_effect = truth
        .events
        .values()
        .filter(|v| {
            true_order(v)
                .iter()
                .any(|(p, l)| once.iter().any(|w| files[p][*l as usize - 1].contains(w)))
        })
        .count();
    let duplicated = truth
        .events
        .values()
        .filter(|v| v["anomalies"].to_string().contains("duplicate_side_effect"))
        .count();
    let o = &m["outcomes"];
    assert_eq!(o["events"], truth.events.len(), "{o}");
    assert_eq!(o["with_side_effect"], with_side_effect);
    assert_eq!(o["with_duplicate_side_effect"], duplicated);

    let api = files
        .keys()
        .find(|p| p.starts_with("payments-api"))
        .unwrap();
    let arrivals = files[api]
        .iter()
        .filter(|l| l.contains("\"request_id\"") && l.contains("\"idempotency_key\""))
        .count();
    assert_eq!(m["idempotency"]["existing_key_arrivals"], arrivals);
}

#[test]
fn findings_match_ground_truth_exactly_seed_1() {
    check_seed(3000, 1, 0);
}

#[test]
fn findings_match_ground_truth_exactly_seed_42() {
    check_seed(1500, 42, 0);
}

/// The ledger's clock runs ahead far enough to put its lines after the
/// task that wrote them: found, corrected, and the order is true again.
#[test]
fn a_skewed_ledger_clock_is_found_and_corrected_seed_7() {
    check_seed(1500, 7, 250);
}

/// Behind, it would put the ledger write before the charge it records.
#[test]
fn a_clock_behind_is_found_and_corrected_seed_9() {
    check_seed(800, 9, -120);
}

/// `timeline` straight after `ingest`, with no analysis run yet, still
/// orders on the corrected clock: it estimates the offsets once, keeps
/// them with the index, and later timelines read them back.
#[test]
fn a_timeline_right_after_ingest_is_on_the_corrected_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let truth = generate(&bundle, 800, 9, -120);
    let cache = tmp.path().join("cache");
    let index = tmp.path().join("index");
    let hop = || {
        let mut c = common::hopline(&cache);
        c.arg("--index").arg(&index);
        c
    };
    // Without the analysis ingest ends with, the first timeline estimates
    // the clock itself.
    run_ok(hop().args(["ingest", "--no-analysis"]).arg(&bundle));
    let (evt, v) = truth
        .events
        .iter()
        .find(|(_, v)| {
            v["order"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p[0].as_str().unwrap().starts_with("ledger"))
        })
        .expect("an event that reaches the ledger");
    let want = true_order(v);
    // Round 3 follows an ingest that changed the index without analysing
    // it: the earlier offsets are used, and said to be older. Round 4
    // follows an ingest as users run it, which ends with the analysis.
    let rounds = [
        (1, true, false),
        (2, false, false),
        (3, false, true),
        (4, false, false),
    ];
    for (round, estimates, older) in rounds {
        if round >= 3 {
            std::fs::write(
                bundle.join(format!("late{round}.log")),
                "{\"ts\":\"2026-11-24T03:00:00Z\",\"level\":\"info\",\"service\":\"late\",\"msg\":\"started\"}\n",
            )
            .unwrap();
            let mut ingest = hop();
            ingest.arg("ingest");
            if round == 3 {
                ingest.arg("--no-analysis");
            }
            run_ok(ingest.arg(&bundle));
        }
        let out = common::run(hop().args(["timeline", evt, "--json"]));
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("estimating clock offsets"),
            estimates,
            "round {round}: {stderr}"
        );
        assert_eq!(
            stderr.contains("estimated before the last ingest"),
            older,
            "round {round}: {stderr}"
        );
        let t: Value = serde_json::from_slice(&out.stdout).unwrap();
        let entries = t["entries"].as_array().unwrap();
        assert_eq!(entry_order(&t), want, "round {round}: order of {evt}");
        let ledger = entries
            .iter()
            .find(|e| e["service"] == "ledger-service")
            .unwrap();
        let moved = ledger["skew_ms"].as_i64().unwrap();
        assert!((moved + 120).abs() <= 2, "round {round}: {ledger}");
    }
}

/// Two runs of the same system that differ in one worker setting: `diff`
/// names that setting, its service and both values, and nothing else. A
/// bundle of another seed, as a control, differs in much more.
#[test]
fn diff_names_the_one_setting_two_runs_differ_in() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    generate(&a, 400, 3, 0);
    generate_with(&b, 400, 3, 0, &["--worker-setting", "soft_time_limit_s=30"]);
    generate(&c, 400, 4, 0);
    let cache = tmp.path().join("cache");
    let diff = |x: &Path, y: &Path| -> Value {
        let mut cmd = common::hopline(&cache);
        cmd.args(["diff", "--json"]).arg(x).arg(y);
        serde_json::from_str(&run_ok(&mut cmd)).unwrap()
    };
    let d = diff(&a, &b);
    let config = d["config"].as_array().unwrap();
    assert_eq!(config.len(), 1, "{d}");
    assert_eq!(config[0]["service"], "billing-worker");
    assert_eq!(
        config[0]["settings"],
        serde_json::json!([{"what": "soft_time_limit_s", "a": ["55"], "b": ["30"]}])
    );
    assert_ne!(config[0]["fingerprint"]["a"], config[0]["fingerprint"]["b"]);
    for empty in ["findings", "tasks", "outcomes", "shapes"] {
        assert_eq!(d[empty], serde_json::json!([]), "{empty}: {d}");
    }
    assert_eq!(d["templates"], serde_json::json!({"new": [], "gone": []}));

    // The same bundle against itself: nothing at all.
    let same = diff(&a, &a);
    assert_eq!(same["config"], serde_json::json!([]));
    let mut text = common::hopline(&cache);
    text.arg("diff").arg(&a).arg(&a);
    assert!(run_ok(&mut text).contains("no differences"));

    // Another seed: other stories, other timings.
    let other = diff(&a, &c);
    assert!(!other["findings"].as_array().unwrap().is_empty(), "{other}");
    assert!(!other["tasks"].as_array().unwrap().is_empty(), "{other}");
}
