//! Shared helpers for the binary-level tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample() -> PathBuf {
    root().join("samples/payments-incident")
}

/// The hopline binary with its cache in `cache`, so tests never touch the
/// user's cache or each other's.
pub fn hopline(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hopline"));
    c.env("HOPLINE_CACHE_DIR", cache)
        .env_remove("HOPLINE_INDEX")
        .env_remove("HOPLINE_CONFIG")
        .env("NO_COLOR", "1");
    c
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run hopline");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run hopline")
}

/// A temp dir holding an index of the sample bundle.
pub struct Ingested {
    pub dir: tempfile::TempDir,
}

impl Ingested {
    pub fn sample() -> Ingested {
        let dir = tempfile::tempdir().unwrap();
        let me = Ingested { dir };
        run_ok(me.cmd().arg("ingest").arg(sample()));
        me
    }

    pub fn index(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    /// hopline with this index and cache.
    pub fn cmd(&self) -> Command {
        let mut c = hopline(&self.dir.path().join("cache"));
        c.arg("--index").arg(self.index());
        c
    }
}

/// The text of 1-based `line` of `path` (for checking provenance).
pub fn line_of(path: &Path, line: u64) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .nth(line as usize - 1)
        .unwrap_or_default()
        .to_string()
}
