//! The main screen rendered on ratatui's TestBackend from the real sample,
//! compared with a reviewed snapshot: a layout change shows up as a diff.

mod common;

use std::path::PathBuf;

use hopline::config::Config;
use hopline::index::RecordIndex;
use hopline::ingest::ingest;
use hopline::present::tui::render::render;
use hopline::present::tui::{Action, App, Message, Pane, Request, Screen, serve};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The app on an index of `bundle`, analysed, with its requests answered
/// as the event loop would.
struct Tui {
    app: App,
    index: RecordIndex,
    _dir: tempfile::TempDir,
}

impl Tui {
    /// On the panes, past the triage checklist (Esc), as most tests want.
    fn on(bundle: PathBuf, label: &str) -> Tui {
        let mut t = Tui::opened(bundle, label);
        t.apply(Action::Back);
        t
    }

    /// As it opens: on the triage checklist.
    fn opened(bundle: PathBuf, label: &str) -> Tui {
        let dir = tempfile::tempdir().unwrap();
        let index = RecordIndex::open_or_create(&dir.path().join("ix")).unwrap();
        let config = Config::default();
        ingest(&index, &[bundle], &config, &mut |_| {}).unwrap();
        let analysis = hopline::analysis::analyse(&index, &config).unwrap();
        let metrics =
            hopline::analysis::metrics::metrics(&index.snapshot(), &analysis, &config).unwrap();
        let mut app = App::new(label.into(), false);
        app.on_message(Message::Ready(Box::new(analysis)));
        app.on_message(Message::Metrics(Box::new(metrics)));
        let mut tui = Tui {
            app,
            index,
            _dir: dir,
        };
        tui.serve();
        tui
    }

    fn apply(&mut self, action: Action) {
        self.app.apply(action);
        self.serve();
    }

    /// Carries out the app's lookups (a marks save is left queued, so a
    /// test can see it was asked for).
    fn serve(&mut self) {
        serve(&mut self.app, &self.index, &Config::default());
    }
}

fn sample_app() -> Tui {
    Tui::on(common::sample(), "samples/payments-incident")
}

