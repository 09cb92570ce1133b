//! The built binary on the hand-written sample bundle: ingest, timeline,
//! findings, events, export, and the exit codes scripts rely on.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{Ingested, line_of, run, run_ok, sample};
use serde_json::Value;

/// The kinds of the findings a `timeline --json` reports.
fn finding_kinds(timeline: &Value) -> BTreeSet<&str> {
    timeline["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect()
}

const DOUBLE_CHARGE_REQ: &str = "req_738a5165a0ab";
const DOUBLE_CHARGE_EVT: &str = "evt_39febed3e92d";

#[test]
fn double_charge_timeline_spans_services_in_true_order_with_provenance() {
    let ix = Ingested::sample();
    let out = run_ok(ix.cmd().args(["timeline", DOUBLE_CHARGE_REQ, "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["query"], DOUBLE_CHARGE_REQ);
    let entries = v["entries"].as_array().unwrap();

    let services: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    for s in [
        "api-gateway",
        "payments-api",
        "billing-worker",
        "ledger-service",
        "webhook-dispatcher",
    ] {
        assert!(services.contains(s), "{s} missing from {services:?}");
    }

    // True order: timestamps never go back.
    let ts: Vec<&str> = entries.iter().map(|e| e["ts"].as_str().unwrap()).collect();
    let mut sorted = ts.clone();
    sorted.sort();
    assert_eq!(ts, sorted);

    // Every entry points at the line it came from. (CSV rows are re-quoted,
    // so for them check the key is on that line.)
    for e in entries {
        let path = sample().join(e["source"]["path"].as_str().unwrap());
        let line = line_of(&path, e["source"]["line"].as_u64().unwrap());
        if e["kind"] == "idem_row" {
            assert!(line.starts_with("idem_"), "{line}");
        } else {
            let msg = e["message"].as_str().unwrap();
            let word = msg.split(' ').next().unwrap();
            assert!(
                line.contains(word),
                "{path:?}:{} {line} lacks {msg}",
                e["source"]["line"]
            );
        }
    }

    // Transitive: the gateway line carries only reqId, the ledger line only
    // idem_key, the worker line only task_id; all are reached.
    let ids: BTreeSet<&str> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert!(ids.contains(DOUBLE_CHARGE_EVT));
    assert!(
        ids.contains("req_982f13cc3771"),
        "the retry's new request id"
    );
    let kinds = finding_kinds(&v);
    assert_eq!(
        kinds,
        BTreeSet::from(["duplicate_side_effect", "key_drift"])
    );

    // The same footprint from any of its IDs.
    let from_task =
        run_ok(
            ix.cmd()
                .args(["timeline", "b6e7faf4-4c5b-4c64-932e-2a0613aaf594", "--json"]),
        );
    let w: Value = serde_json::from_str(&from_task).unwrap();
    assert_eq!(w["entries"].as_array().unwrap().len(), entries.len());
}

#[test]
fn ingesting_twice_adds_nothing() {
    let ix = Ingested::sample();
    let count = |out: &str| -> (u64, u64) {
        let v: Value = serde_json::from_str(out).unwrap();
        (
            v["records_added"].as_u64().unwrap(),
            v["records_total"].as_u64().unwrap(),
        )
    };
    let again = run_ok(ix.cmd().args(["ingest", "--json"]).arg(sample()));
    let (added, total) = count(&again);
    assert_eq!(added, 0);
    assert_eq!(total, 967);
    let v: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(v["analysis"]["kept_already"], true, "{v}");
}

#[test]
fn ingest_keeps_the_analysis_and_a_stale_one_is_never_shown() {
    let ix = tempfile::tempdir().unwrap();
    let hop = || {
        let mut c = common::hopline(&ix.path().join("cache"));
        c.arg("--index").arg(ix.path().join("index"));
        c
    };
    let ingest: Value =
        serde_json::from_str(&run_ok(hop().args(["ingest", "--json"]).arg(sample()))).unwrap();
    assert_eq!(ingest["analysis"]["kept_already"], false, "{ingest}");
    assert_eq!(ingest["analysis"]["events"], 51, "{ingest}");
    assert_eq!(ingest["analysis"]["findings"], 5, "{ingest}");
    let kept = ix.path().join("index/analysis.zst");
    let written = std::fs::metadata(&kept).unwrap().modified().unwrap();

    // What is read from the kept file equals what a fresh analysis makes,
    // and reading it does not write it again.
    let findings_kept = run_ok(hop().args(["findings", "--json"]));
    let events_kept = run_ok(hop().args(["events", "--json"]));
    assert_eq!(
        std::fs::metadata(&kept).unwrap().modified().unwrap(),
        written
    );
    std::fs::remove_file(&kept).unwrap();
    assert_eq!(run_ok(hop().args(["findings", "--json"])), findings_kept);
    assert_eq!(run_ok(hop().args(["events", "--json"])), events_kept);
    assert!(kept.is_file(), "the first reader keeps what it made");

    // An ingest that does not analyse leaves the kept analysis behind the
    // index: the next reader must not show it.
    let late = ix.path().join("late.log");
    std::fs::write(
        &late,
        "{\"ts\":\"2026-11-24T03:00:00Z\",\"level\":\"info\",\"service\":\"late-svc\",\"event_id\":\"evt_late_0001\",\"msg\":\"accepted\"}\n",
    )
    .unwrap();
    run_ok(hop().args(["ingest", "--no-analysis"]).arg(&late));
    let events = run_ok(hop().args(["events", "--json"]));
    assert_eq!(events.lines().count(), events_kept.lines().count() + 1);
    assert!(events.contains("evt_late_0001"));
}

#[test]
fn findings_are_exactly_the_sample_anomalies() {
    let ix = Ingested::sample();
    let out = run_ok(ix.cmd().args(["findings", "--json"]));
    let found: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert!(
                v["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["path"].is_string() && e["line"].is_u64())
            );
            (
                v["kind"].as_str().unwrap().to_string(),
                v["ids"].to_string(),
            )
        })
        .collect();
    let kinds: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "duplicate_side_effect",
            "key_drift",
            "key_conflict",
            "partial_write",
            "stuck_processing"
        ]
    );
    assert!(found[0].1.contains(DOUBLE_CHARGE_EVT));
    // The rejected request is named, its key's first use is context.
    let conflict: Value = serde_json::from_str(&found[2].1).unwrap();
    assert_eq!(conflict["idem_key"], "idem_94bd00af971c3c6a");
    assert_eq!(conflict["event_id"], "evt_131a6bd80eeb");
    assert_eq!(conflict["context_event"], "evt_7385d5753387");
    assert!(found[3].1.contains("2bdfd2f7-b39e-4c03-bd26-6b21bc4a758c"));
    // The benign traps raise nothing.
    for trap in ["evt_9728e47b048d", "evt_ea78de91f819", "evt_af3886f87f79"] {
        assert!(!out.contains(trap), "{trap} must not be a finding");
    }
}

#[test]
fn fail_on_gates_with_exit_4_and_unknown_ids_exit_3() {
    let ix = Ingested::sample();
    let gated = run(ix.cmd().args([
        "findings",
        "--fail-on",
        "duplicate_side_effect,partial_write",
    ]));
    assert_eq!(gated.status.code(), Some(4));
    let clean = run(ix.cmd().args(["findings", "--fail-on", "retry_storm"]));
    assert_eq!(clean.status.code(), Some(0));
    let bad_kind = run(ix.cmd().args(["findings", "--fail-on", "double_charge"]));
    assert_eq!(bad_kind.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_kind.stderr).contains("duplicate_side_effect"));
    let unknown = run(ix.cmd().args(["timeline", "req_does_not_exist"]));
    assert_eq!(unknown.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("req_does_not_exist"));
}

