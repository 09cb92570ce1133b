//! Clock skew between instances, estimated the way NTP does it, from
//! caller/callee brackets found across many events.
//!
//! A caller instance A logs a request going out (`p`: a sent or enqueued hop
//! carrying ID `i`) and later a line carrying `i` again that is not another
//! send (`q`: it heard back). The callee instance B's handling of `i`, from
//! its received/picked line `x` to its last line carrying `i` before it
//! receives `i` again, happened in between. With θ the amount B's clock runs
//! ahead of A's:
//!
//! ```text
//! ts(x) − θ > ts(p)   and   ts(last) − θ < ts(q)
//! θ ∈ (ts(last) − ts(q), ts(x) − ts(p))
//! ```
//!
//! Intersected over every bracket of the pair, the interval narrows to the
//! offset. An empty intersection means the pair was no bracket after all
//! (an asynchronous consumer, a fire-and-forget send) and says nothing, and
//! so does a pair seen too few times. Instances whose interval holds zero
//! agree; the group of agreeing instances with the most records keeps its
//! time, and every other group is moved by the midpoint of its interval with
//! an instance already placed. When two groups are tied to each other and to
//! nothing else, nothing in the logs says which clock is wrong: the one with
//! fewer records is moved, which moves the fewest lines.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::record::{Micros, Record, SourceRef};

use super::classify::{Hop, hop};
use super::events::UnionFind;

/// The offsets found: the instances whose clock was off, and by how much.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    pub offsets: Vec<ClockOffset>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockOffset {
    pub instance: String,
    pub service: String,
    /// How far this instance's clock runs ahead (negative: behind); its
    /// records are moved back by this much.
    pub offset_us: Micros,
    /// The interval the brackets left for the offset.
    pub low_us: Micros,
    pub high_us: Micros,
    /// Caller/callee brackets behind the estimate.
    pub brackets: u64,
    /// The instances it was measured against.
    pub against: Vec<String>,
    /// The tightest brackets: callee and caller lines.
    pub evidence: Vec<SourceRef>,
}

impl Clock {
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    pub fn offset_of(&self, instance: &str) -> Micros {
        self.offsets
            .iter()
            .find(|o| o.instance == instance)
            .map_or(0, |o| o.offset_us)
    }

    /// Moves a record to the reference clock and says by how much.
    pub fn apply(&self, r: &mut Record) {
        let offset = self.offset_of(&r.instance);
        if offset != 0 {
            r.skew = offset;
            r.ts -= offset;
        }
    }
}

/// The instances among `records` whose times were corrected, and by how
/// much, once each.
pub fn corrected_instances(records: &[Record]) -> Vec<(&str, Micros)> {
    let mut moved: Vec<(&str, Micros)> = records
        .iter()
        .filter(|r| r.skew != 0)
        .map(|r| (r.instance.as_str(), r.skew))
        .collect();
    moved.sort_unstable();
    moved.dedup();
    moved
}

/// One instance pair (a, b): θ(a) − θ(b) lies in `[lo, hi]`.
#[derive(Debug, Clone)]
struct Interval {
    lo: Micros,
    hi: Micros,
    n: u64,
    /// The brackets that set `lo` and `hi`.
    lo_at: Vec<SourceRef>,
    hi_at: Vec<SourceRef>,
}

impl Interval {
    /// Bounds nothing yet: the start of an intersection.
    fn unbounded() -> Interval {
        Interval {
            lo: Micros::MIN,
            hi: Micros::MAX,
            n: 0,
            lo_at: Vec::new(),
            hi_at: Vec::new(),
        }
    }

    /// One bracket, with the lines that set each end.
    fn one(lo: Micros, hi: Micros, lo_at: [&SourceRef; 2], hi_at: [&SourceRef; 2]) -> Interval {
        Interval {
            lo,
            hi,
            n: 1,
            lo_at: lo_at.into_iter().cloned().collect(),
            hi_at: hi_at.into_iter().cloned().collect(),
        }
    }

    fn merge(&mut self, other: Interval) {
        self.n += other.n;
        if other.lo > self.lo {
            self.lo = other.lo;
            self.lo_at = other.lo_at;
        }
        if other.hi < self.hi {
            self.hi = other.hi;
            self.hi_at = other.hi_at;
        }
    }

    /// The same interval seen from the other instance.
    fn flipped(self) -> Interval {
        Interval {
            lo: self.hi.saturating_neg(),
            hi: self.lo.saturating_neg(),
            n: self.n,
            lo_at: self.hi_at,
            hi_at: self.lo_at,
        }
    }

