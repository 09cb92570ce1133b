//! What the index knows about each source: its identity and how far it was
//! read. This is what makes ingest idempotent and incremental.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::Dialect;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub schema: String,
    /// Absolute bundle roots as ingested, so `open` and follow mode can find
    /// the files again.
    #[serde(default)]
    pub roots: Vec<String>,
    /// Keyed by the path relative to its bundle root.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceState>,
    /// Live Postgres tables, keyed by their provenance path (`postgres:…`).
    #[serde(default)]
    pub tables: BTreeMap<String, TableState>,
}

/// How far a live table was read: rows whose time column is past `cursor`
/// are new (or changed) on the next read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    pub cursor: Option<String>,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    pub dialect: Dialect,
    pub size: u64,
    pub mtime_ns: u128,
    /// Hash of the first bytes: a file replaced by another of the same size
    /// must not pass as unchanged.
    pub head_hash: u64,
    pub head_len: u64,
    /// Bytes consumed (decoded bytes for a compressed file).
    pub offset: u64,
    /// The 1-based number the next line will get.
    pub next_line: u64,
    pub records: u64,
    pub malformed: u64,
    /// The file's last line had no newline yet (a writer mid-line): it was
    /// read, but `offset` and `next_line` stay before it, so when the file
    /// grows the whole line is read again and this line's record replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_line: Option<u64>,
    /// The first malformed lines and why (at most [`REMEMBERED_MALFORMED`]),
    /// so `ingest --report` lists them on any later run too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed_lines: Vec<MalformedLine>,
}

/// A malformed line a source remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedLine {
    pub line: u64,
    /// The short reason counts are grouped by (`Malformed::reason`).
    pub reason: String,
    /// The reason with its detail, as `--report` shows it.
    pub why: String,
}

/// Malformed lines a source remembers with their reason; past this only
/// the count is kept.
pub const REMEMBERED_MALFORMED: usize = 200;

impl Manifest {
    pub fn from_json(s: &str) -> Result<Manifest, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("manifest serialises")
    }
}

/// FNV-1a: stable across Rust versions, unlike std's hasher.
pub fn head_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
