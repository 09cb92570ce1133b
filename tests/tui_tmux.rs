//! End to end in a real terminal: tmux runs `hopline open` on the sample,
//! keys are sent, the screen is read back, and after `q` the shell's screen
//! must be back (alternate screen left, raw mode off).

mod common;

use common::tmux::open_in_tmux;

#[test]
fn open_move_enter_quit_restores_the_terminal() {
    let cache = tempfile::tempdir().unwrap();
    let Some(tmux) = open_in_tmux("e2e", &common::sample(), cache.path()) else {
        return;
    };

    // The triage checklist comes first; Esc goes to the panes.
    let triage = tmux.wait_for("timeouts, cancellations");
    assert!(triage.contains("idempotency table"), "{triage}");
    tmux.send(&["Escape"]);
    let first = tmux.wait_for("Events (51)");
    assert!(first.contains("51 events"), "{first}");
    assert!(first.contains("5 findings"), "{first}");

    tmux.send(&["j", "j", "Enter"]);
    let opened = tmux.wait_for("Timeline evt_");
    assert!(opened.contains("api-gateway"), "{opened}");
    tmux.send(&["j", "Enter"]);
    let detail = tmux.wait_for(".log:");
    assert!(detail.contains("ids:"), "{detail}");

    tmux.send(&["q"]);
    let after = tmux.wait_for("TTY-MODE=");
    assert!(
        !after.contains("Events (51)"),
        "alternate screen was not left:\n{after}"
    );
    assert_terminal_restored(&tmux, &after);
}

/// After hopline exits: it exited 0, raw mode is off (canonical line
/// editing is back) and the cursor shows.
fn assert_terminal_restored(tmux: &common::tmux::Tmux, after: &str) {
    assert!(after.contains("HOPLINE-EXIT=0"), "{after}");
    assert!(
        after.contains("TTY-MODE=icanon"),
        "terminal left in raw mode:\n{after}"
    );
    assert_eq!(cursor_visible(tmux), "1", "cursor left hidden:\n{after}");
}

