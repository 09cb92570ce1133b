//! Every event in the index at once: the connected components of the
//! record–ID graph, hubs excluded. This is what the event list, `events`
//! and whole-index findings are built on.
//!
//! Built in bounded memory: [`IdGraph`] sees each record's ID values once
//! and keeps only a 64-bit hash per distinct value and a few integers per
//! record, so ten million records fit in a few hundred MiB. The records
//! themselves are never all held; whoever groups them (the analysis) reads
//! them again by the event numbers [`Components`] gives.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::record::{IdRef, Micros, Record};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventSummary {
    /// The ID that names the event: its event id if it has one.
    pub key: IdRef,
    pub ids: Vec<IdRef>,
    pub services: Vec<String>,
    pub first_ts: Micros,
    pub last_ts: Micros,
    pub records: usize,
    pub mutations: usize,
    /// What kind of event this is: the service and message template of its
    /// first record (`api-gateway POST /v1/payments received`).
    pub workflow: String,
    /// Records of once-only side effects (a charge, a ledger write).
    pub side_effects: usize,
    /// When its last state mutation happened, if any did: accepted to
    /// completed runs from `first_ts` to this.
    pub last_mutation_ts: Option<Micros>,
}

impl EventSummary {
    /// The ID values whose carriers are exactly this event's records.
    pub fn id_values(&self) -> Vec<String> {
        self.ids.iter().map(|i| i.value.clone()).collect()
    }
}

/// Events in time order of their first record.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Events {
    pub events: Vec<EventSummary>,
    /// Hub IDs and how many records carry them.
    pub hubs: Vec<(String, u64)>,
    /// Records with no ID at all (health checks, startup lines).
    pub loose: usize,
}

/// Marks a record that belongs to no event.
pub const NO_EVENT: u32 = u32::MAX;

/// Disjoint sets over `0..n`; each set is named by its smallest member.
pub(super) struct UnionFind(Vec<u32>);

impl UnionFind {
    pub(super) fn new(n: usize) -> UnionFind {
        UnionFind((0..n as u32).collect())
    }
    pub(super) fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let up = self.0[self.0[x as usize] as usize];
            self.0[x as usize] = up;
            x = up;
        }
        x
    }
    pub(super) fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b) as usize] = a.min(b);
        }
    }
}

/// The record–ID graph, fed one record at a time in a fixed order.
///
/// ID values are interned by a 64-bit hash rather than kept as text: two
/// distinct values collide with odds of about n²/2⁶⁵ (one in a million at
/// four million distinct IDs), which would join two events; holding every
/// value instead would cost more memory than the rest of the analysis.
#[derive(Default)]
pub struct IdGraph {
    node_of: HashMap<u64, u32>,
    /// Records carrying each node.
    carriers: Vec<u32>,
    /// Each record's nodes, flattened; `ends[i]` is where record i's end.
    nodes: Vec<u32>,
    ends: Vec<u32>,
    /// Values seen crossing the hub limit, by node: a hub's name must be
    /// caught while the text is at hand.
    hub_names: HashMap<u32, String>,
    hub_limit: u64,
    /// Each node's field, interned in `fields`.
    field_of: Vec<u16>,
    fields: HashMap<String, u16>,
}

/// Which event each record belongs to, numbered densely from 0.
pub struct Components {
    pub of_record: Vec<u32>,
    pub events: usize,
    pub hubs: Vec<(String, u64)>,
    pub loose: usize,
    /// Hubs found relative to their field (see [`IdGraph::finish`]) whose
    /// text was not at hand: the ID hash, a record that carries it, and how
    /// many records do. Whoever reads that record again names them
    /// ([`Components::name_hubs`]).
    pub unnamed_hubs: Vec<(u64, u32, u64)>,
}

impl Components {
    /// Names the unnamed hubs from the IDs of record `at`, as a second
    /// pass over the records reads them.
    pub fn name_hubs<'a>(&mut self, at: u32, values: impl IntoIterator<Item = &'a str>) {
        let values: Vec<&str> = values.into_iter().collect();
        self.unnamed_hubs.retain(|&(hash, record, carriers)| {
            if record != at {
                return true;
            }
            match values.iter().find(|v| id_hash(v) == hash) {
                Some(v) => {
                    self.hubs.push((v.to_string(), carriers));
                    false
                }
                None => true,
            }
        });
    }
}