fn sample_triage() -> Tui {
    Tui::opened(common::sample(), "samples/payments-incident")
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(app, f)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn findings_first_then_the_double_charge_timeline() {
    let mut t = sample_app();
    let first = screen(&t.app, 120, 36);
    assert!(first.contains("Findings (5)"), "{first}");
    assert!(first.contains("Overview"), "{first}");
    // The top finding is the double charge; Enter opens its event at the
    // first piece of evidence.
    t.apply(Action::Enter);
    assert_eq!(t.app.focus, Pane::Timeline);
    let text = screen(&t.app, 120, 36);
    assert!(text.contains("Timeline evt_39febed3e92d"), "{text}");
    assert!(
        text.contains("billing-worker-7f9c6d8b5-h3j6m.log:44"),
        "detail shows the evidence's path:line\n{text}"
    );
    insta::assert_snapshot!("main_screen_double_charge", text);
    insta::assert_snapshot!("main_120x40", screen(&t.app, 120, 40));
}

#[test]
fn help_overlay_and_small_terminal() {
    let mut t = sample_app();
    let small = screen(&t.app, 80, 24);
    assert!(
        small.contains("Findings (5)") && small.contains("Events (51)"),
        "{small}"
    );
    insta::assert_snapshot!("main_80x24", small);
    t.apply(Action::ToggleHelp);
    let text = screen(&t.app, 80, 24);
    assert!(text.contains("Keys"));
    assert!(text.contains("quit"));
    insta::assert_snapshot!("help_80x24", text);
    t.apply(Action::ToggleHelp);
    assert!(!screen(&t.app, 80, 24).contains("Keys"));
}

/// However long the bundle's path, the header keeps its counts: the path
/// gives way, cut in the middle.
#[test]
fn a_long_bundle_path_never_pushes_the_counts_off() {
    let long = format!("/home/oncall/{}/payments-incident", "deep/".repeat(38));
    let t = Tui::on(common::sample(), &long);
    for width in [80, 120] {
        let header = screen(&t.app, width, 24)
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert!(header.contains("51 events"), "{width}: {header}");
        assert!(header.contains("5 findings"), "{width}: {header}");
        assert!(header.contains("…"), "{width}: {header}");
        // The end of a path names the bundle: it is what is kept.
        assert!(header.contains("incident ·"), "{width}: {header}");
    }
}

/// `!` lists the lines that could not be read, with why; the header
/// counts them.
#[test]
fn malformed_lines_are_counted_and_listed() {
    let mut t = sample_app();
    let main = screen(&t.app, 120, 36);
    assert!(main.contains("1 malformed"), "{main}");
    t.apply(Action::ToggleMalformed);
    let shown = screen(&t.app, 120, 36);
    assert!(shown.contains("Malformed lines (1)"), "{shown}");
    assert!(
        shown.contains("payments-api-6c8d7b5f9-q4w8n.log:132  invalid JSON"),
        "{shown}"
    );
    t.apply(Action::Back);
    assert!(!screen(&t.app, 120, 36).contains("Malformed lines"));
}

#[test]
fn search_by_id_prefix_and_by_words() {
    let mut t = sample_app();
    t.apply(Action::StartSearch);
    for c in "req_39012".chars() {
        t.apply(Action::Type(c));
    }
    let prompt = screen(&t.app, 120, 36);
    assert!(prompt.contains("/req_39012"), "{prompt}");
    t.apply(Action::Enter);
    assert_eq!(t.app.matches.len(), 1);
    let text = screen(&t.app, 120, 36);
    assert!(text.contains("1 event matches req_39012"), "{text}");
    assert!(
        text.contains("partial_write"),
        "the partial-write event opened:\n{text}"
    );
    insta::assert_snapshot!("search_partial_write", text);
    // Words and fields: every record-level term must hold.
    t.apply(Action::StartSearch);
    for c in "service:billing charge created".chars() {
        t.apply(Action::Type(c));
    }
    t.apply(Action::Enter);
    let charged = t.app.matches.len();
    assert!(charged > 10, "{charged}");
    t.apply(Action::NextMatch);
    assert_eq!(t.app.event_sel, t.app.matches[1]);
}

#[test]
fn following_an_id_from_the_detail_and_back() {
    let mut t = sample_app();
    t.apply(Action::Enter); // the double charge
    t.apply(Action::Enter); // its detail
    assert_eq!(t.app.focus, Pane::Detail);
    let entry_ids = t.app.selected_entry().unwrap().ids.clone();
    let last = entry_ids.len() - 1;
    for _ in 0..last {
        t.apply(Action::Down);
    }
    t.apply(Action::Enter);
    let followed = &entry_ids[last].value;
    assert_eq!(t.app.timeline_name(), Some(followed.as_str()));
    let text = screen(&t.app, 120, 36);
    assert!(text.contains(&format!("Timeline of {followed}")), "{text}");
    t.apply(Action::HistoryBack);
    assert_eq!(t.app.timeline_name(), Some("evt_39febed3e92d"));
}

#[test]
fn a_time_range_from_the_overview_filters_the_lists() {
    let mut t = sample_app();
    t.apply(Action::PrevPane);
    assert_eq!(t.app.focus, Pane::Overview);
    for _ in 0..20 {
        t.apply(Action::Right);
    }
    t.apply(Action::RangeAnchor);
    for _ in 0..10 {
        t.apply(Action::Right);
    }
    t.apply(Action::Enter);
    let listed = t.app.listed.len();
    assert!(listed > 0 && listed < 51, "{listed}");
    let text = screen(&t.app, 120, 36);
    assert!(text.contains(&format!("Events ({listed})")), "{text}");
    t.apply(Action::Back);
    assert_eq!(t.app.listed.len(), 51, "Esc clears the range");
}

#[test]
fn marks_and_notes_show_on_the_timeline() {
    let mut t = sample_app();
    t.apply(Action::Enter);
    t.apply(Action::Mark);
    assert_eq!(t.app.requests, vec![Request::SaveMarks]);
    t.apply(Action::Down);
    t.apply(Action::StartNote);
    for c in "retry here".chars() {
        t.apply(Action::Type(c));
    }
    t.apply(Action::Enter);
    let text = screen(&t.app, 120, 36);
    assert!(text.contains('★') && text.contains('✎'), "{text}");
    assert!(text.contains("marked: retry here"), "{text}");
}

#[test]
fn control_sequences_in_logs_are_shown_not_executed() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(
        bundle.join("evil-6d8f9b7c5-x2x9z.log"),
        "{\"time\":1795165201123,\"msg\":\"boom \\u001b[2J\\u001b]0;pwned\\u0007 \\u001b[10A\",\"request_id\":\"req_evil\"}\n",
    )
    .unwrap();
    let t = Tui::on(bundle, "evil");
    let text = screen(&t.app, 120, 30);
    assert!(
        text.contains("boom \\e[2J\\e]0;pwned\\x07 \\e[10A"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn search_matches_follow_the_list_when_a_range_narrows_it() {
    let mut t = sample_app();
    t.apply(Action::StartSearch);
    for c in "req_39012".chars() {
        t.apply(Action::Type(c));
    }
    t.apply(Action::Enter);
    assert_eq!(t.app.matches.len(), 1);
    t.apply(Action::PrevPane);
    t.apply(Action::PrevPane);
    assert_eq!(t.app.focus, Pane::Overview);
    t.apply(Action::RangeAnchor);
    t.apply(Action::Enter);
    let carries = |pos: usize| {
        let a = t.app.analysis.as_ref().unwrap();
        a.events.events[t.app.listed[pos]]
            .ids
            .iter()
            .any(|id| id.value.starts_with("req_39012"))
    };
    assert!(t.app.listed.len() < 51, "the range narrowed the list");
    assert!(
        t.app
            .matches
            .iter()
            .all(|&pos| pos < t.app.listed.len() && carries(pos)),
        "matches point at listed events that carry the ID: {:?}",
        t.app.matches
    );
}

/// A generated bundle whose ledger clock runs 250 ms ahead: its entries
/// are in corrected order, badged `~`, and the detail says what was done.
#[test]
fn clock_corrected_entries_are_badged() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let made = std::process::Command::new(common::generator())
        .args(["--events", "60", "--seed", "3", "--skew-ms", "250", "--out"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(made.status.success());
    let mut t = Tui::on(bundle, "generated");
    t.apply(Action::NextPane);
    assert_eq!(t.app.focus, Pane::Events);
    t.apply(Action::Enter);
    let ledger = t
        .app
        .timeline()
        .iter()
        .position(|r| r.service == "ledger-service")
        .expect("the first event writes the ledger");
    let before = &t.app.timeline()[ledger - 1];
    assert_eq!(
        before.message, "calling ledger-service",
        "corrected, the ledger answers the worker's call"
    );
    assert_eq!(t.app.focus, Pane::Timeline);
    for _ in 0..ledger {
        t.apply(Action::Down);
    }
    let text = screen(&t.app, 120, 36);
    let row = text
        .lines()
        .find(|l| l.contains("POST /v1/entries received"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains('~'), "badge on the corrected entry: {row}");
    assert!(
        text.contains("~ clock corrected: ledger-service-") && text.contains("ms ahead"),
        "{text}"
    );
}

/// At 80×24 the lists and the timeline take turns: the timeline gets the
/// whole width, keeps its milliseconds and gives the message its room.
#[test]
fn a_narrow_screen_gives_the_timeline_the_width() {
    let mut t = sample_app();
    t.apply(Action::Enter);
    assert_eq!(t.app.focus, Pane::Timeline);
    let text = screen(&t.app, 80, 24);
    assert!(!text.contains("Findings (5)"), "{text}");
    assert!(text.contains("09:13:44.101"), "milliseconds kept\n{text}");
    let message_w = text
        .lines()
        .find(|l| l.contains("idempotency key reserved"))
        .map(|l| l.len() - l.find("idempotency").unwrap())
        .unwrap_or(0);
    assert!(message_w >= 24, "{text}");
    assert!(text.contains("Shift-Tab lists"), "{text}");
    insta::assert_snapshot!("timeline_80x24", text);
    // Back to the lists: they take the width again.
    t.apply(Action::PrevPane);
    let lists = screen(&t.app, 80, 24);
    assert!(
        lists.contains("Events (51)") && !lists.contains("Timeline"),
        "{lists}"
    );
}

/// A wide screen gives the lists more room than an ID needs.
#[test]
fn a_wide_screen_uses_its_width() {
    let mut t = sample_app();
    t.apply(Action::Enter);
    let text = screen(&t.app, 200, 60);
    let findings_w = text
        .lines()
        .find(|l| l.starts_with("┌Findings"))
        .and_then(|l| l.find('┐'))
        .unwrap_or(0);
    assert!(findings_w > 50, "{text}");
    // Room for the IDs each row carries, short and unique.
    assert!(text.contains("evt_39fe req_738a"), "{text}");
    insta::assert_snapshot!("main_200x60", text);
}

/// Moving through the findings shows each one's event, as moving through
/// the events does.
#[test]
fn moving_through_findings_shows_each_findings_event() {
    let mut t = sample_app();
    t.apply(Action::Down);
    assert_eq!(t.app.focus, Pane::Findings);
    let second = screen(&t.app, 120, 36);
    // The second finding (key_drift) is the double charge's event too; the
    // third (key_conflict) names the event that reused the key.
    assert!(second.contains("Timeline evt_39febed3e92d"), "{second}");
    t.apply(Action::Down);
    let third = screen(&t.app, 120, 36);
    assert!(third.contains("Timeline evt_131a6bd80eeb"), "{third}");
}

/// nezha-onlineboutique: rows show the step, not the trace and span IDs
/// every line opens with; lanes of services that share initials are
/// numbered, and the service column repeats the number.
#[test]
fn nezha_rows_show_the_step_and_numbered_lanes() {
    let Some(root) = common::dataset("nezha-onlineboutique") else {
        return;
    };
    let mut t = Tui::on(root.join("derived/containers"), "nezha");
    t.apply(Action::StartSearch);
    for c in "54de0079cdcd169c7af8fb78ec5bc3dc".chars() {
        t.apply(Action::Type(c));
    }
    t.apply(Action::Enter);
    // The search selects the event; Enter opens its timeline.
    t.apply(Action::Enter);
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        let text = screen(&t.app, w, h);
        // Timeline rows: a pane border, then the time with milliseconds.
        let rows: Vec<&str> = text
            .lines()
            .filter_map(|l| l.find("│05:18:2").map(|at| &l[at + "│".len()..]))
            .filter(|row| row.get(8..9) == Some("."))
            .collect();
        assert!(!rows.is_empty(), "{w}x{h}\n{text}");
        for row in &rows {
            assert!(!row.contains("TraceID:"), "{w}x{h}: {row}");
        }
        assert!(
            text.contains("Start PlaceOrder") || text.contains("Request started"),
            "{text}"
        );
        assert!(text.contains("1 2 3"), "numbered lanes at {w}x{h}\n{text}");
        insta::assert_snapshot!(format!("nezha_{w}x{h}"), text);
    }
}

/// Zeek-wrccdc: the overview covers the 21-minute capture, not the years
/// to the lines Zeek stamped when it wrote its script list, and says how
/// many it left out.
#[test]
fn zeek_overview_covers_the_capture_not_the_strays() {
    let Some(root) = common::dataset("zeek-wrccdc-2018") else {
        return;
    };
    let t = Tui::on(root, "zeek-wrccdc-2018");
    let text = screen(&t.app, 120, 40);
    let overview: String = text.lines().take(6).collect::<Vec<_>>().join("\n");
    assert!(overview.contains("far outside, not drawn"), "{overview}");
    assert!(overview.contains("2018-03-24T17:15"), "{overview}");
    insta::assert_snapshot!("zeek_overview", overview);
}

#[test]
fn triage_is_the_first_screen_and_enter_goes_to_the_evidence() {
    let mut t = sample_triage();
    assert_eq!(t.app.screen, Screen::Triage);
    let first = screen(&t.app, 120, 36);
    insta::assert_snapshot!("sample_triage_120x36", first);
    assert!(first.contains("1 partial write"), "{first}");
    // Step 3, task timeouts: its evidence is the partial write.
    t.apply(Action::Down);
    t.apply(Action::Down);
    t.apply(Action::Enter);
    assert_eq!(t.app.screen, Screen::Main);
    // On the findings of that kind, the first one's event beside them.
    assert_eq!(t.app.focus, Pane::Findings);
    let shown = screen(&t.app, 120, 36);
    assert!(shown.contains("Findings (1)"), "{shown}");
    assert!(shown.contains("Timeline evt_d2b379aa4282"), "{shown}");
    // Esc in the findings lists every finding again.
    t.apply(Action::Back);
    assert!(screen(&t.app, 120, 36).contains("Findings (5)"));
    // The last step opens the worst event's timeline at once.
    t.apply(Action::Triage);
    t.apply(Action::Bottom);
    t.apply(Action::Enter);
    assert!(screen(&t.app, 120, 36).contains("Timeline evt_39febed3e92d"));
    // A step with nothing to show says so and stays.
    t.apply(Action::Triage);
    t.apply(Action::Top);
    for _ in 0..3 {
        t.apply(Action::Down);
    }
    t.apply(Action::Enter);
    assert_eq!(t.app.screen, Screen::Triage);
    assert!(
        t.app
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("no payload_shape_drift")
    );
}

#[test]
fn metrics_view_draws_a_sparkline_per_state_with_the_range_marked() {
    let mut t = sample_triage();
    t.apply(Action::Metrics);
    assert_eq!(t.app.screen, Screen::Metrics);
    let shown = screen(&t.app, 120, 36);
    insta::assert_snapshot!("sample_metrics_120x36", shown);
    for label in [
        "task received (52)",
        "task revoked (2)",
        "duplicated (1)",
        "keys arriving again (2)",
    ] {
        assert!(shown.contains(label), "{label}:\n{shown}");
    }
    // With a range chosen in the overview, labels count it first.
    let start = t.app.analysis.as_ref().unwrap().histogram.start;
    t.app.range = Some((start, start + 10 * 60_000_000));
    let ranged = screen(&t.app, 120, 36);
    let received = ranged
        .lines()
        .find(|l| l.starts_with("task received ("))
        .unwrap_or_else(|| panic!("{ranged}"));
    assert!(received.contains(" of 52)"), "{received}");
    assert!(!received.contains("(52 of 52)"), "{received}");
    // Esc goes back to the triage checklist.
    t.apply(Action::Back);
    assert_eq!(t.app.screen, Screen::Triage);
}
