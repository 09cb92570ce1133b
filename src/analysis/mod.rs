//! The whole index analysed: index -> correlate -> detect for every record,
//! as `ingest` is sources -> parse -> index for every file. The result is
//! kept beside the index (see [`kept`]) for the index state it was made
//! from; the clock offsets it found are kept too, so that records read back
//! later (a cold `timeline`, an event opened in the TUI) come in the order
//! the analysis used.

pub mod diff;
pub mod kept;
pub mod metrics;
pub mod triage;

use crate::config::Config;
use crate::detect::{Analysis, AnalysisError, analyse_scan};
use crate::index::RecordIndex;

/// Where an analysis came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Kept from an earlier run on the same index state.
    Kept,
    /// Made now from every record (and kept for the next reader).
    Made,
}

/// The analysis of the index as it is now: the kept one when it was made
/// from this very state, else made now and kept.
pub fn analyse(index: &RecordIndex, config: &Config) -> Result<Analysis, AnalysisError> {
    analyse_with_source(index, config).map(|(a, _)| a)
}

pub fn analyse_with_source(
    index: &RecordIndex,
    config: &Config,
) -> Result<(Analysis, Source), AnalysisError> {
    let snapshot = index.snapshot();
    let (mut analysis, source) = match kept::load(index.dir(), snapshot.stamp(), config) {
        Some(a) => (a, Source::Kept),
        None => {
            let a = analyse_scan(&snapshot, config)?;
            // Best effort: a read-only index is analysed again next time.
            let _ = kept::save(index.dir(), snapshot.stamp(), config, &a);
            (a, Source::Made)
        }
    };
    if let Ok(remembered) = index.malformed() {
        analysis.malformed = remembered.total;
        analysis.malformed_lines = remembered.lines;
    }
    // Best effort: a read-only index still reads back in corrected order
    // in this process; a later cold `timeline` estimates the clock again.
    let hubs = analysis
        .events
        .hubs
        .iter()
        .map(|(h, _)| h.clone())
        .collect();
    let _ = index.set_clock(analysis.clock.clone(), hubs, &snapshot);
    Ok((analysis, source))
}

/// Whether the index as it is now has its analysis kept: then `findings`
/// and the TUI answer without reading the records.
pub fn is_kept(index: &RecordIndex, config: &Config) -> bool {
    kept::is_current(index.dir(), index.snapshot().stamp(), config)
}
