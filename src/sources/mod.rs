//! Where bytes come from: files and directories given on the command line,
//! gzip and zstd read transparently (recognised by their magic bytes, not
//! their names), tar archives unpacked member by member (`archive.rs`).
//! Paths in provenance are relative to the bundle root the user named.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use flate2::read::MultiGzDecoder;

pub mod archive;
pub mod postgres;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One readable file of a bundle.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub abs: PathBuf,
    /// Relative to the bundle root; what every `path:line` shows.
    pub rel: String,
    pub size: u64,
    pub mtime_ns: u128,
}

impl SourceFile {
    /// The modification time in microseconds since the epoch.
    pub fn mtime_micros(&self) -> Option<crate::record::Micros> {
        i64::try_from(self.mtime_ns / 1000).ok().filter(|m| *m > 0)
    }
}

/// A path that was named or found but cannot be read; it costs only itself.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub path: String,
    pub why: String,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<SourceFile>,
    pub unreadable: Vec<Unreadable>,
}

/// Files hopline never reads as evidence: its own config and dotfiles.
fn ignored(name: &str) -> bool {
    name.starts_with('.') || name == crate::config::FILE_NAME
}

/// Walks every root (a directory, recursively and in name order so that
/// ingest order is reproducible, or a single file).
pub fn discover(roots: &[PathBuf]) -> Discovered {
    let mut out = Discovered::default();
    for root in roots {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => walk(root, root, &mut out, &mut HashSet::new()),
            Ok(m) if m.is_file() => {
                let rel = root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| root.display().to_string());
                out.files.push(source_file(root, rel, &m));
            }
            Ok(_) => out.unreadable.push(Unreadable {
                path: root.display().to_string(),
                why: "not a file or directory".into(),
            }),
            Err(e) => out.unreadable.push(Unreadable {
                path: root.display().to_string(),
                why: e.to_string(),
            }),
        }
    }
    out
}

/// `seen` holds every directory read so far, resolved: a symlink back up
/// the tree would otherwise read the same files again and again.
fn walk(root: &Path, dir: &Path, out: &mut Discovered, seen: &mut HashSet<PathBuf>) {
    if let Ok(real) = std::fs::canonicalize(dir)
        && !seen.insert(real.clone())
    {
        out.unreadable.push(Unreadable {
            path: rel_of(root, dir),
            why: format!(
                "a link to {}, which is read already (a symlink loop)",
                real.display()
            ),
        });
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.unreadable.push(Unreadable {
                path: rel_of(root, dir),
                why: e.to_string(),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if ignored(&name) {
            continue;
        }
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(root, &path, out, seen),
            Ok(m) if m.is_file() => out.files.push(source_file(&path, rel_of(root, &path), &m)),
            Ok(_) => {}
            Err(e) => out.unreadable.push(Unreadable {
                path: rel_of(root, &path),
                why: e.to_string(),
            }),
        }
    }
}

fn rel_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn source_file(abs: &Path, rel: String, meta: &std::fs::Metadata) -> SourceFile {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    SourceFile {
        abs: abs.to_path_buf(),
        rel,
        size: meta.len(),
        mtime_ns,
    }
}

pub fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Opens a file for reading its decoded content.
pub fn open(file: &SourceFile) -> io::Result<(Compression, Box<dyn BufRead + Send>)> {
    let mut f = File::open(&file.abs)?;
    let mut magic = [0u8; 4];
    let n = read_full(&mut f, &mut magic)?;
    f.rewind()?;
    let compression = compression_of(&magic[..n]);
    let reader: Box<dyn BufRead + Send> = match compression {
        Compression::Gzip => Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(f))),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 16,
            zstd::stream::read::Decoder::new(f)?,
        )),
        Compression::None => Box::new(BufReader::with_capacity(1 << 16, f)),
    };
    Ok((compression, reader))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads up to `limit` bytes from the front of `reader` without losing them:
/// returns the head and a reader that yields head + rest.
pub fn peek(
    mut reader: Box<dyn BufRead + Send>,
    limit: usize,
) -> io::Result<(Vec<u8>, Box<dyn BufRead + Send>)> {
    let mut head = vec![0u8; limit];
    let n = read_full(&mut reader, &mut head)?;
    head.truncate(n);
    // A chain of two BufReads is one: no second buffer to copy through.
    let replay = io::Cursor::new(head.clone()).chain(reader);
    Ok((head, Box::new(replay)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn walks_in_name_order_with_relative_paths_and_reads_gzip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db")).unwrap();
        std::fs::write(dir.path().join("b.log"), "b\n").unwrap();
        std::fs::write(dir.path().join("hopline.toml"), "").unwrap();
        std::fs::write(dir.path().join(".hidden"), "").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"zipped line\n").unwrap();
        std::fs::write(dir.path().join("db/a.log.gz"), gz.finish().unwrap()).unwrap();

        let found = discover(&[dir.path().to_path_buf()]);
        let rels: Vec<_> = found.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["b.log", "db/a.log.gz"]);
        let (c, mut r) = open(&found.files[1]).unwrap();
        assert_eq!(c, Compression::Gzip);
        let mut s = String::new();
        r.read_line(&mut s).unwrap();
        assert_eq!(s, "zipped line\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/a.log"), "a\n").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("logs/up")).unwrap();
        let found = discover(&[dir.path().to_path_buf()]);
        let rels: Vec<_> = found.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["logs/a.log"]);
        assert_eq!(found.unreadable.len(), 1);
        assert!(found.unreadable[0].why.contains("symlink loop"));
    }

    #[test]
    fn missing_roots_are_reported_not_fatal() {
        let found = discover(&[PathBuf::from("/nonexistent/hopline")]);
        assert!(found.files.is_empty());
        assert_eq!(found.unreadable.len(), 1);
    }
}
