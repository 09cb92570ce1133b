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
}

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
    pub fn histogram(self) -> Histogram {
        let (Some(&first), Some(&last)) = (self.traffic.iter().min(), self.traffic.iter().max())
        else {
            return Histogram::default();
        };
        let width = ((last - first) / FINE_BUCKETS as i64 + 1).max(1);
        let mut h = Histogram {
            start: first,
            last,
            width,
            buckets: vec![Bucket::default(); FINE_BUCKETS],
        };
        for &ts in &self.traffic {
            let i = h.slot(ts);
            h.buckets[i].records += 1;
        }
        for &ts in &self.errors {
            let i = h.slot(ts);
            h.buckets[i].errors += 1;
        }
        h
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
    }
}
