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

/// A real third-party set under `../shared/datasets`: required under CI,
/// skipped loudly elsewhere.
pub fn dataset(name: &str) -> Option<PathBuf> {
    let p = root().join("../shared/datasets").join(name);
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} missing under CI",
        p.display()
    );
    eprintln!(
        "SKIPPED: {} is not here; dataset test did not run",
        p.display()
    );
    None
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

/// Driving the real binary in a tmux server of the test's own.
pub mod tmux {
    use std::process::Command;
    use std::thread::sleep;
    use std::time::{Duration, Instant};

    pub struct Tmux {
        socket: String,
    }

    impl Tmux {
        pub fn cmd(&self) -> Command {
            let mut c = Command::new("tmux");
            c.args(["-L", &self.socket]);
            c
        }
        pub fn send(&self, keys: &[&str]) {
            for k in keys {
                // One key per call: tmux would otherwise merge Esc with the next
                // key into an Alt chord.
                let ok = self
                    .cmd()
                    .args(["send-keys", "-t", "e2e", k])
                    .status()
                    .unwrap();
                assert!(ok.success());
                sleep(Duration::from_millis(150));
            }
        }
        pub fn screen(&self) -> String {
            let out = self
                .cmd()
                .args(["capture-pane", "-t", "e2e", "-p"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        pub fn wait_for(&self, needle: &str) -> String {
            self.wait_until(needle, |s| s.contains(needle))
        }
        /// The screen once `ready` holds for it (`what` says what was
        /// awaited when it never does).
        pub fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
            let start = Instant::now();
            loop {
                let s = self.screen();
                if ready(&s) {
                    return s;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "waited for {what}; screen:\n{s}"
                );
                sleep(Duration::from_millis(100));
            }
        }
    }

    impl Drop for Tmux {
        fn drop(&mut self) {
            let _ = self.cmd().arg("kill-server").status();
        }
    }

    pub fn have_tmux() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// `hopline open BUNDLE` in a fresh tmux server of the test's own, or None
    /// (loudly) when tmux is missing outside CI.
    pub fn open_in_tmux(
        name: &str,
        bundle: &std::path::Path,
        cache: &std::path::Path,
    ) -> Option<Tmux> {
        open_in_tmux_with(name, bundle, cache, "")
    }

    /// The same with extra arguments for `open` (already shell-quoted).
    pub fn open_in_tmux_with(
        name: &str,
        bundle: &std::path::Path,
        cache: &std::path::Path,
        extra: &str,
    ) -> Option<Tmux> {
        if !have_tmux() {
            assert!(
                std::env::var_os("CI").is_none(),
                "tmux is required under CI (.ci/run installs it)"
            );
            eprintln!("SKIPPED: tmux is not installed; this end-to-end test did not run");
            return None;
        }
        let tmux = Tmux {
            socket: format!("hopline-{name}-{}", std::process::id()),
        };
        let script = format!(
            "cd '{}' && HOPLINE_CACHE_DIR='{}' NO_COLOR=1 '{}' open '{}' {extra}; echo HOPLINE-EXIT=$?; \
             echo TTY-MODE=$(stty -a | grep -o -- '-\\?icanon' | head -1); sleep 60",
            cache.display(),
            cache.display(),
            env!("CARGO_BIN_EXE_hopline"),
            bundle.display()
        );
        let ok = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-x",
                "120",
                "-y",
                "36",
                "sh",
                "-c",
                &script,
            ])
            .status()
            .unwrap();
        assert!(ok.success());
        Some(tmux)
    }
}

/// `cargo test` builds the examples next to the test binaries.
pub fn generator() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let gen_path = dir
        .join("examples")
        .join(format!("gen_bundle{}", std::env::consts::EXE_SUFFIX));
    if !gen_path.is_file() {
        // Filtered runs (`--test generated_bundle`) do not build examples.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--example", "gen_bundle"])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(
            ok.success() && gen_path.is_file(),
            "could not build {}",
            gen_path.display()
        );
    }
    gen_path
}

/// Holds an index's writer lock as a running ingest would, until dropped.
pub fn hold_writer_lock(index: &Path) -> std::fs::File {
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(index.join("ingest.lock"))
        .unwrap();
    f.lock().unwrap();
    f
}
