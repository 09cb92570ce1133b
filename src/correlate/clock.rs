//! Clock skew between instances, estimated the way NTP does it, from
//! caller/callee brackets found across many events — found from the
//! structure of the events, never from the words services log.
//!
//! In one event, an inner instance B's records (its burst, first to last)
//! and an outer instance A's records that carry an ID of the burst. If A
//! called B and waited, the burst happened inside one gap (prev, next) of
//! A's records. With θ the amount B's clock runs ahead of A's:
//!
//! ```text
//! ts(first) − θ > ts(prev)   and   ts(last) − θ < ts(next)
//! θ ∈ (ts(last) − ts(next), ts(first) − ts(prev))
//! ```
//!
//! Each gap wide enough for the burst gives one interval; an event gives a
//! set of disjoint ones. Across the pair's events, the region where the
//! most events' intervals overlap is the offset they agree on. A callee on
//! a skewed clock fits its caller's gaps at one offset in nearly every
//! event; a queue consumer that runs whenever it gets to it, or a task run
//! a fixed delay later in a gap too wide to time anything, agrees only now
//! and then. So a pair counts only when three in four of its events agree,
//! and each inner instance is timed against the outer one that holds it
//! most tightly (its direct caller, not the caller's caller).
//!
//! Instances whose interval holds zero agree; the group of agreeing
//! instances with the most records keeps its time, and every other group is
//! moved by the midpoint of its interval with an instance already placed.
//! When two groups are tied to each other and to nothing else, nothing in
//! the logs says which clock is wrong: the one with fewer records is moved,
//! which moves the fewest lines.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::record::{Kind, Micros, Record, SourceRef};

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
    /// (inner, outer) -> where inner's bursts fit in outer's gaps.
    fits: HashMap<String, HashMap<String, Fits>>,
}

/// One event's fit of an inner instance into one gap of an outer one.
#[derive(Debug, Clone)]
struct Fit {
    event: u64,
    lo: Micros,
    hi: Micros,
    lo_at: [SourceRef; 2],
    hi_at: [SourceRef; 2],
}

#[derive(Debug, Default)]
struct Fits {
    events: u64,
    intervals: Vec<Fit>,
}

/// Events per instance pair that are kept for the estimate: enough for a
/// narrow interval, few enough for flat memory at any bundle size.
const MAX_FITS_PER_PAIR: u64 = 1024;
/// A call whose caller waited this much longer than the callee worked
/// bounds the offset too loosely to tell skew from a queue.
const MAX_FIT_ROOM: Micros = 2_000_000;
/// A bigger event is a hub that slipped through, not a call to time.
const MAX_EVENT_RECORDS: usize = 2000;

