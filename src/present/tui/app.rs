//! TUI state and how actions change it. No I/O and no drawing here: the
//! event loop turns keys, mouse and background messages into [`Action`]s
//! and [`Message`]s; what needs the outside world (the index, the disk, the
//! clipboard) is queued as a [`Request`] for the loop to carry out; `render`
//! draws whatever the state is.

use std::cell::{Cell, Ref, RefCell};
use std::path::PathBuf;

use ratatui::layout::Rect;

use crate::correlate::hops::{Arrow, arrows};
use crate::correlate::services_in_order;
use crate::detect::overview::Histogram;
use crate::detect::{Analysis, Finding};
use crate::index::marks::Marks;
use crate::ingest::Progress;
use crate::present::detail::{Unwrapped, unwrap};
use crate::record::{Level, Micros, Record, SourceRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Overview,
    Findings,
    Events,
    Timeline,
    Detail,
}

const PANES: [Pane; 5] = [
    Pane::Overview,
    Pane::Findings,
    Pane::Events,
    Pane::Timeline,
    Pane::Detail,
];

/// What fills the screen: the triage checklist (first on open), the
/// panes, or the metrics view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Triage,
    Main,
    Metrics,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Ingesting(Progress),
    Analysing,
    Ready,
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Time,
    Size,
    Findings,
}

impl SortBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Time => "time",
            SortBy::Size => "size",
            SortBy::Findings => "findings",
        }
    }
}

/// What the bottom line is doing: showing keys, or taking text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    None,
    Search(String),
    Note(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    Enter,
    Back,
    /// Backspace: out of a followed ID's timeline, back where it was.
    HistoryBack,
    NextPane,
    PrevPane,
    ToggleHelp,
    /// The lines that could not be read, and why.
    ToggleMalformed,
    Quit,
    StartSearch,
    NextMatch,
    PrevMatch,
    CycleSort,
    ToggleFollow,
    Mark,
    StartNote,
    Export,
    CopyId,
    /// Back to the triage checklist.
    Triage,
    /// The metrics view.
    Metrics,
    /// Space in the overview: start or end a time range.
    RangeAnchor,
    /// Text typed into a prompt; Enter and Esc close it.
    Type(char),
    Erase,
    /// The mouse: a wheel turn or a click at a screen cell.
    Scroll {
        up: bool,
        x: u16,
        y: u16,
    },
    Click {
        x: u16,
        y: u16,
    },
}

/// Messages from background work to the UI thread.
pub enum Message {
    Progress(Progress),
    Analysing,
    Ready(Box<Analysis>),
    /// The figures of the analysis just sent (they take a pass of their
    /// own, so they come after it).
    Metrics(Box<crate::analysis::metrics::Metrics>),
    Failed(String),
    /// The footprint of an ID the user chose to follow.
    Footprint {
        query: String,
        records: Vec<Record>,
    },
    /// The records of an analysis event, asked for by `Request::LoadEvent`.
    EventRecords {
        event: usize,
        records: Vec<Record>,
    },
    /// ID values of the records a text search matched.
    SearchHits {
        query: String,
        ids: std::collections::HashSet<String>,
    },
    /// A line for the footer: what a request did.
    Flash(String),
    /// Another process writes the index: this TUI only reads it (who
    /// writes, in words), or writes again (None).
    ReadOnly(Option<String>),
}

/// Work the event loop does for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Footprint(String),
    /// Read an analysis event's records (the analysis keeps none).
    LoadEvent(usize),
    /// Find the records matching a text query, off the UI thread.
    Search(String),
    SaveMarks,
    Export(String),
    Copy(String),
    Follow(bool),
}

/// What the timeline shows.
#[derive(Debug, Clone)]
pub enum View {
    /// An analysis event; its records arrive after the view opens.
    Event {
        event: usize,
        records: Vec<Record>,
        /// The timeline's lanes and arrows, worked out once when the
        /// records arrive.
        lanes: Lanes,
    },
    Footprint {
        query: String,
        records: Vec<Record>,
        lanes: Lanes,
    },
}

/// The lanes of a timeline (its services, in order of appearance) and the
/// arrows the data shows between them, by the entry each ends at.
#[derive(Debug, Clone, Default)]
pub struct Lanes {
    pub services: Vec<String>,
    pub arrow_into: Vec<Option<Arrow>>,
}

impl Lanes {
    pub fn of(records: &[Record]) -> Lanes {
        let mut arrow_into = vec![None; records.len()];
        for a in arrows(records) {
            let to = a.to;
            arrow_into[to] = Some(a);
        }
        Lanes {
            services: services_in_order(records),
            arrow_into,
        }
    }
}

