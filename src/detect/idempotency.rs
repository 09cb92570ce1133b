//! Idempotency findings. key_conflict: one key, different payloads.
//! key_drift: one payload, more than one key (the key is built differently
//! somewhere, so the dedupe never fires). stuck_processing: a row left in
//! `processing` with no live task that could ever finish it.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Config;
use crate::correlate::split::Conflict;
use crate::record::{Kind, Record, SourceRef, TaskState, fingerprint, task_state};

use super::{Finding, FindingKind, event_ids};

fn idem_key<'r>(r: &'r Record, config: &Config) -> Option<&'r str> {
    r.ids
        .iter()
        .find(|id| config.id_kind(&id.field) == Some("idem"))
        .map(|id| id.value.as_str())
}

/// key_conflict: a key that came back with another payload (see
/// `correlate::split`), named by the later payload's event, with the
/// earlier event as context.
pub fn key_conflicts<'c>(conflicts: impl IntoIterator<Item = &'c Conflict>) -> Vec<Finding> {
    let last = |f: &str| f.rsplit('.').next().unwrap_or(f).to_string();
    conflicts
        .into_iter()
        .map(|c| {
            let mut ids = BTreeMap::new();
            if let Some(name) = &c.name {
                ids.insert(last(&name.field), name.value.clone());
            }
            ids.insert("idem_key".into(), c.key.value.clone());
            let context = match &c.context {
                Some(ctx) => {
                    ids.insert("context_event".into(), ctx.value.clone());
                    format!("; its first use belongs to {}", ctx.value)
                }
                None => String::new(),
            };
            let summary = format!(
                "idempotency key {} arrived again with another payload ({} where the first was {}){context}",
                c.key.value, c.other_fingerprint, c.first_fingerprint,
            );
            Finding::new(
                FindingKind::KeyConflict,
                ids,
                summary,
                c.evidence.iter().cloned(),
            )
            .with_detail(serde_json::json!({
                "key": c.key.value,
                "first_fingerprint": c.first_fingerprint,
                "other_fingerprint": c.other_fingerprint,
                "context_event": c.context.as_ref().map(|ctx| &ctx.value),
            }))
        })
        .collect()
}

pub fn key_drift(records: &[Record], config: &Config) -> Vec<Finding> {
    let mut by_fp: BTreeMap<&str, (BTreeSet<&str>, Vec<SourceRef>)> = BTreeMap::new();
    for r in records {
        if let (Some(key), Some(fp)) = (idem_key(r, config), fingerprint(r)) {
            let e = by_fp.entry(fp).or_default();
            e.0.insert(key);
            e.1.push(r.source.clone());
        }
    }
    by_fp
        .into_iter()
        .filter(|(_, (keys, _))| keys.len() > 1)
        .map(|(fp, (keys, evidence))| {
            let mut ids = event_ids(records, config, &["event"]);
            for (i, k) in keys.iter().enumerate() {
                let name = if i == 0 {
                    "idem_key".to_string()
                } else {
                    format!("idem_key_{}", i + 1)
                };
                ids.insert(name, k.to_string());
            }
            let summary = format!(
                "payload {fp} was processed under {} idempotency keys ({})",
                keys.len(),
                keys.iter().copied().collect::<Vec<_>>().join(", ")
            );
            Finding::new(FindingKind::KeyDrift, ids, summary, evidence)
        })
        .collect()
}

const IN_FLIGHT: &[&str] = &[
    "processing",
    "in_progress",
    "pending",
    "started",
    "locked",
    "running",
];

