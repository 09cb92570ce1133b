//! Real third-party logs nobody here wrote (../shared/datasets): no false
//! alarms on a latency-only fault, hops in the order the dataset documents,
//! and hubs that do not swamp a timeline.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{dataset, run_ok};
use serde_json::Value;

fn timeline(cmd: &mut std::process::Command) -> Value {
    serde_json::from_str(&run_ok(cmd)).unwrap()
}

/// Consecutive entries of one service collapse into one hop.
fn hops(t: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in t["entries"].as_array().unwrap() {
        let s = e["service"].as_str().unwrap().to_string();
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

#[test]
fn nezha_latency_fault_gives_no_findings_and_documented_hops() {
    let Some(root) = dataset("nezha-onlineboutique") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let hop = || {
        let mut c = common::hopline(&tmp.path().join("cache"));
        c.arg("--index").arg(tmp.path().join("ix"));
        c
    };
    let ingest: Value = serde_json::from_str(&run_ok(
        hop()
            .args(["ingest", "--json"])
            .arg(root.join("derived/containers")),
    ))
    .unwrap();
    assert_eq!(ingest["records_total"], 12058);
    assert_eq!(ingest["malformed_total"], 0);

    assert_eq!(
        run_ok(hop().args(["findings", "--json"])),
        "",
        "a latency-only fault has no findings"
    );

    // The event list names each event whole (36-character request ids), so
    // an ID pasted from it finds its event.
    let table = run_ok(hop().arg("events"));
    let first = table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(first.len() > 24, "cut short: {table}");
    let t = timeline(hop().args(["timeline", first, "--json"]));
    assert!(!t["entries"].as_array().unwrap().is_empty());

    // SOURCE.md's 25 hops for this trace.
    let t = timeline(hop().args(["timeline", "54de0079cdcd169c7af8fb78ec5bc3dc", "--json"]));
    let want = [
        "frontend",
        "checkoutservice",
        "cartservice",
        "checkoutservice",
        "productcatalogservice",
        "checkoutservice",
        "productcatalogservice",
        "checkoutservice",
        "shippingservice",
        "checkoutservice",
        "paymentservice",
        "checkoutservice",
        "shippingservice",
        "checkoutservice",
        "cartservice",
        "checkoutservice",
        "emailservice",
        "checkoutservice",
        "frontend",
        "recommendationservice",
        "productcatalogservice",
        "recommendationservice",
        "productcatalogservice",
        "currencyservice",
        "frontend",
    ];
    assert_eq!(hops(&t), want);
    // Reached from the frontend's request id, the order id in message text, too.
    let by_req =
        timeline(hop().args(["timeline", "96061a85-0837-4ca6-9873-54717e929ceb", "--json"]));
    assert_eq!(
        by_req["entries"].as_array().unwrap().len(),
        t["entries"].as_array().unwrap().len()
    );
    let by_order =
        timeline(hop().args(["timeline", "d845c8bb-21d9-11ed-8759-c22143dd2699", "--json"]));
    assert_eq!(hops(&by_order), want);
}

// Zeek's `service` is a protocol or share type; the log's name is `_path`.
const ZEEK_CONFIG: &str = r#"
[fields]
service = "_path"
[ids]
connection = ["uid", "conn_uids", "uids"]
certificate = ["fingerprint", "cert_chain_fps", "client_cert_chain_fps"]
"#;

#[test]
fn zeek_connection_followed_across_gzip_logs_without_cert_hubs() {
    let Some(root) = dataset("zeek-wrccdc-2018") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("hopline.toml");
    std::fs::write(&config, ZEEK_CONFIG).unwrap();
    let hop = || {
        let mut c = common::hopline(&tmp.path().join("cache"));
        c.arg("--index")
            .arg(tmp.path().join("ix"))
            .arg("--config")
            .arg(&config);
        c
    };
    let ingest: Value =
        serde_json::from_str(&run_ok(hop().args(["ingest", "--json"]).arg(&root))).unwrap();
    // loaded_scripts.log has no `ts`: its 512 lines are placed at the time
    // Zeek wrote them (`_write_ts`), found by name and value range.
    assert_eq!(ingest["records_total"], 104_824, "{ingest}");
    assert_eq!(ingest["malformed_total"], 0);
    assert!(
        ingest["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "loaded_scripts.json.gz"
                && f["why"]
                    .as_str()
                    .unwrap()
                    .contains("time from \"_write_ts\"")),
        "{ingest}"
    );

    // SOURCE.md's 12 records, in event (`ts`) order, not write order.
    let t = timeline(hop().args(["timeline", "C6WWAQ2G8MqT1hrQHd", "--json"]));
    let got: Vec<(String, u64)> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["service"].as_str().unwrap().to_string(),
                e["source"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = [
        ("ntlm", 37),
        ("smb_mapping", 34),
        ("smb_mapping", 35),
        ("smb_mapping", 36),
        ("smb_mapping", 37),
        ("smb_files", 1),
        ("dce_rpc", 3),
        ("dce_rpc", 4),
        ("dce_rpc", 5),
        ("dce_rpc", 6),
        ("dce_rpc", 7),
        ("smb_mapping", 38),
    ]
    .iter()
    .map(|(s, l)| (s.to_string(), *l))
    .collect();
    assert_eq!(got, want);

    // An RDP-over-TLS connection whose certificate is shared far and wide:
    // the shared fingerprints are hubs, skipped and listed, not followed.
    let rdp = timeline(hop().args(["timeline", "CAdxCs37ONW3Si3Baj", "--json"]));
    let n = rdp["entries"].as_array().unwrap().len();
    assert!(n < 50, "swamped: {n} records");
    let services: Vec<String> = hops(&rdp);
    for s in ["analyzer", "rdp", "ssl", "notice"] {
        assert!(services.iter().any(|x| x == s), "{s} missing: {services:?}");
    }
    assert!(!rdp["hubs_skipped"].as_array().unwrap().is_empty());

    // Zeek logs no message: rows say what the fields say, never nothing.
    for e in t["entries"].as_array().unwrap() {
        let text = e["text"].as_str().unwrap();
        assert_eq!(e["message"], "", "{e}");
        assert!(text.contains(" → "), "no endpoints in {text:?}");
    }
    // loaded_scripts' lines, written when Zeek wrote the file, lie far
    // from the capture: counted apart, not stretched over.
    let incident = run_ok(hop().args(["export", "--incident"]));
    assert!(
        incident.contains("(21.2 min)") && incident.contains("far outside that span"),
        "{incident}"
    );
}

/// lnav's own structured test logs: every file gives records with no
/// hopline.toml, and only the three deliberately broken lines are
/// malformed (two truncated JSON lines and one bad `ts`).
#[test]
fn lnav_test_logs_all_read_without_config() {
    let Some(root) = dataset("lnav-test-logs") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ingest: Value = serde_json::from_str(&run_ok(
        common::hopline(&tmp.path().join("cache"))
            .arg("--index")
            .arg(tmp.path().join("ix"))
            .args(["ingest", "--json", "--report"])
            .arg(&root),
    ))
    .unwrap();
    let files = ingest["files"].as_array().unwrap();
    let logs: Vec<&Value> = files
        .iter()
        .filter(|f| f["path"].as_str().unwrap().starts_with("logfile_"))
        .collect();
    assert_eq!(logs.len(), 24);
    for f in &logs {
        assert!(f["records"].as_u64().unwrap() > 0, "no records from {f}");
    }
    let mut malformed: Vec<(String, u64)> = ingest["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_string(),
                m["line"].as_u64().unwrap(),
            )
        })
        .collect();
    malformed.sort();
    let want: Vec<(String, u64)> = [
        ("logfile_invalid_json.json", 3),
        ("logfile_invalid_json2.json", 3),
        ("logfile_json.json", 6),
    ]
    .iter()
    .map(|(p, l)| (p.to_string(), *l))
    .collect();
    assert_eq!(malformed, want, "{ingest}");
    // The sniffer says where the time came from.
    let sniff = run_ok(
        common::hopline(&tmp.path().join("cache"))
            .arg("sniff")
            .arg(root.join("logfile_json3.json")),
    );
    assert!(sniff.contains("time from \"started_at\""), "{sniff}");
}

/// The caller→callee edges of one trace in the spans CSVs, by service:
/// a span whose parent span ran in another service's pod.
fn span_edges(root: &std::path::Path, trace: &str) -> BTreeMap<(String, String), usize> {
    let mut spans: HashMap<String, String> = HashMap::new();
    let mut parents: Vec<(String, String)> = Vec::new();
    let dir = root.join("rca_data/2022-08-22/trace");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines().skip(1) {
            let cols: Vec<&str> = line.split(',').collect();
            if cols[0] != trace {
                continue;
            }
            // frontend-579b9bff58-t2dbm -> frontend
            let mut pod = cols[3].rsplitn(3, '-');
            let service = pod.nth(2).unwrap_or(cols[3]).to_string();
            spans.insert(cols[1].to_string(), service.clone());
            parents.push((cols[2].to_string(), service));
        }
    }
    let mut edges = BTreeMap::new();
    for (parent, child) in parents {
        if let Some(caller) = spans.get(&parent)
            && *caller != child
        {
            *edges.entry((caller.clone(), child)).or_insert(0) += 1;
        }
    }
    edges
}

