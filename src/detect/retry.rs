//! retry_storm: attempts for one event beyond a threshold. Layered retries
//! multiply (gateway × client × worker), so the count is over every layer.

use std::sync::OnceLock;

use regex::Regex;

use crate::config::Config;
use crate::record::{Kind, Record, TaskState, task_state};

use super::{Finding, FindingKind, event_ids};

fn retry_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)\bretr(y|ying|ied)\b").expect("retry regex"))
}

pub fn retry_storm(records: &[Record], config: &Config) -> Vec<Finding> {
    let attempts: Vec<&Record> = records
        .iter()
        .filter(|r| match task_state(r) {
            Some(s) => matches!(s, TaskState::Received | TaskState::Retried),
            None => r.kind == Kind::Log && retry_words().is_match(&r.message),
        })
        .collect();
    if attempts.len() <= config.retry_storm {
        return Vec::new();
    }
    let ids = event_ids(records, config, &["event", "request", "idem"]);
    let summary = format!(
        "{} attempts for one event (threshold {}): retries are multiplying across layers",
        attempts.len(),
        config.retry_storm
    );
    vec![Finding::new(
        FindingKind::RetryStorm,
        ids,
        summary,
        attempts.iter().map(|r| r.source.clone()),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    #[test]
    fn threshold_is_exceeded_not_met() {
        let c = Config::default();
        let mk = |n: usize| -> Vec<Record> {
            (0..n)
                .map(|i| {
                    rec(
                        i as i64,
                        i as u64,
                        "gw",
                        &[("reqId", "r")],
                        "upstream timeout, retrying",
                    )
                })
                .collect()
        };
        assert!(retry_storm(&mk(c.retry_storm), &c).is_empty());
        assert_eq!(retry_storm(&mk(c.retry_storm + 1), &c).len(), 1);
    }
}
