//! Presentation: what `correlate` and `detect` return, for people and
//! scripts. Never parses a log line.

pub mod contract;
pub mod detail;
pub mod export;
pub mod sanitize;
pub mod step;
pub mod text;
pub mod tui;
