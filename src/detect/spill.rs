//! Event buckets for the analysis's last pass: each event's stored records,
//! gathered by event number so one bucket at a time can be grouped in
//! memory. Small analyses keep their one bucket in memory; large ones write
//! buckets to files beside the index and read each back when asked.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Roughly how much stored JSON one bucket holds: its records, decoded,
/// take two to three times this.
pub const BUCKET_BYTES: u64 = 64 << 20;

/// One stored record filed under its event number.
pub type Entry<'a> = (u32, &'a [u8]);

pub struct Buckets {
    store: Store,
}

enum Store {
    Memory(Vec<Vec<u8>>),
    Files {
        dir: PathBuf,
        files: Vec<BufWriter<File>>,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("analysis spill file in {dir}: {source}")]
pub struct SpillError {
    pub dir: PathBuf,
    pub source: io::Error,
}

impl Buckets {
    /// Enough buckets for `bytes` of records; files under `spill_in` when
    /// more than one is needed and a directory is offered.
    pub fn new(bytes: u64, spill_in: Option<&Path>) -> Result<Buckets, SpillError> {
        let n = bytes.div_ceil(BUCKET_BYTES).max(1) as usize;
        let store = match spill_in {
            Some(parent) if n > 1 => {
                let dir = parent.join(format!("analysis-{}.tmp", std::process::id()));
                let err = |source| SpillError {
                    dir: dir.clone(),
                    source,
                };
                // A crashed run's leftovers would only waste space.
                let _ = fs::remove_dir_all(&dir);
                fs::create_dir_all(&dir).map_err(err)?;
                let files = (0..n)
                    .map(|i| File::create(dir.join(format!("{i}.bin"))).map(BufWriter::new))
                    .collect::<Result<_, _>>()
                    .map_err(err)?;
                Store::Files { dir, files }
            }
            _ => Store::Memory(vec![Vec::new(); n]),
        };
        Ok(Buckets { store })
    }

    fn len(&self) -> usize {
        match &self.store {
            Store::Memory(b) => b.len(),
            Store::Files { files, .. } => files.len(),
        }
    }

    /// Files the record's JSON under its event.
    pub fn push(&mut self, event: u32, json: &[u8]) -> Result<(), SpillError> {
        let n = self.len();
        let bucket = event as usize % n;
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&event.to_le_bytes());
        head[4..].copy_from_slice(&(json.len() as u32).to_le_bytes());
        match &mut self.store {
            Store::Memory(b) => {
                b[bucket].extend_from_slice(&head);
                b[bucket].extend_from_slice(json);
                Ok(())
            }
            Store::Files { dir, files } => files[bucket]
                .write_all(&head)
                .and_then(|()| files[bucket].write_all(json))
                .map_err(|source| SpillError {
                    dir: dir.clone(),
                    source,
                }),
        }
    }

    /// Every bucket in turn, as its `(event, json)` entries; a spilled
    /// bucket is read back into memory only while `each` looks at it. Can be
    /// called again (the analysis checks events twice when a clock was off).
    pub fn each(&mut self, each: &mut dyn FnMut(Vec<Entry<'_>>)) -> Result<(), SpillError> {
        let n = self.len();
        for i in 0..n {
            match &mut self.store {
                Store::Memory(b) => each(entries(&b[i])),
                Store::Files { dir, files } => {
                    let err = |source| SpillError {
                        dir: dir.clone(),
                        source,
                    };
                    files[i].flush().map_err(err)?;
                    let mut bytes = Vec::new();
                    File::open(dir.join(format!("{i}.bin")))
                        .and_then(|mut f| f.read_to_end(&mut bytes))
                        .map_err(err)?;
                    each(entries(&bytes));
                }
            }
        }
        Ok(())
    }
}

fn entries(mut bytes: &[u8]) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    while bytes.len() >= 8 {
        let event = u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default());
        let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap_or_default()) as usize;
        let Some(json) = bytes.get(8..8 + len) else {
            break;
        };
        out.push((event, json));
        bytes = &bytes[8 + len..];
    }
    out
}

impl Drop for Buckets {
    fn drop(&mut self) {
        if let Store::Files { dir, files } = &mut self.store {
            files.clear();
            let _ = fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(mut b: Buckets) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        b.each(&mut |entries| {
            out.extend(entries.into_iter().map(|(e, j)| (e, j.to_vec())));
        })
        .unwrap();
        out.sort();
        out
    }

    #[test]
    fn entries_come_back_from_memory_and_from_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut mem = Buckets::new(10, Some(tmp.path())).unwrap();
        let mut files = Buckets::new(3 * BUCKET_BYTES, Some(tmp.path())).unwrap();
        assert_eq!(files.len(), 3);
        for (e, j) in [(0u32, &b"{}"[..]), (4, b"[1]"), (2, b"")] {
            mem.push(e, j).unwrap();
            files.push(e, j).unwrap();
        }
        let want = vec![(0, b"{}".to_vec()), (2, vec![]), (4, b"[1]".to_vec())];
        assert_eq!(collect(mem), want);
        assert_eq!(collect(files), want);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
