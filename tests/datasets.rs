//! Real third-party logs nobody here wrote (../shared/datasets): no false
//! alarms on a latency-only fault, hops in the order the dataset documents,
//! and hubs that do not swamp a timeline.

mod common;

use std::path::PathBuf;

use common::run_ok;
use serde_json::Value;

fn dataset(name: &str) -> Option<PathBuf> {
    let p = common::root().join("../shared/datasets").join(name);
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} missing under CI",
        p.display()
    );
    eprintln!(
        "SKIPPED: {} is not here; dataset test did not run",
        p.display()
    );
    None
}

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