#[test]
fn malformed_line_is_reported_with_path_and_line() {
    let ix = tempfile::tempdir().unwrap();
    let out = run_ok(
        common::hopline(ix.path())
            .args(["--index"])
            .arg(ix.path().join("i"))
            .args(["ingest", "--report"])
            .arg(sample()),
    );
    assert!(
        out.contains("payments-api-6c8d7b5f9-q4w8n.log:132: invalid JSON"),
        "{out}"
    );
}

#[test]
fn events_list_every_event_with_its_findings() {
    let ix = Ingested::sample();
    let out = run_ok(ix.cmd().args(["events", "--json"]));
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The request rejected under a reused key is an event of its own, with
    // the finding; the key's first, innocent use has none.
    assert_eq!(events.len(), 51);
    let findings_of = |evt: &str| {
        events
            .iter()
            .find(|e| e["key"]["value"] == evt)
            .map(|e| e["findings"].clone())
    };
    assert_eq!(
        findings_of("evt_131a6bd80eeb"),
        Some(serde_json::json!(["key_conflict"]))
    );
    assert_eq!(findings_of("evt_7385d5753387"), Some(serde_json::json!([])));
    let dc = events
        .iter()
        .find(|e| e["key"]["value"] == DOUBLE_CHARGE_EVT)
        .unwrap();
    assert_eq!(
        dc["findings"],
        serde_json::json!(["duplicate_side_effect", "key_drift"])
    );
}

