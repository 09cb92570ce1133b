//! The triage TUI (ratatui + crossterm). Background work (ingest, analysis,
//! follow-mode refreshes) runs on a scoped thread and reports over a
//! channel; the UI thread only draws, answers keys and mouse, and carries
//! out the app's small requests (a footprint lookup, saving marks, an
//! export, a clipboard copy), so it never freezes while a bundle is read.
//! The terminal is restored on exit, on error and on panic.

pub mod app;
pub mod render;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyCode, KeyEventKind, KeyModifiers,
    MouseEventKind,
};
use ratatui::crossterm::execute;

use crate::config::Config;
use crate::correlate::event_records;
use crate::correlate::{HubRule, footprint};
use crate::index::marks::Marks;
use crate::index::{IndexError, RecordIndex};
use crate::ingest::ingest;
use crate::present::export;

pub use app::{Action, App, Message, Pane, Prompt, Request, Screen, Status};

/// How often follow mode looks for new lines: well inside the 2 s promise.
const FOLLOW_EVERY: Duration = Duration::from_millis(700);

/// Keys to actions. While a prompt is open, printable keys are text.
pub fn action_for(code: KeyCode, mods: KeyModifiers, typing: bool) -> Option<Action> {
    if mods.contains(KeyModifiers::CONTROL) && code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if typing {
        return Some(match code {
            KeyCode::Char(c) => Action::Type(c),
            KeyCode::Backspace => Action::Erase,
            KeyCode::Enter => Action::Enter,
            KeyCode::Esc => Action::Back,
            _ => return None,
        });
    }
    Some(match code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Enter => Action::Enter,
        KeyCode::Right | KeyCode::Char('l') => Action::Right,
        KeyCode::Left | KeyCode::Char('h') => Action::Left,
        KeyCode::Esc => Action::Back,
        KeyCode::Backspace => Action::HistoryBack,
        KeyCode::Tab => Action::NextPane,
        KeyCode::BackTab => Action::PrevPane,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('!') => Action::ToggleMalformed,
        KeyCode::Char('/') => Action::StartSearch,
        KeyCode::Char('n') => Action::NextMatch,
        KeyCode::Char('N') => Action::PrevMatch,
        KeyCode::Char('s') => Action::CycleSort,
        KeyCode::Char('f') => Action::ToggleFollow,
        KeyCode::Char('m') => Action::Mark,
        KeyCode::Char('c') => Action::StartNote,
        KeyCode::Char('e') => Action::Export,
        KeyCode::Char('y') => Action::CopyId,
        KeyCode::Char(' ') => Action::RangeAnchor,
        KeyCode::Char('t') => Action::Triage,
        KeyCode::Char('M') => Action::Metrics,
        _ => return None,
    })
}

/// The idempotency table read live next to the files, when `--pg` is given.
pub struct LiveTable {
    pub target: crate::sources::postgres::PgTarget,
    pub table: Option<String>,
}

/// Ingests `roots` (and the live table) into `index` in the background and
/// runs the TUI until the user quits.
pub fn run(
    index: RecordIndex,
    roots: Vec<PathBuf>,
    live: Option<LiveTable>,
    config: Config,
    bundle_label: String,
    color: bool,
    export_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel::<Message>();
    let mut app = App::new(bundle_label, color);
    app.export_dir = export_dir;
    app.marks = match Marks::load(index.dir()) {
        Ok(m) => m,
        Err(e) => {
            app.flash = Some(format!("marks not read: {e}; the next save sets it aside"));
            Marks::empty(index.dir())
        }
    };
    let follow = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let worker =
            s.spawn(|| background(&index, &roots, live.as_ref(), &config, &tx, &follow, &stop));
        let mut terminal = ratatui::try_init()?;
        // Mouse capture is ours to undo, on panic too: ratatui's hook only
        // restores what it set up.
        let _ = execute!(std::io::stdout(), EnableMouseCapture);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(std::io::stdout(), DisableMouseCapture, Show);
            hook(info);
        }));
        let outcome = event_loop(
            &mut terminal,
            &mut app,
            (&tx, &rx),
            &index,
            &config,
            &follow,
        );
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
        // ratatui leaves the cursor to the terminal's drop, which a quit
        // during ingest (process::exit below) never reaches.
        let _ = execute!(std::io::stdout(), Show);
        stop.store(true, Ordering::Relaxed);
        // Quitting during ingest must not wait for it to finish: the
        // committed part stays valid and the next open resumes it.
        if !worker.is_finished() && app.quit {
            std::process::exit(if outcome.is_ok() { 0 } else { 1 });
        }
        outcome
    })
}

