//! The main screen rendered on ratatui's TestBackend from the real sample,
//! compared with a reviewed snapshot: a layout change shows up as a diff.

mod common;

use hopline::config::Config;
use hopline::correlate::{HubRule, footprint};
use hopline::detect::analyse;
use hopline::index::RecordIndex;
use hopline::ingest::{all_records, ingest};
use hopline::present::tui::render::render;
use hopline::present::tui::{Action, App, Message, Pane, Request};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn sample_app() -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let index = RecordIndex::open_or_create(dir.path()).unwrap();
    let config = Config::default();
    ingest(&index, &[common::sample()], &config, &mut |_| {}).unwrap();
    let analysis = analyse(all_records(&index).unwrap(), &config);
    let mut app = App::new("samples/payments-incident".into(), false);
    app.on_message(Message::Ready(Box::new(analysis)));
    (app, dir)
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

/// Carries out what the app asked for the way the event loop does, for the
/// requests a snapshot needs (a footprint lookup).
fn serve(app: &mut App, index: &RecordIndex) {
    for req in std::mem::take(&mut app.requests) {
        if let Request::Footprint(id) = req {
            let fp = footprint(index, &id, HubRule::from_config(&Config::default())).unwrap();
            app.on_message(Message::Footprint {
                query: id,
                records: fp.records,
            });
        }
    }
}

#[test]
fn findings_first_then_the_double_charge_timeline() {
    let (mut app, _dir) = sample_app();
    let first = screen(&app, 120, 36);
    assert!(first.contains("Findings (5)"), "{first}");
    assert!(first.contains("Overview"), "{first}");
    // The top finding is the double charge; Enter opens its event at the
    // first piece of evidence.
    app.apply(Action::Enter);
    assert_eq!(app.focus, Pane::Timeline);
    let text = screen(&app, 120, 36);
    assert!(text.contains("Timeline evt_39febed3e92d"), "{text}");
    assert!(
        text.contains("billing-worker-7f9c6d8b5-h3j6m.log:44"),
        "detail shows the evidence's path:line\n{text}"
    );
    insta::assert_snapshot!("main_screen_double_charge", text);
}

#[test]
fn help_overlay_and_small_terminal() {
    let (mut app, _dir) = sample_app();
    let small = screen(&app, 80, 24);
    assert!(
        small.contains("Findings (5)") && small.contains("Events (50)"),
        "{small}"
    );
    insta::assert_snapshot!("main_80x24", small);
    app.apply(Action::ToggleHelp);
    let text = screen(&app, 80, 24);
    assert!(text.contains("Keys"));
    assert!(text.contains("quit"));
    insta::assert_snapshot!("help_80x24", text);
    app.apply(Action::ToggleHelp);
    assert!(!screen(&app, 80, 24).contains("Keys"));
}

#[test]
fn search_by_id_prefix_and_by_words() {
    let (mut app, _dir) = sample_app();
    app.apply(Action::StartSearch);
    for c in "req_39012".chars() {
        app.apply(Action::Type(c));
    }
    let prompt = screen(&app, 120, 36);
    assert!(prompt.contains("/req_39012"), "{prompt}");
    app.apply(Action::Enter);
    assert_eq!(app.matches.len(), 1);
    let text = screen(&app, 120, 36);
    assert!(text.contains("1 event matches req_39012"), "{text}");
    assert!(
        text.contains("partial_write"),
        "the partial-write event opened:\n{text}"
    );
    insta::assert_snapshot!("search_partial_write", text);
    // Words and fields: every record-level term must hold.
    app.apply(Action::StartSearch);
    for c in "service:billing charge created".chars() {
        app.apply(Action::Type(c));
    }
    app.apply(Action::Enter);
    let charged = app.matches.len();
    assert!(charged > 10, "{charged}");
    app.apply(Action::NextMatch);
    assert_eq!(app.event_sel, app.matches[1]);
}

#[test]
fn following_an_id_from_the_detail_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let index = RecordIndex::open_or_create(dir.path()).unwrap();
    let config = Config::default();
    ingest(&index, &[common::sample()], &config, &mut |_| {}).unwrap();
    let mut app = App::new("samples/payments-incident".into(), false);
    app.on_message(Message::Ready(Box::new(analyse(
        all_records(&index).unwrap(),
        &config,
    ))));
    app.apply(Action::Enter); // the double charge
    app.apply(Action::Enter); // its detail
    assert_eq!(app.focus, Pane::Detail);
    let entry_ids = app.selected_entry().unwrap().ids.clone();
    let last = entry_ids.len() - 1;
    for _ in 0..last {
        app.apply(Action::Down);
    }
    app.apply(Action::Enter);
    serve(&mut app, &index);
    let followed = &entry_ids[last].value;
    assert_eq!(app.timeline_name(), Some(followed.as_str()));
    let text = screen(&app, 120, 36);
    assert!(text.contains(&format!("Timeline of {followed}")), "{text}");
    app.apply(Action::HistoryBack);
    assert_eq!(app.timeline_name(), Some("evt_39febed3e92d"));
}

#[test]
fn a_time_range_from_the_overview_filters_the_lists() {
    let (mut app, _dir) = sample_app();
    app.apply(Action::PrevPane);
    assert_eq!(app.focus, Pane::Overview);
    for _ in 0..20 {
        app.apply(Action::Right);
    }
    app.apply(Action::RangeAnchor);
    for _ in 0..10 {
        app.apply(Action::Right);
    }
    app.apply(Action::Enter);
    let listed = app.listed.len();
    assert!(listed > 0 && listed < 50, "{listed}");
    let text = screen(&app, 120, 36);
    assert!(text.contains(&format!("Events ({listed})")), "{text}");
    app.apply(Action::Back);
    assert_eq!(app.listed.len(), 50, "Esc clears the range");
}

#[test]
fn marks_and_notes_show_on_the_timeline() {
    let (mut app, _dir) = sample_app();
    app.apply(Action::Enter);
    app.apply(Action::Mark);
    assert_eq!(app.requests, vec![Request::SaveMarks]);
    app.apply(Action::Down);
    app.apply(Action::StartNote);
    for c in "retry here".chars() {
        app.apply(Action::Type(c));
    }
    app.apply(Action::Enter);
    let text = screen(&app, 120, 36);
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
    let index = RecordIndex::open_or_create(&dir.path().join("ix")).unwrap();
    let config = Config::default();
    ingest(&index, &[bundle], &config, &mut |_| {}).unwrap();
    let mut app = App::new("evil".into(), false);
    app.on_message(Message::Ready(Box::new(analyse(
        all_records(&index).unwrap(),
        &config,
    ))));
    let text = screen(&app, 120, 30);
    assert!(
        text.contains("boom \\e[2J\\e]0;pwned\\x07 \\e[10A"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'));
}