#[test]
fn export_writes_a_postmortem_with_tables_and_a_sequence_diagram() {
    let ix = Ingested::sample();
    let md_path = ix.dir.path().join("pm.md");
    run_ok(
        ix.cmd()
            .args(["export", DOUBLE_CHARGE_EVT, "-o"])
            .arg(&md_path),
    );
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(md.starts_with("# Postmortem: event `evt_39febed3e92d`"));
    assert!(md.contains("| critical | duplicate_side_effect |"));
    assert!(md.contains("```mermaid\nsequenceDiagram\n"));
    assert!(md.contains("Note over"));
    assert!(md.contains("`billing-worker-7f9c6d8b5-h3j6m.log:44`"));
    // Deterministic.
    let again = ix.dir.path().join("pm2.md");
    run_ok(
        ix.cmd()
            .args(["export", DOUBLE_CHARGE_EVT, "-o"])
            .arg(&again),
    );
    assert_eq!(md, std::fs::read_to_string(&again).unwrap());
}

#[test]
fn read_commands_without_an_index_say_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let out = run(common::hopline(cache.path()).args(["findings"]));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hopline ingest"), "{err}");
}

#[test]
fn default_index_lives_in_the_cache_and_is_reused() {
    let cache = tempfile::tempdir().unwrap();
    let first = run_ok(
        common::hopline(cache.path())
            .args(["ingest", "--json"])
            .arg(sample()),
    );
    let v: Value = serde_json::from_str(&first).unwrap();
    let index = v["index"].as_str().unwrap().to_string();
    assert!(index.starts_with(cache.path().to_str().unwrap()), "{index}");
    let second = run_ok(
        common::hopline(cache.path())
            .args(["ingest", "--json"])
            .arg(sample()),
    );
    let w: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(w["index"], v["index"]);
    assert_eq!(w["records_added"], 0);
    // Read commands find it without --index.
    let t = run_ok(common::hopline(cache.path()).args(["timeline", DOUBLE_CHARGE_EVT]));
    assert!(t.contains("ledger entry written"));
}

