//! Every `--json` contract, pinned on the sample: a field renamed, dropped
//! or added shows up as a diff of a reviewed file under `tests/snapshots/`
//! (`golden__*.snap`). design.md lists the fields scripts may rely on;
//! extra fields are allowed, and pinned here too so they do not drift.

mod common;

use common::{Ingested, run_ok, sample};
use serde_json::Value;

/// Each JSON document of `out` (one, or one per line), pretty-printed, with
/// what changes from run to run (timings, temporary paths) replaced.
fn golden(out: &str, index: &std::path::Path) -> String {
    let docs: Vec<Value> = match serde_json::from_str::<Value>(out) {
        Ok(v) => vec![v],
        Err(_) => out
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect(),
    };
    let mut text = String::new();
    for mut v in docs {
        redact(&mut v, &index.display().to_string());
        text.push_str(&serde_json::to_string_pretty(&v).unwrap());
        text.push('\n');
    }
    text
}

fn redact(v: &mut Value, index: &str) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match k.as_str() {
                    "seconds" => *v = Value::from("<seconds>"),
                    "index" if v.is_string() => *v = Value::from("<index>"),
                    _ => redact(v, index),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, index)),
        Value::String(s) => {
            let root = sample().display().to_string();
            *s = s.replace(&root, "<sample>").replace(index, "<index>");
        }
        _ => {}
    }
}

#[test]
fn every_json_contract_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let hop = || {
        let mut c = common::hopline(&dir.path().join("cache"));
        c.arg("--index").arg(dir.path().join("index"));
        c
    };
    let ingest = run_ok(hop().args(["ingest", "--json", "--report"]).arg(sample()));
    insta::assert_snapshot!("ingest", golden(&ingest, &dir.path().join("index")));
    let ix = Ingested::sample();
    let cases: [(&str, &[&str]); 7] = [
        ("metrics", &["metrics", "--json"]),
        ("timeline", &["timeline", "evt_39febed3e92d", "--json"]),
        (
            "timeline_reused_key",
            &["timeline", "idem_94bd00af971c3c6a", "--json"],
        ),
        ("findings", &["findings", "--json"]),
        (
            "events",
            &["events", "--json", "--until", "2026-11-20T09:03:00Z"],
        ),
        (
            "export_event",
            &["export", "evt_d2b379aa4282", "--format", "json"],
        ),
        (
            "export_incident",
            &["export", "--incident", "--format", "json"],
        ),
    ];
    for (name, args) in cases {
        let out = run_ok(ix.cmd().args(args));
        insta::assert_snapshot!(name, golden(&out, &ix.index()));
    }
    let sniff = run_ok(hop().args(["sniff", "--json"]).arg(sample()));
    insta::assert_snapshot!("sniff", golden(&sniff, &dir.path().join("index")));
}