pub fn stuck_processing(records: &[Record], config: &Config) -> Vec<Finding> {
    // The latest row per key wins: rows are snapshots of one table row.
    let mut latest: BTreeMap<&str, &Record> = BTreeMap::new();
    for r in records.iter().filter(|r| r.kind == Kind::IdemRow) {
        if let Some(key) = idem_key(r, config) {
            latest.insert(key, r);
        }
    }
    let stuck: Vec<(&str, &Record)> = latest
        .into_iter()
        .filter(|(_, r)| {
            r.attr("status")
                .or(r.attr("state"))
                .is_some_and(|s| IN_FLIGHT.contains(&s.to_ascii_lowercase().as_str()))
        })
        .collect();
    if stuck.is_empty() || any_task_live(records) {
        return Vec::new();
    }
    stuck
        .into_iter()
        .map(|(key, row)| {
            let mut ids = event_ids(records, config, &["event", "task"]);
            ids.insert("idem_key".into(), key.to_string());
            let ended: Vec<SourceRef> = records
                .iter()
                .filter(|r| {
                    matches!(
                        task_state(r),
                        Some(TaskState::Revoked | TaskState::Failed)
                    )
                })
                .map(|r| r.source.clone())
                .collect();
            let summary = if ended.is_empty() {
                format!("idempotency row {key} is still `processing` and no task is working on it")
            } else {
                format!("idempotency row {key} is still `processing` after its task ended without success")
            };
            Finding::new(
                FindingKind::StuckProcessing,
                ids,
                summary,
                std::iter::once(row.source.clone()).chain(ended),
            )
        })
        .collect()
}

/// A task is live when it was received or started and has not yet ended.
fn any_task_live(records: &[Record]) -> bool {
    let mut state: BTreeMap<&str, TaskState> = BTreeMap::new();
    for r in records {
        if let (Some(s), Some(id)) = (task_state(r), r.attr("task_id")) {
            state.insert(id, s);
        }
    }
    state.values().any(|s| {
        matches!(
            s,
            TaskState::Received | TaskState::Started | TaskState::Retried
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;
    use crate::correlate::split::split;

    fn with_fp(ts: i64, key: &str, fp: &str) -> Record {
        let mut r = rec(
            ts,
            ts as u64,
            "api",
            &[("idempotency_key", key), ("event_id", "e1")],
            "x",
        );
        r.attrs.push(("payload_hash".into(), fp.into()));
        r
    }

    #[test]
    fn conflict_needs_two_payloads_under_one_key() {
        let c = Config::default();
        let found = |records: &[Record]| key_conflicts(&split(records, &c, |_| true).conflicts);
        let replay = vec![with_fp(1, "k1", "hash01"), with_fp(2, "k1", "hash01")];
        assert!(found(&replay).is_empty());
        assert!(key_drift(&replay, &c).is_empty());
        let conflict = vec![with_fp(1, "k1", "hash01"), with_fp(2, "k1", "hash02")];
        let f = found(&conflict);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].ids["idem_key"], "k1");
        assert_eq!(f[0].ids["event_id"], "e1");
    }

    #[test]
    fn drift_is_one_payload_under_two_keys() {
        let c = Config::default();
        let f = key_drift(&[with_fp(1, "k1", "h1"), with_fp(2, "k2", "h1")], &c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence.len(), 2);
    }

    fn row(ts: i64, key: &str, status: &str) -> Record {
        let mut r = rec(ts, ts as u64, "operation_log", &[("idem_key", key)], "row");
        r.kind = Kind::IdemRow;
        r.attrs.push(("status".into(), status.into()));
        r
    }

    fn task(ts: i64, ty: &str) -> Record {
        let mut r = rec(ts, ts as u64, "celery", &[("task_id", "t1")], ty);
        r.kind = Kind::TaskEvent;
        r.attrs.push(("type".into(), ty.into()));
        r
    }

    #[test]
    fn stuck_only_without_a_live_task() {
        let c = Config::default();
        let live = vec![row(1, "k1", "processing"), task(2, "task-started")];
        assert!(stuck_processing(&live, &c).is_empty());
        let dead = vec![
            row(1, "k1", "processing"),
            task(2, "task-started"),
            task(3, "task-revoked"),
        ];
        assert_eq!(stuck_processing(&dead, &c).len(), 1);
        let done = vec![row(1, "k1", "completed"), task(3, "task-revoked")];
        assert!(stuck_processing(&done, &c).is_empty());
    }
}
