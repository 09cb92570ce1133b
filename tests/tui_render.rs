//! The main screen rendered on ratatui's TestBackend from the real sample,
//! compared with a reviewed snapshot: a layout change shows up as a diff.

mod common;

use hopline::config::Config;
use hopline::detect::analyse;
use hopline::index::RecordIndex;
use hopline::ingest::{all_records, ingest};
use hopline::present::tui::render::render;
use hopline::present::tui::{Action, App, Message};
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

#[test]
fn main_screen_on_the_double_charged_event() {
    let (mut app, _dir) = sample_app();
    // Walk down to the double-charged event, open it, step into an entry.
    let target = app
        .analysis
        .as_ref()
        .unwrap()
        .events
        .events
        .iter()
        .position(|(e, _)| e.key.value == "evt_39febed3e92d")
        .unwrap();
    for _ in 0..target {
        app.apply(Action::Down);
    }
    app.apply(Action::Enter);
    for _ in 0..16 {
        app.apply(Action::Down);
    }
    let text = screen(&app, 120, 36);
    assert!(text.contains("Timeline evt_39febed3e92d"));
    assert!(
        text.contains("billing-worker-7f9c6d8b5-h3j6m.log:44"),
        "detail shows path:line"
    );
    insta::assert_snapshot!("main_screen_double_charge", text);
}

#[test]
fn help_overlay_and_small_terminal() {
    let (mut app, _dir) = sample_app();
    app.apply(Action::ToggleHelp);
    let text = screen(&app, 80, 24);
    assert!(text.contains("Keys"));
    assert!(text.contains("quit"));
    insta::assert_snapshot!("help_80x24", text);
    app.apply(Action::ToggleHelp);
    assert!(!screen(&app, 80, 24).contains("Keys"));
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
