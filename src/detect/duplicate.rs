//! duplicate_side_effect: one event produced the same once-only side effect
//! (a charge, a ledger write, a refund) more than once.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::record::{Kind, Record};

use super::{Finding, FindingKind, event_ids};

pub fn duplicate_side_effects(records: &[Record], config: &Config) -> Vec<Finding> {
    // (effect, service) -> records; a charge logged by the worker and echoed
    // by the API is one charge, so count per service.
    let mut effects: BTreeMap<(&str, &str), Vec<&Record>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.mutation && r.kind == Kind::Log) {
        if let Some(rule) = config.mutation(&r.message).filter(|m| m.once) {
            effects
                .entry((rule.name.as_str(), r.service.as_str()))
                .or_default()
                .push(r);
        }
    }
    let repeated: Vec<_> = effects.into_iter().filter(|(_, v)| v.len() > 1).collect();
    if repeated.is_empty() {
        return Vec::new();
    }
    let ids = event_ids(records, config, &["event", "idem"]);
    let what: Vec<String> = repeated
        .iter()
        .map(|((effect, service), v)| format!("{effect} ×{} in {service}", v.len()))
        .collect();
    let who = ids.get("event_id").cloned().unwrap_or_else(|| {
        ids.values()
            .next()
            .cloned()
            .unwrap_or_else(|| "one event".into())
    });
    let summary = format!("{who}: side effect repeated: {}", what.join(", "));
    let evidence = repeated
        .iter()
        .flat_map(|(_, v)| v.iter().map(|r| r.source.clone()));
    vec![Finding::new(
        FindingKind::DuplicateSideEffect,
        ids,
        summary,
        evidence,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    fn mutation(ts: i64, service: &str, msg: &str) -> Record {
        let mut r = rec(ts, ts as u64, service, &[("event_id", "e1")], msg);
        r.mutation = true;
        r
    }

    #[test]
    fn two_charges_are_a_finding_one_is_not() {
        let c = Config::default();
        let once = vec![
            mutation(1, "worker", "charge created"),
            mutation(2, "ledger", "ledger entry written"),
        ];
        assert!(duplicate_side_effects(&once, &c).is_empty());
        let twice = vec![
            mutation(1, "worker", "charge created"),
            mutation(2, "worker", "charge created"),
            mutation(3, "api", "idempotency key reserved"),
            mutation(4, "api", "idempotency key completed"),
        ];
        let f = duplicate_side_effects(&twice, &c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence.len(), 2);
        assert_eq!(f[0].ids.get("event_id").map(String::as_str), Some("e1"));
    }
}
