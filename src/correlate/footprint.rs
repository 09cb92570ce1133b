//! Transitive footprint: start from the asked ID, collect every record that
//! carries it, add the other IDs those records carry, repeat to a fixpoint.
//! IDs that belong to many events (a tenant, "unknown", a shared
//! certificate) are hubs: following them would swallow the bundle. An ID is a
//! hub when more than `hub_limit` records carry it, or when its records carry
//! more than `hub_fanout` distinct values of one other ID field (a
//! certificate seen on 300 connections; an event id is seen with a handful of
//! request ids and task ids). The asked ID is always followed.

use std::collections::{HashMap, HashSet};

use crate::record::{IdRef, Record, SourceRef};

use super::{RecordStore, sort_true_order};

/// When an ID stops being followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubRule {
    pub limit: u64,
    pub fanout: usize,
    /// Follow the asked ID even when the records carry it only as context
    /// (a customer id): the user asked for every event it touches.
    pub follow_context: bool,
}

impl HubRule {
    pub fn from_config(c: &crate::config::Config) -> HubRule {
        HubRule {
            limit: c.hub_limit,
            fanout: c.hub_fanout,
            follow_context: false,
        }
    }
}

/// The most distinct values any one other ID field takes among `records`.
fn fanout(records: &[Record], id: &str) -> usize {
    let mut per_field: HashMap<&str, HashSet<&str>> = HashMap::new();
    for r in records {
        // Spans are parts of one request: a trace joins dozens.
        for i in r
            .ids
            .iter()
            .filter(|i| i.value != id && !crate::record::is_span_field(&i.field))
        {
            per_field
                .entry(i.field.as_str())
                .or_default()
                .insert(i.value.as_str());
        }
    }
    per_field.values().map(HashSet::len).max().unwrap_or(0)
}

/// Shorter prefixes match too much to be worth completing.
pub const MIN_PREFIX: usize = 4;

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
    /// The prefix the user typed, when the query was completed from it.
    pub prefix: Option<String>,
    /// IDs a prefix matched when it matched more than one (then nothing
    /// was followed).
    pub ambiguous: Vec<String>,
    /// The asked ID when records carry it only as context (see
    /// `Record::context_ids`), with how many: then nothing was followed.
    pub unfollowed: Option<HubSkip>,
    /// Keys reused with another payload that this footprint's events hold
    /// the later side of (see [`super::split`]): their key_conflict.
    pub conflicts: Vec<super::split::Conflict>,
    /// When the asked ID is a key that several events used: the ID naming
    /// each, and each record's event (an index into `events`).
    pub events: Vec<IdRef>,
    pub event_of: Vec<usize>,
}

impl Footprint {
    pub fn services(&self) -> Vec<String> {
        super::services_in_order(&self.records)
    }
}

impl Footprint {
    /// Keeps the records inside `window` (durations counted back from the
    /// newest of them), with their event marks; true when any was left out.
    pub fn narrow_to(&mut self, window: &crate::parse::time::Window) -> bool {
        let newest = self.records.iter().map(|r| r.ts).max().unwrap_or(0);
        let Some((from, to)) = window.range(newest) else {
            return false;
        };
        let inside: Vec<bool> = self
            .records
            .iter()
            .map(|r| (from..=to).contains(&r.ts))
            .collect();
        let before = self.records.len();
        let mut keep = inside.iter().copied();
        self.records.retain(|_| keep.next().unwrap_or(false));
        if self.event_of.len() == inside.len() {
            let mut keep = inside.iter().copied();
            self.event_of.retain(|_| keep.next().unwrap_or(false));
        }
        self.records.len() < before
    }
}

pub fn footprint<S: RecordStore>(
    store: &S,
    query: &str,
    hubs: HubRule,
    config: &crate::config::Config,
) -> Result<Footprint, S::Error> {
    let mut fp = Footprint {
        query: query.to_string(),
        ..Footprint::default()
    };
    // Not an ID as given: perhaps the start of one (`evt_39fe`).
    if query.chars().count() >= MIN_PREFIX && store.carriers(query)? == 0 {
        let mut found = store.ids_with_prefix(query, 11)?;
        match found.len() {
            0 => return Ok(fp),
            1 => {
                fp.prefix = Some(query.to_string());
                fp.query = found.remove(0);
            }
            _ => {
                fp.ambiguous = found;
                return Ok(fp);
            }
        }
    }
    let query = fp.query.clone();
    let query = query.as_str();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut seen_records: HashSet<SourceRef> = HashSet::new();
    let mut frontier = vec![query.to_string()];
    seen_ids.insert(query.to_string());
    let known_hubs: HashSet<String> = store.known_hubs().into_iter().collect();
    let mut first = true;
    while !frontier.is_empty() && !fp.truncated {
        let mut found: Vec<Record> = Vec::new();
        for id in frontier.drain(..) {
            // The asked ID is always followed: its count is not needed.
            let carriers = if first { 0 } else { store.carriers(&id)? };
            // A hub the whole-index analysis found stops here too, so a
            // timeline and the event list agree on what an event is.
            let known_hub = !first && known_hubs.contains(&id);
            let mut records = if !known_hub && (first || carriers <= hubs.limit) {
                store.records_carrying(std::slice::from_ref(&id))?
            } else {
                Vec::new()
            };
            // In true order, not the store's: the field an ID is named by
            // is the one its first record logs it under.
            records.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
            if first
                && !hubs.follow_context
                && !records.is_empty()
                && !records.iter().any(|r| r.carries(&id))
                && let Some(field) = records.iter().find_map(|r| r.context_id(&id))
            {
                fp.unfollowed = Some(HubSkip {
                    id: field.clone(),
                    carriers: records.len() as u64,
                });
                return Ok(fp);
            }
            if !first && (known_hub || carriers > hubs.limit || fanout(&records, &id) > hubs.fanout)
            {
                fp.hubs.push(HubSkip {
                    id: IdRef {
                        field: field_of(&fp.records, &id),
                        value: id,
                    },
                    carriers,
                });
                continue;
            }
            let field = match field_of(&records, &id) {
                f if f == "id" => records
                    .iter()
                    .find_map(|r| r.context_id(&id))
                    .map_or(f, |c| c.field.clone()),
                f => f,
            };
            fp.ids.push(IdRef { field, value: id });
            found.extend(records);
        }
        first = false;
        // The store answers in its own order (segments written by parallel
        // indexing threads): IDs are reached in the records' order instead,
        // so `ids` reads the same on every index of the same bundle.
        found.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
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
        frontier = next;
    }
    super::on_clock(&mut fp.records, &store.clock());
    sort_true_order(&mut fp.records);
    keep_own_events(&mut fp, config);
    Ok(fp)
}