/// tmux's own view of the pane's cursor: 1 when shown.
fn cursor_visible(tmux: &common::tmux::Tmux) -> String {
    let out = tmux
        .cmd()
        .args(["display-message", "-p", "-t", "e2e", "#{cursor_flag}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Quitting at once, while the bundle is still being read, leaves the
/// terminal as whole as quitting later does (that path exits without
/// waiting for the ingest).
#[test]
fn quit_during_ingest_restores_the_cursor() {
    let cache = tempfile::tempdir().unwrap();
    let Some(tmux) = open_in_tmux("quick", &common::sample(), cache.path()) else {
        return;
    };
    tmux.wait_for("hopline");
    tmux.send(&["q"]);
    let after = tmux.wait_for("TTY-MODE=");
    assert_terminal_restored(&tmux, &after);
}

#[test]
fn finding_to_timeline_search_follow_an_id_resize_export_quit() {
    let cache = tempfile::tempdir().unwrap();
    let Some(tmux) = open_in_tmux("walk", &common::sample(), cache.path()) else {
        return;
    };
    tmux.wait_for("Triage");
    tmux.send(&["Escape"]);
    tmux.wait_for("Findings (5)");
    // The top finding opens the double-charged event.
    tmux.send(&["Enter"]);
    tmux.wait_for("Timeline evt_39febed3e92d");
    // Search an ID by prefix.
    tmux.send(&["/", "r", "e", "q", "_", "3", "9", "0", "Enter"]);
    let found = tmux.wait_for("1 event matches req_390");
    assert!(found.contains("partial_write"), "{found}");
    // Into the detail, pick its last ID and follow it; Backspace returns.
    tmux.send(&["Tab", "Enter", "G", "Enter"]);
    tmux.wait_for("Timeline of ");
    tmux.send(&["BSpace"]);
    tmux.wait_for("Timeline evt_d2b379aa4282");
    // Export the event from the TUI: the same report `hopline export` writes.
    tmux.send(&["e"]);
    tmux.wait_for("exported evt_d2b379aa4282");
    let md = std::fs::read_to_string(cache.path().join("hopline-evt_d2b379aa4282.md")).unwrap();
    assert!(
        md.starts_with("# Postmortem: event `evt_d2b379aa4282`"),
        "{md}"
    );
    // Smaller terminal: still usable.
    let ok = tmux
        .cmd()
        .args(["resize-window", "-t", "e2e", "-x", "80", "-y", "24"])
        .status()
        .unwrap();
    assert!(ok.success());
    // tmux crops the old frame at once; only a redraw closes the
    // overview's border at the new right edge.
    let small = tmux.wait_until("an 80-column redraw", |s| {
        s.lines()
            .any(|l| l.starts_with("┌Overview") && l.ends_with('┐') && l.chars().count() == 80)
    });
    // At 80 columns the timeline takes the width, milliseconds and all;
    // Shift-Tab brings the lists back.
    assert!(
        small.lines().count() <= 24
            && small.contains("Timeline evt_d2b379aa4282")
            && small.contains("09:27:15.433"),
        "{small}"
    );
    tmux.send(&["BTab"]);
    tmux.wait_for("Events (51)");
    tmux.send(&["q"]);
    let after = tmux.wait_for("TTY-MODE=");
    assert!(after.contains("HOPLINE-EXIT=0"), "{after}");
}

#[test]
fn follow_mode_shows_appended_lines() {
    let cache = tempfile::tempdir().unwrap();
    let bundle = cache.path().join("live");
    std::fs::create_dir_all(&bundle).unwrap();
    let log = bundle.join("payments-api-6c8d7b5f9-q4w8n.log");
    let line = |ms: u64, evt: &str| {
        format!(
            "{{\"time\":{},\"level\":30,\"msg\":\"payment request received\",\"event_id\":\"{evt}\"}}\n",
            1_795_165_200_000u64 + ms
        )
    };
    std::fs::write(&log, line(0, "evt_before000001")).unwrap();
    let Some(tmux) = open_in_tmux("follow", &bundle, cache.path()) else {
        return;
    };
    tmux.wait_for("Triage");
    tmux.send(&["Escape"]);
    tmux.wait_for("Events (1)");
    tmux.send(&["f"]);
    tmux.wait_for("follow ●");
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(line(5000, "evt_appended0002").as_bytes())
        .unwrap();
    drop(f);
    let seen = tmux.wait_for("evt_appended0002");
    assert!(seen.contains("Events (2)"), "{seen}");
    tmux.send(&["q"]);
    tmux.wait_for("HOPLINE-EXIT=0");
}

/// A second TUI on an index that another process writes opens read-only,
/// shows what was committed, and says who writes.
#[test]
fn a_busy_index_opens_read_only_and_says_who_writes() {
    let cache = tempfile::tempdir().unwrap();
    common::run_ok(
        common::hopline(cache.path())
            .arg("ingest")
            .arg(common::sample()),
    );
    let index = std::fs::read_dir(cache.path().join("indexes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let lock = common::hold_writer_lock(&index);
    let Some(tmux) = open_in_tmux("busy", &common::sample(), cache.path()) else {
        return;
    };
    let screen = tmux.wait_for("read-only");
    assert!(screen.contains("is ingesting into this index"), "{screen}");
    // It stays said in the header after the footer line goes.
    tmux.wait_for("Triage");
    tmux.send(&["Escape"]);
    tmux.wait_for("Events (51)");
    tmux.send(&["j"]);
    let later = tmux.screen();
    assert!(later.contains("read-only (pid"), "{later}");
    tmux.send(&["q"]);
    let after = tmux.wait_for("TTY-MODE=");
    assert!(after.contains("HOPLINE-EXIT=0"), "{after}");
    drop(lock);
}

/// Two TUIs on one index, each marking or noting an entry: both survive in
/// marks.json, whichever saved last.
#[test]
fn two_tuis_merge_their_marks() {
    let cache = tempfile::tempdir().unwrap();
    common::run_ok(
        common::hopline(cache.path())
            .arg("ingest")
            .arg(common::sample()),
    );
    let Some(one) = open_in_tmux("marks1", &common::sample(), cache.path()) else {
        return;
    };
    let Some(two) = open_in_tmux("marks2", &common::sample(), cache.path()) else {
        return;
    };
    for tui in [&one, &two] {
        tui.wait_for("Triage");
        tui.send(&["Escape"]);
        tui.wait_for("Events (51)");
        tui.send(&["j", "j", "Enter"]);
        tui.wait_for("Timeline evt_");
    }
    one.send(&["m"]);
    one.wait_for("marked ");
    two.send(&["j", "c"]);
    for c in ["s", "e", "c", "o", "n", "d"] {
        two.send(&[c]);
    }
    two.send(&["Enter"]);
    two.wait_for("note saved");
    for tui in [&one, &two] {
        tui.send(&["q"]);
        tui.wait_for("HOPLINE-EXIT=0");
    }
    let index = std::fs::read_dir(cache.path().join("indexes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let marks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(index.join("marks.json")).unwrap()).unwrap();
    let marks = marks.as_array().unwrap();
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert!(
        marks
            .iter()
            .any(|m| m["notes"] == serde_json::json!(["second"])),
        "{marks:?}"
    );
}

/// The seeds' triage order on the first screen, walked with the keys: the
/// task step's evidence is the partial write, whose event opens in the
/// timeline; `t` comes back to the checklist and `M` shows the metrics.
#[test]
fn triage_first_then_a_partial_writes_timeline() {
    let cache = tempfile::tempdir().unwrap();
    let Some(tmux) = open_in_tmux("triage", &common::sample(), cache.path()) else {
        return;
    };
    let triage = tmux.wait_for("1 partial write");
    let order = [
        "idempotency table",
        "config hash",
        "timeouts, cancellations",
        "payload shapes",
        "outcome integrity",
        "correlated events",
        "one event's timeline",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|s| triage.find(s).unwrap_or_else(|| panic!("{s}:\n{triage}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{triage}");
    tmux.send(&["j", "j", "Enter"]);
    let timeline = tmux.wait_for("Timeline evt_d2b379aa4282");
    assert!(timeline.contains("Findings (1)"), "{timeline}");
    assert!(timeline.contains("partial_write"), "{timeline}");
    tmux.send(&["t"]);
    tmux.wait_for("OVER TIME");
    tmux.send(&["M"]);
    let metrics = tmux.wait_for("task revoked (2)");
    assert!(metrics.contains("duplicated (1)"), "{metrics}");
    tmux.send(&["q"]);
    let after = tmux.wait_for("TTY-MODE=");
    assert_terminal_restored(&tmux, &after);
}
