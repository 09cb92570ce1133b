//! Bundles in house styles hopline was not shaped around.
//!
//! `tests/foreign/orders-bundle` comes from a second generator written
//! apart from hopline's defaults (tests/foreign/README.md): other field
//! names, other wording, StatefulSet workers, a queue consumer, a skewed
//! payment gateway called synchronously, a reconciliation run that touches
//! fifteen orders. Its ground truth is checked here as far as hopline gets
//! it right today; the README of that folder lists what it does not yet.
//!
//! The vocabulary ablation runs our own generator's bundle with every
//! application message word replaced by a made-up token: clock offsets,
//! order and arrows must not move, since none of them may hang on words.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::run_ok;
use serde_json::Value;

fn foreign() -> PathBuf {
    common::root().join("tests/foreign/orders-bundle")
}

struct Hop {
    cache: PathBuf,
    index: PathBuf,
}

impl Hop {
    fn new(tmp: &Path, name: &str) -> Hop {
        Hop {
            cache: tmp.join(format!("{name}-cache")),
            index: tmp.join(format!("{name}-index")),
        }
    }
    fn cmd(&self) -> Command {
        let mut c = common::hopline(&self.cache);
        c.arg("--index").arg(&self.index);
        c
    }
    fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        run_ok(self.cmd().args(args))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn timeline(&self, id: &str) -> Value {
        serde_json::from_str(&run_ok(self.cmd().args(["timeline", id, "--json"]))).unwrap()
    }
}