/// An ID joins this many values of another field before it can be a hub
/// at all: a retry storm's seven task ids under one order are one event.
pub const HUB_MIN_FANOUT: u32 = 8;
/// ...and this many times what IDs of its field typically join.
pub const HUB_FANOUT_FACTOR: u32 = 4;
/// A field with fewer values than this has no typical of its own; IDs of
/// every field together give it.
const FIELD_SAMPLE: usize = 5;

fn id_hash(value: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}

impl IdGraph {
    pub fn new(config: &Config) -> IdGraph {
        IdGraph {
            hub_limit: config.hub_limit,
            ..IdGraph::default()
        }
    }

    /// The next record's IDs as (field, value) (none for a record without
    /// IDs).
    pub fn add<'a>(&mut self, ids: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (field, value) in ids {
            let next = self.carriers.len() as u32;
            let node = *self.node_of.entry(id_hash(value)).or_insert(next);
            if node == next {
                self.carriers.push(0);
                let n = self.fields.len() as u16;
                let f = match self.fields.get(field) {
                    Some(&f) => f,
                    None => *self.fields.entry(field.to_string()).or_insert(n),
                };
                self.field_of.push(f);
            }
            let start = self.ends.last().copied().unwrap_or(0) as usize;
            // A record naming one ID twice carries it once.
            if self.nodes[start..].contains(&node) {
                continue;
            }
            self.nodes.push(node);
            let n = &mut self.carriers[node as usize];
            *n += 1;
            if u64::from(*n) == self.hub_limit + 1 {
                self.hub_names.insert(node, value.to_string());
            }
        }
        self.ends.push(self.nodes.len() as u32);
    }

    pub fn records(&self) -> usize {
        self.ends.len()
    }

    /// For every node, the most values of any one other field it is seen
    /// with, and that field: a periodic job's run id is seen with 22 VM ids.
    fn fanouts(&self) -> Vec<(u16, u32)> {
        let n = self.carriers.len();
        // Records by node (CSR), from the per-record lists. One array of
        // offsets does: each starts at its node's end and is counted down
        // to its start as the node's records are filed.
        let mut offsets = Vec::with_capacity(n + 1);
        let mut total = 0u32;
        for &c in &self.carriers {
            total += c;
            offsets.push(total);
        }
        offsets.push(total);
        let mut by_node = vec![0u32; total as usize];
        let mut start = 0usize;
        for (r, &end) in self.ends.iter().enumerate() {
            for &node in &self.nodes[start..end as usize] {
                offsets[node as usize] -= 1;
                by_node[offsets[node as usize] as usize] = r as u32;
            }
            start = end as usize;
        }
        let mut out = vec![(u16::MAX, 0u32); n];
        let mut co: Vec<(u16, u32)> = Vec::new();
        // Spans are parts of one request: a trace joins dozens, like every
        // trace does.
        let mut span_field = vec![false; self.fields.len()];
        for (name, &f) in &self.fields {
            span_field[f as usize] = crate::record::is_span_field(name);
        }
        for v in 0..n {
            if u64::from(self.carriers[v]) > self.hub_limit {
                continue;
            }
            co.clear();
            for &r in &by_node[offsets[v] as usize..offsets[v + 1] as usize] {
                let s = if r == 0 {
                    0
                } else {
                    self.ends[r as usize - 1] as usize
                };
                let e = self.ends[r as usize] as usize;
                for &w in &self.nodes[s..e] {
                    let f = self.field_of[w as usize];
                    if w as usize != v && f != self.field_of[v] && !span_field[f as usize] {
                        co.push((f, w));
                    }
                }
            }
            co.sort_unstable();
            co.dedup();
            let mut best = (u16::MAX, 0u32);
            let mut i = 0;
            while i < co.len() {
                let f = co[i].0;
                let j = i + co[i..].iter().take_while(|(g, _)| *g == f).count();
                if (j - i) as u32 > best.1 {
                    best = (f, (j - i) as u32);
                }
                i = j;
            }
            out[v] = best;
        }
        out
    }

    /// Nodes that join far more values of another field than the IDs of
    /// their own field do (a periodic request touching 22 VMs where a request
    /// touches one), whatever the bundle's size: more than
    /// [`HUB_FANOUT_FACTOR`] times the median for (their field, that field),
    /// and at least [`HUB_MIN_FANOUT`]. The medians are per-field counts, so
    /// a store can answer them with an aggregate query.
    fn relative_hubs(&self) -> Vec<bool> {
        let fanouts = self.fanouts();
        let fields = self.fields.len();
        // Medians per (field, other field), from capped histograms.
        const CAP: usize = 256;
        let mut hist: HashMap<(u16, u16), Vec<u32>> = HashMap::new();
        let mut any: HashMap<u16, Vec<u32>> = HashMap::new();
        let mut per_field = vec![0usize; fields];
        for (v, &(g, count)) in fanouts.iter().enumerate() {
            let f = self.field_of[v];
            per_field[f as usize] += 1;
            if g == u16::MAX {
                continue;
            }
            let c = (count as usize).min(CAP - 1);
            hist.entry((f, g)).or_insert_with(|| vec![0; CAP])[c] += 1;
            any.entry(g).or_insert_with(|| vec![0; CAP])[c] += 1;
        }
        let median = |h: &[u32]| {
            let total: u32 = h.iter().sum();
            let mut seen = 0;
            for (c, &k) in h.iter().enumerate() {
                seen += k;
                if seen * 2 >= total {
                    return c as u32;
                }
            }
            0
        };
        fanouts
            .iter()
            .enumerate()
            .map(|(v, &(g, count))| {
                if g == u16::MAX || count <= HUB_MIN_FANOUT {
                    return false;
                }
                let f = self.field_of[v];
                let typical = if per_field[f as usize] >= FIELD_SAMPLE {
                    hist.get(&(f, g)).map_or(1, |h| median(h))
                } else {
                    any.get(&g).map_or(1, |h| median(h))
                };
                count > HUB_FANOUT_FACTOR * typical.max(1)
            })
            .collect()
    }

    /// Joins records through the non-hub IDs they share.
    pub fn finish(self) -> Components {
        let hub_limit = self.hub_limit;
        let relative = self.relative_hubs();
        let is_hub =
            |n: u32| u64::from(self.carriers[n as usize]) > hub_limit || relative[n as usize];
        let mut uf = UnionFind::new(self.carriers.len());
        let mut start = 0usize;
        for &end in &self.ends {
            let mine = &self.nodes[start..end as usize];
            let mut linked = mine.iter().copied().filter(|&n| !is_hub(n));
            if let Some(first) = linked.next() {
                for n in linked {
                    uf.union(first, n);
                }
            }
            start = end as usize;
        }
        let mut event_of_root = vec![NO_EVENT; self.carriers.len()];
        let mut events = 0u32;
        let mut loose = 0;
        let mut of_record = Vec::with_capacity(self.ends.len());
        let mut start = 0usize;
        for &end in &self.ends {
            let first = self.nodes[start..end as usize]
                .iter()
                .copied()
                .find(|&n| !is_hub(n));
            start = end as usize;
            let Some(first) = first else {
                loose += 1;
                of_record.push(NO_EVENT);
                continue;
            };
            let root = uf.find(first) as usize;
            if event_of_root[root] == NO_EVENT {
                event_of_root[root] = events;
                events += 1;
            }
            of_record.push(event_of_root[root]);
        }
        let named: HashSet<u32> = self.hub_names.keys().copied().collect();
        let mut hubs: Vec<(String, u64)> = self
            .hub_names
            .into_iter()
            .map(|(n, name)| (name, u64::from(self.carriers[n as usize])))
            .collect();
        hubs.sort();
        // Relative hubs are named when their records are read again.
        let mut first_carrier: HashMap<u32, u32> = HashMap::new();
        let mut start = 0usize;
        for (r, &end) in self.ends.iter().enumerate() {
            for &node in &self.nodes[start..end as usize] {
                if relative[node as usize] {
                    first_carrier.entry(node).or_insert(r as u32);
                }
            }
            start = end as usize;
        }
        let mut unnamed_hubs: Vec<(u64, u32, u64)> = self
            .node_of
            .iter()
            .filter(|&(_, &n)| relative[n as usize] && !named.contains(&n))
            .map(|(&hash, &n)| {
                (
                    hash,
                    first_carrier.get(&n).copied().unwrap_or(u32::MAX),
                    u64::from(self.carriers[n as usize]),
                )
            })
            .collect();
        unnamed_hubs.sort_unstable_by_key(|&(_, r, _)| r);
        Components {
            of_record,
            events: events as usize,
            hubs,
            loose,
            unnamed_hubs,
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

/// Of `ids`, the one that names their event best: by [`KEY_PREFERENCE`],
/// the kind config gives a field or the kind a message pattern found.
pub fn naming_id<'a>(
    ids: impl Iterator<Item = &'a IdRef> + Clone,
    config: &Config,
) -> Option<&'a IdRef> {
    KEY_PREFERENCE.iter().find_map(|kind| {
        ids.clone()
            .find(|id| config.id_kind(&id.field) == Some(kind) || id.field == *kind)
    })
}

