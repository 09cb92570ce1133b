//! partial_write: a task was cancelled, revoked or timed out after it had
//! mutated state and before it completed. A clean cancel before any mutation
//! is not a finding; neither is a retry that went on to succeed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::config::Config;
use crate::record::{Kind, Record, TaskState, task_state};

use super::{Finding, FindingKind, event_ids};

fn cancel_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Celery raises SoftTimeLimitExceeded and TimeLimitExceeded; the
        // soft one ends a task just as surely once it is not caught.
        Regex::new(r"(?i)\b(cancell?ed|revoked|timed? ?out|time ?limit exceeded|(soft)?TimeLimitExceeded|deadline exceeded)\b")
            .expect("cancel regex")
    })
}

/// Does this record end a task without success?
fn is_abort(r: &Record) -> bool {
    match task_state(r) {
        Some(TaskState::Revoked) => true,
        // A failure is an abort only when it is a timeout: an ordinary
        // exception before completion is the task's own error handling.
        Some(TaskState::Failed) => cancel_words().is_match(&r.message),
        Some(_) => false,
        None => r.kind == Kind::Log && cancel_words().is_match(&r.message),
    }
}

pub fn partial_writes(records: &[Record], config: &Config) -> Vec<Finding> {
    let mut by_task: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for r in records {
        for id in r
            .ids
            .iter()
            .filter(|id| config.id_kind(&id.field) == Some("task"))
        {
            by_task.entry(id.value.as_str()).or_default().push(r);
        }
    }
    let mut out = Vec::new();
    for (task, recs) in by_task {
        // The last abort counts: a caller's "timed out waiting" may come before
        // the work it gave up on.
        let Some(abort_at) = recs.iter().rposition(|r| is_abort(r)) else {
            continue;
        };
        let mutations: Vec<&&Record> = recs[..abort_at]
            .iter()
            .filter(|r| r.mutation && r.kind == Kind::Log)
            .collect();
        let succeeded = recs
            .iter()
            .any(|r| task_state(r) == Some(TaskState::Succeeded));
        if mutations.is_empty() || succeeded {
            continue;
        }
        let abort = recs[abort_at];
        let mut ids = event_ids(records, config, &["event", "idem"]);
        ids.insert("task_id".into(), task.to_string());
        let summary = format!(
            "task {task} was stopped ({}) after {} state mutation(s) ({}) and never completed",
            abort.message,
            mutations.len(),
            mutations
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let evidence = mutations
            .iter()
            .map(|r| r.source.clone())
            .chain(std::iter::once(abort.source.clone()));
        out.push(Finding::new(
            FindingKind::PartialWrite,
            ids,
            summary,
            evidence,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    fn task_event(ts: i64, ty: &str) -> Record {
        let mut r = rec(ts, ts as u64, "worker", &[("task_id", "t1")], ty);
        r.kind = Kind::TaskEvent;
        r.attrs.push(("type".into(), ty.into()));
        r
    }

    fn charge(ts: i64) -> Record {
        let mut r = rec(
            ts,
            ts as u64,
            "worker",
            &[("task_id", "t1")],
            "charge created",
        );
        r.mutation = true;
        r
    }

    #[test]
    fn revoke_after_mutation_is_partial_before_is_clean() {
        let c = Config::default();
        let partial = vec![
            task_event(1, "task-started"),
            charge(2),
            task_event(3, "task-revoked"),
        ];
        let f = partial_writes(&partial, &c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence.len(), 2);
        let clean = vec![
            task_event(1, "task-received"),
            task_event(2, "task-revoked"),
        ];
        assert!(partial_writes(&clean, &c).is_empty());
        let retried_ok = vec![
            task_event(1, "task-started"),
            task_event(2, "task-retried"),
            charge(3),
            task_event(4, "task-succeeded"),
        ];
        assert!(partial_writes(&retried_ok, &c).is_empty());
    }

    /// Celery's soft time limit ends a task after its capture as surely as
    /// the hard one; an ordinary failure is the task's own error handling.
    #[test]
    fn a_soft_time_limit_after_a_mutation_is_partial() {
        let c = Config::default();
        for (exception, partial) in [
            ("task-failed: SoftTimeLimitExceeded()", true),
            ("task-failed: TimeLimitExceeded(60,)", true),
            ("task-failed: CardDeclined('insufficient funds')", false),
        ] {
            let mut failed = task_event(3, "task-failed");
            failed.message = exception.into();
            let events = vec![task_event(1, "task-started"), charge(2), failed];
            assert_eq!(
                partial_writes(&events, &c).len(),
                usize::from(partial),
                "{exception}"
            );
        }
    }
}
