//! The whole index analysed: index -> correlate -> detect for every record,
//! as `ingest` is sources -> parse -> index for every file. The clock offsets
//! an analysis finds are kept with the index, so that records read back
//! later (a cold `timeline`, an event opened in the TUI) come in the order
//! the analysis used.

use crate::config::Config;
use crate::detect::{Analysis, AnalysisError, analyse_scan};
use crate::index::RecordIndex;

pub fn analyse(index: &RecordIndex, config: &Config) -> Result<Analysis, AnalysisError> {
    let snapshot = index.snapshot();
    let mut analysis = analyse_scan(&snapshot, config)?;
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
    Ok(analysis)
}
