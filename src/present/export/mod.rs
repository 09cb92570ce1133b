//! `hopline export`: a markdown postmortem of one event, redacted by default.

pub mod markdown;
pub mod redact;

pub use markdown::{ExportInput, postmortem};
pub use redact::Redactor;
