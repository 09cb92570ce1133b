//! Who writes an index, and whether what it holds is whole.
//!
//! One writer at a time (an ingest, or a TUI that ingests and follows):
//! it holds an exclusive lock on `ingest.lock` for as long as it writes, so
//! the lock goes with the process however it ends. Everyone else reads the
//! last commit and never waits. `ingest.json` says what the last writer did:
//! written when it starts, at every commit and when it finishes, so an
//! ingest that was killed leaves "not finished, N % read" behind, and the
//! next read command can say the index is partial instead of giving an
//! all-clear on half the evidence.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::IndexError;

const LOCK_FILE: &str = "ingest.lock";
const STATE_FILE: &str = "ingest.json";

/// What the last (or the running) ingest wrote of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestState {
    pub pid: u32,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: bool,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// The configuration the records were read with (see
    /// `Config::fingerprint`): a changed config is noticed.
    #[serde(default)]
    pub config: Option<String>,
}

impl IngestState {
    pub fn percent(&self) -> u64 {
        (self.bytes_done * 100)
            .checked_div(self.bytes_total)
            .unwrap_or(0)
            .min(99)
    }
}

/// Whether an index can vouch for what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The last ingest finished and left records.
    Complete,
    /// Nothing in it.
    Empty,
    /// The last ingest stopped before its end (killed, or it failed).
    Partial(IngestState),
    /// An ingest (or a TUI) is writing it now.
    Busy(IngestState),
}

impl Health {
    /// Why no all-clear can be given, in words; None when one can.
    pub fn why_not(&self, dir: &Path) -> Option<String> {
        match self {
            Health::Complete => None,
            Health::Empty => Some(format!("the index at {} holds no records", dir.display())),
            Health::Partial(s) => Some(format!(
                "the last ingest into {} stopped at {} % (pid {}, started {}): run the ingest again to resume",
                dir.display(),
                s.percent(),
                s.pid,
                s.started
            )),
            Health::Busy(s) => Some(format!(
                "an ingest into {} is running (pid {}, started {}, {} % read): what it has not committed is not here yet",
                dir.display(),
                s.pid,
                s.started,
                s.percent()
            )),
        }
    }
}

/// The writer's hold on an index: released when dropped (or when the
/// process ends, however it ends).
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
    dir: PathBuf,
    state: IngestState,
    previous: Option<IngestState>,
}

fn io(path: PathBuf) -> impl FnOnce(std::io::Error) -> IndexError {
    move |source| IndexError::Io { path, source }
}

fn read_state(dir: &Path) -> Option<IngestState> {
    let bytes = std::fs::read(dir.join(STATE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Written whole to a temporary file and renamed: a reader never sees half.
fn write_state(dir: &Path, state: &IngestState) -> Result<(), IndexError> {
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let json = serde_json::to_vec(state).expect("ingest state serialises");
    std::fs::write(&tmp, json).map_err(io(tmp.clone()))?;
    std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(io(dir.join(STATE_FILE)))
}

impl WriteLock {
    /// Takes the index for writing, or says who has it.
    pub fn take(dir: &Path) -> Result<WriteLock, IndexError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(path.clone()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(IndexError::Busy {
                    path: dir.to_path_buf(),
                    holder: read_state(dir).unwrap_or_default(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(path)(e)),
        }
        let previous = read_state(dir);
        Ok(WriteLock {
            _file: file,
            dir: dir.to_path_buf(),
            state: previous.clone().unwrap_or_default(),
            previous,
        })
    }

    /// What the ingest before this one wrote of itself.
    pub fn previous(&self) -> Option<&IngestState> {
        self.previous.as_ref()
    }

    /// An ingest of `bytes_total` bytes starts (with this configuration).
    pub fn begin(&mut self, bytes_total: u64, config: Option<String>) -> Result<(), IndexError> {
        self.state = IngestState {
            pid: std::process::id(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            finished: false,
            bytes_done: 0,
            bytes_total,
            config,
        };
        write_state(&self.dir, &self.state)
    }

    /// A commit holds this much of it.
    pub fn committed(&mut self, bytes_done: u64) -> Result<(), IndexError> {
        self.state.bytes_done = bytes_done;
        write_state(&self.dir, &self.state)
    }

    /// The ingest read everything it was asked to.
    pub fn finish(&mut self) -> Result<(), IndexError> {
        self.state.finished = true;
        self.state.bytes_done = self.state.bytes_total;
        write_state(&self.dir, &self.state)
    }
}

/// What the index in `dir` can vouch for, given how many records it holds.
pub fn health(dir: &Path, records: u64) -> Health {
    let state = read_state(dir);
    if let Ok(file) = File::open(dir.join(LOCK_FILE))
        && let Err(TryLockError::WouldBlock) = file.try_lock_shared()
    {
        return Health::Busy(state.unwrap_or_default());
    }
    match state {
        Some(s) if !s.finished => Health::Partial(s),
        _ if records == 0 => Health::Empty,
        _ => Health::Complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_is_alone_and_its_state_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(health(dir.path(), 0), Health::Empty);
        let mut lock = WriteLock::take(dir.path()).unwrap();
        lock.begin(1000, None).unwrap();
        assert!(matches!(
            WriteLock::take(dir.path()),
            Err(IndexError::Busy { .. })
        ));
        assert!(matches!(health(dir.path(), 5), Health::Busy(_)));
        lock.committed(400).unwrap();
        drop(lock);
        // Dropped before it finished: killed, as far as readers know.
        match health(dir.path(), 5) {
            Health::Partial(s) => assert_eq!(s.percent(), 40),
            other => panic!("{other:?}"),
        }
        let mut lock = WriteLock::take(dir.path()).unwrap();
        lock.begin(10, None).unwrap();
        lock.finish().unwrap();
        drop(lock);
        assert_eq!(health(dir.path(), 5), Health::Complete);
        assert_eq!(health(dir.path(), 0), Health::Empty);
    }
}