/// Screen areas of the last frame, for mouse hits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Areas {
    pub overview: Rect,
    pub findings: Rect,
    pub events: Rect,
    pub timeline: Rect,
    pub detail: Rect,
}

pub const OVERVIEW_BUCKETS: usize = 60;

/// The screen row of the triage screen's first step (header, title,
/// blank line, column heads above it).
pub const TRIAGE_FIRST_ROW: u16 = 4;

pub struct App {
    pub bundle: String,
    pub status: Status,
    pub analysis: Option<Analysis>,
    pub screen: Screen,
    /// The analysis' figures, once computed.
    pub metrics: Option<crate::analysis::metrics::Metrics>,
    /// The triage checklist, from the analysis and its figures.
    pub triage: Vec<crate::analysis::triage::Check>,
    pub triage_sel: usize,
    /// Only findings of these kinds are listed (a triage step's evidence).
    pub finding_filter: Option<Vec<crate::detect::FindingKind>>,
    /// Event indices as listed: filtered by the time range, sorted.
    pub listed: Vec<usize>,
    pub event_sel: usize,
    pub sort: SortBy,
    pub finding_sel: usize,
    /// Findings as listed (indices into analysis findings).
    pub listed_findings: Vec<usize>,
    /// Each finding's event, computed once per analysis.
    finding_events: Vec<Option<usize>>,
    pub view: Option<View>,
    pub entry_sel: usize,
    /// The entry to select once the open event's records arrive.
    want_entry: Option<SourceRef>,
    /// The last text search's hits (ID values), kept across refreshes.
    search_hits: std::collections::HashSet<String>,
    /// Jump to the first match when the search's hits arrive.
    search_jump: bool,
    /// Which of the selected entry's IDs the detail pane points at.
    pub id_sel: usize,
    pub detail_scroll: u16,
    pub history: Vec<(View, usize)>,
    pub focus: Pane,
    pub prompt: Prompt,
    pub query: Option<String>,
    /// Listed positions of events matching the query, ascending.
    pub matches: Vec<usize>,
    pub overview: Histogram,
    pub cursor: usize,
    pub anchor: Option<usize>,
    pub range: Option<(Micros, Micros)>,
    pub follow: bool,
    pub marks: Marks,
    pub flash: Option<String>,
    pub requests: Vec<Request>,
    pub show_help: bool,
    pub show_malformed: bool,
    /// Who writes the index when this TUI cannot (see `Message::ReadOnly`).
    pub read_only: Option<String>,
    pub quit: bool,
    pub color: bool,
    /// Rows a page moves; set from the last frame's size.
    pub page: usize,
    pub areas: Cell<Areas>,
    /// First visible row of the findings, events and timeline tables in
    /// the last frame (tables scroll to keep the selection in view).
    pub offsets: Cell<[usize; 3]>,
    /// The detail pane's raw text, pretty-printed: (raw, pretty), redone
    /// only when another record is shown, not on every frame.
    pretty: RefCell<(String, Unwrapped)>,
    /// Where `e` writes its reports (the current directory when None).
    pub export_dir: Option<PathBuf>,
}

impl App {
    pub fn new(bundle: String, color: bool) -> App {
        App {
            bundle,
            status: Status::Ingesting(Progress::default()),
            analysis: None,
            screen: Screen::Triage,
            metrics: None,
            triage: Vec::new(),
            triage_sel: 0,
            finding_filter: None,
            listed: Vec::new(),
            event_sel: 0,
            sort: SortBy::Time,
            finding_sel: 0,
            listed_findings: Vec::new(),
            finding_events: Vec::new(),
            view: None,
            entry_sel: 0,
            want_entry: None,
            search_hits: Default::default(),
            search_jump: false,
            id_sel: 0,
            detail_scroll: 0,
            history: Vec::new(),
            focus: Pane::Findings,
            prompt: Prompt::None,
            query: None,
            matches: Vec::new(),
            overview: Histogram::default(),
            cursor: 0,
            anchor: None,
            range: None,
            follow: false,
            marks: Marks::default(),
            flash: None,
            requests: Vec::new(),
            show_help: false,
            show_malformed: false,
            read_only: None,
            quit: false,
            color,
            page: 10,
            areas: Cell::new(Areas::default()),
            offsets: Cell::new([0; 3]),
            pretty: RefCell::default(),
            export_dir: None,
        }
    }

    pub fn event_count(&self) -> usize {
        self.listed.len()
    }

    /// The analysis event index at a listed position.
    pub fn event_at(&self, pos: usize) -> Option<usize> {
        self.listed.get(pos).copied()
    }

