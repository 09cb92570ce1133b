//! TUI state and how actions change it. No I/O and no drawing here: the
//! event loop turns keys and background messages into [`Action`]s, and
//! `render` draws whatever the state is.

use crate::detect::{Analysis, Finding};
use crate::ingest::Progress;
use crate::record::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Events,
    Timeline,
    Detail,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Ingesting(Progress),
    Analysing,
    Ready,
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Back,
    NextPane,
    PrevPane,
    ToggleHelp,
    Quit,
}

/// Messages from background work to the UI thread.
pub enum Message {
    Progress(Progress),
    Analysing,
    Ready(Box<Analysis>),
    Failed(String),
}

pub struct App {
    pub bundle: String,
    pub status: Status,
    pub analysis: Option<Analysis>,
    pub event_sel: usize,
    /// The event whose timeline is open (index into analysis events).
    pub open_event: Option<usize>,
    pub entry_sel: usize,
    pub focus: Pane,
    pub show_help: bool,
    pub quit: bool,
    pub color: bool,
    /// Rows a page moves; set from the last frame's size.
    pub page: usize,
}

impl App {
    pub fn new(bundle: String, color: bool) -> App {
        App {
            bundle,
            status: Status::Ingesting(Progress::default()),
            analysis: None,
            event_sel: 0,
            open_event: None,
            entry_sel: 0,
            focus: Pane::Events,
            show_help: false,
            quit: false,
            color,
            page: 10,
        }
    }

    pub fn event_count(&self) -> usize {
        self.analysis.as_ref().map_or(0, |a| a.events.events.len())
    }

    /// The records of the open event's timeline, in true order.
    pub fn timeline(&self) -> &[Record] {
        match (&self.analysis, self.open_event) {
            (Some(a), Some(i)) => a.events.events.get(i).map_or(&[], |e| e.1.as_slice()),
            _ => &[],
        }
    }

    pub fn selected_entry(&self) -> Option<&Record> {
        self.timeline().get(self.entry_sel)
    }

    pub fn event_findings(&self, event: usize) -> Vec<&Finding> {
        match &self.analysis {
            Some(a) => a
                .event_findings
                .get(event)
                .map(|idx| idx.iter().map(|&i| &a.findings[i]).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    pub fn on_message(&mut self, msg: Message) {
        match msg {
            Message::Progress(p) => self.status = Status::Ingesting(p),
            Message::Analysing => self.status = Status::Analysing,
            Message::Ready(a) => {
                self.analysis = Some(*a);
                self.status = Status::Ready;
                self.event_sel = self.event_sel.min(self.event_count().saturating_sub(1));
                if self.open_event.is_none() && self.event_count() > 0 {
                    self.open_event = Some(self.event_sel);
                }
            }
            Message::Failed(e) => self.status = Status::Failed(e),
        }
    }

    pub fn apply(&mut self, action: Action) {
        if self.show_help {
            if matches!(action, Action::ToggleHelp | Action::Back | Action::Quit) {
                self.show_help = false;
            }
            return;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.show_help = true,
            Action::NextPane => self.focus = next_pane(self.focus, 1),
            Action::PrevPane => self.focus = next_pane(self.focus, 2),
            Action::Enter => match self.focus {
                Pane::Events if self.event_count() > 0 => {
                    self.open_event = Some(self.event_sel);
                    self.entry_sel = 0;
                    self.focus = Pane::Timeline;
                }
                Pane::Timeline if !self.timeline().is_empty() => self.focus = Pane::Detail,
                _ => {}
            },
            Action::Back => {
                self.focus = match self.focus {
                    Pane::Detail => Pane::Timeline,
                    _ => Pane::Events,
                }
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                let (sel, len) = match self.focus {
                    Pane::Events => (
                        &mut self.event_sel,
                        self.analysis.as_ref().map_or(0, |a| a.events.events.len()),
                    ),
                    Pane::Timeline | Pane::Detail => {
                        let len = self.timeline().len();
                        (&mut self.entry_sel, len)
                    }
                };
                *sel = moved(*sel, len, action, self.page);
                if self.focus == Pane::Events {
                    // The timeline follows the selection, as in a mail reader.
                    self.open_event = (self.event_count() > 0).then_some(self.event_sel);
                    self.entry_sel = 0;
                }
            }
        }
    }
}

fn next_pane(p: Pane, step: usize) -> Pane {
    const ORDER: [Pane; 3] = [Pane::Events, Pane::Timeline, Pane::Detail];
    let i = ORDER.iter().position(|x| *x == p).unwrap_or(0);
    ORDER[(i + step) % ORDER.len()]
}

fn moved(sel: usize, len: usize, action: Action, page: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    match action {
        Action::Up => sel.saturating_sub(1),
        Action::Down => (sel + 1).min(last),
        Action::PageUp => sel.saturating_sub(page.max(1)),
        Action::PageDown => (sel + page.max(1)).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => sel,
    }
}