    /// Both ends moved by `theta`, the other instance's own offset.
    fn shifted(mut self, theta: Micros) -> Interval {
        self.lo = self.lo.saturating_add(theta);
        self.hi = self.hi.saturating_add(theta);
        self
    }
}

#[derive(Debug, Clone, Default)]
struct Instance {
    service: String,
    records: u64,
}

/// Brackets gathered event by event; [`Brackets::resolve`] turns them into
/// a [`Clock`]. Two accumulators (one per thread) merge.
#[derive(Debug, Default)]
pub struct Brackets {
    /// (a, b) with a < b -> θ(a) − θ(b).
    pairs: HashMap<(String, String), Interval>,
    instances: HashMap<String, Instance>,
}

fn is_send(h: Option<Hop>) -> bool {
    matches!(h, Some(Hop::Sent | Hop::Enqueued))
}

fn is_receive(h: Option<Hop>) -> bool {
    matches!(h, Some(Hop::Received | Hop::Picked))
}

impl Brackets {
    /// One event's records, in the order of their own timestamps.
    pub fn add_event(&mut self, records: &[Record], hubs: &HashSet<&str>) {
        for r in records {
            match self.instances.get_mut(&r.instance) {
                Some(inst) => inst.records += 1,
                None => {
                    let inst = Instance {
                        service: r.service.clone(),
                        records: 1,
                    };
                    self.instances.insert(r.instance.clone(), inst);
                }
            }
        }
        let Some(first) = records.first() else {
            return;
        };
        if records.iter().all(|r| r.instance == first.instance) {
            return;
        }
        let hops: Vec<Option<Hop>> = records.iter().map(hop).collect();
        if !hops.iter().any(|&h| is_send(h)) || !hops.iter().any(|&h| is_receive(h)) {
            return;
        }
        // (caller instance, ID) -> its brackets (p, q), as positions.
        let mut calls: BTreeMap<(&str, &str), Vec<(usize, usize)>> = BTreeMap::new();
        for (pi, p) in records.iter().enumerate() {
            if !is_send(hops[pi]) {
                continue;
            }
            for id in p.ids.iter().filter(|i| !hubs.contains(i.value.as_str())) {
                let answer = (pi + 1..records.len()).find(|&j| {
                    records[j].instance == p.instance
                        && !is_send(hops[j])
                        && records[j].carries(&id.value)
                });
                if let Some(qi) = answer {
                    let at = calls.entry((&p.instance, &id.value)).or_default();
                    if !at.contains(&(pi, qi)) {
                        at.push((pi, qi));
                    }
                }
            }
        }
        let mut counted: HashSet<(usize, usize)> = HashSet::new();
        for ((caller, id), brackets) in &calls {
            for (xi, x) in records.iter().enumerate() {
                if x.instance == *caller || !is_receive(hops[xi]) || !x.carries(id) {
                    continue;
                }
                let mut last = xi;
                for (j, r) in records.iter().enumerate().skip(xi + 1) {
                    if r.instance != x.instance || !r.carries(id) {
                        continue;
                    }
                    if is_receive(hops[j]) {
                        break;
                    }
                    last = j;
                }
                // With several calls on one ID, the one this handling fits
                // best on the clocks as they are.
                let fit = |&&(pi, qi): &&(usize, usize)| {
                    let (start, end) = (records[pi].ts, records[qi].ts);
                    (start - x.ts).max(records[last].ts - end).max(0)
                };
                let Some(&(pi, qi)) = brackets.iter().min_by_key(fit) else {
                    continue;
                };
                if !counted.insert((pi, xi)) {
                    continue;
                }
                let (p, q, end) = (&records[pi], &records[qi], &records[last]);
                let callee_ahead = Interval::one(
                    end.ts - q.ts,
                    x.ts - p.ts,
                    [&end.source, &q.source],
                    [&x.source, &p.source],
                );
                self.add(&x.instance, &p.instance, callee_ahead);
            }
        }
    }

    /// One bracket of θ(a) − θ(b), filed under the pair's canonical order.
    fn add(&mut self, a: &str, b: &str, interval: Interval) {
        let (key, interval) = if a < b {
            ((a.to_string(), b.to_string()), interval)
        } else {
            ((b.to_string(), a.to_string()), interval.flipped())
        };
        self.pairs
            .entry(key)
            .or_insert_with(Interval::unbounded)
            .merge(interval);
    }

