//! One business event per footprint, even across a reused idempotency key.
//!
//! IDs join records into events, and an idempotency key is an ID like any
//! other, so a request rejected under an existing key with a different
//! payload would join the earlier, innocent event. The payload fingerprints
//! the records carry tell them apart: under a key seen with more than one
//! fingerprint, the records of the first fingerprint (in true order) keep the
//! key, the others form events of their own through their other IDs, and a
//! record that carries the key with no fingerprint belongs to whichever side
//! its other IDs reach (to the first when they reach neither). A safe replay
//! (same key, same payload) has one fingerprint and stays with its event.
//!
//! The same split is applied wherever records are grouped into events (the
//! whole-index analysis, an event's records read back, a footprint), so they
//! agree on what an event is.

use std::collections::HashMap;

use crate::config::Config;
use crate::record::{IdRef, Record, SourceRef, fingerprint_classes};

/// A key seen with two payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub key: IdRef,
    /// The part holding the key's first payload, and the part of the later
    /// one (the same part when other IDs join the two).
    pub original: usize,
    pub other: usize,
    pub first_fingerprint: String,
    pub other_fingerprint: String,
    /// Records that carry the key: the first of the original payload, then
    /// those of the other side.
    pub evidence: Vec<SourceRef>,
    /// The IDs that name the later payload's event and the earlier one's.
    pub name: Option<IdRef>,
    pub context: Option<IdRef>,
}

/// Records grouped into events: `of_record[i]` is record i's part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    pub of_record: Vec<usize>,
    pub count: usize,
    pub conflicts: Vec<Conflict>,
}

impl Parts {
    fn whole(n: usize) -> Parts {
        Parts {
            of_record: vec![0; n],
            count: usize::from(n > 0),
            conflicts: Vec::new(),
        }
    }

    /// The keys that join a part that is not theirs (a later payload's part):
    /// such a part must not list the key among its IDs.
    pub fn foreign_keys(&self, part: usize) -> Vec<&str> {
        self.conflicts
            .iter()
            .filter(|c| c.original != part && c.other == part)
            .map(|c| c.key.value.as_str())
            .collect()
    }

    /// Whether `value` is a key split between events.
    pub fn is_split_key(&self, value: &str) -> bool {
        self.conflicts
            .iter()
            .any(|c| c.key.value == value && c.original != c.other)
    }

    /// The ID that names `part`'s event (see `events::naming_id`), keys
    /// foreign to it aside.
    pub fn name_of(&self, records: &[Record], part: usize, config: &Config) -> Option<IdRef> {
        let foreign = self.foreign_keys(part);
        let ids = records
            .iter()
            .zip(&self.of_record)
            .filter(|(_, p)| **p == part)
            .flat_map(|(r, _)| r.ids.iter())
            .filter(|i| !foreign.contains(&i.value.as_str()));
        crate::correlate::events::naming_id(ids.clone(), config)
            .or_else(|| ids.clone().next())
            .cloned()
    }

    /// The records of `part`, in input order, with the keys foreign to it
    /// taken off their IDs.
    pub fn records_of(&self, records: &[Record], part: usize) -> Vec<Record> {
        let foreign = self.foreign_keys(part);
        records
            .iter()
            .zip(&self.of_record)
            .filter(|(_, p)| **p == part)
            .map(|(r, _)| {
                let mut r = r.clone();
                if !foreign.is_empty() {
                    r.ids.retain(|i| !foreign.contains(&i.value.as_str()));
                }
                r
            })
            .collect()
    }
}

fn is_idem(config: &Config, field: &str) -> bool {
    config.id_kind(field) == Some("idem")
}

