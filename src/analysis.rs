//! The whole index analysed: index -> correlate -> detect for every record,
//! as `ingest` is sources -> parse -> index for every file. The clock offsets
//! an analysis finds are kept with the index, so that records read back
//! later (a cold `timeline`, an event opened in the TUI) come in the order
//! the analysis used.

use crate::config::Config;
use crate::detect::{Analysis, AnalysisError, analyse_scan};
use crate::index::RecordIndex;

pub fn analyse(index: &RecordIndex, config: &Config) -> Result<Analysis, AnalysisError> {
    let analysis = analyse_scan(&index.snapshot(), config)?;
    if index.clock() != analysis.clock {
        // Best effort: a read-only index still reads back in corrected
        // order in this process; only a later cold `timeline` would not.
        let _ = index.set_clock(analysis.clock.clone());
    }
    Ok(analysis)
}
