//! End to end in a real terminal: tmux runs `hopline open` on the sample,
//! keys are sent, the screen is read back, and after `q` the shell's screen
//! must be back (alternate screen left, raw mode off).

mod common;

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }
    fn send(&self, keys: &[&str]) {
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
    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-t", "e2e", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {needle:?}; screen:\n{s}"
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

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn open_move_enter_quit_restores_the_terminal() {
    if !have_tmux() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is required under CI (.ci/run installs it)"
        );
        eprintln!("SKIPPED: tmux is not installed; this end-to-end test did not run");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("hopline-e2e-{}", std::process::id()),
    };
    let script = format!(
        "HOPLINE_CACHE_DIR='{}' NO_COLOR=1 '{}' open '{}'; echo HOPLINE-EXIT=$?; \
         echo TTY-MODE=$(stty -a | grep -o -- '-\\?icanon' | head -1); sleep 60",
        cache.path().display(),
        env!("CARGO_BIN_EXE_hopline"),
        common::sample().display()
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

    let first = tmux.wait_for("Events (50)");
    assert!(first.contains("50 events"), "{first}");
    assert!(first.contains("5 findings"), "{first}");

    tmux.send(&["j", "j", "Enter"]);
    let opened = tmux.wait_for("Timeline evt_");
    assert!(opened.contains("api-gateway"), "{opened}");
    tmux.send(&["j", "Enter"]);
    let detail = tmux.wait_for(".log:");
    assert!(detail.contains("ids:"), "{detail}");

    tmux.send(&["q"]);
    let after = tmux.wait_for("TTY-MODE=");
    assert!(after.contains("HOPLINE-EXIT=0"), "{after}");
    assert!(
        !after.contains("Events (50)"),
        "alternate screen was not left:\n{after}"
    );
    // Raw mode is off again: canonical line editing is back.
    assert!(
        after.contains("TTY-MODE=icanon"),
        "terminal left in raw mode:\n{after}"
    );
}