    pub fn selected_event(&self) -> Option<usize> {
        self.event_at(self.event_sel)
    }

    /// The records of the open timeline, in true order.
    pub fn timeline(&self) -> &[Record] {
        match &self.view {
            Some(View::Event { records, .. } | View::Footprint { records, .. }) => records,
            None => &[],
        }
    }

    /// `r`'s raw text as the detail pane shows it: out of a container
    /// runtime's envelope, JSON pretty-printed in input order.
    pub fn shown_raw(&self, r: &Record) -> Ref<'_, Unwrapped> {
        if self.pretty.borrow().0 != r.raw {
            *self.pretty.borrow_mut() = (r.raw.clone(), unwrap(&r.raw));
        }
        Ref::map(self.pretty.borrow(), |(_, shown)| shown)
    }

    /// The lanes of the open timeline: its services in order of appearance.
    pub fn timeline_lanes(&self) -> &[String] {
        match &self.view {
            Some(View::Event { lanes, .. } | View::Footprint { lanes, .. }) => &lanes.services,
            None => &[],
        }
    }

    /// The arrow that ends at entry `k` of the open timeline, if the data
    /// shows one.
    pub fn arrow_into(&self, k: usize) -> Option<&Arrow> {
        match &self.view {
            Some(View::Event { lanes, .. } | View::Footprint { lanes, .. }) => {
                lanes.arrow_into.get(k)?.as_ref()
            }
            None => None,
        }
    }

    /// The name of what the timeline shows: the event's key, or the ID
    /// followed.
    pub fn timeline_name(&self) -> Option<&str> {
        match (&self.analysis, &self.view) {
            (Some(a), Some(View::Event { event, .. })) => {
                a.events.events.get(*event).map(|e| e.key.value.as_str())
            }
            (_, Some(View::Footprint { query, .. })) => Some(query),
            _ => None,
        }
    }

    pub fn selected_entry(&self) -> Option<&Record> {
        self.timeline().get(self.entry_sel)
    }

    pub fn event_findings(&self, event: usize) -> Vec<&Finding> {
        match &self.analysis {
            Some(a) => a.findings_of(event).collect(),
            None => Vec::new(),
        }
    }

    /// The event a finding belongs to, if it has one (config drift does not).
    pub fn event_of_finding(&self, finding: usize) -> Option<usize> {
        self.finding_events.get(finding).copied().flatten()
    }

    pub fn mark_of(&self, source: &SourceRef) -> Option<&crate::index::marks::Mark> {
        self.marks.get(source)
    }

    pub fn on_message(&mut self, msg: Message) {
        match msg {
            Message::Progress(p) => self.status = Status::Ingesting(p),
            Message::Analysing => {
                if self.analysis.is_none() {
                    self.status = Status::Analysing;
                }
            }
            Message::Ready(a) => self.take_analysis(*a),
            Message::Metrics(m) => {
                self.metrics = Some(*m);
                self.retriage();
            }
            Message::Failed(e) => self.status = Status::Failed(e),
            Message::Footprint { query, records } => {
                if records.is_empty() {
                    self.flash = Some(format!("no record carries {query}"));
                    return;
                }
                if let Some(v) = self.view.take() {
                    self.history.push((v, self.entry_sel));
                }
                let lanes = Lanes::of(&records);
                self.view = Some(View::Footprint {
                    query,
                    records,
                    lanes,
                });
                self.entry_sel = 0;
                self.id_sel = 0;
                self.focus = Pane::Timeline;
            }
            Message::EventRecords { event, records } => {
                if let Some(View::Event {
                    event: open,
                    records: shown,
                    lanes,
                }) = &mut self.view
                    && *open == event
                {
                    *lanes = Lanes::of(&records);
                    *shown = records;
                    if let Some(src) = self.want_entry.take()
                        && let Some(pos) = shown.iter().position(|r| r.source == src)
                    {
                        self.entry_sel = pos;
                    }
                    self.entry_sel = self.entry_sel.min(shown.len().saturating_sub(1));
                }
            }
            Message::SearchHits { query, ids } => {
                if self.query.as_deref() == Some(query.as_str()) {
                    self.search_hits = ids;
                    let jump = std::mem::take(&mut self.search_jump);
                    self.match_events(&query, jump);
                }
            }
            Message::Flash(s) => self.flash = Some(s),
            Message::ReadOnly(who) => self.read_only = who,
        }
    }

    /// A new analysis (first, or a follow-mode refresh) keeps what the user
    /// was looking at: the same event by its key, the same entry by its
    /// `path:line`.
    fn take_analysis(&mut self, a: Analysis) {
        let keep_event = self
            .selected_event()
            .and_then(|i| self.analysis.as_ref()?.events.events.get(i))
            .map(|e| e.key.clone());
        let keep_view = match &self.view {
            Some(View::Event { event, .. }) => self
                .analysis
                .as_ref()
                .and_then(|old| old.events.events.get(*event))
                .map(|e| e.key.clone()),
            _ => None,
        };
        let keep_entry = self.selected_entry().map(|r| r.source.clone());
        self.overview = a.histogram.resample(OVERVIEW_BUCKETS);
        self.finding_events = a.finding_events();
        self.cursor = self.cursor.min(OVERVIEW_BUCKETS - 1);
        self.analysis = Some(a);
        self.status = Status::Ready;
        self.relist();
        self.retriage();
        let find = |key: &crate::record::IdRef, a: &Analysis| {
            a.events.events.iter().position(|e| &e.key == key)
        };
        if let (Some(key), Some(a)) = (keep_event, &self.analysis)
            && let Some(i) = find(&key, a)
            && let Some(pos) = self.listed.iter().position(|&l| l == i)
        {
            self.event_sel = pos;
        }
        let reopen = match (keep_view, &self.analysis) {
            (Some(key), Some(a)) => find(&key, a),
            _ if self.view.is_none() => self.selected_event(),
            _ => None,
        };
        if let Some(i) = reopen {
            // The same entry, once the event's records are read again.
            let entry = self.entry_sel;
            self.open_event(i, keep_entry);
            self.entry_sel = entry;
        }
    }

    /// The checklist again, from the analysis and the figures at hand (the
    /// figures of an earlier analysis until this one's arrive).
    fn retriage(&mut self) {
        if let (Some(a), Some(m)) = (&self.analysis, &self.metrics) {
            self.triage = crate::analysis::triage::triage(a, m);
            self.triage_sel = self.triage_sel.min(self.triage.len().saturating_sub(1));
        }
    }

    /// Enter on a triage step: to its evidence.
    fn triage_enter(&mut self) {
        use crate::analysis::triage::Evidence;
        let Some(check) = self.triage.get(self.triage_sel) else {
            return;
        };
        match check.evidence.clone() {
            Evidence::Metrics => self.screen = Screen::Metrics,
            Evidence::Event(e) => {
                self.screen = Screen::Main;
                if let Some(pos) = self.listed.iter().position(|&l| l == e) {
                    self.event_sel = pos;
                }
                self.history.clear();
                self.open_event(e, None);
                self.focus = Pane::Timeline;
            }
            Evidence::Findings(_) | Evidence::AllFindings => {
                let filter = match check.evidence.clone() {
                    Evidence::Findings(kinds) => Some(kinds),
                    _ => None,
                };
                let all = filter.is_none();
                let names: Vec<&str> = filter.iter().flatten().map(|k| k.as_str()).collect();
                let found = self.analysis.as_ref().is_some_and(|a| {
                    a.findings
                        .iter()
                        .any(|f| filter.as_ref().is_none_or(|k| k.contains(&f.kind)))
                });
                if !found {
                    // Say what the step did see: a reload is no finding.
                    self.flash = Some(format!(
                        "no {} finding: {}",
                        names.join(" or "),
                        check.verdict
                    ));
                    return;
                }
                self.finding_filter = filter;
                self.finding_sel = 0;
                self.relist();
                self.screen = Screen::Main;
                self.focus = Pane::Findings;
                self.show_finding();
                self.flash = Some(if all {
                    "every finding · t triage".into()
                } else {
                    format!("findings: {} · Esc shows all · t triage", names.join(", "))
                });
            }
        }
    }

    /// Keys on the triage screen: move, open the evidence, leave.
    fn apply_triage(&mut self, action: Action) {
        let last = self.triage.len().saturating_sub(1);
        match action {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.show_help = true,
            Action::Up => self.triage_sel = self.triage_sel.saturating_sub(1),
            Action::Down => self.triage_sel = (self.triage_sel + 1).min(last),
            Action::Top => self.triage_sel = 0,
            Action::Bottom => self.triage_sel = last,
            Action::Enter | Action::Right => self.triage_enter(),
            Action::Metrics => self.screen = Screen::Metrics,
            Action::Back | Action::NextPane | Action::PrevPane | Action::Triage => {
                self.screen = Screen::Main;
            }
            Action::Click { y, .. } => {
                // Rows start under the header and the title (see render).
                let row = y.saturating_sub(TRIAGE_FIRST_ROW) as usize;
                if y >= TRIAGE_FIRST_ROW && row < self.triage.len() {
                    self.triage_sel = row;
                }
            }
            _ => {}
        }
    }

    /// Shows an analysis event in the timeline; its records are read by
    /// the event loop and arrive as [`Message::EventRecords`].
    fn open_event(&mut self, event: usize, at: Option<SourceRef>) {
        self.view = Some(View::Event {
            event,
            records: Vec::new(),
            lanes: Lanes::default(),
        });
        self.entry_sel = 0;
        self.want_entry = at;
        self.requests.push(Request::LoadEvent(event));
    }

    /// Rebuilds the event and finding lists from the range and the sort.
    fn relist(&mut self) {
        let Some(a) = &self.analysis else { return };
        let in_range = |first: Micros, last: Micros| {
            self.range
                .is_none_or(|(from, to)| first < to && last >= from)
        };
        let mut listed: Vec<usize> = a
            .events
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| in_range(e.first_ts, e.last_ts))
            .map(|(i, _)| i)
            .collect();
        match self.sort {
            SortBy::Time => {}
            SortBy::Size => listed.sort_by_key(|&i| std::cmp::Reverse(a.events.events[i].records)),
            SortBy::Findings => listed.sort_by_key(|&i| {
                let worst = a.worst_severity(i);
                (
                    worst.is_none(),
                    worst,
                    std::cmp::Reverse(a.findings_of(i).count()),
                )
            }),
        }
        let mut in_list = vec![false; a.events.events.len()];
        for &e in &listed {
            in_list[e] = true;
        }
        let listed_findings: Vec<usize> = (0..a.findings.len())
            .filter(|&f| self.finding_events[f].is_none_or(|e| in_list[e]))
            .filter(|&f| {
                self.finding_filter
                    .as_ref()
                    .is_none_or(|k| k.contains(&a.findings[f].kind))
            })
            .collect();
        self.listed = listed;
        self.listed_findings = listed_findings;
        self.event_sel = self.event_sel.min(self.listed.len().saturating_sub(1));
        self.finding_sel = self
            .finding_sel
            .min(self.listed_findings.len().saturating_sub(1));
        self.rematch();
    }

    /// Marks the listed events that match `q`: an ID or an ID prefix at
    /// once, from the events' IDs; terms over records (see
    /// [`Query`]) when the event loop's search answers.
    fn run_query(&mut self, q: &str, jump: bool) {
        self.query = Some(q.to_string());
        self.search_hits.clear();
        self.search_jump = jump;
        self.match_events(q, jump);
        if self.analysis.is_some() {
            self.requests.push(Request::Search(q.to_string()));
        }
    }

    /// The listed positions of events matching the query: by ID prefix, or
    /// through the search's hits. Redone whenever the list changes, since
    /// matches are positions in it.
    fn rematch(&mut self) {
        let (Some(a), Some(q)) = (&self.analysis, &self.query) else {
            self.matches.clear();
            return;
        };
        let is_id = !q.contains(char::is_whitespace) && !q.contains([':', '=']);
        self.matches = self
            .listed
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                let e = &a.events.events[**i];
                e.ids.iter().any(|id| {
                    (is_id && id.value.starts_with(q.as_str()))
                        || self.search_hits.contains(&id.value)
                })
            })
            .map(|(pos, _)| pos)
            .collect();
    }

    /// The matches, said in the footer; the first selected when asked.
    fn match_events(&mut self, q: &str, jump: bool) {
        if self.analysis.is_none() {
            return;
        }
        self.rematch();
        self.flash = Some(match self.matches.len() {
            0 if self.search_jump => format!("searching records for {q}…"),
            0 => format!("no event matches {q}"),
            1 => format!("1 event matches {q}"),
            n => format!("{n} events match {q} (n/N to step)"),
        });
        if jump && let Some(&first) = self.matches.first() {
            self.search_jump = false;
            self.select_event(first);
            self.focus = Pane::Events;
        }
    }

    fn select_event(&mut self, pos: usize) {
        self.event_sel = pos;
        let open = matches!(self.view, Some(View::Event { event, .. }) if Some(event) == self.selected_event());
        if !open {
            match self.selected_event() {
                Some(e) => self.open_event(e, None),
                None => self.view = None,
            }
            self.entry_sel = 0;
        }
        self.history.clear();
        self.id_sel = 0;
        self.detail_scroll = 0;
    }

    fn step_match(&mut self, forward: bool) {
        if self.matches.is_empty() {
            self.flash = Some("no search yet: / to search".into());
            return;
        }
        let cur = self.event_sel;
        let next = if forward {
            self.matches
                .iter()
                .find(|&&m| m > cur)
                .or(self.matches.first())
        } else {
            self.matches
                .iter()
                .rev()
                .find(|&&m| m < cur)
                .or(self.matches.last())
        };
        if let Some(&m) = next {
            self.select_event(m);
            self.focus = Pane::Events;
        }
    }

    pub fn apply(&mut self, action: Action) {
        if self.show_malformed {
            if matches!(
                action,
                Action::ToggleMalformed | Action::Back | Action::Quit
            ) {
                self.show_malformed = false;
            }
            return;
        }
        if self.show_help {
            if matches!(action, Action::ToggleHelp | Action::Back | Action::Quit) {
                self.show_help = false;
            }
            return;
        }
        if self.prompt != Prompt::None {
            self.apply_prompt(action);
            return;
        }
        self.flash = None;
        match self.screen {
            Screen::Triage => return self.apply_triage(action),
            Screen::Metrics => {
                match action {
                    Action::Quit => self.quit = true,
                    Action::ToggleHelp => self.show_help = true,
                    Action::Back | Action::Triage | Action::Left => self.screen = Screen::Triage,
                    Action::NextPane | Action::PrevPane | Action::Metrics => {
                        self.screen = Screen::Main
                    }
                    _ => {}
                }
                return;
            }
            Screen::Main => {}
        }
        match action {
            Action::Triage => self.screen = Screen::Triage,
            Action::Metrics => self.screen = Screen::Metrics,
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.show_help = true,
            Action::ToggleMalformed => match self.analysis.as_ref().map_or(0, |a| a.malformed) {
                0 => self.flash = Some("every line was read: none malformed".into()),
                _ => self.show_malformed = true,
            },
            Action::NextPane => self.focus = next_pane(self.focus, 1),
            Action::PrevPane => self.focus = next_pane(self.focus, PANES.len() - 1),
            Action::StartSearch => self.prompt = Prompt::Search(String::new()),
            Action::NextMatch => self.step_match(true),
            Action::PrevMatch => self.step_match(false),
            Action::CycleSort => {
                self.sort = match self.sort {
                    SortBy::Time => SortBy::Size,
                    SortBy::Size => SortBy::Findings,
                    SortBy::Findings => SortBy::Time,
                };
                self.relist();
                self.flash = Some(format!("events sorted by {}", self.sort.as_str()));
            }
            Action::ToggleFollow => {
                self.follow = !self.follow;
                self.requests.push(Request::Follow(self.follow));
                self.flash = Some(if self.follow {
                    "follow on: new lines appear as they are written".into()
                } else {
                    "follow off".into()
                });
            }
            Action::Mark => {
                if let Some(src) = self.selected_entry().map(|r| r.source.clone()) {
                    let on = self.marks.toggle(&src);
                    self.requests.push(Request::SaveMarks);
                    self.flash = Some(format!("{} {src}", if on { "marked" } else { "unmarked" }));
                }
            }
            Action::StartNote => {
                if let Some(r) = self.selected_entry() {
                    let note = self
                        .marks
                        .get(&r.source)
                        .and_then(|m| m.notes.last().cloned())
                        .unwrap_or_default();
                    self.prompt = Prompt::Note(note);
                }
            }
            Action::Export => match self.timeline_name() {
                Some(id) => self.requests.push(Request::Export(id.to_string())),
                None => self.flash = Some("open an event first".into()),
            },
            Action::CopyId => {
                let id = match self.focus {
                    Pane::Detail => self
                        .selected_entry()
                        .and_then(|r| r.ids.get(self.id_sel))
                        .map(|i| i.value.clone()),
                    _ => self.timeline_name().map(str::to_string),
                };
                if let Some(id) = id {
                    self.flash = Some(format!("copied {id}"));
                    self.requests.push(Request::Copy(id));
                }
            }
            Action::HistoryBack => self.history_back(),
            Action::RangeAnchor => {
                if self.focus == Pane::Overview {
                    self.anchor = match self.anchor {
                        None => Some(self.cursor),
                        Some(_) => None,
                    };
                }
            }
            Action::Enter => self.enter(),
            Action::Back => self.back(),
            Action::Left | Action::Right if self.focus == Pane::Overview => {
                let last = OVERVIEW_BUCKETS - 1;
                self.cursor = match action {
                    Action::Left => self.cursor.saturating_sub(1),
                    _ => (self.cursor + 1).min(last),
                };
            }
            Action::Left => self.back(),
            Action::Right => self.enter(),
            Action::Scroll { up, x, y } => {
                if let Some(p) = self.pane_at(x, y) {
                    self.focus = p;
                    self.apply(if up { Action::Up } else { Action::Down });
                }
            }
            Action::Click { x, y } => self.click(x, y),
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.move_selection(&action),
            Action::Type(_) | Action::Erase => {}
        }
    }

    fn apply_prompt(&mut self, action: Action) {
        let text = match &mut self.prompt {
            Prompt::Search(t) | Prompt::Note(t) => t,
            Prompt::None => return,
        };
        match action {
            Action::Type(c) => text.push(c),
            Action::Erase | Action::HistoryBack => {
                text.pop();
            }
            Action::Back | Action::Quit => self.prompt = Prompt::None,
            Action::Enter => {
                let prompt = std::mem::replace(&mut self.prompt, Prompt::None);
                match prompt {
                    Prompt::Search(q) if !q.trim().is_empty() => self.run_query(q.trim(), true),
                    Prompt::Note(n) => {
                        if let Some(src) = self.selected_entry().map(|r| r.source.clone()) {
                            self.marks.set_note(&src, &n);
                            self.requests.push(Request::SaveMarks);
                            self.flash = Some(format!("note saved on {src}"));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn enter(&mut self) {
        match self.focus {
            Pane::Overview => {
                let (a, b) = (self.anchor.unwrap_or(self.cursor), self.cursor);
                let (from, to) = self.overview.range_of(a, b);
                self.range = Some((from, to));
                self.anchor = None;
                self.relist();
                self.flash = Some(format!(
                    "showing {} events between {} and {} (Esc in the overview clears)",
                    self.listed.len(),
                    crate::record::format_ts(from),
                    crate::record::format_ts(to)
                ));
            }
            Pane::Findings => {
                if self.show_finding() {
                    self.focus = Pane::Timeline;
                } else if !self.listed_findings.is_empty() {
                    self.flash = Some(
                        "this finding spans services, not one event: its evidence is listed in `hopline findings`"
                            .into(),
                    )
                }
            }
            Pane::Events if !self.listed.is_empty() => {
                self.select_event(self.event_sel);
                self.focus = Pane::Timeline;
            }
            Pane::Timeline if !self.timeline().is_empty() => {
                self.focus = Pane::Detail;
                self.id_sel = 0;
                self.detail_scroll = 0;
            }
            Pane::Detail => {
                if let Some(id) = self
                    .selected_entry()
                    .and_then(|r| r.ids.get(self.id_sel))
                    .map(|i| i.value.clone())
                {
                    self.requests.push(Request::Footprint(id));
                }
            }
            _ => {}
        }
    }

    /// Shows the selected finding's event in the timeline, on its first
    /// piece of evidence; false when the finding has no one event.
    fn show_finding(&mut self) -> bool {
        let Some(&f) = self.listed_findings.get(self.finding_sel) else {
            return false;
        };
        let Some(e) = self.event_of_finding(f) else {
            return false;
        };
        if let Some(pos) = self.listed.iter().position(|&l| l == e) {
            self.event_sel = pos;
        }
        self.history.clear();
        self.id_sel = 0;
        self.detail_scroll = 0;
        let evidence = self
            .analysis
            .as_ref()
            .and_then(|a| a.findings[f].evidence.first().cloned());
        self.open_event(e, evidence);
        true
    }

    fn back(&mut self) {
        match self.focus {
            Pane::Overview => self.clear_range(),
            Pane::Findings if self.finding_filter.is_some() => {
                self.finding_filter = None;
                self.relist();
                self.flash = Some("every finding listed".into());
            }
            Pane::Detail => self.focus = Pane::Timeline,
            Pane::Timeline if !self.history.is_empty() => self.history_back(),
            Pane::Timeline => self.focus = Pane::Events,
            _ => {}
        }
    }

    /// Esc in the overview: drop a half-made range first, then the filter.
    fn clear_range(&mut self) {
        if self.anchor.take().is_some() {
            return;
        }
        if self.range.take().is_some() {
            self.relist();
            self.flash = Some("time range cleared".into());
        }
    }

    fn history_back(&mut self) {
        if let Some((view, entry)) = self.history.pop() {
            self.view = Some(view);
            self.entry_sel = entry;
            self.id_sel = 0;
            self.focus = Pane::Timeline;
        }
    }

    fn move_selection(&mut self, action: &Action) {
        let page = self.page;
        match self.focus {
            Pane::Overview => {}
            Pane::Findings => {
                let pos = moved(self.finding_sel, self.listed_findings.len(), action, page);
                // As with events: the timeline follows the selection.
                if pos != self.finding_sel {
                    self.finding_sel = pos;
                    self.show_finding();
                }
            }
            Pane::Events => {
                let pos = moved(self.event_sel, self.listed.len(), action, page);
                // The timeline follows the selection, as in a mail reader.
                self.select_event(pos);
            }
            Pane::Timeline => {
                self.entry_sel = moved(self.entry_sel, self.timeline().len(), action, page);
                self.id_sel = 0;
                self.detail_scroll = 0;
            }
            Pane::Detail => match action {
                Action::PageDown => self.detail_scroll = self.detail_scroll.saturating_add(5),
                Action::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(5),
                _ => {
                    let n = self.selected_entry().map_or(0, |r| r.ids.len());
                    self.id_sel = moved(self.id_sel, n, action, page);
                }
            },
        }
    }

    fn pane_at(&self, x: u16, y: u16) -> Option<Pane> {
        let a = self.areas.get();
        let hit = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        [
            (a.overview, Pane::Overview),
            (a.findings, Pane::Findings),
            (a.events, Pane::Events),
            (a.timeline, Pane::Timeline),
            (a.detail, Pane::Detail),
        ]
        .into_iter()
        .find(|(r, _)| hit(*r))
        .map(|(_, p)| p)
    }

    /// A click focuses the pane and selects the row under the pointer
    /// (tables have a border and a header row above the first entry).
    fn click(&mut self, x: u16, y: u16) {
        let Some(pane) = self.pane_at(x, y) else {
            return;
        };
        self.focus = pane;
        let a = self.areas.get();
        let [off_f, off_e, off_t] = self.offsets.get();
        let row = |r: Rect, header: u16, offset: usize| {
            (y >= r.y + 1 + header).then(|| (y - r.y - 1 - header) as usize + offset)
        };
        match pane {
            Pane::Overview => {
                let inner = a.overview.width.saturating_sub(2).max(1) as usize;
                let col = x.saturating_sub(a.overview.x + 1) as usize;
                self.cursor = (col * OVERVIEW_BUCKETS / inner).min(OVERVIEW_BUCKETS - 1);
            }
            Pane::Findings => {
                if let Some(r) = row(a.findings, 0, off_f)
                    && r < self.listed_findings.len()
                {
                    self.finding_sel = r;
                    self.show_finding();
                }
            }
            Pane::Events => {
                if let Some(r) = row(a.events, 1, off_e)
                    && r < self.listed.len()
                {
                    self.select_event(r);
                }
            }
            Pane::Timeline => {
                if let Some(r) = row(a.timeline, 1, off_t)
                    && r < self.timeline().len()
                {
                    self.entry_sel = r;
                    self.id_sel = 0;
                }
            }
            Pane::Detail => {}
        }
    }
}

fn next_pane(p: Pane, step: usize) -> Pane {
    let i = PANES.iter().position(|x| *x == p).unwrap_or(0);
    PANES[(i + step) % PANES.len()]
}

fn moved(sel: usize, len: usize, action: &Action, page: usize) -> usize {
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

/// A search over records, parsed once: `service:x`, `level:error` (error
/// or fatal), `key=value` over fields, or a word of the message; every term
/// must hold, case-insensitively.
pub struct Query(Vec<Term>);

enum Term {
    Service(String),
    Level(String),
    Field(String, String),
    Word(String),
}

impl Query {
    pub fn parse(q: &str) -> Query {
        Query(
            q.split_whitespace()
                .map(str::to_lowercase)
                .map(|t| {
                    if let Some(s) = t.strip_prefix("service:") {
                        Term::Service(s.to_string())
                    } else if let Some(l) = t.strip_prefix("level:") {
                        Term::Level(l.to_string())
                    } else if let Some((k, v)) = t.split_once('=') {
                        Term::Field(k.to_string(), v.to_string())
                    } else {
                        Term::Word(t)
                    }
                })
                .collect(),
        )
    }

    pub fn matches(&self, r: &Record) -> bool {
        // Lowered once per record however many terms read them: search
        // runs this over every record of the index.
        let service = std::cell::OnceCell::new();
        let message = std::cell::OnceCell::new();
        self.0.iter().all(|t| match t {
            Term::Service(s) => service
                .get_or_init(|| r.service.to_lowercase())
                .contains(s.as_str()),
            Term::Level(l) => {
                r.level.as_str() == l
                    || (l == "error" && matches!(r.level, Level::Error | Level::Fatal))
            }
            Term::Field(k, v) => r
                .attrs
                .iter()
                .any(|(ak, av)| ak.to_lowercase() == *k && av.to_lowercase().contains(v.as_str())),
            Term::Word(w) => message
                .get_or_init(|| r.message.to_lowercase())
                .contains(w.as_str()),
        })
    }
}
