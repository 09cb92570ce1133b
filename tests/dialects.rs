//! One small file per dialect and wrapper, written here with its expected
//! reading: `sniff` names the dialect from content, and `ingest` gives the
//! fields, times and IDs of named records.

mod common;

use std::path::Path;

use common::run_ok;
use serde_json::Value;

struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new(files: &[(&str, &str)]) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join("bundle").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Bundle { dir }
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("bundle")
    }

    fn hop(&self) -> std::process::Command {
        let mut c = common::hopline(&self.dir.path().join("cache"));
        c.arg("--index").arg(self.dir.path().join("ix"));
        c
    }

    /// `hopline sniff --json`: path → dialect.
    fn sniffed(&self) -> Vec<(String, String)> {
        run_ok(self.hop().args(["sniff", "--json"]).arg(self.root()))
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["path"].as_str().unwrap().to_string(),
                    v["dialect"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn ingest(&self) -> Value {
        serde_json::from_str(&run_ok(
            self.hop().args(["ingest", "--json"]).arg(self.root()),
        ))
        .unwrap()
    }

    fn timeline(&self, id: &str) -> Value {
        serde_json::from_str(&run_ok(self.hop().args(["timeline", id, "--json"]))).unwrap()
    }
}

fn dialect_of<'a>(sniffed: &'a [(String, String)], path: &str) -> &'a str {
    sniffed
        .iter()
        .find(|(p, _)| Path::new(p).ends_with(path))
        .map(|(_, d)| d.as_str())
        .unwrap_or_else(|| panic!("{path} not sniffed: {sniffed:?}"))
}

#[test]
fn task_lifecycle_json_csv_and_metrics_join_the_timeline() {
    let b = Bundle::new(&[
        (
            "api.log",
            "{\"time\":1795165200000,\"level\":30,\"msg\":\"enqueue settle\",\"event_id\":\"evt_77\",\"task_id\":\"job-9\"}\n",
        ),
        (
            "tasks/lifecycle.jsonl",
            "{\"task_id\":\"job-9\",\"name\":\"settle\",\"state\":\"start\",\"time\":\"2026-11-20T09:00:01Z\",\"worker\":\"settle-worker-5d9c7b6f4-abcde\"}\n\
             {\"task_id\":\"job-9\",\"name\":\"settle\",\"state\":\"timeout\",\"time\":\"2026-11-20T09:00:31Z\",\"worker\":\"settle-worker-5d9c7b6f4-abcde\"}\n",
        ),
        (
            "tasks/history.csv",
            "task_id,name,state,time,event_id\njob-10,settle,complete,2026-11-20 09:01:00+00,evt_77\n",
        ),
        (
            "metrics/worker.prom",
            "# HELP tasks_total Tasks by state.\n# TYPE tasks_total counter\n\
             tasks_total{task=\"settle\",state=\"timeout\"} 1 1795165231000\n\
             tasks_total{task=\"settle\",state=\"complete\"} 41 1795165231000\n",
        ),
    ]);
    let s = b.sniffed();
    assert_eq!(dialect_of(&s, "tasks/lifecycle.jsonl"), "task_lifecycle");
    assert_eq!(dialect_of(&s, "tasks/history.csv"), "task_csv");
    assert_eq!(dialect_of(&s, "metrics/worker.prom"), "metrics");
    let ingest = b.ingest();
    assert_eq!(ingest["records_total"], 6, "{ingest}");
    assert_eq!(ingest["malformed_total"], 0, "{ingest}");

    let t = b.timeline("evt_77");
    let entries = t["entries"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("log", "enqueue settle"),
            ("task_event", "task start settle"),
            ("task_event", "task timeout settle"),
            ("task_event", "task complete settle"),
        ],
        "metrics never join a footprint"
    );
    assert_eq!(entries[1]["service"], "settle-worker");
    assert_eq!(entries[2]["ts"], "2026-11-20T09:00:31.000000Z");
    assert_eq!(entries[3]["source"]["path"], "tasks/history.csv");
    assert_eq!(entries[3]["source"]["line"], 2);
}
