//! The triage TUI (ratatui + crossterm). Background work (ingest, analysis)
//! runs on a scoped thread and reports over a channel; the UI thread only
//! draws and answers keys, so it never freezes while a bundle is read.
//! The terminal is restored on exit, on error and on panic.

pub mod app;
pub mod render;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::config::Config;
use crate::detect::analyse;
use crate::index::RecordIndex;
use crate::ingest::{all_records, ingest};

pub use app::{Action, App, Message, Pane, Status};

pub fn action_for(code: KeyCode, mods: KeyModifiers) -> Option<Action> {
    Some(match code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('c') if mods.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => Action::Enter,
        KeyCode::Esc | KeyCode::Left | KeyCode::Char('h') => Action::Back,
        KeyCode::Tab => Action::NextPane,
        KeyCode::BackTab => Action::PrevPane,
        KeyCode::Char('?') => Action::ToggleHelp,
        _ => return None,
    })
}

/// Ingests `roots` into `index` in the background and runs the TUI until
/// the user quits.
pub fn run(
    index: RecordIndex,
    roots: Vec<PathBuf>,
    config: Config,
    bundle_label: String,
    color: bool,
) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel::<Message>();
    let mut app = App::new(bundle_label, color);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let worker = s.spawn(|| {
            let tx = tx;
            let mut last = std::time::Instant::now();
            let result = ingest(&index, &roots, &config, &mut |p| {
                // A few updates a second are plenty for a header.
                if last.elapsed() > Duration::from_millis(100) {
                    last = std::time::Instant::now();
                    let _ = tx.send(Message::Progress(p));
                }
            });
            let msg = match result {
                Err(e) => Message::Failed(format!("ingest failed: {e}")),
                Ok(_) => {
                    let _ = tx.send(Message::Analysing);
                    match all_records(&index) {
                        Ok(records) => Message::Ready(Box::new(analyse(records, &config))),
                        Err(e) => Message::Failed(format!("reading the index failed: {e}")),
                    }
                }
            };
            // The UI may have quit already; then nobody needs the result.
            let _ = tx.send(msg);
        });
        let mut terminal = ratatui::try_init()?;
        let outcome = event_loop(&mut terminal, &mut app, &rx);
        ratatui::restore();
        // Quitting during ingest must not wait for it to finish: the
        // committed part stays valid and the next open resumes it.
        if !worker.is_finished() && app.quit {
            std::process::exit(if outcome.is_ok() { 0 } else { 1 });
        }
        outcome
    })
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &mpsc::Receiver<Message>,
) -> anyhow::Result<()> {
    loop {
        while let Ok(msg) = rx.try_recv() {
            app.on_message(msg);
        }
        terminal.draw(|f| render::render(app, f))?;
        if app.quit {
            return Ok(());
        }
        if event::poll(Duration::from_millis(100))? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    if let Some(a) = action_for(k.code, k.modifiers) {
                        app.apply(a);
                    }
                }
                Event::Resize(_, h) => app.page = (h as usize / 3).max(1),
                _ => {}
            }
        }
    }
}