    pub fn merge(&mut self, other: Brackets) {
        for (key, interval) in other.pairs {
            match self.pairs.get_mut(&key) {
                Some(mine) => mine.merge(interval),
                None => {
                    self.pairs.insert(key, interval);
                }
            }
        }
        for (name, inst) in other.instances {
            let mine = self.instances.entry(name).or_default();
            mine.records += inst.records;
            if mine.service.is_empty() {
                mine.service = inst.service;
            }
        }
    }

    /// The offsets the brackets support: pairs seen at least `min_brackets`
    /// times, offsets beyond `tolerance` (timestamp precision) either way.
    pub fn resolve(&self, min_brackets: u64, tolerance: Micros) -> Clock {
        let usable: BTreeMap<(&str, &str), &Interval> = self
            .pairs
            .iter()
            .filter(|(_, i)| i.n >= min_brackets && i.lo <= i.hi)
            .map(|((a, b), i)| ((a.as_str(), b.as_str()), i))
            .collect();
        if usable.is_empty() {
            return Clock::default();
        }
        let names: Vec<&str> = {
            let mut n: Vec<&str> = usable.keys().flat_map(|&(a, b)| [a, b]).collect();
            n.sort_unstable();
            n.dedup();
            n
        };
        let pos: HashMap<&str, usize> = names.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        // The pairs by instance position: (a, b, θ(a) − θ(b)).
        let edges: Vec<(usize, usize, &Interval)> = usable
            .iter()
            .map(|(&(a, b), &i)| (pos[a], pos[b], i))
            .collect();

        // Groups of instances whose clocks agree.
        let agrees = |i: &Interval| i.lo <= tolerance && i.hi >= -tolerance;
        let mut uf = UnionFind::new(names.len());
        for &(a, b, interval) in &edges {
            if agrees(interval) {
                uf.union(a as u32, b as u32);
            }
        }
        let groups: Vec<usize> = (0..names.len())
            .map(|i| uf.find(i as u32) as usize)
            .collect();
        let records_of = |g: usize| -> u64 {
            (0..names.len())
                .filter(|&i| groups[i] == g)
                .map(|i| self.instances.get(names[i]).map_or(0, |s| s.records))
                .sum()
        };
        let mut unplaced: Vec<usize> = {
            let mut g = groups.clone();
            g.sort_unstable();
            g.dedup();
            // Biggest first; ties by name, for a stable answer.
            g.sort_by_key(|&g| (std::cmp::Reverse(records_of(g)), names[g]));
            g
        };

        // Place groups one at a time, each against those already placed.
        let mut placed: HashMap<usize, Micros> = HashMap::new();
        let mut out = Clock::default();
        while !unplaced.is_empty() {
            let tied = unplaced.iter().position(|&g| {
                edges.iter().any(|&(a, b, _)| {
                    let (ga, gb) = (groups[a], groups[b]);
                    (ga == g && placed.contains_key(&gb)) || (gb == g && placed.contains_key(&ga))
                })
            });
            let Some(at) = tied else {
                // A new reference: nothing ties this group to the others.
                placed.insert(unplaced.remove(0), 0);
                continue;
            };
            let g = unplaced.remove(at);
            let mut bound = Interval::unbounded();
            let mut against = Vec::new();
            for &(a, b, interval) in &edges {
                // Seen from g: θ(g) − θ(other) within `seen`.
                let (other, seen) = if groups[a] == g {
                    (b, interval.clone())
                } else if groups[b] == g {
                    (a, interval.clone().flipped())
                } else {
                    continue;
                };
                let Some(&theta) = placed.get(&groups[other]) else {
                    continue;
                };
                bound.merge(seen.shifted(theta));
                against.push(names[other].to_string());
            }
            let theta = if bound.lo > bound.hi || agrees(&bound) {
                // Contradicting brackets, or no measurable offset.
                0
            } else {
                bound.lo + (bound.hi - bound.lo) / 2
            };
            placed.insert(g, theta);
            if theta == 0 {
                continue;
            }
            against.sort();
            against.dedup();
            let members = names.iter().enumerate().filter(|&(i, _)| groups[i] == g);
            for (_, name) in members {
                out.offsets.push(ClockOffset {
                    instance: name.to_string(),
                    service: self
                        .instances
                        .get(*name)
                        .map(|s| s.service.clone())
                        .unwrap_or_default(),
                    offset_us: theta,
                    low_us: bound.lo,
                    high_us: bound.hi,
                    brackets: bound.n,
                    against: against.clone(),
                    evidence: bound.lo_at.iter().chain(&bound.hi_at).cloned().collect(),
                });
            }
        }
        out.offsets.sort_by(|a, b| a.instance.cmp(&b.instance));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    fn on(mut r: Record, instance: &str) -> Record {
        r.instance = instance.into();
        r.source.path = format!("{instance}.log");
        r
    }

    /// A worker calls the ledger; the ledger's clock runs `skew` ahead.
    fn call(n: i64, skew: Micros, gap: Micros) -> Vec<Record> {
        let t = n * 1_000_000;
        let id = format!("ch{n}");
        let ids = [("charge_id", id.as_str())];
        let mut v = vec![
            on(rec(t, 1, "worker", &ids, "calling ledger-service"), "w1"),
            on(
                rec(
                    t + gap + skew,
                    1,
                    "ledger",
                    &ids,
                    "POST /v1/entries received",
                ),
                "l1",
            ),
            on(
                rec(
                    t + 2 * gap + skew,
                    2,
                    "ledger",
                    &ids,
                    "ledger entry written",
                ),
                "l1",
            ),
            on(
                rec(t + 3 * gap, 2, "worker", &ids, "ledger entry recorded"),
                "w1",
            ),
            on(rec(t + 4 * gap, 3, "worker", &ids, "charge done"), "w1"),
        ];
        v.sort_by_key(|r| r.ts);
        v
    }

    fn brackets(events: impl IntoIterator<Item = Vec<Record>>) -> Brackets {
        let mut b = Brackets::default();
        for e in events {
            b.add_event(&e, &HashSet::new());
        }
        b
    }

    #[test]
    fn a_callee_ahead_of_its_caller_is_moved_back_by_the_bracket_midpoint() {
        let b = brackets((0..20).map(|n| call(n, 250_000, 3_000 + n * 10)));
        let clock = b.resolve(5, 1_000);
        assert_eq!(clock.offsets.len(), 1, "{clock:?}");
        let o = &clock.offsets[0];
        assert_eq!(o.instance, "l1");
        assert_eq!(o.service, "ledger");
        assert_eq!(o.against, ["w1"]);
        assert_eq!(o.brackets, 20);
        // θ ∈ (250 ms − 3 ms, 250 ms + 3 ms): the tightest call sets both ends.
        assert_eq!((o.low_us, o.high_us), (247_000, 253_000));
        assert_eq!(o.offset_us, 250_000);
        let mut r = on(rec(1_250_000, 9, "ledger", &[], "x"), "l1");
        clock.apply(&mut r);
        assert_eq!((r.ts, r.skew), (1_000_000, 250_000));
    }

    #[test]
    fn a_clock_behind_is_found_too_and_agreeing_clocks_are_left_alone() {
        let behind = brackets((0..10).map(|n| call(n, -80_000, 4_000))).resolve(5, 1_000);
        assert_eq!(behind.offset_of("l1"), -80_000);
        assert_eq!(behind.offset_of("w1"), 0);
        let fine = brackets((0..10).map(|n| call(n, 0, 4_000))).resolve(5, 1_000);
        assert!(fine.is_empty(), "{fine:?}");
    }

    #[test]
    fn few_brackets_or_contradicting_ones_move_nothing() {
        let few = brackets((0..4).map(|n| call(n, 250_000, 3_000))).resolve(5, 1_000);
        assert!(few.is_empty());
        // An async consumer: the "callee" lands anywhere after the caller
        // heard back, so the brackets contradict each other.
        let wandering = brackets((0..10).map(|n| call(n, 40_000 + n * 20_000, 3_000)));
        assert!(wandering.resolve(5, 1_000).is_empty());
    }

    #[test]
    fn the_larger_group_keeps_its_time() {
        // w1 and a1 agree (a1 calls w1 in time); l1 is ahead of w1.
        let mut events: Vec<Vec<Record>> = (0..10).map(|n| call(n, 120_000, 3_000)).collect();
        for n in 0..10 {
            let t = n * 1_000_000 + 500_000;
            let id = format!("r{n}");
            let ids = [("request_id", id.as_str())];
            let mut e = vec![
                on(rec(t, 1, "api", &ids, "proxying to worker"), "a1"),
                on(rec(t + 2_000, 5, "worker", &ids, "request received"), "w1"),
                on(rec(t + 5_000, 2, "api", &ids, "request completed"), "a1"),
            ];
            e.sort_by_key(|r| r.ts);
            events.push(e);
        }
        let clock = brackets(events).resolve(5, 1_000);
        assert_eq!(clock.offsets.len(), 1, "{clock:?}");
        assert_eq!(clock.offset_of("l1"), 120_000);
    }
}
