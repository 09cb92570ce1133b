//! hopline: reconstructs what happened to one business event during an
//! incident. The modules follow the data flow of design.md:
//! sources -> parse -> (normalize) -> index -> correlate -> detect -> present.

pub mod analysis;
pub mod config;
pub mod correlate;
pub mod detect;
pub mod index;
pub mod ingest;
pub mod parse;
pub mod present;
pub mod record;
pub mod sources;