/// A footprint crosses an idempotency key into the events that reused it
/// with another payload; it keeps the asked ID's own event, or, when the
/// asked ID is such a key, every event with each record marked.
fn keep_own_events(fp: &mut Footprint, config: &crate::config::Config) {
    let followed: HashSet<&str> = fp.ids.iter().map(|i| i.value.as_str()).collect();
    let parts = super::split::split(&fp.records, config, |v| followed.contains(v));
    let query = fp.query.as_str();
    let keep: Vec<usize> = if parts.count <= 1 {
        vec![0]
    } else if parts.is_split_key(query) {
        (0..parts.count).collect()
    } else {
        let own = fp
            .records
            .iter()
            .position(|r| r.carries(query) || r.context_id(query).is_some())
            .map_or(0, |i| parts.of_record[i]);
        vec![own]
    };
    fp.conflicts = parts
        .conflicts
        .iter()
        .filter(|c| keep.contains(&c.other))
        .cloned()
        .collect();
    if parts.count <= 1 {
        return;
    }
    if keep.len() > 1 {
        fp.events = keep
            .iter()
            .map(|&p| {
                parts.name_of(&fp.records, p, config).unwrap_or(IdRef {
                    field: "id".into(),
                    value: String::new(),
                })
            })
            .collect();
        fp.event_of = parts.of_record.clone();
        return;
    }
    let records = parts.records_of(&fp.records, keep[0]);
    let carried: HashSet<&str> = records
        .iter()
        .flat_map(|r| r.ids.iter().chain(&r.context_ids))
        .map(|i| i.value.as_str())
        .collect();
    fp.ids.retain(|i| carried.contains(i.value.as_str()));
    fp.records = records;
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
    use crate::config::Config;
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
        fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>, Self::Error> {
            let mut ids: Vec<String> = self
                .0
                .iter()
                .flat_map(|r| r.ids.iter())
                .filter(|i| i.value.starts_with(prefix))
                .map(|i| i.value.clone())
                .collect();
            ids.sort();
            ids.dedup();
            ids.truncate(limit);
            Ok(ids)
        }
        fn clock(&self) -> crate::correlate::Clock {
            crate::correlate::Clock::default()
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
            attr_types: String::new(),
            mutation: false,
            skew: 0,
            context_ids: Vec::new(),
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
        let rule = HubRule {
            limit: 4,
            fanout: 8,
            follow_context: false,
        };
        let fp = footprint(&store, "r1", rule, &Config::default()).unwrap();
        let order: Vec<_> = fp.records.iter().map(|r| r.service.as_str()).collect();
        assert_eq!(order, ["gateway", "api", "celery", "worker"]);
        assert_eq!(fp.hubs.len(), 1);
        assert_eq!(fp.hubs[0].id.value, "acme");
        assert_eq!(fp.hubs[0].carriers, 6);
        let from_task = footprint(&store, "t1", rule, &Config::default()).unwrap();
        assert_eq!(from_task.records.len(), 4);
    }

    #[test]
    fn an_id_shared_by_many_events_is_a_hub_below_the_limit() {
        // A certificate on five connections: few records, wide fan-out.
        let mut records = vec![rec(1, 1, "rdp", &[("uid", "c1")], "rdp")];
        for i in 0..5 {
            let uid = format!("c{i}");
            records.push(rec(
                2 + i,
                10 + i as u64,
                "ssl",
                &[("uid", &uid), ("cert", "fp1")],
                "tls",
            ));
        }
        let store = MemStore(records);
        let wide = footprint(
            &store,
            "c1",
            HubRule {
                limit: 1000,
                fanout: 3,
                follow_context: false,
            },
            &Config::default(),
        )
        .unwrap();
        assert_eq!(wide.records.len(), 2);
        assert_eq!(wide.hubs[0].id.value, "fp1");
        let narrow = footprint(
            &store,
            "c1",
            HubRule {
                limit: 1000,
                fanout: 8,
                follow_context: false,
            },
            &Config::default(),
        )
        .unwrap();
        assert_eq!(narrow.records.len(), 6);
        // Asked for directly, a hub is followed.
        assert_eq!(
            footprint(
                &store,
                "fp1",
                HubRule {
                    limit: 2,
                    fanout: 1,
                    follow_context: false,
                },
                &Config::default(),
            )
            .unwrap()
            .records
            .len(),
            6
        );
    }

    #[test]
    fn unknown_id_gives_an_empty_footprint() {
        let store = MemStore(vec![rec(1, 1, "a", &[("reqId", "r1")], "x")]);
        let rule = HubRule {
            limit: 10,
            fanout: 10,
            follow_context: false,
        };
        assert!(
            footprint(&store, "nope", rule, &Config::default())
                .unwrap()
                .records
                .is_empty()
        );
    }
}