fn truth_lines(bundle: &Path) -> Vec<Value> {
    std::fs::read_to_string(bundle.join(".truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_foreign_house_style_is_read_and_correlated() {
    let bundle = foreign();
    let truth = truth_lines(&bundle);
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join(".truth-meta.json")).unwrap())
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let hop = Hop::new(tmp.path(), "foreign");
    let ingest: Value =
        serde_json::from_str(&run_ok(hop.cmd().args(["ingest", "--json"]).arg(&bundle))).unwrap();
    assert_eq!(ingest["malformed_total"], 0, "{ingest}");

    // Any ID -> the event it belongs to.
    let mut owner: HashMap<String, String> = HashMap::new();
    for t in &truth {
        let event = t["event"].as_str().unwrap().to_string();
        for id in t["ids"].as_array().unwrap() {
            owner
                .entry(id.as_str().unwrap().to_string())
                .or_insert(event.clone());
        }
        owner.insert(event.clone(), event);
    }
    let mut planted: BTreeSet<(String, String)> = BTreeSet::new();
    for t in &truth {
        for a in t["anomalies"].as_array().unwrap() {
            planted.insert((
                a.as_str().unwrap().to_string(),
                t["event"].as_str().unwrap().to_string(),
            ));
        }
    }
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    let mut skewed: Vec<Value> = Vec::new();
    let mut drift: Vec<Value> = Vec::new();
    for f in hop.json_lines(&["findings", "--json"]) {
        match f["kind"].as_str().unwrap() {
            "clock_skew" => skewed.push(f),
            "config_drift" => drift.push(f),
            kind => {
                // The event a finding names: by its IDs, the key it shares
                // with other events and its context event aside.
                let ids = f["ids"].as_object().unwrap();
                let event = ids
                    .iter()
                    .filter(|(k, _)| !k.starts_with("context"))
                    .map(|(k, v)| (k.starts_with("idem_key"), v.as_str().unwrap()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .find_map(|(_, v)| owner.get(v))
                    .cloned()
                    .unwrap_or_default();
                if kind == "key_conflict" {
                    let context = ids["context_event"].as_str().unwrap();
                    let planted = truth.iter().find(|t| t["event"] == event.as_str()).unwrap();
                    assert_eq!(
                        owner.get(context),
                        planted["context_event"]
                            .as_str()
                            .map(|c| c.to_string())
                            .as_ref(),
                        "{f}"
                    );
                }
                found.insert((kind.to_string(), event));
            }
        }
    }
    // Exact for the kinds hopline reads in this house style today:
    // no false alarm and nothing missed.
    for kind in [
        "duplicate_side_effect",
        "key_drift",
        "retry_storm",
        "partial_write",
        "stuck_processing",
        "key_conflict",
    ] {
        let got: BTreeSet<_> = found.iter().filter(|(k, _)| k == kind).collect();
        let want: BTreeSet<_> = planted.iter().filter(|(k, _)| k == kind).collect();
        assert!(
            got.is_subset(&want),
            "{kind}: false alarms {got:?} vs {want:?}"
        );
        assert_eq!(got, want, "{kind}");
    }

    // The two StatefulSet replicas are one service whose configs differ.
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["ids"]["service"], "billing-worker");
    // The gateway's clock, found from structure alone, within 5 ms; no
    // other instance moved (the queue consumer's lag is no skew).
    assert_eq!(skewed.len(), 1, "{skewed:?}");
    let instance = skewed[0]["ids"]["instance"].as_str().unwrap();
    let truth_ms = meta["clock_offsets_ms"][instance].as_f64().unwrap();
    assert!(truth_ms > 1000.0, "{instance}: {truth_ms}");
    let t = hop.timeline(truth[0]["event"].as_str().unwrap());
    for e in t["entries"].as_array().unwrap() {
        let want = meta["clock_offsets_ms"][e["instance"].as_str().unwrap()]
            .as_f64()
            .unwrap_or(0.0);
        let got = e["skew_ms"].as_f64().unwrap();
        assert!((got - want).abs() <= 5.0, "{e}: skew {got} vs {want}");
    }

    // The reconciliation run touches fifteen orders: a hub, so each order
    // is still its own event; a customer with several orders too.
    for h in meta["hubs"].as_array().unwrap() {
        let value = h["value"].as_str().unwrap();
        for event in h["events"].as_array().unwrap().iter().take(3) {
            let t = hop.timeline(event.as_str().unwrap());
            let mut events: BTreeSet<&String> = BTreeSet::new();
            for e in t["entries"].as_array().unwrap() {
                for id in e["ids"].as_array().unwrap() {
                    if let Some(o) = owner.get(id["value"].as_str().unwrap()) {
                        events.insert(o);
                    }
                }
            }
            assert_eq!(events.len(), 1, "{event} crossed {value}: {events:?}");
        }
    }
    let customer = truth
        .iter()
        .find(|t| t["trap"] == "shared_customer")
        .unwrap();
    let t = hop.timeline(customer["event"].as_str().unwrap());
    let customers: BTreeSet<String> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["ids"].as_array().unwrap().iter())
        .map(|id| id["field"].as_str().unwrap().to_lowercase())
        .filter(|f| f.contains("customer") || f.contains("enduser"))
        .collect();
    assert!(customers.is_empty(), "customer ids followed: {customers:?}");

    // Every event in true order. Its timeline holds every line of the truth
    // that carries an ID, in the truth's order; the only lines it adds are
    // the reconciliation run's (they carry the event's order and charge IDs
    // with the hub's run id: the truth gives them to the run, hopline shows
    // them in both). A line with no ID at all (a worker process's exit) is
    // joined by no rule.
    let hub_values: BTreeSet<&str> = meta["hubs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["value"].as_str().unwrap())
        .collect();
    for t in &truth {
        let evt = t["event"].as_str().unwrap();
        let timeline = hop.timeline(evt);
        let entries = timeline["entries"].as_array().unwrap();
        let at = |e: &Value| {
            (
                e["source"]["path"].as_str().unwrap().to_string(),
                e["source"]["line"].as_u64().unwrap(),
            )
        };
        let got: Vec<(String, u64)> = entries.iter().map(at).collect();
        let want: Vec<(String, u64)> = t["order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o[0].as_str().unwrap().to_string(), o[1].as_u64().unwrap()))
            .filter(|(path, line)| {
                has_id(&bundle, path, *line) || got.contains(&(path.clone(), *line))
            })
            .collect();
        let ours: Vec<&(String, u64)> = got.iter().filter(|g| want.contains(g)).collect();
        assert_eq!(ours, want.iter().collect::<Vec<_>>(), "{evt}: order");
        for e in entries.iter().filter(|e| !want.contains(&at(e))) {
            let ids: Vec<&str> = e["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["value"].as_str().unwrap())
                .collect();
            assert!(
                ids.iter().any(|v| hub_values.contains(v)),
                "{evt}: not its line: {e}"
            );
        }
    }
}

/// Whether a line of the bundle carries anything shaped like an ID (a
/// UUID, a prefixed token, a long hex run; not `ForkPoolWorker-2`): the
/// lines no rule could join
/// are those without.
fn has_id(bundle: &Path, path: &str, line: u64) -> bool {
    let text = std::fs::read_to_string(bundle.join(path)).unwrap();
    let l = text.lines().nth(line as usize - 1).unwrap_or("");
    l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .any(|w| w.len() >= 16 && w.chars().filter(|c| c.is_ascii_digit()).count() >= 3)
}

/// Every application message word mapped to a made-up token (the same word
/// always to the same token); IDs, field names, times and Celery's own
/// event stream untouched.
fn ablate(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("db")).unwrap();
    let token = |word: &str| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        format!("zq{:x}", h & 0xff_ffff)
    };
    let words = |text: &str| {
        text.split(' ')
            .map(|w| {
                // IDs and numbers inside a message stay as they are.
                if w.chars().all(|c| c.is_ascii_alphabetic()) && !w.is_empty() {
                    token(w)
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let logfmt_msg = regex::Regex::new(r#"msg="([^"]*)""#).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            for row in std::fs::read_dir(&path).unwrap() {
                let row = row.unwrap().path();
                std::fs::copy(&row, to.join("db").join(row.file_name().unwrap())).unwrap();
            }
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if name.starts_with('.') || name == "celery-events.jsonl" {
            std::fs::write(to.join(&name), text).unwrap();
            continue;
        }
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            match serde_json::from_str::<serde_json::Map<String, Value>>(line) {
                Ok(mut obj) => {
                    for key in ["msg", "message", "event"] {
                        if let Some(Value::String(m)) = obj.get(key) {
                            let m = words(m);
                            obj.insert(key.to_string(), Value::String(m));
                        }
                    }
                    out.push_str(&serde_json::to_string(&obj).unwrap());
                }
                Err(_) => out.push_str(&logfmt_msg.replace_all(line, |c: &regex::Captures| {
                    format!("msg=\"{}\"", words(&c[1]))
                })),
            }
            out.push('\n');
        }
        std::fs::write(to.join(&name), out).unwrap();
    }
}

/// A timeline's entries as (path, line, skew ms), in its order.
type Order = Vec<(String, u64, i64)>;
/// Its arrows as (from `path:line`, to `path:line`).
type Arrows = Vec<(String, String)>;

/// Entries as `path:line` with their skew, and the arrows as
/// `from -> to` entries.
fn shape(t: &Value) -> (Order, Arrows) {
    let entries = t["entries"].as_array().unwrap();
    let at = |e: &Value| {
        format!(
            "{}:{}",
            e["source"]["path"].as_str().unwrap(),
            e["source"]["line"]
        )
    };
    let order = entries
        .iter()
        .map(|e| {
            (
                e["source"]["path"].as_str().unwrap().to_string(),
                e["source"]["line"].as_u64().unwrap(),
                e["skew_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    let arrows = entries
        .iter()
        .filter(|e| !e["arrow"].is_null())
        .map(|e| {
            (
                format!(
                    "{}:{}",
                    e["arrow"]["from"]["path"].as_str().unwrap(),
                    e["arrow"]["from"]["line"]
                ),
                at(e),
            )
        })
        .collect();
    (order, arrows)
}

#[test]
fn order_skew_and_arrows_do_not_hang_on_words() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    let ok = Command::new(common::generator())
        .args([
            "--events",
            "800",
            "--seed",
            "7",
            "--skew-ms",
            "250",
            "--out",
        ])
        .arg(&plain)
        .status()
        .unwrap();
    assert!(ok.success());
    let ablated = tmp.path().join("ablated");
    ablate(&plain, &ablated);
    // The ablation did replace the words the defaults know.
    let sample = std::fs::read_to_string(
        std::fs::read_dir(&ablated)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_str().unwrap().contains("ledger-service"))
            .unwrap(),
    )
    .unwrap();
    assert!(!sample.contains("ledger entry"), "not ablated");

    let mut shapes: Vec<BTreeMap<String, (Order, Arrows)>> = Vec::new();
    let truth = truth_lines(&plain);
    let mut stories = BTreeSet::new();
    let picked: Vec<&Value> = truth
        .iter()
        .filter(|v| stories.insert(format!("{:?}{:?}", v["anomalies"], v["trap"])))
        .collect();
    for (name, bundle) in [("plain", &plain), ("ablated", &ablated)] {
        let hop = Hop::new(tmp.path(), name);
        run_ok(hop.cmd().arg("ingest").arg(bundle));
        let skewed: Vec<Value> = hop
            .json_lines(&["findings", "--json", "--kind", "clock_skew"])
            .into_iter()
            .collect();
        assert_eq!(skewed.len(), 1, "{name}: {skewed:?}");
        assert!(
            skewed[0]["ids"]["instance"]
                .as_str()
                .unwrap()
                .starts_with("ledger-service-"),
            "{name}: {skewed:?}"
        );
        let mut by_event = BTreeMap::new();
        for v in &picked {
            let evt = v["event_id"].as_str().unwrap();
            let (order, arrows) = shape(&hop.timeline(evt));
            let want: Vec<(String, u64)> = v["order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_u64().unwrap()))
                .collect();
            let got: Vec<(String, u64)> = order.iter().map(|(p, l, _)| (p.clone(), *l)).collect();
            assert_eq!(got, want, "{name}: order of {evt}");
            for (path, line, skew) in &order {
                let expected = if path.starts_with("ledger-service") {
                    250
                } else {
                    0
                };
                assert!(
                    (skew - expected).abs() <= 5,
                    "{name}: {path}:{line} moved {skew} ms"
                );
            }
            by_event.insert(evt.to_string(), (order, arrows));
        }
        shapes.push(by_event);
    }
    // The same arrows, between the same lines, with or without the words.
    for (evt, (_, arrows)) in &shapes[0] {
        assert_eq!(arrows, &shapes[1][evt].1, "arrows of {evt}");
    }
    assert!(
        shapes[0].values().any(|(_, a)| !a.is_empty()),
        "no arrows drawn at all"
    );
}

/// Amounts in a house style we did not write: the order service logs
/// `order.id` and `order.total_minor`, the payment gateway `orderId` and a
/// bare `amount`. As generated they agree (no finding); one gateway amount
/// changed by a cent gives exactly one reconciliation_delta, on that order.
#[test]
fn a_changed_amount_in_the_foreign_bundle_is_one_reconciliation_delta() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("orders");
    std::fs::create_dir_all(bundle.join("db")).unwrap();
    for entry in walk(&foreign()) {
        let rel = entry.strip_prefix(foreign()).unwrap();
        std::fs::copy(&entry, bundle.join(rel)).unwrap();
    }
    let deltas = |hop: &Hop| -> Vec<Value> {
        run_ok(
            hop.cmd()
                .args(["findings", "--json", "--kind", "reconciliation_delta"]),
        )
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
    };
    let before = Hop::new(tmp.path(), "before");
    run_ok(before.cmd().arg("ingest").arg(&bundle));
    assert!(deltas(&before).is_empty(), "{:?}", deltas(&before));

    let gateway = std::fs::read_dir(&bundle)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("payment-gateway")
        })
        .unwrap();
    let text = std::fs::read_to_string(&gateway).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"orderId\"") && l.contains("\"amount\":"))
        .expect("a gateway line with an order and an amount");
    let v: Value = serde_json::from_str(line).unwrap();
    let order = v["orderId"].as_str().unwrap().to_string();
    let amount = v["amount"].as_u64().unwrap();
    let changed = line.replace(
        &format!("\"amount\":{amount}"),
        &format!("\"amount\":{}", amount + 1),
    );
    std::fs::write(&gateway, text.replacen(line, &changed, 1)).unwrap();
    let after = Hop::new(tmp.path(), "after");
    run_ok(after.cmd().arg("ingest").arg(&bundle));
    let found = deltas(&after);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]["ids"]
            .as_object()
            .unwrap()
            .values()
            .any(|v| v == order.as_str()),
        "{}",
        found[0]
    );
    assert_eq!(
        found[0]["detail"]["amounts"][1]["amount"],
        (amount + 1).to_string()
    );
}

/// Every file under `dir`, hidden ones (the truth) included.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
