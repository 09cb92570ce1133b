//! The bundle over time: records, errors and findings per time bucket, for
//! the TUI's overview and the incident export's chart. Kept fine-grained
//! ([`FINE_BUCKETS`]) and resampled to whatever width shows it.

use serde::Serialize;

use crate::record::{Kind, Level, Micros, Record};

pub const FINE_BUCKETS: usize = 240;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub records: u64,
    pub errors: u64,
    pub findings: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    pub start: Micros,
    /// The time of the last record counted (`start` is the first's).
    pub last: Micros,
    /// Microseconds per bucket (at least 1).
    pub width: Micros,
    pub buckets: Vec<Bucket>,
}

impl Histogram {
    /// Counts records (metrics aside: they are context, not traffic) and
    /// errors; findings are added with [`Histogram::add_finding`].
    pub fn of(records: &[Record]) -> Histogram {
        let traffic = || records.iter().filter(|r| r.kind != Kind::Metric);
        let times: Vec<Micros> = traffic().map(|r| r.ts).collect();
        let errors: Vec<Micros> = traffic()
            .filter(|r| matches!(r.level, Level::Error | Level::Fatal))
            .map(|r| r.ts)
            .collect();
        Histogram::of_times(&times, &errors)
    }

    /// The same from the times of traffic records and of errors among them.
    pub fn of_times(traffic: &[Micros], errors: &[Micros]) -> Histogram {
        let (Some(&first), Some(&last)) = (traffic.iter().min(), traffic.iter().max()) else {
            return Histogram::default();
        };
        let width = ((last - first) / FINE_BUCKETS as i64 + 1).max(1);
        let mut h = Histogram {
            start: first,
            last,
            width,
            buckets: vec![Bucket::default(); FINE_BUCKETS],
        };
        for &ts in traffic {
            let i = h.slot(ts);
            h.buckets[i].records += 1;
        }
        for &ts in errors {
            let i = h.slot(ts);
            h.buckets[i].errors += 1;
        }
        h
    }

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

    #[test]
    fn counts_resample_without_losing_anything() {
        let mut records: Vec<Record> = (0..100)
            .map(|i| rec(i * 1000, i as u64, "a", &[], "x"))
            .collect();
        records[99].level = Level::Error;
        let mut h = Histogram::of(&records);
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
    }
}
