//! `~/.pgpass` (or `$PGPASSFILE`), read the way libpq reads it: lines of
//! `hostname:port:database:username:password`, `*` matches anything, `\`
//! escapes `:` and `\`, the first matching line wins, and a file that group
//! or others can read is ignored with a warning.

use std::path::{Path, PathBuf};

/// Where libpq would look.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass"))
}

/// The password for this host/port/database/user, if the file has one.
/// `warn` hears why a file was skipped.
pub fn lookup(
    path: &Path,
    host: &str,
    port: u16,
    database: &str,
    user: &str,
    warn: &mut dyn FnMut(String),
) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            warn(format!(
                "password file {} has group or world access; ignoring it (chmod 0600 it)",
                path.display()
            ));
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    find(&text, host, port, database, user)
}

/// libpq matches a Unix-socket connection against the `localhost` entry.
fn find(text: &str, host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(fields)
        .find(|f| {
            let ok = |pat: &str, v: &str| pat == "*" || pat == v;
            ok(&f[0], host) && ok(&f[1], &port) && ok(&f[2], database) && ok(&f[3], user)
        })
        .map(|mut f| f.swap_remove(4))
}

/// Splits a line on unescaped `:` into exactly five fields.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if out.len() < 5 => out.push(String::new()),
            c => out.last_mut()?.push(c),
        }
    }
    (out.len() == 5).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
db.internal:5432:pay:app:first\\:pass
*:*:*:app:fallback
localhost:5433:*:*:socket\\\\pw
";

    #[test]
    fn first_match_wins_with_wildcards_and_escapes() {
        assert_eq!(
            find(FILE, "db.internal", 5432, "pay", "app").as_deref(),
            Some("first:pass")
        );
        assert_eq!(
            find(FILE, "other", 5432, "pay", "app").as_deref(),
            Some("fallback")
        );
        assert_eq!(
            find(FILE, "/run/postgresql", 5433, "x", "bob").as_deref(),
            Some("socket\\pw")
        );
        assert_eq!(find(FILE, "other", 5432, "pay", "bob"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_file_is_ignored_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut warnings = Vec::new();
        assert_eq!(
            lookup(&path, "h", 5432, "d", "u", &mut |w| warnings.push(w)),
            None
        );
        assert!(warnings[0].contains("chmod 0600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(&path, "h", 5432, "d", "u", &mut |_| {}).as_deref(),
            Some("pw")
        );
    }
}
