//! The bundle over time: records, errors and findings per time bucket, for
//! the TUI's overview and the incident export's chart. Kept fine-grained
//! ([`FINE_BUCKETS`]) and resampled to whatever width shows it.

use serde::{Deserialize, Serialize};

use crate::record::{Kind, Level, Micros};

pub const FINE_BUCKETS: usize = 240;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub records: u64,
    pub errors: u64,
    pub findings: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub start: Micros,
    /// The time of the last record counted (`start` is the first's).
    pub last: Micros,
    /// Microseconds per bucket (at least 1).
    pub width: Micros,
    pub buckets: Vec<Bucket>,
    /// Records far before or after the rest (a stray clock, one line from
    /// another year): counted here rather than stretching the buckets over
    /// years (see [`Times::histogram`]).
    #[serde(default)]
    pub far_before: u64,
    #[serde(default)]
    pub far_after: u64,
}

/// The share of records at each end that may lie anywhere: the span is
/// judged from the rest (the central 99 %).
const TAIL_PER_MILLE: usize = 5;
/// Records less than this far outside the central span still belong to it.
const NEAR_MIN: Micros = 60_000_000;

/// Record times gathered one record at a time; bucketed once the span is
/// known.
#[derive(Debug, Default)]
pub struct Times {
    traffic: Vec<Micros>,
    errors: Vec<Micros>,
}

impl Times {
    /// Metrics are left out: they are context, not traffic.
    pub fn add(&mut self, ts: Micros, kind: Kind, level: Level) {
        if kind == Kind::Metric {
            return;
        }
        self.traffic.push(ts);
        if matches!(level, Level::Error | Level::Fatal) {
            self.errors.push(ts);
        }
    }

    /// Records and errors per bucket; findings are added with
    /// [`Histogram::add_finding`].
    ///
    /// The buckets cover every record except those far outside the central
    /// 99 %: more than that span (and at least a minute) before or after
    /// it. One record from 2024 in a 2018 capture would otherwise make
    /// every bucket a week wide.
    pub fn histogram(mut self) -> Histogram {
        let Some((lo, hi)) = self.near_range() else {
            return Histogram::default();
        };
        let near = |ts: &Micros| (lo..=hi).contains(ts);
        let (Some(first), Some(last)) = (
            self.traffic.iter().copied().filter(near).min(),
            self.traffic.iter().copied().filter(near).max(),
        ) else {
            return Histogram::default();
        };
        let width = ((last - first) / FINE_BUCKETS as i64 + 1).max(1);
        let mut h = Histogram {
            start: first,
            last,
            width,
            buckets: vec![Bucket::default(); FINE_BUCKETS],
            far_before: 0,
            far_after: 0,
        };
        for &ts in &self.traffic {
            if ts < lo {
                h.far_before += 1;
            } else if ts > hi {
                h.far_after += 1;
            } else {
                let i = h.slot(ts);
                h.buckets[i].records += 1;
            }
        }
        for &ts in self.errors.iter().filter(|ts| near(ts)) {
            let i = h.slot(ts);
            h.buckets[i].errors += 1;
        }
        h
    }

    /// The times that count as near the rest (see [`Times::histogram`]).
    fn near_range(&mut self) -> Option<(Micros, Micros)> {
        let n = self.traffic.len();
        if n == 0 {
            return None;
        }
        let tail = n * TAIL_PER_MILLE / 1000;
        let (_, &mut low, _) = self.traffic.select_nth_unstable(tail);
        let (_, &mut high, _) = self.traffic.select_nth_unstable(n - 1 - tail);
        let margin = (high - low).max(NEAR_MIN);
        Some((low.saturating_sub(margin), high.saturating_add(margin)))
    }
}

impl Histogram {
    fn slot(&self, ts: Micros) -> usize {
        (((ts - self.start).max(0) / self.width) as usize).min(self.buckets.len().saturating_sub(1))
    }

    pub fn add_finding(&mut self, ts: Micros) {
        if !self.buckets.is_empty() {
            let i = self.slot(ts);
            self.buckets[i].findings += 1;
        }
    }

