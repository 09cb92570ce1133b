//! Tar archives (plain, `.tar.gz`/`.tgz`, `.tar.zst`; the sniffer knows
//! them by the `ustar` magic of their first header). Members are
//! unpacked into a scratch directory and read like any other file, so
//! sniffing, incremental state and the parse/index pipeline are the same;
//! their provenance is `archive.tgz!inner/path.log`.

use std::io::{self, BufRead};
use std::path::{Component, Path, PathBuf};

use super::SourceFile;

/// A member path that stays inside the scratch directory, or None for
/// absolute paths and `..` (a hostile archive must not write elsewhere).
fn safe_member_path(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Unpacks the regular files of `archive` (read, decompressed, from
/// `reader`) under `into` and returns them as sources named
/// `archive-rel!member`. Dotfiles are skipped as in a directory; a member
/// that cannot be unpacked is reported, not fatal.
pub fn unpack(
    archive: &SourceFile,
    reader: Box<dyn BufRead + Send>,
    into: &Path,
) -> io::Result<(Vec<SourceFile>, Vec<super::Unreadable>)> {
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_mtime(true);
    let mut files = Vec::new();
    let mut bad = Vec::new();
    for entry in tar.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = entry.path()?.into_owned();
        let shown = member.to_string_lossy().replace('\\', "/");
        let Some(rel) = safe_member_path(&member) else {
            bad.push(super::Unreadable {
                path: format!("{}!{shown}", archive.rel),
                why: "member path leaves the archive".into(),
            });
            continue;
        };
        if rel
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let dest = into.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if let Err(e) = entry.unpack(&dest) {
            bad.push(super::Unreadable {
                path: format!("{}!{shown}", archive.rel),
                why: e.to_string(),
            });
            continue;
        }
        let meta = std::fs::metadata(&dest)?;
        files.push(super::source_file(
            &dest,
            format!(
                "{}!{}",
                archive.rel,
                rel.to_string_lossy().replace('\\', "/")
            ),
            &meta,
        ));
    }
    // Drain whatever follows the last header so a compressed stream's
    // checksum is read and verified.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink())?;
    Ok((files, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_member_paths_stay_inside() {
        assert_eq!(
            safe_member_path(Path::new("logs/a.log")),
            Some(PathBuf::from("logs/a.log"))
        );
        assert_eq!(safe_member_path(Path::new("../etc/passwd")), None);
        assert_eq!(safe_member_path(Path::new("/etc/passwd")), None);
    }
}