/// The region covered by the most events' fits (each event counted once:
/// its fits are disjoint), with how many, as an interval whose ends name
/// the fits that set them.
fn most_agreed(fits: &[Fit]) -> Option<(u64, Interval)> {
    // Sweep: +1 at each lo, −1 at each hi (open intervals: ends first).
    let mut edges: Vec<(Micros, i8)> = Vec::with_capacity(fits.len() * 2);
    for f in fits.iter().filter(|f| f.lo < f.hi) {
        edges.push((f.lo, 1));
        edges.push((f.hi, -1));
    }
    edges.sort_unstable();
    let (mut open, mut best) = (0i64, None::<(i64, Micros)>);
    for (x, d) in edges {
        open += i64::from(d);
        if d > 0 && best.is_none_or(|(b, _)| open > b) {
            best = Some((open, x));
        }
    }
    let (_, at) = best?;
    // The fits covering that point: the region runs from the latest start
    // (`at` itself) to the earliest end among them.
    let covering = || fits.iter().filter(|f| f.lo <= at && f.hi > at);
    let start = covering().max_by_key(|f| f.lo)?;
    let end = covering().min_by_key(|f| f.hi)?;
    let events: HashSet<u64> = covering().map(|f| f.event).collect();
    let n = events.len() as u64;
    Some((
        n,
        Interval {
            lo: start.lo,
            hi: end.hi,
            n,
            lo_at: start.lo_at.to_vec(),
            hi_at: end.hi_at.to_vec(),
        },
    ))
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
        if records.len() > MAX_EVENT_RECORDS || records.iter().all(|r| r.instance == first.instance)
        {
            return;
        }
        // Each instance's records, in its own time order, keeping only
        // those that carry a followed ID.
        let mut by_instance: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
        // Table rows are states stamped by the database, not steps of a
        // call: they time nothing.
        for r in records {
            if matches!(r.kind, Kind::Log | Kind::TaskEvent)
                && r.ids.iter().any(|i| !hubs.contains(i.value.as_str()))
            {
                by_instance.entry(&r.instance).or_default().push(r);
            }
        }
        // An ID every instance of the event carries (a trace id) names the
        // whole request, not one call: two siblings whose lines interleave
        // share it too. With three instances or more, only IDs some of them
        // lack bracket a call.
        let ids_of: BTreeMap<&str, HashSet<&str>> = by_instance
            .iter()
            .map(|(name, rs)| {
                let ids = rs
                    .iter()
                    .flat_map(|r| r.ids.iter().map(|i| i.value.as_str()))
                    .filter(|v| !hubs.contains(v))
                    .collect();
                (*name, ids)
            })
            .collect();
        let mut everywhere: Option<HashSet<&str>> = None;
        for mine in ids_of.values().filter(|_| ids_of.len() >= 3) {
            everywhere = Some(match everywhere {
                None => mine.clone(),
                Some(all) => all.intersection(mine).copied().collect(),
            });
        }
        let everywhere = everywhere.unwrap_or_default();
        for (outer, outer_records) in &by_instance {
            for (inner, inner_records) in &by_instance {
                if outer == inner || outer_records[0].service == inner_records[0].service {
                    continue;
                }
                let full = self
                    .fits
                    .get(*inner)
                    .and_then(|m| m.get(*outer))
                    .is_some_and(|f| f.events >= MAX_FITS_PER_PAIR);
                // A callee's IDs that say which call it served.
                let theirs: HashSet<&str> = ids_of[inner]
                    .iter()
                    .copied()
                    .filter(|v| !everywhere.contains(v))
                    .collect();
                if full || theirs.is_empty() || ids_of[outer].is_disjoint(&theirs) {
                    continue;
                }
                self.fit(outer, outer_records, inner, inner_records, &theirs);
            }
        }
    }

    /// Where `inner`'s records, as one burst, fit between two consecutive
    /// records of `outer`: θ(inner) − θ(outer) ∈ (last − next, first − prev)
    /// for the gap (prev, next). One event, one set of disjoint intervals.
    fn fit(
        &mut self,
        outer: &str,
        outer_records: &[&Record],
        inner: &str,
        inner_records: &[&Record],
        theirs: &HashSet<&str>,
    ) {
        let (Some(first), Some(last)) = (inner_records.first(), inner_records.last()) else {
            return;
        };
        let span = last.ts - first.ts;
        // A caller's request and its answer both name what the callee
        // worked on: only gaps between outer records that carry an ID of
        // the burst are calls. A record that names none of them is some
        // other step of the outer, whatever its time says.
        let around: Vec<&Record> = outer_records
            .iter()
            .copied()
            .filter(|r| r.ids.iter().any(|i| theirs.contains(i.value.as_str())))
            .collect();
        let fits = self
            .fits
            .entry(inner.to_string())
            .or_default()
            .entry(outer.to_string())
            .or_default();
        if fits.events >= MAX_FITS_PER_PAIR {
            return;
        }
        fits.events += 1;
        let event = fits.events;
        for w in around.windows(2) {
            let (prev, next) = (w[0], w[1]);
            // A gap the burst cannot fill, or one so wide that it holds it
            // anywhere (a task scheduled ten seconds out): no evidence.
            let room = next.ts - prev.ts - span;
            if room <= 0 || room > MAX_FIT_ROOM {
                continue;
            }
            fits.intervals.push(Fit {
                event,
                lo: last.ts - next.ts,
                hi: first.ts - prev.ts,
                lo_at: [last.source.clone(), next.source.clone()],
                hi_at: [first.source.clone(), prev.source.clone()],
            });
        }
    }

    /// The offset most events agree on for each pair, as the pair's bracket:
    /// the region where the most events' fits overlap. An inner instance
    /// that fits at one constant offset in most events (a synchronous callee
    /// on a skewed clock) gives a narrow region; one that lands anywhere (a
    /// queue consumer running after its producer) gives nothing.
    fn settle_fits(&mut self) {
        let fits = std::mem::take(&mut self.fits);
        // Each inner instance is timed against its innermost caller only:
        // the outer whose gaps hold it most tightly. A caller further out
        // (the API waiting on the worker that calls the ledger) brackets it
        // too, but so loosely that it would vouch for any offset.
        let mut tightest: HashMap<String, (String, u64, Interval)> = HashMap::new();
        let pairs = fits.into_iter().flat_map(|(inner, m)| {
            m.into_iter()
                .map(move |(outer, f)| ((inner.clone(), outer), f))
        });
        for ((inner, outer), pair) in pairs {
            let Some((count, region)) = most_agreed(&pair.intervals) else {
                continue;
            };
            // Three in four of the pair's events must agree: a callee on a
            // skewed clock fits its caller's gaps every time, while a
            // wandering consumer (or a task run a fixed delay later) agrees
            // with some gap only now and then.
            if count * 4 < pair.events * 3 {
                continue;
            }
            let width = region.hi.saturating_sub(region.lo);
            match tightest.get(&inner) {
                Some((_, _, r)) if r.hi.saturating_sub(r.lo) <= width => {}
                _ => {
                    tightest.insert(inner, (outer, count, region));
                }
            }
        }
        // Per unordered pair, the direction with the most agreement.
        let mut best: HashMap<(String, String), (u64, Interval)> = HashMap::new();
        for (inner, (outer, count, region)) in tightest {
            let (key, interval) = if inner < outer {
                ((inner, outer), region)
            } else {
                ((outer, inner), region.flipped())
            };
            match best.get(&key) {
                Some((n, _)) if *n >= count => {}
                _ => {
                    best.insert(key, (count, interval));
                }
            }
        }
        for (key, (_, interval)) in best {
            self.pairs
                .entry(key)
                .or_insert_with(Interval::unbounded)
                .merge(interval);
        }
    }

    pub fn merge(&mut self, other: Brackets) {
        for (inner, outers) in other.fits {
            let of_inner = self.fits.entry(inner).or_default();
            for (outer, theirs) in outers {
                let mine = of_inner.entry(outer).or_default();
                let shift = mine.events;
                // Each accumulator kept its own first events: the agreement
                // is over all the events whose fits were kept, never capped
                // below them (a cap here let two threads' fits outvote it).
                mine.events += theirs.events;
                mine.intervals
                    .extend(theirs.intervals.into_iter().map(|mut f| {
                        f.event += shift;
                        f
                    }));
            }
        }
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
    pub fn resolve(&mut self, min_brackets: u64, tolerance: Micros) -> Clock {
        self.settle_fits();
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
        let mut b = brackets((0..20).map(|n| call(n, 250_000, 3_000 + n * 10)));
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
        let mut wandering = brackets((0..10).map(|n| call(n, 40_000 + n * 20_000, 3_000)));
        assert!(wandering.resolve(5, 1_000).is_empty());
    }

    /// Two threads' accumulators merged: agreement is counted over all the
    /// events whose fits were kept (a capped count let 58 % pass as 100 %).
    #[test]
    fn merged_accumulators_count_every_event() {
        let half = |from: i64| {
            brackets((from..from + MAX_FITS_PER_PAIR as i64).map(|n| {
                // 58 % of calls agree on +300 ms; the rest wander.
                let skew = if n % 100 < 58 {
                    300_000
                } else {
                    40_000 + (n % 7) * 90_000
                };
                call(n, skew, 3_000)
            }))
        };
        let mut merged = half(0);
        merged.merge(half(10_000));
        assert!(merged.resolve(5, 1_000).is_empty());
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
