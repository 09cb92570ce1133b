//! Marks and notes an engineer puts on records in the TUI. They live beside
//! the index (`marks.json`), survive restarts and re-ingests (a record is
//! named by its `path:line`, which re-ingest keeps), and go into exports.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::SourceRef;

const FILE: &str = "marks.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub source: SourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Marks {
    path: PathBuf,
    /// In the order they were made.
    pub marks: Vec<Mark>,
}

impl Marks {
    /// The marks of the index in `dir`; none yet is not an error.
    pub fn load(dir: &Path) -> io::Result<Marks> {
        let path = dir.join(FILE);
        let marks = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Marks { path, marks })
    }

    /// Written whole to a temporary file and renamed, so a crash never
    /// leaves half a file.
    pub fn save(&self) -> io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&self.marks).map_err(io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &self.path)
    }

    pub fn get(&self, source: &SourceRef) -> Option<&Mark> {
        self.marks.iter().find(|m| &m.source == source)
    }

    /// Marks an unmarked record, unmarks a marked one (dropping its note).
    /// Returns whether it is marked now.
    pub fn toggle(&mut self, source: &SourceRef) -> bool {
        match self.marks.iter().position(|m| &m.source == source) {
            Some(i) => {
                self.marks.remove(i);
                false
            }
            None => {
                self.marks.push(Mark {
                    source: source.clone(),
                    note: None,
                });
                true
            }
        }
    }

    /// Sets (or, with an empty note, clears) a record's note; noting a
    /// record marks it.
    pub fn set_note(&mut self, source: &SourceRef, note: &str) {
        let note = Some(note.trim().to_string()).filter(|n| !n.is_empty());
        match self.marks.iter_mut().find(|m| &m.source == source) {
            Some(m) => m.note = note,
            None => self.marks.push(Mark {
                source: source.clone(),
                note,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_notes_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let a = SourceRef {
            path: "api.log".into(),
            line: 3,
        };
        let b = SourceRef {
            path: "worker.log".into(),
            line: 9,
        };
        let mut m = Marks::load(dir.path()).unwrap();
        assert!(m.toggle(&a));
        m.set_note(&b, "second charge here");
        m.save().unwrap();
        let mut again = Marks::load(dir.path()).unwrap();
        assert_eq!(again.marks.len(), 2);
        assert_eq!(
            again.get(&b).unwrap().note.as_deref(),
            Some("second charge here")
        );
        assert!(!again.toggle(&a));
        assert!(again.get(&a).is_none());
    }
}