#[test]
fn partial_write_shows_the_stuck_row_and_the_revoke_after_the_last_mutation() {
    let ix = Ingested::sample();
    let out = run_ok(ix.cmd().args(["timeline", "req_39012e781633", "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let entries = v["entries"].as_array().unwrap();
    let last_mutation = entries
        .iter()
        .rposition(|e| e["mutation"] == true && e["kind"] == "log")
        .expect("a mutation");
    let revoke = entries
        .iter()
        .position(|e| {
            e["kind"] == "task_event" && e["message"].as_str().unwrap().starts_with("task-revoked")
        })
        .expect("the revoke");
    assert!(revoke > last_mutation, "revoke must come after the charge");
    assert!(
        entries.iter().any(|e| e["kind"] == "idem_row"
            && e["message"]
                .as_str()
                .unwrap()
                .ends_with("status=processing")),
        "the row stuck in processing is on the timeline"
    );
    let kinds = finding_kinds(&v);
    assert_eq!(kinds, BTreeSet::from(["partial_write", "stuck_processing"]));
}

#[test]
fn a_unique_prefix_finds_the_event_and_an_ambiguous_one_says_so() {
    let ix = Ingested::sample();
    let v: Value =
        serde_json::from_str(&run_ok(ix.cmd().args(["timeline", "evt_39fe", "--json"]))).unwrap();
    assert_eq!(v["query"], DOUBLE_CHARGE_EVT);
    assert_eq!(v["prefix"], "evt_39fe");
    assert_eq!(v["entries"].as_array().unwrap().len(), 30);
    // Each entry says what it did on the path.
    let hops: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["hop"].as_str())
        .collect();
    for kind in ["received", "sent", "enqueued", "picked"] {
        assert!(hops.contains(&kind), "no {kind} hop in {hops:?}");
    }
    let out = run(ix.cmd().args(["timeline", "evt_"]));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("matches several IDs"), "{err}");
}

#[test]
fn a_reused_key_shows_each_event_it_touched_and_each_event_only_its_own() {
    let ix = Ingested::sample();
    let key = "idem_94bd00af971c3c6a";
    let t: Value =
        serde_json::from_str(&run_ok(ix.cmd().args(["timeline", key, "--json"]))).unwrap();
    let events: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["evt_7385d5753387", "evt_131a6bd80eeb"]);
    let entries = t["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| events.contains(&e["event"].as_str().unwrap()))
    );
    let rejected = |e: &&Value| e["event"] == "evt_131a6bd80eeb";
    assert_eq!(entries.iter().filter(rejected).count(), 5);
    assert_eq!(finding_kinds(&t), BTreeSet::from(["key_conflict"]));
    let table = run_ok(ix.cmd().args(["timeline", key]));
    assert!(table.contains("2 events used this key"), "{table}");
    assert!(table.contains("[2] idempotency key reused"), "{table}");

    // The innocent first use holds none of the rejected request's lines;
    // the rejected request holds its own, with the finding.
    let first: Value = serde_json::from_str(&run_ok(ix.cmd().args([
        "timeline",
        "evt_7385d5753387",
        "--json",
    ])))
    .unwrap();
    assert_eq!(first["entries"].as_array().unwrap().len(), 15);
    assert!(finding_kinds(&first).is_empty());
    let later: Value = serde_json::from_str(&run_ok(ix.cmd().args([
        "timeline",
        "evt_131a6bd80eeb",
        "--json",
    ])))
    .unwrap();
    assert_eq!(later["entries"].as_array().unwrap().len(), 5);
    assert_eq!(
        later["findings"][0]["ids"]["context_event"],
        "evt_7385d5753387"
    );
}