/// Splits `records` (one event's, in true order) at keys reused with another
/// payload. `follows` says which ID values join records (not hubs).
pub fn split(records: &[Record], config: &Config, follows: impl Fn(&str) -> bool) -> Parts {
    // Is any key seen with a second payload? Most events have one payload
    // per key and stop here; this runs for every event of the index, so it
    // keeps to small vectors.
    let mut first_of_key: Vec<(&IdRef, Option<String>)> = Vec::new();
    let mut any_split = false;
    // Field -> is it a key: an event has few distinct fields.
    let mut key_fields: Vec<(&str, bool)> = Vec::new();
    let mut keys: Vec<&IdRef> = Vec::new();
    for r in records {
        keys.clear();
        for id in &r.ids {
            let known = key_fields.iter().find(|(f, _)| *f == id.field);
            let is_key = match known {
                Some(&(_, k)) => k,
                None => {
                    let k = is_idem(config, &id.field);
                    key_fields.push((id.field.as_str(), k));
                    k
                }
            };
            if is_key {
                keys.push(id);
            }
        }
        if keys.is_empty() {
            continue;
        }
        let classes = fingerprint_classes(r);
        for key in &keys {
            let at = match first_of_key.iter().position(|(k, _)| k.value == key.value) {
                Some(at) => at,
                None => {
                    first_of_key.push((key, None));
                    first_of_key.len() - 1
                }
            };
            let entry = &mut first_of_key[at];
            match (&entry.1, classes.as_slice()) {
                // The first payload is one a record states alone: a record
                // that compares two (stored vs received) is the conflict.
                (None, [only]) => entry.1 = Some(only.clone()),
                (Some(first), cs) if cs.iter().any(|c| c != first) => any_split = true,
                _ => {}
            }
        }
    }
    if !any_split {
        return Parts::whole(records.len());
    }
    let classes_of: HashMap<usize, Vec<String>> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.ids.iter().any(|id| is_idem(config, &id.field)))
        .map(|(i, r)| (i, fingerprint_classes(r)))
        .collect();
    let first_of_key: HashMap<&str, (IdRef, Option<String>)> = first_of_key
        .into_iter()
        .map(|(k, first)| (k.value.as_str(), (k.clone(), first)))
        .collect();
    // Per split key, each carrier's side: Some(class) or None (no payload).
    let split_keys: HashMap<&str, &str> = first_of_key
        .iter()
        .filter_map(|(k, (_, first))| Some((*k, first.as_deref()?)))
        .filter(|(k, first)| {
            records.iter().enumerate().any(|(i, r)| {
                r.carries(k)
                    && classes_of
                        .get(&i)
                        .is_some_and(|cs| cs.iter().any(|c| c != first))
            })
        })
        .collect();
    let side = |i: usize, first: &str| -> Option<String> {
        let cs = classes_of.get(&i)?;
        cs.iter()
            .find(|c| *c != first)
            .or_else(|| cs.first())
            .cloned()
    };

    let mut uf = crate::correlate::events::UnionFind::new(records.len());
    let mut first_carrier: HashMap<(&str, Option<String>), u32> = HashMap::new();
    let mut weak: Vec<(usize, &str)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        for id in &r.ids {
            let value = id.value.as_str();
            let node = match split_keys.get(value) {
                Some(first) => match side(i, first) {
                    Some(class) => (value, Some(class)),
                    None => {
                        weak.push((i, value));
                        continue;
                    }
                },
                None if follows(value) => (value, None),
                None => continue,
            };
            let at = *first_carrier.entry(node).or_insert(i as u32);
            uf.union(at, i as u32);
        }
    }
    // A record with the key but no payload goes where its other IDs took it,
    // or else to the first payload's side.
    for (i, key) in weak {
        let first = split_keys[key];
        let root = uf.find(i as u32);
        let reached = first_carrier
            .iter()
            .any(|((k, c), &at)| *k == key && c.is_some() && uf.find(at) == root);
        if !reached && let Some(&at) = first_carrier.get(&(key, Some(first.to_string()))) {
            uf.union(at, i as u32);
        }
    }

    let mut part_of_root: HashMap<u32, usize> = HashMap::new();
    let of_record: Vec<usize> = (0..records.len() as u32)
        .map(|i| {
            let root = uf.find(i);
            let next = part_of_root.len();
            *part_of_root.entry(root).or_insert(next)
        })
        .collect();
    let mut conflicts: Vec<Conflict> = Vec::new();
    let mut keys: Vec<&&str> = split_keys.keys().collect();
    keys.sort();
    for key in keys {
        let first = split_keys[*key];
        let carriers: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].carries(key))
            .collect();
        let Some(&orig) = carriers
            .iter()
            .find(|&&i| side(i, first).as_deref() == Some(first))
        else {
            continue;
        };
        // One conflict per later payload.
        let mut others: Vec<(String, Vec<usize>)> = Vec::new();
        for &i in &carriers {
            if let Some(c) = side(i, first).filter(|c| c != first) {
                match others.iter_mut().find(|(o, _)| *o == c) {
                    Some((_, v)) => v.push(i),
                    None => others.push((c, vec![i])),
                }
            }
        }
        for (class, mut evidence) in others {
            let other = of_record[evidence[0]];
            // The other side's records that carry the key without a payload
            // (the request that brought it) are evidence too.
            evidence.extend(
                carriers
                    .iter()
                    .filter(|&&i| of_record[i] == other && side(i, first).is_none()),
            );
            evidence.sort_unstable();
            evidence.insert(0, orig);
            conflicts.push(Conflict {
                key: first_of_key[*key].0.clone(),
                original: of_record[orig],
                other,
                first_fingerprint: first.to_string(),
                other_fingerprint: class,
                evidence: evidence
                    .iter()
                    .map(|&i| records[i].source.clone())
                    .collect(),
                name: None,
                context: None,
            });
        }
    }
    let mut parts = Parts {
        count: part_of_root.len(),
        of_record,
        conflicts,
    };
    let names: Vec<Option<IdRef>> = (0..parts.count)
        .map(|p| parts.name_of(records, p, config))
        .collect();
    for c in &mut parts.conflicts {
        c.name = names[c.other].clone();
        c.context = (c.original != c.other)
            .then(|| names[c.original].clone())
            .flatten();
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    fn with_hash(mut r: Record, hash: &str) -> Record {
        r.attrs.push(("payload_hash".into(), hash.into()));
        r
    }

    fn lines(evidence: &[SourceRef]) -> Vec<u64> {
        evidence.iter().map(|s| s.line).collect()
    }

    fn config() -> Config {
        Config::default()
    }

    #[test]
    fn a_rejected_request_under_a_reused_key_is_its_own_event() {
        let records = vec![
            with_hash(
                rec(
                    1,
                    1,
                    "api",
                    &[("event_id", "evt_a"), ("idempotency_key", "idem_1")],
                    "received",
                ),
                "sha256:aaaaaaaaaaaaaaaa",
            ),
            rec(
                2,
                2,
                "api",
                &[("idempotency_key", "idem_1")],
                "key completed",
            ),
            rec(3, 3, "gw", &[("request_id", "req_b")], "POST"),
            rec(
                4,
                4,
                "api",
                &[
                    ("request_id", "req_b"),
                    ("event_id", "evt_b"),
                    ("idempotency_key", "idem_1"),
                ],
                "received",
            ),
            with_hash(
                rec(
                    5,
                    5,
                    "api",
                    &[("event_id", "evt_b"), ("idempotency_key", "idem_1")],
                    "reused",
                ),
                "sha256:bbbbbbbbbbbbbbbb",
            ),
        ];
        let parts = split(&records, &config(), |_| true);
        assert_eq!(parts.count, 2);
        assert_eq!(parts.of_record, vec![0, 0, 1, 1, 1]);
        assert_eq!(parts.conflicts.len(), 1);
        let c = &parts.conflicts[0];
        assert_eq!((c.original, c.other), (0, 1));
        assert_eq!(lines(&c.evidence), vec![1, 4, 5]);
        assert_eq!(c.name.as_ref().unwrap().value, "evt_b");
        assert_eq!(c.context.as_ref().unwrap().value, "evt_a");
        assert_eq!(parts.foreign_keys(1), vec!["idem_1"]);
        assert!(
            parts
                .records_of(&records, 1)
                .iter()
                .all(|r| !r.carries("idem_1"))
        );
        assert!(
            parts
                .records_of(&records, 0)
                .iter()
                .all(|r| r.carries("idem_1"))
        );
    }

    #[test]
    fn a_safe_replay_and_a_cut_short_hash_stay_with_their_event() {
        let mut records = vec![
            with_hash(
                rec(1, 1, "db", &[("idempotency_key", "k-1")], "row"),
                "29df24d720bf9e1b27f547c701077297",
            ),
            with_hash(
                rec(
                    2,
                    2,
                    "api",
                    &[("idempotency_key", "k-1"), ("request_id", "r-2")],
                    "replay",
                ),
                "29DF24D720BF9E1B",
            ),
        ];
        let parts = split(&records, &config(), |_| true);
        assert_eq!((parts.count, parts.conflicts.len()), (1, 0));
        // A record that compares the stored payload with another is the
        // conflict, on the other side.
        let mut r = rec(
            3,
            3,
            "api",
            &[("idempotency_key", "k-1"), ("request_id", "r-3")],
            "mismatch",
        );
        r.attrs
            .push(("request_hash.stored".into(), "29df24d720bf9e1b".into()));
        r.attrs
            .push(("request_hash.received".into(), "f351cc21e1ef8096".into()));
        records.push(r);
        records.push(rec(
            4,
            4,
            "web",
            &[("idempotency_key", "k-1"), ("request_id", "r-3")],
            "rejected",
        ));
        let parts = split(&records, &config(), |_| true);
        assert_eq!(parts.of_record, vec![0, 0, 1, 1]);
        assert_eq!(parts.conflicts[0].other_fingerprint, "f351cc21e1ef");
        assert_eq!(lines(&parts.conflicts[0].evidence), vec![1, 3, 4]);
    }

    #[test]
    fn other_ids_that_join_both_sides_keep_one_event_and_the_conflict() {
        let records = vec![
            with_hash(
                rec(
                    1,
                    1,
                    "api",
                    &[("idempotency_key", "k"), ("order_id", "ord_123456")],
                    "a",
                ),
                "aaaaaaaa1",
            ),
            with_hash(
                rec(
                    2,
                    2,
                    "api",
                    &[("idempotency_key", "k"), ("order_id", "ord_123456")],
                    "b",
                ),
                "bbbbbbbb2",
            ),
        ];
        let parts = split(&records, &config(), |_| true);
        assert_eq!(parts.count, 1);
        assert_eq!(parts.conflicts.len(), 1);
        assert_eq!(
            (parts.conflicts[0].original, parts.conflicts[0].other),
            (0, 0)
        );
        assert!(!parts.is_split_key("k"));
        // Not followed (a hub): the order id no longer joins them.
        let parts = split(&records, &config(), |v| v != "ord_123456");
        assert_eq!(parts.count, 2);
        assert!(parts.is_split_key("k"));
    }
}