/// One event's summary from its records in true order.
pub fn summarise(records: &[Record], config: &Config, hubs: &HashSet<&str>) -> EventSummary {
    let mut ids: Vec<IdRef> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for r in records {
        for id in &r.ids {
            if !hubs.contains(id.value.as_str()) && seen.insert(id.value.as_str()) {
                ids.push(id.clone());
            }
        }
    }
    let key = naming_id(ids.iter(), config)
        .or(ids.first())
        .cloned()
        .unwrap_or(IdRef {
            field: "id".into(),
            value: String::new(),
        });
    EventSummary {
        key,
        ids,
        services: super::services_in_order(records),
        first_ts: records.first().map_or(0, |r| r.ts),
        last_ts: records.last().map_or(0, |r| r.ts),
        records: records.len(),
        mutations: records.iter().filter(|r| r.mutation).count(),
        workflow: records
            .first()
            .map(|r| format!("{} {}", r.service, crate::record::message_template(r)))
            .unwrap_or_default(),
        side_effects: records
            .iter()
            .filter(|r| {
                r.mutation
                    && r.kind == crate::record::Kind::Log
                    && config.mutation(&r.message).is_some_and(|m| m.once)
            })
            .count(),
        last_mutation_ts: records.iter().filter(|r| r.mutation).map(|r| r.ts).max(),
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
        let records = [
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
        let mut graph = IdGraph::new(&config);
        for r in &records {
            graph.add(r.ids.iter().map(|i| (i.field.as_str(), i.value.as_str())));
        }
        let c = graph.finish();
        assert_eq!(c.events, 4);
        assert_eq!(c.loose, 1);
        assert_eq!(c.hubs, vec![("acme".to_string(), 4)]);
        assert_eq!(c.of_record, [0, 0, 1, 2, 3, NO_EVENT]);
        let hubs: HashSet<&str> = ["acme"].into();
        let first = summarise(&records[..2], &config, &hubs);
        assert_eq!(first.key.value, "e1");
        assert_eq!(first.records, 2);
        assert_eq!(first.services, ["gw", "api"]);
        assert!(first.ids.iter().all(|i| i.value != "acme"));
    }

    #[test]
    fn a_record_repeating_an_id_counts_once() {
        let config = Config {
            hub_limit: 2,
            ..Config::default()
        };
        let mut graph = IdGraph::new(&config);
        graph.add([("id", "a"), ("id", "a"), ("id", "a")]);
        graph.add([("id", "a")]);
        let c = graph.finish();
        assert!(c.hubs.is_empty());
        assert_eq!(c.of_record, [0, 0]);
    }
}
