//! Every event in the index at once: the connected components of the
//! record–ID graph, hubs excluded. This is what the event list, `events`
//! and whole-index findings are built on.
//!
//! Narrow for now: it holds every ID-carrying record in memory, which is
//! fine for incident bundles of a few million lines and not beyond.

use std::collections::HashMap;

use serde::Serialize;

use crate::config::Config;
use crate::record::{IdRef, Micros, Record};

use super::sort_true_order;

#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    /// The ID that names the event: its event id if it has one.
    pub key: IdRef,
    pub ids: Vec<IdRef>,
    pub services: Vec<String>,
    pub first_ts: Micros,
    pub last_ts: Micros,
    pub records: usize,
    pub mutations: usize,
}

/// Events in time order of their first record, each with its records in
/// true order.
#[derive(Debug, Default)]
pub struct Events {
    pub events: Vec<(EventSummary, Vec<Record>)>,
    /// Hub IDs and how many records carry them.
    pub hubs: Vec<(String, u64)>,
    /// Records with no ID at all (health checks, startup lines).
    pub loose: usize,
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[b.max(a)] = a.min(b);
        }
    }
}

/// Which kinds of ID name an event best, most telling first.
const KEY_PREFERENCE: &[&str] = &[
    "event",
    "idem",
    "request",
    "task",
    "trace",
    "correlation",
    "order",
];

pub fn group_events(records: Vec<Record>, config: &Config) -> Events {
    let mut carriers: HashMap<&str, u64> = HashMap::new();
    for r in &records {
        for id in &r.ids {
            *carriers.entry(id.value.as_str()).or_default() += 1;
        }
    }
    let mut hubs: Vec<(String, u64)> = carriers
        .iter()
        .filter(|(_, n)| **n > config.hub_limit)
        .map(|(v, n)| (v.to_string(), *n))
        .collect();
    hubs.sort();
    let is_hub = |v: &str| carriers.get(v).is_some_and(|n| *n > config.hub_limit);

    // Union records through the IDs they share: record i joins the first
    // record that carried each of its IDs.
    let mut uf = UnionFind((0..records.len()).collect());
    let mut first_carrier: HashMap<&str, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        for id in &r.ids {
            if is_hub(&id.value) {
                continue;
            }
            match first_carrier.get(id.value.as_str()) {
                Some(&j) => uf.union(i, j),
                None => {
                    first_carrier.insert(id.value.as_str(), i);
                }
            }
        }
    }
    let roots: Vec<Option<usize>> = (0..records.len())
        .map(|i| {
            let linked = records[i].ids.iter().any(|id| !is_hub(&id.value));
            linked.then(|| uf.find(i))
        })
        .collect();
    drop(first_carrier);
    drop(carriers);

    let mut groups: HashMap<usize, Vec<Record>> = HashMap::new();
    let mut loose = 0;
    for (r, root) in records.into_iter().zip(roots) {
        match root {
            Some(root) => groups.entry(root).or_default().push(r),
            None => loose += 1,
        }
    }
    let mut events: Vec<(EventSummary, Vec<Record>)> = groups
        .into_values()
        .map(|mut recs| {
            sort_true_order(&mut recs);
            (summarise(&recs, config, &hubs), recs)
        })
        .collect();
    events.sort_by(|a, b| (a.0.first_ts, &a.0.key.value).cmp(&(b.0.first_ts, &b.0.key.value)));
    Events {
        events,
        hubs,
        loose,
    }
}

fn summarise(records: &[Record], config: &Config, hubs: &[(String, u64)]) -> EventSummary {
    let mut ids: Vec<IdRef> = Vec::new();
    let mut services: Vec<String> = Vec::new();
    for r in records {
        for id in &r.ids {
            if !hubs.iter().any(|(h, _)| *h == id.value) && !ids.iter().any(|i| i.value == id.value)
            {
                ids.push(id.clone());
            }
        }
        if !services.contains(&r.service) {
            services.push(r.service.clone());
        }
    }
    let key = KEY_PREFERENCE
        .iter()
        .find_map(|kind| {
            ids.iter()
                .find(|id| config.id_kind(&id.field) == Some(kind) || id.field == *kind)
        })
        .or(ids.first())
        .cloned()
        .unwrap_or(IdRef {
            field: "id".into(),
            value: String::new(),
        });
    EventSummary {
        key,
        ids,
        services,
        first_ts: records.first().map_or(0, |r| r.ts),
        last_ts: records.last().map_or(0, |r| r.ts),
        records: records.len(),
        mutations: records.iter().filter(|r| r.mutation).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    #[test]
    fn components_are_events_and_hubs_do_not_merge_them() {
        let config = Config {
            hub_limit: 3,
            ..Config::default()
        };
        let records = vec![
            rec(10, 1, "gw", &[("reqId", "r1"), ("tenant_id", "acme")], "a"),
            rec(
                20,
                2,
                "api",
                &[("request_id", "r1"), ("event_id", "e1")],
                "b",
            ),
            rec(15, 3, "gw", &[("reqId", "r2"), ("tenant_id", "acme")], "c"),
            rec(16, 4, "gw", &[("reqId", "r3"), ("tenant_id", "acme")], "d"),
            rec(17, 5, "gw", &[("reqId", "r4"), ("tenant_id", "acme")], "e"),
            rec(18, 6, "gw", &[], "health"),
        ];
        let ev = group_events(records, &config);
        assert_eq!(ev.events.len(), 4);
        assert_eq!(ev.loose, 1);
        assert_eq!(ev.hubs, vec![("acme".to_string(), 4)]);
        let first = &ev.events[0].0;
        assert_eq!(first.key.value, "e1");
        assert_eq!(first.records, 2);
        assert_eq!(first.services, ["gw", "api"]);
    }
}
