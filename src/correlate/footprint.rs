//! Transitive footprint: start from the asked ID, collect every record that
//! carries it, add the other IDs those records carry, repeat to a fixpoint.
//! IDs carried by more than `hub_limit` records (a tenant, "unknown", a
//! shared certificate) are hubs: following them would swallow the bundle.

use std::collections::{BTreeMap, HashSet};

use crate::record::{IdRef, Record, SourceRef};

use super::{RecordStore, sort_true_order};

/// A footprint never grows past this many records; a bigger one means a hub
/// slipped under the limit, and the timeline says it was cut.
pub const MAX_RECORDS: usize = 20_000;

#[derive(Debug, Clone)]
pub struct HubSkip {
    pub id: IdRef,
    pub carriers: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Footprint {
    pub query: String,
    /// Every ID followed, in the order it was reached.
    pub ids: Vec<IdRef>,
    pub hubs: Vec<HubSkip>,
    pub records: Vec<Record>,
    pub truncated: bool,
}

impl Footprint {
    pub fn services(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for r in &self.records {
            if !seen.contains(&r.service) {
                seen.push(r.service.clone());
            }
        }
        seen
    }

    /// IDs as field -> value (first field name seen for each value).
    pub fn id_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for id in &self.ids {
            m.entry(id.field.clone())
                .or_insert_with(|| id.value.clone());
        }
        m
    }
}

pub fn footprint<S: RecordStore>(
    store: &S,
    query: &str,
    hub_limit: u64,
) -> Result<Footprint, S::Error> {
    let mut fp = Footprint {
        query: query.to_string(),
        ..Footprint::default()
    };
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut seen_records: HashSet<SourceRef> = HashSet::new();
    let mut frontier = vec![query.to_string()];
    seen_ids.insert(query.to_string());
    let mut first = true;
    while !frontier.is_empty() && !fp.truncated {
        let mut follow = Vec::new();
        for id in frontier.drain(..) {
            // The asked ID is always followed, even when it is a hub: the
            // user asked for it.
            if !first {
                let n = store.carriers(&id)?;
                if n > hub_limit {
                    fp.hubs.push(HubSkip {
                        id: IdRef {
                            field: field_of(&fp.records, &id),
                            value: id,
                        },
                        carriers: n,
                    });
                    continue;
                }
            }
            follow.push(id);
        }
        first = false;
        let found = store.records_carrying(&follow)?;
        let mut next = Vec::new();
        for r in found {
            if !seen_records.insert(r.source.clone()) {
                continue;
            }
            for id in &r.ids {
                if seen_ids.insert(id.value.clone()) {
                    next.push(id.value.clone());
                }
            }
            fp.records.push(r);
            if fp.records.len() >= MAX_RECORDS {
                fp.truncated = true;
                break;
            }
        }
        for v in &follow {
            fp.ids.push(IdRef {
                field: field_of(&fp.records, v),
                value: v.clone(),
            });
        }
        frontier = next;
    }
    sort_true_order(&mut fp.records);
    Ok(fp)
}

fn field_of(records: &[Record], value: &str) -> String {
    records
        .iter()
        .flat_map(|r| r.ids.iter())
        .find(|i| i.value == value)
        .map_or_else(|| "id".to_string(), |i| i.field.clone())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::{Kind, Level};

    /// An in-memory store for tests of everything above the index.
    #[derive(Default)]
    pub struct MemStore(pub Vec<Record>);

    impl RecordStore for MemStore {
        type Error = std::convert::Infallible;
        fn records_carrying(&self, ids: &[String]) -> Result<Vec<Record>, Self::Error> {
            Ok(self
                .0
                .iter()
                .filter(|r| ids.iter().any(|id| r.carries(id)))
                .cloned()
                .collect())
        }
        fn carriers(&self, id: &str) -> Result<u64, Self::Error> {
            Ok(self.0.iter().filter(|r| r.carries(id)).count() as u64)
        }
    }

    pub fn rec(ts: i64, line: u64, service: &str, ids: &[(&str, &str)], msg: &str) -> Record {
        Record {
            ts,
            source: SourceRef {
                path: format!("{service}.log"),
                line,
            },
            service: service.into(),
            instance: service.into(),
            kind: Kind::Log,
            level: Level::Info,
            message: msg.into(),
            ids: ids
                .iter()
                .map(|(f, v)| IdRef {
                    field: f.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            attrs: ids
                .iter()
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect(),
            raw: msg.into(),
            mutation: false,
        }
    }

    #[test]
    fn follows_ids_transitively_in_true_order_and_skips_hubs() {
        let mut records = vec![
            rec(30, 1, "worker", &[("task_id", "t1")], "charge created"),
            rec(10, 1, "gateway", &[("reqId", "r1")], "received"),
            rec(
                20,
                1,
                "api",
                &[("request_id", "r1"), ("event_id", "e1"), ("tenant", "acme")],
                "accepted",
            ),
            rec(
                25,
                1,
                "celery",
                &[("task_id", "t1"), ("event_id", "e1")],
                "task-received",
            ),
            rec(5, 1, "other", &[("reqId", "r9")], "unrelated"),
        ];
        for i in 0..5 {
            records.push(rec(
                100 + i,
                2 + i as u64,
                "noise",
                &[("tenant", "acme")],
                "x",
            ));
        }
        let store = MemStore(records);
        let fp = footprint(&store, "r1", 4).unwrap();
        let order: Vec<_> = fp.records.iter().map(|r| r.service.as_str()).collect();
        assert_eq!(order, ["gateway", "api", "celery", "worker"]);
        assert_eq!(fp.hubs.len(), 1);
        assert_eq!(fp.hubs[0].id.value, "acme");
        assert_eq!(fp.hubs[0].carriers, 6);
        let from_task = footprint(&store, "t1", 4).unwrap();
        assert_eq!(from_task.records.len(), 4);
    }

    #[test]
    fn unknown_id_gives_an_empty_footprint() {
        let store = MemStore(vec![rec(1, 1, "a", &[("reqId", "r1")], "x")]);
        assert!(footprint(&store, "nope", 10).unwrap().records.is_empty());
    }
}