/// Arrows only where the data shows a call: for the three checkout traces
/// of SOURCE.md, every call arrow drawn is a caller→callee edge of the
/// spans (the innermost waiting service, not the first to carry the trace
/// ID, nor the line just before), and at least 80 % of the edges are drawn
/// (all 51 today). Back-to-back calls from one caller (frontend → catalogue
/// ×5) log as one run; their spans, each opened and closed before the next
/// begins, tell the requests apart.
#[test]
fn nezha_arrows_are_span_edges() {
    let Some(root) = dataset("nezha-onlineboutique") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let hop = || {
        let mut c = common::hopline(&tmp.path().join("cache"));
        c.arg("--index").arg(tmp.path().join("ix"));
        c
    };
    run_ok(hop().arg("ingest").arg(root.join("derived/containers")));
    let (mut drawn, mut edges_total) = (0, 0);
    for trace in [
        "54de0079cdcd169c7af8fb78ec5bc3dc",
        "a807a2a21139b7d63cbffb178ae200c8",
        "efca5d68a619c024bcdac019f0fdbd2d",
    ] {
        let edges = span_edges(&root, trace);
        assert!(!edges.is_empty(), "{trace}: no spans");
        let t = timeline(hop().args(["timeline", trace, "--json"]));
        // Rows show the step, not the trace and span IDs every line opens
        // with; the message stays as logged.
        for e in t["entries"].as_array().unwrap() {
            let text = e["text"].as_str().unwrap();
            assert!(!text.starts_with("TraceID:"), "{text}");
            assert!(!text.contains(trace), "{text}");
            assert!(e["message"].as_str().unwrap().contains(trace), "{e}");
        }
        let md = run_ok(hop().args(["export", trace]));
        let labels: BTreeSet<&str> = md
            .lines()
            .filter(|l| l.contains("->>"))
            .filter_map(|l| l.split_once(": ").map(|(_, label)| label))
            .collect();
        assert!(labels.len() > 3, "diagram labels: {labels:?}");
        let mut calls: BTreeMap<(String, String), usize> = BTreeMap::new();
        for e in t["entries"].as_array().unwrap() {
            if e["arrow"]["kind"] == "call" {
                let from = e["arrow"]["from"]["service"].as_str().unwrap().to_string();
                let to = e["service"].as_str().unwrap().to_string();
                *calls.entry((from, to)).or_insert(0) += 1;
            }
        }
        for (pair, n) in &calls {
            let real = edges.get(pair).copied().unwrap_or(0);
            assert!(
                *n <= real,
                "{trace}: {n} arrows {pair:?}, spans show {real}"
            );
            drawn += n;
        }
        // Every pair of services that called each other gets an arrow.
        for pair in edges.keys() {
            assert!(calls.contains_key(pair), "{trace}: {pair:?} not drawn");
        }
        edges_total += edges.values().sum::<usize>();
    }
    eprintln!("nezha: {drawn} of {edges_total} cross-service span edges drawn");
    assert!(
        drawn * 5 >= edges_total * 4,
        "{drawn} of {edges_total} span edges drawn"
    );
}