/// `--since/--until` narrow what read commands show; the expected sets are
/// recomputed here from the unfiltered output.
#[test]
fn a_time_window_narrows_events_findings_and_timelines() {
    let ix = Ingested::sample();
    let lines = |out: String| -> Vec<Value> {
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = lines(run_ok(ix.cmd().args(["events", "--json"])));
    let ts = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    let until = "2026-11-20T09:05:00.000000Z";
    let want: Vec<&Value> = all
        .iter()
        .filter(|e| ts(e, "first_ts").as_str() <= until)
        .collect();
    let got = lines(run_ok(
        ix.cmd().args(["events", "--json", "--until", until]),
    ));
    assert!(!want.is_empty() && want.len() < all.len());
    assert_eq!(got.iter().collect::<Vec<_>>(), want);

    // A duration counts back from the newest record of the index, which
    // may belong to no event (a health check): the incident report names
    // it.
    let incident: Value = serde_json::from_str(&run_ok(ix.cmd().args([
        "export",
        "--incident",
        "--format",
        "json",
    ])))
    .unwrap();
    let newest = ts(&incident, "last_ts");
    assert!(newest >= all.iter().map(|e| ts(e, "last_ts")).max().unwrap());
    let newest = hopline::parse::time::from_str(&newest).unwrap();
    let since = hopline::record::format_ts(newest - 5 * 60_000_000);
    let want: Vec<&Value> = all.iter().filter(|e| ts(e, "last_ts") >= since).collect();
    let got = lines(run_ok(ix.cmd().args(["events", "--json", "--since", "5m"])));
    assert!(!want.is_empty() && want.len() < all.len());
    assert_eq!(got.iter().collect::<Vec<_>>(), want);

    // Findings keep those whose event meets the window: none before 09:05.
    let early = run_ok(ix.cmd().args(["findings", "--json", "--until", until]));
    assert_eq!(early.trim(), "", "{early}");
    let all_findings = run_ok(ix.cmd().args(["findings", "--json"]));
    let wide = run_ok(
        ix.cmd()
            .args(["findings", "--json", "--since", "2026-11-20T09:00:00Z"]),
    );
    assert_eq!(wide, all_findings);

    // A timeline keeps its entries in the window, counted back from the
    // event's own newest record.
    let t: Value = serde_json::from_str(&run_ok(ix.cmd().args([
        "timeline",
        "evt_39febed3e92d",
        "--json",
    ])))
    .unwrap();
    let entries = t["entries"].as_array().unwrap();
    let last = entries.iter().map(|e| ts(e, "ts")).max().unwrap();
    let last = hopline::parse::time::from_str(&last).unwrap();
    let from = hopline::record::format_ts(last - 1_000_000);
    let want = entries.iter().filter(|e| ts(e, "ts") >= from).count();
    let narrow: Value = serde_json::from_str(&run_ok(ix.cmd().args([
        "timeline",
        " evt_39febed3e92d\n",
        "--json",
        "--since",
        "1s",
    ])))
    .unwrap();
    let got = narrow["entries"].as_array().unwrap().len();
    assert!(want > 0 && want < entries.len(), "{want}");
    assert_eq!(got, want);
    assert_eq!(
        narrow["findings"], t["findings"],
        "findings are the event's"
    );
    // The event's export narrows the same way.
    let export: Value = serde_json::from_str(&run_ok(ix.cmd().args([
        "export",
        "evt_39febed3e92d",
        "--format",
        "json",
        "--since",
        "1s",
    ])))
    .unwrap();
    assert_eq!(export["timeline"].as_array().unwrap().len(), want);
    let out = common::run(ix.cmd().args(["export", "--incident", "--since", "1s"]));
    assert_eq!(out.status.code(), Some(2));

    // A bound that is neither is bad usage, named.
    let out = common::run(ix.cmd().args(["events", "--since", "yesterday"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
}

/// `metrics --json` counts what the raw files hold: task states recounted
/// here from celery-events.jsonl, table rows by status from the CSV dump.
#[test]
fn metrics_count_what_the_raw_files_hold() {
    let ix = Ingested::sample();
    let m: Value = serde_json::from_str(&run_ok(ix.cmd().args(["metrics", "--json"]))).unwrap();

    let events = std::fs::read_to_string(sample().join("celery-events.jsonl")).unwrap();
    let lines: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut name_of: HashMap<String, String> = HashMap::new();
    for e in &lines {
        if let (Some(id), Some(name)) = (e["uuid"].as_str(), e["name"].as_str()) {
            name_of.insert(id.to_string(), name.to_string());
        }
    }
    let mut want: HashMap<(String, String), u64> = HashMap::new();
    for e in &lines {
        let Some(kind) = e["type"].as_str().and_then(|t| t.strip_prefix("task-")) else {
            continue;
        };
        let name = name_of[e["uuid"].as_str().unwrap()].clone();
        *want.entry((name, kind.to_string())).or_default() += 1;
    }
    assert!(!want.is_empty());
    for ((name, state), n) in &want {
        assert_eq!(m["tasks"][name]["counts"][state], *n, "{name} {state}: {m}");
    }
    let runtimes = m["tasks"]["billing.charge_invoice"]["runtime_ms"].clone();
    assert!(runtimes["p50"].as_f64().unwrap() <= runtimes["p99"].as_f64().unwrap());

    let dump = std::fs::read_to_string(sample().join("db/operation_log.csv")).unwrap();
    let mut reader = csv_rows(&dump);
    let status_at = reader.0.iter().position(|c| c == "status").unwrap();
    let time_at = reader.0.iter().position(|c| c == "updated_at").unwrap();
    let mut by_status: HashMap<String, u64> = HashMap::new();
    // `2026-11-20 09:01:02.826415+00` -> `2026-11-20T09:01:00.000000Z`.
    let mut by_minute: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for row in reader.1.drain(..) {
        *by_status.entry(row[status_at].clone()).or_default() += 1;
        let minute = format!(
            "{}T{}:00.000000Z",
            &row[time_at][..10],
            &row[time_at][11..16]
        );
        *by_minute
            .entry(minute)
            .or_default()
            .entry(row[status_at].clone())
            .or_default() += 1;
    }
    for (status, n) in &by_status {
        assert_eq!(
            m["idempotency"]["rows_by_status"][status], *n,
            "{status}: {m}"
        );
    }
    let got: BTreeMap<String, BTreeMap<String, u64>> = m["idempotency"]["rows_per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["minute"].as_str().unwrap().to_string(),
                serde_json::from_value(r["by_status"].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(got, by_minute);

    // A request arriving with a key an earlier line already carried: the
    // API logs both on the line that receives it.
    let api = std::fs::read_to_string(sample().join("payments-api-6c8d7b5f9-q4w8n.log")).unwrap();
    let mut requests_of: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut arrivals = 0;
    for line in api.lines() {
        // The sample has a torn line on purpose.
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(key) = v["idempotency_key"].as_str() else {
            continue;
        };
        let existed = requests_of.contains_key(key);
        let seen = requests_of.entry(key.to_string()).or_default();
        if let Some(r) = v["request_id"].as_str()
            && seen.insert(r.to_string())
            && existed
        {
            arrivals += 1;
        }
    }
    assert!(arrivals > 0);
    assert_eq!(m["idempotency"]["existing_key_arrivals"], arrivals, "{m}");
    // Two arrivals in the whole incident are no spike.
    assert_eq!(m["idempotency"]["spikes"], serde_json::json!([]));

    // Outcomes: every event starts at the gateway; one was charged twice
    // (samples/README.md), and the rate is over the events with a charge.
    let o = &m["outcomes"];
    let charged = ["charge created", "ledger entry written", "refund created"];
    let worker =
        std::fs::read_to_string(sample().join("billing-worker-7f9c6d8b5-h3j6m.log")).unwrap();
    assert!(
        worker
            .lines()
            .any(|l| charged.iter().any(|c| l.contains(c)))
    );
    assert_eq!(o["with_duplicate_side_effect"], 1, "{o}");
    let rate = o["duplicate_side_effect_rate"].as_f64().unwrap();
    let with = o["with_side_effect"].as_u64().unwrap();
    assert!((rate - 1.0 / with as f64).abs() < 1e-12, "{o}");
    let flow = &o["workflows"]["api-gateway POST /v1/payments received"];
    assert_eq!(flow["events"], o["events"], "{o}");
    let took = &flow["accepted_to_completed_ms"];
    assert!(took["p50"].as_f64().unwrap() <= took["p99"].as_f64().unwrap());
}

/// A CSV dump's header and rows, quoted fields and all.
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|row| row.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Prometheus counters that name a task and a state sit beside the count
/// of those events, with a note where they disagree; every sample is
/// listed with its `path:line`.
#[test]
fn metrics_put_prometheus_counters_beside_the_events() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::copy(
        sample().join("celery-events.jsonl"),
        bundle.join("celery-events.jsonl"),
    )
    .unwrap();
    std::fs::write(
        bundle.join("worker.prom"),
        "# TYPE celery_task_received_total counter\n\
         celery_task_received_total{name=\"billing.charge_invoice\"} 52\n\
         celery_task_succeeded_total{name=\"billing.charge_invoice\"} 50\n\
         celery_task_failed_total{name=\"billing.charge_invoice\"} 0\n\
         process_cpu_seconds_total 12.5\n",
    )
    .unwrap();
    let hop = || {
        let mut c = common::hopline(&tmp.path().join("cache"));
        c.arg("--index").arg(tmp.path().join("index"));
        c
    };
    run_ok(hop().arg("ingest").arg(&bundle));
    let m: Value = serde_json::from_str(&run_ok(hop().args(["metrics", "--json"]))).unwrap();
    let snapshots = m["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 4, "{m}");
    assert!(
        snapshots
            .iter()
            .any(|s| s["source"] == "worker.prom:5" && s["metric"] == "process_cpu_seconds_total")
    );
    let counters = m["tasks"]["billing.charge_invoice"]["prometheus"]
        .as_array()
        .unwrap();
    let by_state = |state: &str| {
        counters
            .iter()
            .find(|c| c["state"] == state)
            .unwrap_or_else(|| panic!("no {state} counter: {m}"))
    };
    assert_eq!(counters.len(), 3, "{m}");
    assert_eq!(by_state("received")["events"], 52);
    assert!(by_state("received")["note"].is_null());
    assert_eq!(by_state("succeeded")["events"], 49);
    assert!(
        by_state("succeeded")["note"]
            .as_str()
            .unwrap()
            .contains("50")
    );
    assert!(by_state("failed")["note"].is_null());
}

/// A second ingest does not open files that kept their size and
/// modification time (follow mode looks at every file each tick); a file
/// that grew is read on from where the first stopped.
#[test]
fn unchanged_files_are_not_opened_again_and_grown_ones_are_read_on() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let api = "payments-api-6c8d7b5f9-q4w8n.log";
    for name in [api, "celery-events.jsonl"] {
        std::fs::copy(sample().join(name), bundle.join(name)).unwrap();
    }
    let cache = tmp.path().join("cache");
    let ingest = || -> Value {
        let mut cmd = common::hopline(&cache);
        cmd.args(["ingest", "--no-analysis", "--json"]).arg(&bundle);
        serde_json::from_str(&run_ok(&mut cmd)).unwrap()
    };
    let status = |report: &Value, path: &str| {
        let f = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path}: {report}"))
            .clone();
        (
            f["status"].as_str().unwrap().to_string(),
            f["why"].as_str().unwrap().to_string(),
        )
    };
    let first = ingest();
    assert_eq!(status(&first, api).0, "new");
    let again = ingest();
    for path in [api, "celery-events.jsonl"] {
        let (s, why) = status(&again, path);
        assert_eq!(s, "unchanged", "{again}");
        assert!(why.contains("same size and modification time"), "{why}");
    }
    assert_eq!(again["records_added"], 0);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(bundle.join(api))
        .unwrap();
    use std::io::Write as _;
    writeln!(
        f,
        r#"{{"event": "payment request received", "timestamp": "2026-11-20T09:40:01.000000Z", "level": "info", "request_id": "req_appended0001"}}"#
    )
    .unwrap();
    drop(f);
    let grown = ingest();
    assert_eq!(status(&grown, api).0, "grown", "{grown}");
    assert_eq!(grown["records_added"], 1, "{grown}");
    assert_eq!(status(&grown, "celery-events.jsonl").0, "unchanged");
}