/// Ingest, analyse, then (in follow mode) ingest again whenever files grow
/// and send a fresh analysis. Ends when the UI stops it.
fn background(
    index: &RecordIndex,
    roots: &[PathBuf],
    live: Option<&LiveTable>,
    config: &Config,
    tx: &mpsc::Sender<Message>,
    follow: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut first = true;
    loop {
        let mut last = Instant::now();
        let result = ingest(index, roots, config, &mut |p| {
            // A few updates a second are plenty for a header.
            if first && last.elapsed() > Duration::from_millis(100) {
                last = Instant::now();
                let _ = tx.send(Message::Progress(p));
            }
        });
        // Rows whose updated_at moved since the last read; a failure here
        // is shown and the files keep working.
        let mut rows_added = 0;
        if let Some(live) = live {
            match crate::ingest::ingest_pg(index, &live.target, live.table.as_deref(), config) {
                Ok(r) => rows_added = r.records_added,
                Err(e) => {
                    let _ = tx.send(Message::Flash(format!("Postgres: {e}")));
                }
            }
        }
        if result.is_ok() {
            // This process writes (again): whoever wrote before is done.
            let _ = tx.send(Message::ReadOnly(None));
        }
        match result {
            // Another process writes this index: read what it committed,
            // read-only, and say who writes.
            Err(crate::ingest::IngestError::Index(crate::index::IndexError::Busy {
                holder,
                ..
            })) => {
                let _ = tx.send(Message::ReadOnly(Some(format!(
                    "pid {} writes",
                    holder.pid
                ))));
                let _ = tx.send(Message::Flash(format!(
                    "read-only: pid {} is ingesting into this index; showing what it committed",
                    holder.pid
                )));
                if first {
                    let _ = index.refresh();
                    if !send_analysis(index, config, tx) {
                        return;
                    }
                }
            }
            Err(e) => {
                let _ = tx.send(Message::Failed(format!("ingest failed: {e}")));
            }
            Ok(report) if first || report.records_added + rows_added > 0 => {
                let _ = tx.send(Message::Analysing);
                if !send_analysis(index, config, tx) {
                    return;
                }
            }
            Ok(_) => {}
        }
        first = false;
        // Wait for follow mode (or the end), looking often enough that
        // turning it on is felt at once.
        let started = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if follow.load(Ordering::Relaxed) && started.elapsed() >= FOLLOW_EVERY {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The analysis, then its figures (a pass of their own, so the lists fill
/// first); false when the UI is gone.
fn send_analysis(index: &RecordIndex, config: &Config, tx: &mpsc::Sender<Message>) -> bool {
    let analysis = match crate::analysis::analyse(index, config) {
        Ok(a) => a,
        Err(e) => {
            return tx
                .send(Message::Failed(format!("analysis failed: {e}")))
                .is_ok();
        }
    };
    let outcomes = crate::analysis::metrics::outcomes(&analysis);
    let clock = analysis.clock.clone();
    let snapshot = index.snapshot();
    if tx.send(Message::Ready(Box::new(analysis))).is_err() {
        return false;
    }
    match crate::analysis::metrics::record_metrics(&snapshot, &clock, config) {
        Ok(mut m) => {
            m.outcomes = outcomes;
            tx.send(Message::Metrics(Box::new(m))).is_ok()
        }
        Err(e) => tx
            .send(Message::Flash(format!("metrics failed: {e}")))
            .is_ok(),
    }
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    (tx, rx): (&mpsc::Sender<Message>, &mpsc::Receiver<Message>),
    index: &RecordIndex,
    config: &Config,
    follow: &AtomicBool,
) -> anyhow::Result<()> {
    loop {
        while let Ok(msg) = rx.try_recv() {
            app.on_message(msg);
        }
        for req in std::mem::take(&mut app.requests) {
            if let Some(msg) = carry_out(req, index, config, app, follow, tx) {
                app.on_message(msg);
            }
        }
        terminal.draw(|f| render::render(app, f))?;
        if app.quit {
            return Ok(());
        }
        if event::poll(Duration::from_millis(100))? {
            let action = match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    action_for(k.code, k.modifiers, app.prompt != Prompt::None)
                }
                Event::Mouse(m) => match m.kind {
                    MouseEventKind::ScrollUp => Some(Action::Scroll {
                        up: true,
                        x: m.column,
                        y: m.row,
                    }),
                    MouseEventKind::ScrollDown => Some(Action::Scroll {
                        up: false,
                        x: m.column,
                        y: m.row,
                    }),
                    MouseEventKind::Down(_) => Some(Action::Click {
                        x: m.column,
                        y: m.row,
                    }),
                    _ => None,
                },
                Event::Resize(_, h) => {
                    app.page = (h as usize / 3).max(1);
                    None
                }
                _ => None,
            };
            if let Some(a) = action {
                app.apply(a);
            }
        }
    }
}

/// One request, done on the UI thread: each is a single index lookup or a
/// small write, well under a frame — but a search, which reads every record
/// and so answers from a thread of its own.
fn carry_out(
    req: Request,
    index: &RecordIndex,
    config: &Config,
    app: &mut App,
    follow: &AtomicBool,
    tx: &mpsc::Sender<Message>,
) -> Option<Message> {
    match req {
        Request::LoadEvent(_) | Request::Footprint(_) => answer(&req, index, config, app),
        Request::Search(query) => {
            let (index, tx) = (index.clone(), tx.clone());
            std::thread::spawn(move || {
                let _ = tx.send(search_message(&index, query));
            });
            None
        }
        Request::SaveMarks => app
            .marks
            .save()
            .err()
            .map(|e| Message::Flash(format!("marks not saved: {e}"))),
        Request::Export(id) => Some(Message::Flash(export_event(
            index,
            config,
            &id,
            app.export_dir.as_deref(),
        ))),
        Request::Copy(text) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            let mut out = std::io::stdout();
            let _ = write!(out, "\x1b]52;c;{b64}\x07");
            let _ = out.flush();
            None
        }
        Request::Follow(on) => {
            follow.store(on, Ordering::Relaxed);
            None
        }
    }
}

/// The index lookups a request asks for, answered in place: a footprint,
/// an event's records, a search's hits. The event loop runs searches on a
/// thread of their own; tests call this directly.
pub fn answer(req: &Request, index: &RecordIndex, config: &Config, app: &App) -> Option<Message> {
    match req {
        Request::LoadEvent(event) => {
            let summary = app.analysis.as_ref()?.events.events.get(*event)?;
            Some(match event_records(index, summary, config) {
                Ok(records) => Message::EventRecords {
                    event: *event,
                    records,
                },
                Err(e) => Message::Flash(format!("cannot read the event: {e}")),
            })
        }
        Request::Search(query) => Some(search_message(index, query.clone())),
        Request::Footprint(id) => Some(
            match footprint(index, id, HubRule::from_config(config), config) {
                Ok(fp) => match fp.unfollowed {
                    Some(skip) => Message::Flash(format!(
                        "{} is in {} records as {}: it says who events concern, so it is not followed",
                        skip.id.value, skip.carriers, skip.id.field
                    )),
                    None => Message::Footprint {
                        query: id.clone(),
                        records: fp.records,
                    },
                },
                Err(e) => Message::Flash(format!("cannot follow {id}: {e}")),
            },
        ),
        _ => None,
    }
}

/// `e`: the same report `hopline export ID` writes, into the current
/// directory.
fn export_event(index: &RecordIndex, config: &Config, id: &str, dir: Option<&Path>) -> String {
    let safe = crate::index::location::file_safe(id);
    match export::event_from_index(index, id, config, true, Default::default()) {
        Ok(Some(report)) => {
            let text = export::render_event(&report, export::Format::Markdown);
            let dir = dir.unwrap_or(Path::new("."));
            match write_new(dir, &format!("hopline-{safe}"), "md", text.as_bytes()) {
                Ok(path) => format!("exported {id} to {} (redacted)", path.display()),
                Err(e) => format!("cannot write into {}: {e}", dir.display()),
            }
        }
        Ok(None) => format!("no record carries {id}"),
        Err(e) => format!("export failed: {e}"),
    }
}

/// Writes `bytes` to `dir/stem.ext`, or `stem-2.ext`, `stem-3.ext`… when
/// that exists: an export never replaces a file. Returns the path written,
/// absolute, so the engineer knows where to look.
fn write_new(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    for n in 1..=999 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(bytes)?;
                return Ok(std::path::absolute(&path).unwrap_or(path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{stem}.{ext} and 998 numbered copies already exist"),
    ))
}

/// Answers the app's queued lookups in place, searches included, and
/// leaves its other requests queued: how tests and benches drive the app.
pub fn serve(app: &mut App, index: &RecordIndex, config: &Config) {
    for req in std::mem::take(&mut app.requests) {
        match answer(&req, index, config, app) {
            Some(msg) => app.on_message(msg),
            None => app.requests.push(req),
        }
    }
}

fn search_message(index: &RecordIndex, query: String) -> Message {
    match search_hits(index, &query) {
        Ok(ids) => Message::SearchHits { query, ids },
        Err(e) => Message::Flash(format!("search failed: {e}")),
    }
}

/// Caps a search's hits: a query matching most records says nothing more
/// with a million hits than with this many.
const SEARCH_HITS: usize = 200_000;

/// The ID values of every record matching a text query ([`app::Query`]),
/// read from one snapshot of the index.
pub fn search_hits(
    index: &RecordIndex,
    query: &str,
) -> Result<std::collections::HashSet<String>, IndexError> {
    let query = app::Query::parse(query);
    let mut ids = std::collections::HashSet::new();
    index.snapshot().for_each_record(&mut |r| {
        if ids.len() < SEARCH_HITS && query.matches(&r) {
            ids.extend(r.ids.into_iter().map(|i| i.value));
        }
    })?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_new(dir.path(), "hopline-evt_1", "md", b"one").unwrap();
        let second = write_new(dir.path(), "hopline-evt_1", "md", b"two").unwrap();
        assert!(first.is_absolute());
        assert_eq!(first.file_name().unwrap(), "hopline-evt_1.md");
        assert_eq!(second.file_name().unwrap(), "hopline-evt_1-2.md");
        assert_eq!(std::fs::read(&first).unwrap(), b"one");
        assert_eq!(std::fs::read(&second).unwrap(), b"two");
    }
}