    /// First and last record time, when anything was counted.
    pub fn span(&self) -> Option<(Micros, Micros)> {
        (!self.buckets.is_empty()).then_some((self.start, self.last))
    }

    pub fn end(&self) -> Micros {
        self.start + self.width * self.buckets.len() as Micros
    }

    /// The same span in `n` buckets (n divides nothing in particular: each
    /// coarse bucket sums the fine buckets whose start falls in it).
    pub fn resample(&self, n: usize) -> Histogram {
        if self.buckets.is_empty() || n == 0 {
            return Histogram::default();
        }
        let span = self.width * self.buckets.len() as Micros;
        let width = (span / n as Micros).max(1);
        let mut out = vec![Bucket::default(); n];
        for (i, b) in self.buckets.iter().enumerate() {
            let j = ((i * n) / self.buckets.len()).min(n - 1);
            out[j].records += b.records;
            out[j].errors += b.errors;
            out[j].findings += b.findings;
        }
        Histogram {
            start: self.start,
            last: self.last,
            width,
            buckets: out,
            far_before: self.far_before,
            far_after: self.far_after,
        }
    }

    /// Time range `[from, to)` of coarse buckets `a..=b`.
    pub fn range_of(&self, a: usize, b: usize) -> (Micros, Micros) {
        let (lo, hi) = (a.min(b), a.max(b));
        (
            self.start + lo as Micros * self.width,
            self.start + (hi as Micros + 1) * self.width,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;
    use crate::record::Record;

    #[test]
    fn counts_resample_without_losing_anything() {
        let mut records: Vec<Record> = (0..100)
            .map(|i| rec(i * 1000, i as u64, "a", &[], "x"))
            .collect();
        records[99].level = Level::Error;
        let mut times = Times::default();
        records
            .iter()
            .for_each(|r| times.add(r.ts, r.kind, r.level));
        let mut h = times.histogram();
        h.add_finding(50_000);
        let total = |h: &Histogram| h.buckets.iter().map(|b| b.records).sum::<u64>();
        assert_eq!(total(&h), 100);
        let coarse = h.resample(7);
        assert_eq!(coarse.buckets.len(), 7);
        assert_eq!(total(&coarse), 100);
        assert_eq!(coarse.buckets.iter().map(|b| b.errors).sum::<u64>(), 1);
        assert_eq!(coarse.buckets[6].errors, 1);
        assert_eq!(coarse.buckets.iter().map(|b| b.findings).sum::<u64>(), 1);
        let (from, to) = coarse.range_of(0, 6);
        assert!(from <= 0 && to >= 99_000);
        assert_eq!((h.far_before, h.far_after), (0, 0));
    }

    #[test]
    fn a_record_from_another_year_is_counted_apart_not_stretched_over() {
        const HOUR: Micros = 3_600_000_000;
        let mut times = Times::default();
        // A six-hour capture, one line a minute...
        for i in 0..360 {
            times.add(i * 60_000_000, Kind::Log, Level::Info);
        }
        // ...with one line six years later and one a day before.
        times.add(6 * 365 * 24 * HOUR, Kind::Log, Level::Error);
        times.add(-24 * HOUR, Kind::Log, Level::Info);
        let h = times.histogram();
        assert_eq!((h.far_before, h.far_after), (1, 1));
        assert_eq!((h.start, h.last), (0, 359 * 60_000_000));
        assert_eq!(h.buckets.iter().map(|b| b.records).sum::<u64>(), 360);
        assert_eq!(h.buckets.iter().map(|b| b.errors).sum::<u64>(), 0);
        assert_eq!(h.resample(10).far_after, 1);

        // Tails that are part of the traffic (a slow start, a long end)
        // stay: only what is far from the central 99 % is set apart.
        let mut times = Times::default();
        for i in 0..1000 {
            times.add(i * 1_000_000, Kind::Log, Level::Info);
        }
        times.add(1000 * 1_000_000 + 10 * 60_000_000, Kind::Log, Level::Info);
        let h = times.histogram();
        assert_eq!((h.far_before, h.far_after), (0, 0));
    }
}
