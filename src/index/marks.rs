//! Marks and notes an engineer puts on records in the TUI. They live beside
//! the index (`marks.json`), survive restarts and re-ingests (a record is
//! named by its `path:line`, which re-ingest keeps), and go into exports.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::SourceRef;

const FILE: &str = "marks.json";
/// Held while marks are read, changed and written back: two TUIs on one
/// index each add their own marks to what the other saved.
const LOCK: &str = "marks.lock";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub source: SourceRef,
    /// Notes on the entry, oldest first (each TUI adds its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// One note, as files before notes were a list have it.
    #[serde(default, skip_serializing)]
    note: Option<String>,
}

impl Mark {
    fn new(source: SourceRef) -> Mark {
        Mark {
            source,
            notes: Vec::new(),
            note: None,
        }
    }

    /// The notes as one line.
    pub fn note_text(&self) -> Option<String> {
        (!self.notes.is_empty()).then(|| self.notes.join(" · "))
    }
}

/// A change this process made, applied again to the file as it is on
/// disk when saving.
#[derive(Debug, Clone)]
enum Change {
    Mark(SourceRef),
    Unmark(SourceRef),
    Note(SourceRef, String),
    ClearNotes(SourceRef),
}

#[derive(Debug, Clone, Default)]
pub struct Marks {
    path: PathBuf,
    /// In the order they were made.
    pub marks: Vec<Mark>,
    unsaved: Vec<Change>,
}

fn read_marks(path: &Path) -> io::Result<Vec<Mark>> {
    let mut marks: Vec<Mark> = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a marks file: {e}", path.display()),
            )
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    for m in &mut marks {
        if let Some(n) = m.note.take() {
            m.notes.push(n);
        }
    }
    Ok(marks)
}

impl Marks {
    /// The marks of the index in `dir`; none yet is not an error, an
    /// unreadable file is (naming it).
    pub fn load(dir: &Path) -> io::Result<Marks> {
        let path = dir.join(FILE);
        let marks = read_marks(&path)?;
        Ok(Marks {
            path,
            marks,
            unsaved: Vec::new(),
        })
    }

    /// No marks yet for the index in `dir` (when its file could not be read:
    /// the first save sets that file aside).
    pub fn empty(dir: &Path) -> Marks {
        Marks {
            path: dir.join(FILE),
            ..Marks::default()
        }
    }

    /// This process's changes applied to the file as it is now, under a
    /// lock, and written whole to a temporary file and renamed, so a crash
    /// never leaves half a file. The marks are then what the file holds. A
    /// file that is not a marks file is kept beside it as `marks.json.bad`.
    pub fn save(&mut self) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK))?;
        lock.lock()?;
        let mut marks = match read_marks(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                std::fs::rename(&self.path, self.path.with_extension("json.bad"))?;
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        for change in &self.unsaved {
            apply(&mut marks, change);
        }
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&marks).map_err(io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &self.path)?;
        self.unsaved.clear();
        self.marks = marks;
        Ok(())
    }

    pub fn get(&self, source: &SourceRef) -> Option<&Mark> {
        self.marks.iter().find(|m| &m.source == source)
    }

    /// Marks an unmarked record, unmarks a marked one (with its notes).
    /// Returns whether it is marked now.
    pub fn toggle(&mut self, source: &SourceRef) -> bool {
        let change = if self.get(source).is_some() {
            Change::Unmark(source.clone())
        } else {
            Change::Mark(source.clone())
        };
        apply(&mut self.marks, &change);
        self.unsaved.push(change);
        self.get(source).is_some()
    }

    /// Adds a note to a record (marking it); an empty note clears its notes.
    pub fn set_note(&mut self, source: &SourceRef, note: &str) {
        let note = note.trim();
        let change = if note.is_empty() {
            Change::ClearNotes(source.clone())
        } else {
            Change::Note(source.clone(), note.to_string())
        };
        apply(&mut self.marks, &change);
        self.unsaved.push(change);
    }
}

fn apply(marks: &mut Vec<Mark>, change: &Change) {
    let at = |marks: &mut Vec<Mark>, s: &SourceRef| -> usize {
        match marks.iter().position(|m| &m.source == s) {
            Some(i) => i,
            None => {
                marks.push(Mark::new(s.clone()));
                marks.len() - 1
            }
        }
    };
    match change {
        Change::Mark(s) => {
            at(marks, s);
        }
        Change::Unmark(s) => marks.retain(|m| &m.source != s),
        Change::Note(s, n) => {
            let i = at(marks, s);
            if !marks[i].notes.contains(n) {
                marks[i].notes.push(n.clone());
            }
        }
        Change::ClearNotes(s) => {
            if let Some(m) = marks.iter_mut().find(|m| &m.source == s) {
                m.notes.clear();
            }
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
        assert_eq!(again.get(&b).unwrap().notes, ["second charge here"]);
        assert!(!again.toggle(&a));
        assert!(again.get(&a).is_none());
    }

    /// Two TUIs on one index: each saves its own changes onto what the
    /// other saved; an unmark removes that mark only.
    #[test]
    fn two_writers_merge() {
        let dir = tempfile::tempdir().unwrap();
        let at = |line| SourceRef {
            path: "api.log".into(),
            line,
        };
        let mut one = Marks::load(dir.path()).unwrap();
        let mut two = Marks::load(dir.path()).unwrap();
        one.toggle(&at(1));
        one.set_note(&at(2), "first");
        one.save().unwrap();
        two.set_note(&at(2), "second");
        two.toggle(&at(3));
        two.save().unwrap();
        assert_eq!(two.marks.len(), 3);
        assert_eq!(two.get(&at(2)).unwrap().notes, ["first", "second"]);
        one.toggle(&at(1));
        one.save().unwrap();
        let on_disk = Marks::load(dir.path()).unwrap();
        let lines: Vec<u64> = on_disk.marks.iter().map(|m| m.source.line).collect();
        assert_eq!(lines, [2, 3]);
    }

    #[test]
    fn an_old_single_note_reads_and_a_corrupt_file_is_named_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE),
            r#"[{"source":{"path":"a.log","line":1},"note":"old"}]"#,
        )
        .unwrap();
        let m = Marks::load(dir.path()).unwrap();
        assert_eq!(m.marks[0].notes, ["old"]);
        std::fs::write(dir.path().join(FILE), "{not json").unwrap();
        let e = Marks::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("marks.json"), "{e}");
        let mut fresh = Marks::empty(dir.path());
        fresh.toggle(&SourceRef {
            path: "b.log".into(),
            line: 2,
        });
        fresh.save().unwrap();
        assert!(dir.path().join("marks.json.bad").is_file());
        assert_eq!(Marks::load(dir.path()).unwrap().marks.len(), 1);
    }
}
