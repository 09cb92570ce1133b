//! Where an index lives when the user does not say: the platform cache
//! directory, one index per bundle keyed by the bundle's absolute path, so
//! a second `open` of the same bundle reuses it and starts at once.

use std::path::{Path, PathBuf};

use super::manifest::head_hash;

/// `HOPLINE_CACHE_DIR`, else the platform cache dir (`~/.cache/hopline`).
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("HOPLINE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "hopline")
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("hopline-cache"))
}

/// The index directory for a set of bundle roots.
pub fn index_dir_for(roots: &[PathBuf]) -> PathBuf {
    let mut key = String::new();
    let mut names = Vec::new();
    for root in roots {
        let abs = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
        key.push_str(&abs.to_string_lossy());
        key.push('\n');
        if let Some(name) = abs.file_name() {
            names.push(name.to_string_lossy().into_owned());
        }
    }
    let label: String = file_safe(&names.join("+")).chars().take(40).collect();
    cache_root()
        .join("indexes")
        .join(format!("{label}-{:016x}", head_hash(key.as_bytes())))
}

fn last_file() -> PathBuf {
    cache_root().join("last-index")
}

/// Remembers the index read commands use when none is named.
pub fn remember_last(dir: &Path) {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    // Losing this only costs the user an explicit --index next time.
    let _ = std::fs::create_dir_all(cache_root());
    let _ = std::fs::write(last_file(), abs.to_string_lossy().as_bytes());
}

pub fn last_used() -> Option<PathBuf> {
    let text = std::fs::read_to_string(last_file()).ok()?;
    let p = PathBuf::from(text.trim());
    p.join("meta.json").is_file().then_some(p)
}

/// `s` with everything but ASCII letters, digits, `-` and `_` made `_`: a
/// file name on any system.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
