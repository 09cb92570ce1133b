//! The analysis kept beside the index, so that `findings`, `events`, the
//! export and a reopened TUI answer at once instead of reading every record
//! again (43 s at ten million records).
//!
//! What is kept is only ever used for the index state it was made from: the
//! file names the snapshot (its segments and deletions), the configuration
//! and the build that made it. Any commit, another `hopline.toml` or
//! another hopline binary makes it stale, and the next reader analyses
//! again and keeps the new result. A kept analysis can be late, never wrong.
//!
//! Layout: one line of JSON saying what it was made from, then the
//! analysis in postcard (a compact serde format), zstd-compressed. The
//! first line is read alone, so a stale file costs a few bytes to reject.
//! Postcard rather than JSON: at twelve million records the analysis is
//! 800,000 events, and JSON took 2.4 s to read back where a reopened TUI
//! should be ready within a second.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::detect::Analysis;

const FILE: &str = "analysis.zst";
/// Bumped when the kept layout changes.
const FORMAT: u32 = 3;
const ZSTD_LEVEL: i32 = 3;

/// What a kept analysis was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Made {
    format: u32,
    /// The hopline binary (see [`build`]): another build may find other
    /// findings on the same records.
    build: String,
    snapshot: String,
    config: String,
}

impl Made {
    fn now(snapshot: &str, config: &Config) -> Made {
        Made {
            format: FORMAT,
            build: build().to_string(),
            snapshot: snapshot.to_string(),
            config: config.fingerprint.clone(),
        }
    }
}

/// The running binary: its version, size and modification time. A rebuild
/// with a changed detector changes the last two, so findings kept by an
/// older build are not shown by a newer one.
fn build() -> &'static str {
    static BUILD: OnceLock<String> = OnceLock::new();
    BUILD.get_or_init(|| {
        let exe = std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{} {mtime}", m.len())
            })
            .unwrap_or_else(|_| "unknown".into());
        format!("{} {exe}", env!("CARGO_PKG_VERSION"))
    })
}

fn made_of(dir: &Path) -> Option<(Made, BufReader<std::fs::File>)> {
    let file = std::fs::File::open(dir.join(FILE)).ok()?;
    let mut reader = BufReader::new(file);
    let mut first = String::new();
    // A first line longer than any real one means the file is not ours.
    (&mut reader).take(64 << 10).read_line(&mut first).ok()?;
    let made = serde_json::from_str(&first).ok()?;
    Some((made, reader))
}

/// Whether the analysis kept in `dir` was made from this snapshot, config
/// and build.
pub fn is_current(dir: &Path, snapshot: &str, config: &Config) -> bool {
    made_of(dir).is_some_and(|(made, _)| made == Made::now(snapshot, config))
}

/// The analysis kept in `dir`, if it was made from this snapshot, config
/// and build. Anything unreadable is only a miss.
pub fn load(dir: &Path, snapshot: &str, config: &Config) -> Option<Analysis> {
    let (made, rest) = made_of(dir)?;
    if made != Made::now(snapshot, config) {
        return None;
    }
    let bytes = zstd::stream::decode_all(rest).ok()?;
    postcard::from_bytes(&bytes).ok()
}

/// Keeps `analysis`, made from `snapshot`, in `dir`: written aside and
/// renamed, so a reader sees the old file or the new one, never half.
pub fn save(
    dir: &Path,
    snapshot: &str,
    config: &Config,
    analysis: &Analysis,
) -> std::io::Result<()> {
    // Each writer its own temporary file: two readers that both analysed a
    // stale index may save at once.
    let tmp = dir.join(format!("{FILE}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer(&mut out, &Made::now(snapshot, config))?;
        out.write_all(b"\n")?;
        let mut z = zstd::stream::Encoder::new(out, ZSTD_LEVEL)?;
        postcard::to_io(analysis, &mut z).map_err(std::io::Error::other)?;
        z.finish()?
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        std::fs::rename(&tmp, dir.join(FILE))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::{Clock, Events};
    use crate::detect::overview::Histogram;

    fn analysis(records: u64) -> Analysis {
        Analysis {
            events: Events::default(),
            findings: Vec::new(),
            event_findings: Vec::new(),
            records,
            histogram: Histogram::default(),
            config_settings: Vec::new(),
            config_history: Vec::new(),
            clock: Clock::default(),
            malformed: 0,
            malformed_lines: Vec::new(),
        }
    }

    #[test]
    fn kept_for_its_own_snapshot_config_and_build_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        assert!(load(dir.path(), "s1", &config).is_none());
        save(dir.path(), "s1", &config, &analysis(7)).unwrap();
        assert!(is_current(dir.path(), "s1", &config));
        assert_eq!(load(dir.path(), "s1", &config).unwrap().records, 7);
        assert!(load(dir.path(), "s2", &config).is_none());
        let other = Config {
            fingerprint: "another".into(),
            ..Config::default()
        };
        assert!(load(dir.path(), "s1", &other).is_none());
        assert!(!is_current(dir.path(), "s1", &other));
        // A file from another build is stale.
        let text = std::fs::read(dir.path().join(FILE)).unwrap();
        let (first, rest) = text.split_at(text.iter().position(|&b| b == b'\n').unwrap());
        let mut made: Made = serde_json::from_slice(first).unwrap();
        made.build.push_str(" older");
        let mut edited = serde_json::to_vec(&made).unwrap();
        edited.extend_from_slice(rest);
        std::fs::write(dir.path().join(FILE), edited).unwrap();
        assert!(load(dir.path(), "s1", &config).is_none());
    }

    #[test]
    fn a_damaged_file_is_a_miss_and_a_new_save_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        save(dir.path(), "s1", &config, &analysis(7)).unwrap();
        let path = dir.path().join(FILE);
        let mut text = std::fs::read(&path).unwrap();
        text.truncate(text.len() - 5);
        std::fs::write(&path, &text).unwrap();
        assert!(load(dir.path(), "s1", &config).is_none());
        std::fs::write(&path, b"not ours").unwrap();
        assert!(load(dir.path(), "s1", &config).is_none());
        save(dir.path(), "s1", &config, &analysis(9)).unwrap();
        assert_eq!(load(dir.path(), "s1", &config).unwrap().records, 9);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
