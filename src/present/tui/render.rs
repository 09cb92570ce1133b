//! Drawing: a pure function of [`App`]. Every byte of log data goes through
//! `sanitize` first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Cell, Clear, Paragraph, Row, Sparkline, SparklineBar, Table, TableState, Wrap,
};

use crate::detect::Severity;
use crate::record::{Record, format_ts};

use super::app::{
    App, Areas, OVERVIEW_BUCKETS, Pane, Prompt, Screen, Status, TRIAGE_FIRST_ROW, View,
};
use crate::present::sanitize::{for_terminal, truncate};
use crate::present::step::{http_status, short_ids, step_text};
use crate::present::text::clock;

struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    fn selected(&self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
    fn border(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::default().fg(Color::Cyan),
            (true, false) => Style::default().add_modifier(Modifier::BOLD),
            _ => Style::default(),
        }
    }
    fn severity(&self, s: Severity) -> Style {
        self.fg(match s {
            Severity::Critical => Color::Red,
            Severity::High => Color::LightRed,
            Severity::Medium => Color::Yellow,
            _ => Color::Gray,
        })
    }
}

/// Below this many columns the lists and the timeline take turns.
const NARROW: u16 = 100;

pub fn render(app: &App, frame: &mut Frame) {
    let theme = Theme { color: app.color };
    let area = frame.area();
    // Before the analysis there is nothing to triage: the panes show the
    // ingest's progress.
    let screen = if app.analysis.is_none() {
        Screen::Main
    } else {
        app.screen
    };
    if screen != Screen::Main {
        let [header, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        render_header(app, &theme, frame, header);
        match screen {
            Screen::Triage => render_triage(app, &theme, frame, body),
            _ => render_metrics(app, &theme, frame, body),
        }
        let hint = match (&app.flash, screen) {
            (Some(f), _) => for_terminal(f).into_owned(),
            (None, Screen::Triage) => {
                "↑↓ step  Enter evidence  Tab/Esc main screen  M metrics  ? help  q quit".into()
            }
            (None, _) => "Esc triage  Tab main screen  ? help  q quit".into(),
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                hint,
                theme.fg(if app.flash.is_some() {
                    Color::Yellow
                } else {
                    Color::DarkGray
                }),
            ))),
            footer,
        );
        if app.show_help {
            render_help(&theme, frame);
        }
        return;
    }
    // The overview earns its rows only when the lists keep enough of theirs.
    let overview_h = if area.height >= 22 { 5 } else { 0 };
    let [header, overview, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(overview_h),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, &theme, frame, header);
    if overview_h > 0 {
        render_overview(app, &theme, frame, overview);
    }
    // Side by side when both halves keep enough of their columns; on a
    // narrow screen the lists or the timeline take it all, by focus (Tab
    // switches), rather than each keeping a sliver.
    let (left, right) = if body.width < NARROW {
        match app.focus {
            Pane::Findings | Pane::Events => (body, Rect::default()),
            _ => (Rect::default(), body),
        }
    } else {
        // At least a full `evt_` + 12 hex ID; more on a wide screen.
        let left_w = (body.width * 34 / 100).clamp(34, 64);
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_w), Constraint::Min(20)]).areas(body);
        (left, right)
    };
    let findings_rows = app.listed_findings.len().max(1) as u16 + 2;
    let [findings, events] = Layout::vertical([
        Constraint::Length(findings_rows.min(left.height / 3).max(3)),
        Constraint::Min(3),
    ])
    .areas(left);
    let [timeline, detail] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(right);
    app.areas.set(Areas {
        overview,
        findings,
        events,
        timeline,
        detail,
    });
    let [mut off_f, mut off_e, mut off_t] = app.offsets.get();
    if !left.is_empty() {
        off_f = render_findings(app, &theme, frame, findings);
        off_e = render_events(app, &theme, frame, events);
    }
    if !right.is_empty() {
        off_t = render_timeline(app, &theme, frame, timeline);
        render_detail(app, &theme, frame, detail);
    }
    app.offsets.set([off_f, off_e, off_t]);
    render_footer(app, &theme, frame, footer);
    if app.show_help {
        render_help(&theme, frame);
    }
    if app.show_malformed {
        render_malformed(app, &theme, frame);
    }
}

fn render_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    // What the header can say, most detailed first: on a narrow screen the
    // time span goes, then the record count; events and findings stay.
    let states: Vec<String> = match &app.status {
        Status::Ingesting(p) => vec![format!(
            " · ingesting {}/{} files, {} records, {:.0}%",
            p.files_done,
            p.files_total,
            p.records,
            if p.bytes_total > 0 {
                p.bytes_done as f64 * 100.0 / p.bytes_total as f64
            } else {
                0.0
            }
        )],
        Status::Analysing => vec![" · analysing…".to_string()],
        Status::Ready => {
            let a = app.analysis.as_ref();
            let span = a
                .filter(|a| !a.histogram.buckets.is_empty())
                .map(|a| {
                    format!(
                        " · {}–{}",
                        format_ts(a.histogram.start).get(..19).unwrap_or(""),
                        clock(a.histogram.end()).get(..8).unwrap_or("")
                    )
                })
                .unwrap_or_default();
            let malformed = match a.map_or(0, |a| a.malformed) {
                0 => String::new(),
                n => format!(" · {n} malformed"),
            };
            let counts = format!(
                " · {} events · {} findings{malformed}",
                app.event_count(),
                a.map_or(0, |a| a.findings.len())
            );
            let records = format!(" · {} records", a.map_or(0, |a| a.records));
            vec![
                format!("{records}{span}{counts}"),
                format!("{records}{counts}"),
                counts,
            ]
        }
        Status::Failed(e) => vec![format!(" · error: {}", for_terminal(e))],
    };
    // First after the bundle: a narrow terminal cuts the header's end.
    let read_only = app.read_only.as_ref().map(|who| {
        Span::styled(
            format!(" · read-only ({})", for_terminal(who)),
            theme.fg(Color::Yellow),
        )
    });
    let follow = Span::styled(
        if app.follow {
            " · follow ●"
        } else {
            " · follow ○"
        },
        theme.fg(if app.follow {
            Color::Green
        } else {
            Color::DarkGray
        }),
    );
    let title = Span::styled(
        "hopline ",
        theme.fg(Color::Cyan).add_modifier(Modifier::BOLD),
    );
    let width = |s: &str| s.chars().count();
    let label = for_terminal(&home_as_tilde(&app.bundle)).into_owned();
    // The bundle's name is worth up to 30 columns before the time span.
    let fixed = width(&title.content)
        + width(&label).min(30)
        + read_only.as_ref().map_or(0, |s| width(&s.content))
        + width(&follow.content);
    let last = states.len() - 1;
    let state = states
        .iter()
        .position(|st| fixed + width(st) <= area.width as usize)
        .unwrap_or(last);
    let state = Span::raw(states[state].clone());
    // The bundle's name takes what is left, cut in the middle: a long path
    // must never push the counts off the screen.
    let used = fixed - width(&label).min(30) + width(&state.content);
    let room = (area.width as usize).saturating_sub(used).max(12);
    let mut spans = vec![title, Span::raw(elide_middle(&label, room))];
    spans.extend(read_only);
    spans.push(state);
    spans.push(follow);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A path under the home directory, shown as `~/…`.
fn home_as_tilde(path: &str) -> std::borrow::Cow<'_, str> {
    let home = std::env::var("HOME").unwrap_or_default();
    let home = home.trim_end_matches('/');
    match path.strip_prefix(home) {
        Some(rest) if !home.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
            format!("~{rest}").into()
        }
        _ => path.into(),
    }
}

/// `text` cut to `max` characters by taking out its middle (`/home/…/bundle`):
/// both ends of a path say the most.
fn elide_middle(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let head = keep / 4;
    let tail = keep - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

const BARS: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/// Records per time bucket as bars, `!` under buckets with errors, `F`
/// under buckets with findings; the cursor and a chosen range are shown
/// reversed.
fn render_overview(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Pane::Overview;
    let h = &app.overview;
    let inner = area.width.saturating_sub(2) as usize;
    let mut title = "Overview".to_string();
    if let Some((from, to)) = app.range {
        title = format!("Overview — {} to {}", clock(from), clock(to));
    }
    let far = h.far_before + h.far_after;
    if far > 0 {
        title.push_str(&format!(
            " · {far} record{} far outside, not drawn",
            if far == 1 { "" } else { "s" }
        ));
    }
    if h.buckets.is_empty() || inner == 0 {
        frame.render_widget(
            Paragraph::new("").block(block(&title, focused, theme)),
            area,
        );
        return;
    }
    let max = h
        .buckets
        .iter()
        .map(|b| b.records)
        .max()
        .unwrap_or(0)
        .max(1);
    let bucket_of = |col: usize| (col * OVERVIEW_BUCKETS / inner).min(OVERVIEW_BUCKETS - 1);
    let (lo, hi) = match app.anchor {
        Some(a) => (a.min(app.cursor), a.max(app.cursor)),
        None => (app.cursor, app.cursor),
    };
    let mut bars = Vec::with_capacity(inner);
    let mut marks = Vec::with_capacity(inner);
    for col in 0..inner {
        let i = bucket_of(col);
        let b = h.buckets[i];
        let glyph = if b.records == 0 {
            " "
        } else {
            BARS[((b.records * 7).div_ceil(max) as usize).min(7)]
        };
        let mut style = if b.errors > 0 {
            theme.fg(Color::Red)
        } else {
            theme.fg(Color::Blue)
        };
        if focused && (lo..=hi).contains(&i) {
            style = style.add_modifier(Modifier::REVERSED);
        }
        bars.push(Span::styled(glyph, style));
        let first_col = col == 0 || bucket_of(col - 1) != i;
        let (m, ms) = if !first_col {
            (" ", Style::default())
        } else if b.findings > 0 {
            ("F", theme.fg(Color::Magenta).add_modifier(Modifier::BOLD))
        } else if b.errors > 0 {
            ("!", theme.fg(Color::Red))
        } else {
            (" ", Style::default())
        };
        marks.push(Span::styled(m, ms));
    }
    let (from, _) = h.range_of(app.cursor, app.cursor);
    let axis = format!(
        "{}{:>width$}",
        clock(h.start).get(..8).unwrap_or(""),
        format!(
            "cursor {} · {} records",
            clock(from).get(..8).unwrap_or(""),
            h.buckets[app.cursor].records
        ),
        width = inner.saturating_sub(8)
    );
    let lines = vec![
        Line::from(bars),
        Line::from(marks),
        Line::from(Span::styled(axis, theme.fg(Color::DarkGray))),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(block(&title, focused, theme)),
        area,
    );
}

fn block(title: &str, focused: bool, theme: &Theme) -> Block<'static> {
    Block::bordered()
        .title(title.to_string())
        .border_style(theme.border(focused))
}

fn severity_glyph(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "●",
        Severity::High => "●",
        Severity::Medium => "◐",
        _ => "○",
    }
}

/// The rows a table of `len` rows shows with `sel` selected in `area`
/// (borders taken off, and a header line when it has one), scrolled as
/// ratatui scrolls a fresh `TableState`. Building only these rows keeps a
/// frame's cost flat however long the list is.
fn visible(len: usize, sel: usize, area: Rect, header: bool) -> std::ops::Range<usize> {
    let h = (area.height as usize)
        .saturating_sub(2 + usize::from(header))
        .max(1);
    let start = if sel < h { 0 } else { sel + 1 - h };
    start.min(len)..(start + h).min(len)
}

fn render_findings(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) -> usize {
    let focused = app.focus == Pane::Findings;
    let Some(a) = &app.analysis else {
        frame.render_widget(
            Paragraph::new("").block(block("Findings", focused, theme)),
            area,
        );
        return 0;
    };
    let title = format!("Findings ({})", app.listed_findings.len());
    if app.listed_findings.is_empty() {
        frame.render_widget(
            Paragraph::new("none: nothing looks anomalous")
                .style(theme.fg(Color::DarkGray))
                .block(block(&title, focused, theme)),
            area,
        );
        return 0;
    }
    let shown = visible(app.listed_findings.len(), app.finding_sel, area, false);
    let rows: Vec<Row> = app.listed_findings[shown.clone()]
        .iter()
        .map(|&i| {
            let f = &a.findings[i];
            Row::new(vec![
                Cell::from(severity_glyph(f.severity)).style(theme.severity(f.severity)),
                Cell::from(f.kind.as_str()),
                Cell::from(for_terminal(&f.summary).into_owned()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(21),
            Constraint::Min(5),
        ],
    )
    .block(block(&title, focused, theme))
    .row_highlight_style(if focused {
        theme.selected()
    } else {
        Style::default()
    });
    let mut state = TableState::default().with_selected(Some(app.finding_sel - shown.start));
    frame.render_stateful_widget(table, area, &mut state);
    shown.start + state.offset()
}

fn render_events(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) -> usize {
    let focused = app.focus == Pane::Events;
    let Some(a) = &app.analysis else {
        let msg = match &app.status {
            Status::Failed(e) => for_terminal(e).into_owned(),
            _ => "reading the bundle…".to_string(),
        };
        frame.render_widget(
            Paragraph::new(msg).block(block("Events", focused, theme)),
            area,
        );
        return 0;
    };
    // Narrow: no service count and minutes only, so a whole ID still fits.
    let narrow = area.width < 40;
    let time_w: usize = if narrow { 5 } else { 8 };
    let fixed = 2 + 1 + 1 + time_w + 4 + if narrow { 4 } else { 3 + 5 };
    let id_w = (area.width as usize).saturating_sub(fixed).max(8);
    let shown = visible(app.listed.len(), app.event_sel, area, true);
    let rows: Vec<Row> = app.listed[shown.clone()]
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let pos = shown.start + k;
            let e = &a.events.events[i];
            let worst = a.worst_severity(i);
            let mark = match worst {
                Some(s) => Cell::from(severity_glyph(s)).style(theme.severity(s)),
                None => Cell::from(" "),
            };
            let hit = if app.matches.binary_search(&pos).is_ok() {
                "›"
            } else {
                " "
            };
            let mut cells = vec![
                mark,
                Cell::from(hit).style(theme.fg(Color::Yellow)),
                Cell::from(truncate(&for_terminal(&e.key.value), id_w).into_owned()),
                Cell::from(clock(e.first_ts).get(..time_w).unwrap_or("").to_string()),
            ];
            if !narrow {
                cells.push(Cell::from(format!("{:>3}", e.services.len())));
            }
            cells.push(Cell::from(format!("{:>4}", e.records)));
            Row::new(cells)
        })
        .collect();
    let mut title = format!("Events ({}) by {}", app.listed.len(), app.sort.as_str());
    if let Some(q) = &app.query {
        title.push_str(&format!(" · /{} {}", for_terminal(q), app.matches.len()));
    }
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(id_w as u16),
        Constraint::Length(time_w as u16),
    ];
    let mut header = vec!["!", " ", "event", "first"];
    if !narrow {
        widths.push(Constraint::Length(3));
        header.push("svc");
    }
    widths.push(Constraint::Length(4));
    header.push(" rec");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.fg(Color::DarkGray)))
        .block(block(&title, focused, theme))
        .row_highlight_style(if focused {
            theme.selected()
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        });
    let mut state = TableState::default()
        .with_selected((!app.listed.is_empty()).then_some(app.event_sel - shown.start));
    frame.render_stateful_widget(table, area, &mut state);
    shown.start + state.offset()
}

/// Lane names for the header when services share initials (`cartservice`,
/// `checkoutservice`, `currencyservice`): numbers, which the service
/// column repeats. None when each initial names one lane.
fn lane_names(services: &[String]) -> Option<Vec<String>> {
    let initials: std::collections::HashSet<char> =
        services.iter().filter_map(|s| s.chars().next()).collect();
    if initials.len() == services.len() {
        return None;
    }
    const DIGITS: &[u8] = b"123456789abcdefghijklmnopqrstuvwxyz";
    Some(
        (0..services.len())
            .map(|i| (DIGITS.get(i).copied().unwrap_or(b'+') as char).to_string())
            .collect(),
    )
}

/// The level as a word (a letter when narrow), warnings and errors in
/// colour.
fn level_cell(level: crate::record::Level, width: usize, theme: &Theme) -> Cell<'static> {
    use crate::record::Level;
    let word = match level {
        Level::Unknown => "",
        known => known.as_str(),
    };
    let text = if width < 4 {
        word.get(..1).unwrap_or("").to_ascii_uppercase()
    } else {
        word.get(..width.min(word.len()))
            .unwrap_or(word)
            .to_string()
    };
    let style = match level {
        Level::Warn => theme.fg(Color::Yellow),
        Level::Error | Level::Fatal => theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        Level::Trace | Level::Debug => theme.fg(Color::DarkGray),
        Level::Info | Level::Unknown => Style::default(),
    };
    Cell::from(text).style(style)
}

/// One lane per service: `●` in the entry's lane, `─` across the lanes an
/// arrow into it crosses from its caller's (or callee's) lane, `│`
/// elsewhere. Only arrows the data shows are drawn (correlate::hops).
fn lanes_cell(
    services: &[String],
    from_service: Option<&str>,
    r: &Record,
    theme: &Theme,
) -> Line<'static> {
    let me = services.iter().position(|s| *s == r.service).unwrap_or(0);
    let from = from_service
        .and_then(|f| services.iter().position(|s| s == f))
        .unwrap_or(me);
    let (lo, hi) = (from.min(me), from.max(me));
    let mut spans = Vec::with_capacity(services.len());
    for i in 0..services.len() {
        let (glyph, style) = if i == me {
            if r.mutation {
                ("◆", theme.fg(Color::Magenta).add_modifier(Modifier::BOLD))
            } else {
                ("●", theme.fg(Color::Green))
            }
        } else if i == from && from != me {
            ("○", theme.fg(Color::DarkGray))
        } else if i > lo && i < hi {
            ("─", theme.fg(Color::DarkGray))
        } else {
            ("│", theme.fg(Color::DarkGray))
        };
        spans.push(Span::styled(glyph, style));
        if i + 1 < services.len() {
            let link = if i >= lo && i < hi { "─" } else { " " };
            spans.push(Span::styled(link, theme.fg(Color::DarkGray)));
        }
    }
    Line::from(spans)
}

fn render_timeline(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) -> usize {
    let focused = app.focus == Pane::Timeline;
    let records = app.timeline();
    let services = app.timeline_lanes();
    let title = match (&app.view, app.timeline_name()) {
        (Some(View::Event { event, .. }), Some(name)) => {
            let kinds: Vec<&str> = app
                .event_findings(*event)
                .iter()
                .map(|f| f.kind.as_str())
                .collect();
            format!(
                "Timeline {} — {} services{}",
                for_terminal(name),
                services.len(),
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", kinds.join(", "))
                }
            )
        }
        (Some(View::Footprint { .. }), Some(name)) => format!(
            "Timeline of {} — {} services — Backspace returns",
            for_terminal(name),
            services.len()
        ),
        _ => "Timeline".to_string(),
    };
    let lanes_w = (services.len() * 2).saturating_sub(1).max(1) as u16;
    // Milliseconds are kept at any width; the service and level columns
    // give way so the message keeps its room.
    let narrow = area.width < 100;
    let service_w: usize = if narrow { 12 } else { 18 };
    let time_w: usize = if area.width < 50 { 8 } else { 12 };
    let level_w: usize = if narrow { 1 } else { 5 };
    // The IDs each row carries, as short unique prefixes: where there is
    // room beside a message of its own.
    let ids_w: usize = if area.width >= 130 { 20 } else { 0 };
    // Worked out only when the column is drawn: this runs every frame.
    let short = if ids_w > 0 {
        short_ids(
            records
                .iter()
                .flat_map(|r| r.ids.iter().map(|i| i.value.as_str())),
            8,
        )
    } else {
        Default::default()
    };
    let lane_names = lane_names(services);
    let numbered = lane_names.is_some();
    let legend = lane_names.unwrap_or_else(|| {
        services
            .iter()
            .map(|s| s.chars().next().unwrap_or('?').to_string())
            .collect()
    });
    let shown = visible(records.len(), app.entry_sel, area, true);
    let rows: Vec<Row> = records[shown.clone()]
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let from = app
                .arrow_into(shown.start + k)
                .map(|a| records[a.from].service.as_str());
            // A mark matters more than the skew badge; the corrected time
            // keeps its colour either way.
            let (mark, mark_color) = match app.mark_of(&r.source) {
                Some(m) if !m.notes.is_empty() => ("✎", Color::Yellow),
                Some(_) => ("★", Color::Yellow),
                None if r.skew != 0 => ("~", Color::Cyan),
                None => (" ", Color::Yellow),
            };
            let time = Cell::from(clock(r.ts).get(..time_w).unwrap_or("").to_string());
            let service = match (numbered, services.iter().position(|s| *s == r.service)) {
                (true, Some(lane)) => format!("{} {}", legend[lane], for_terminal(&r.service)),
                _ => for_terminal(&r.service).into_owned(),
            };
            let mut message = Vec::with_capacity(2);
            if let Some(status) = http_status(r) {
                let color = match status {
                    500.. => Color::Red,
                    400.. => Color::Yellow,
                    _ => Color::Green,
                };
                message.push(Span::styled(format!("{status} "), theme.fg(color)));
            }
            message.push(Span::raw(for_terminal(&step_text(r)).into_owned()));
            let mut cells = vec![
                if r.skew != 0 {
                    time.style(theme.fg(Color::Cyan))
                } else {
                    time
                },
                Cell::from(mark).style(theme.fg(mark_color)),
                Cell::from(lanes_cell(services, from, r, theme)),
                Cell::from(truncate(&service, service_w).into_owned()),
                level_cell(r.level, level_w, theme),
            ];
            if ids_w > 0 {
                let carried: Vec<&str> = r
                    .ids
                    .iter()
                    .filter_map(|i| short.get(i.value.as_str()).copied())
                    .collect();
                cells.push(
                    Cell::from(truncate(&for_terminal(&carried.join(" ")), ids_w).into_owned())
                        .style(theme.fg(Color::DarkGray)),
                );
            }
            cells.push(Cell::from(Line::from(message)));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(time_w as u16),
        Constraint::Length(1),
        Constraint::Length(lanes_w),
        Constraint::Length(service_w as u16),
        Constraint::Length(level_w as u16),
    ];
    let mut header = vec![
        "time".to_string(),
        " ".into(),
        legend.join(" "),
        "service".into(),
        if narrow { " " } else { "level" }.into(),
    ];
    if ids_w > 0 {
        widths.push(Constraint::Length(ids_w as u16));
        header.push("ids".into());
    }
    widths.push(Constraint::Min(6));
    header.push("message".into());
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.fg(Color::DarkGray)))
        .block(block(&title, focused, theme))
        .row_highlight_style(if focused || app.focus == Pane::Detail {
            theme.selected()
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        });
    let mut state = TableState::default()
        .with_selected((!records.is_empty()).then_some(app.entry_sel - shown.start));
    frame.render_stateful_widget(table, area, &mut state);
    shown.start + state.offset()
}

fn render_detail(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Pane::Detail;
    let Some(r) = app.selected_entry() else {
        frame.render_widget(
            Paragraph::new("").block(block("Detail", focused, theme)),
            area,
        );
        return;
    };
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(vec![
        Span::styled(
            for_terminal(&r.source.to_string()).into_owned(),
            theme.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  {}  {}", format_ts(r.ts), r.kind.as_str())),
        Span::styled(
            if r.mutation { "  state mutation" } else { "" },
            theme.fg(Color::Magenta),
        ),
    ]));
    lines.push(Line::from(format!(
        "{} ({}) · {}",
        for_terminal(&r.service),
        for_terminal(&r.instance),
        r.level.as_str()
    )));
    if let Some(a) = app.arrow_into(app.entry_sel) {
        lines.push(Line::from(Span::styled(
            format!(
                "{} {}",
                match a.kind {
                    crate::correlate::hops::ArrowKind::Call => "←",
                    crate::correlate::hops::ArrowKind::Reply => "↩",
                },
                for_terminal(&a.why)
            ),
            theme.fg(Color::Green),
        )));
    }
    if r.skew != 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "~ clock corrected: {} ran {}; logged as {}",
                for_terminal(&r.instance),
                crate::present::text::skew_words(r.skew),
                format_ts(r.ts + r.skew)
            ),
            theme.fg(Color::Cyan),
        )));
    }
    if let Some(m) = app.mark_of(&r.source) {
        lines.push(Line::from(Span::styled(
            format!(
                "★ marked{}",
                m.note_text()
                    .map(|n| format!(": {}", for_terminal(&n)))
                    .unwrap_or_default()
            ),
            theme.fg(Color::Yellow),
        )));
    }
    let mut ids = vec![Span::raw("ids: ")];
    for (i, id) in r.ids.iter().enumerate() {
        let text = format!("{}={}", for_terminal(&id.field), for_terminal(&id.value));
        let style = if focused && i == app.id_sel {
            theme.selected()
        } else {
            Style::default()
        };
        ids.push(Span::styled(text, style));
        ids.push(Span::raw("  "));
    }
    lines.push(Line::from(ids));
    lines.push(Line::from(""));
    let shown = app.shown_raw(r);
    if let Some(wrapper) = &shown.wrapper {
        lines.push(Line::from(Span::styled(
            for_terminal(wrapper).into_owned(),
            theme.fg(Color::DarkGray),
        )));
    }
    for l in shown.body.lines() {
        lines.push(Line::from(for_terminal(l).into_owned()));
    }
    let title = if focused {
        "Detail — ↑↓ pick an ID, Enter follows it, y copies it"
    } else {
        "Detail"
    };
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0))
            .block(block(title, focused, theme)),
        area,
    );
}

fn render_footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = match &app.prompt {
        Prompt::Search(q) => Line::from(vec![
            Span::styled("/", theme.fg(Color::Yellow)),
            Span::raw(for_terminal(q).into_owned()),
            Span::styled(
                "▏  ID, prefix, or words · service:x level:error key=value · Enter search · Esc cancel",
                theme.fg(Color::DarkGray),
            ),
        ]),
        Prompt::Note(n) => Line::from(vec![
            Span::styled("note: ", theme.fg(Color::Yellow)),
            Span::raw(for_terminal(n).into_owned()),
            Span::styled("▏  Enter save · Esc cancel", theme.fg(Color::DarkGray)),
        ]),
        Prompt::None => match &app.flash {
            Some(f) => Line::from(Span::styled(
                for_terminal(f).into_owned(),
                theme.fg(Color::Yellow),
            )),
            None => Line::from(Span::styled(
                match app.focus {
                    Pane::Overview => {
                        "←→ bucket  Space range start  Enter filter  Esc clear  Tab pane  ? help  q quit"
                    }
                    Pane::Findings => {
                        "↑↓ move  Enter open the event  / search  Tab pane  ? help  q quit"
                    }
                    Pane::Events => {
                        "↑↓ move  Enter open  / search  n/N next  s sort  e export  f follow  ? help  q quit"
                    }
                    Pane::Timeline => {
                        "↑↓ move  Enter detail  m mark  c note  e export  y copy ID  Esc back  ? help  q quit"
                    }
                    Pane::Detail => {
                        "↑↓ pick ID  Enter follow ID  Backspace return  y copy  PgUp/PgDn scroll  Esc back"
                    }
                },
                theme.fg(Color::DarkGray),
            )),
        },
    };
    // On a narrow screen the lists are hidden behind the timeline: say how
    // to get to them.
    let line = if area.width < NARROW
        && app.prompt == Prompt::None
        && app.flash.is_none()
        && matches!(app.focus, Pane::Timeline | Pane::Detail)
    {
        let mut spans = vec![Span::styled("Shift-Tab lists  ", theme.fg(Color::DarkGray))];
        spans.extend(line.spans);
        Line::from(spans)
    } else {
        line
    };
    frame.render_widget(Paragraph::new(line), area);
}

const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection"),
    ("PgUp PgDn", "move a page (Detail: scroll)"),
    ("g G  Home End", "first / last"),
    (
        "Enter → l",
        "open: finding's event, event, entry's detail, follow ID",
    ),
    ("Esc ← h", "back out"),
    ("Backspace", "back from a followed ID's timeline"),
    ("Tab  Shift-Tab", "next / previous pane"),
    (
        "/",
        "search events: ID, prefix, words, service:, level:, k=v",
    ),
    ("n  N", "next / previous match"),
    ("s", "sort events by time, size, findings"),
    (
        "Space (Overview)",
        "start a time range; Enter filters, Esc clears",
    ),
    ("m", "mark the entry (kept with the index, in exports)"),
    ("c", "attach a note to the entry"),
    ("e", "export the event to hopline-<id>.md"),
    ("y", "copy the ID (OSC 52 clipboard)"),
    ("f", "follow: show new lines as files grow"),
    ("mouse", "wheel scrolls, click selects"),
    ("!", "the lines that could not be read, and why"),
    ("t  M", "triage checklist (the first screen) / metrics view"),
    ("?", "this help (any of ? Esc q closes it)"),
    ("q  Ctrl-C", "quit"),
];

/// The malformed lines the index remembers, as many as fit.
fn render_malformed(app: &App, theme: &Theme, frame: &mut Frame) {
    let Some(a) = app.analysis.as_ref() else {
        return;
    };
    let area = frame.area();
    let w = area.width.saturating_sub(4).max(20).min(area.width);
    let h = area.height.saturating_sub(4).max(5).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let room = h.saturating_sub(3) as usize;
    let mut lines: Vec<Line> = a
        .malformed_lines
        .iter()
        .take(room)
        .map(|(at, why)| {
            Line::from(vec![
                Span::styled(
                    format!(" {}", for_terminal(&at.to_string())),
                    theme.fg(Color::Cyan),
                ),
                Span::raw(format!("  {}", for_terminal(why))),
            ])
        })
        .collect();
    let shown = lines.len() as u64;
    if a.malformed > shown {
        lines.push(Line::from(Span::styled(
            format!(
                " … and {} more: `hopline ingest --report` lists them",
                a.malformed - shown
            ),
            theme.fg(Color::DarkGray),
        )));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(block(
            &format!("Malformed lines ({}) · ! or Esc closes", a.malformed),
            true,
            theme,
        )),
        popup,
    );
}

fn render_help(theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    let w = 78.min(area.width);
    let h = (HELP.len() as u16 + 3).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let mut lines = Vec::new();
    for (k, what) in HELP {
        lines.push(Line::from(vec![
            Span::styled(format!(" {k:<18}"), theme.fg(Color::Cyan)),
            Span::raw(*what),
        ]));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(block("Keys", true, theme)),
        popup,
    );
}

/// The triage checklist: one step a row, its verdict, its count and a
/// sparkline over the incident window.
fn render_triage(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let title = Line::from(vec![
        Span::styled("Triage", theme.fg(Color::Cyan).add_modifier(Modifier::BOLD)),
        Span::styled(
            " · the checks in the incident guides' order; Enter shows the evidence",
            theme.fg(Color::DarkGray),
        ),
    ]);
    frame.render_widget(Paragraph::new(title), Rect { height: 1, ..area });
    if app.triage.is_empty() {
        let waiting = Rect {
            y: area.y + 2,
            height: 1,
            ..area
        };
        frame.render_widget(
            Paragraph::new(Span::styled(
                "counting task states, table rows and outcomes…",
                theme.fg(Color::DarkGray),
            )),
            waiting,
        );
        return;
    }
    // The verdict first: the sparkline gets what a wide screen spares.
    let spark_w: u16 = match area.width {
        140.. => 24,
        100.. => 12,
        _ => 0,
    };
    let step_w: u16 = 25.min(area.width / 3);
    let count_w: u16 = 6;
    let verdict_w = area
        .width
        .saturating_sub(3 + 2 + step_w + count_w + 2 + spark_w + 1);
    let heads = Rect {
        y: area.y + 2,
        height: 1,
        ..area
    };
    let mut head = format!(
        "{:<3}  {:<sw$}{:<vw$}{:>cw$}",
        "#",
        "CHECK",
        "VERDICT",
        "COUNT",
        sw = step_w as usize,
        vw = verdict_w as usize,
        cw = count_w as usize
    );
    if spark_w > 0 {
        head.push_str("  OVER TIME");
    }
    frame.render_widget(
        Paragraph::new(Span::styled(head, theme.fg(Color::DarkGray))),
        heads,
    );
    for (i, check) in app.triage.iter().enumerate() {
        let y = area.y + TRIAGE_FIRST_ROW - 1 + i as u16;
        if y >= area.y + area.height {
            break;
        }
        let row = Rect {
            x: area.x,
            y,
            width: area.width,
            height: 1,
        };
        let mark = match (check.applies, check.alarm) {
            (false, _) => Span::styled("– ", theme.fg(Color::DarkGray)),
            (_, true) => Span::styled("● ", theme.fg(Color::Yellow)),
            _ => Span::styled("✓ ", theme.fg(Color::Green)),
        };
        let text = format!("{:<3}", i + 1);
        let step = truncate(check.step, step_w.saturating_sub(1) as usize);
        let clean = for_terminal(&check.verdict);
        let verdict = truncate(&clean, verdict_w.saturating_sub(1) as usize);
        let line = Line::from(vec![
            Span::raw(text),
            mark,
            Span::raw(format!("{step:<w$}", w = step_w as usize)),
            Span::raw(format!("{verdict:<w$}", w = verdict_w as usize)),
            Span::raw(format!("{:>w$}", check.count, w = count_w as usize)),
        ]);
        let style = if i == app.triage_sel {
            theme.selected()
        } else {
            Style::default()
        };
        frame.render_widget(Paragraph::new(line).style(style), row);
        if spark_w > 0 && !check.series.is_empty() {
            let spark = Rect {
                x: area.x + area.width - spark_w - 1,
                y,
                width: spark_w,
                height: 1,
            };
            // A sparkline draws from the left and cuts what does not fit:
            // the series is summed down to the columns there are.
            let per = check.series.len().div_ceil(spark_w as usize).max(1);
            let series: Vec<u64> = check.series.chunks(per).map(|c| c.iter().sum()).collect();
            frame.render_widget(
                Sparkline::default()
                    .data(&series)
                    .style(theme.fg(if check.alarm {
                        Color::Yellow
                    } else {
                        Color::Green
                    })),
                spark,
            );
        }
    }
}

/// Counts per minute into `n` buckets over the analysis window.
fn bucketed(app: &App, points: impl Iterator<Item = (i64, u64)>, n: usize) -> Vec<u64> {
    match app.analysis.as_ref() {
        Some(a) => crate::analysis::triage::bucketed(a, points, n),
        None => vec![0; n],
    }
}

/// The metrics view: a sparkline per task state and per outcome figure,
/// over the incident window, the time range chosen in the overview marked.
fn render_metrics(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("Metrics", theme.fg(Color::Cyan).add_modifier(Modifier::BOLD)),
            Span::styled(
                " · per state and outcome over the incident window (the range chosen in the overview is marked)",
                theme.fg(Color::DarkGray),
            ),
        ])),
        Rect { height: 1, ..area },
    );
    let Some(m) = app.metrics.as_ref() else {
        return;
    };
    let label_w: u16 = 30;
    let width = area.width.saturating_sub(label_w + 1).max(1);
    let n = width as usize;
    // Buckets inside the chosen range are drawn highlighted.
    let marked: Vec<bool> = match (app.range, app.analysis.as_ref()) {
        (Some((from, to)), Some(a)) => {
            let (start, end) = (
                a.histogram.start,
                a.histogram.end().max(a.histogram.start + 1),
            );
            let w = ((end - start) / n as i64).max(1);
            (0..n)
                .map(|i| {
                    let b = start + i as i64 * w;
                    b + w > from && b < to
                })
                .collect()
        }
        _ => vec![false; n],
    };
    // A label counts the whole window, and the chosen range first when
    // there is one: `task received (14 of 52)`.
    let label = |name: String, points: &mut dyn Iterator<Item = (i64, u64)>| {
        let (mut all, mut within) = (0, 0);
        for (at, n) in points {
            all += n;
            if app
                .range
                .is_some_and(|(from, to)| at + 60_000_000 > from && at < to)
            {
                within += n;
            }
        }
        match app.range {
            Some(_) => format!("{name} ({within} of {all})"),
            None => format!("{name} ({all})"),
        }
    };
    let mut rows: Vec<(String, Vec<u64>)> = Vec::new();
    for state in crate::analysis::metrics::STATES {
        let counts = m.task_states_per_minute.get(state);
        let series = bucketed(
            app,
            counts.into_iter().flatten().map(|c| (c.at, c.count)),
            n,
        );
        let name = label(
            format!("task {state}"),
            &mut counts.into_iter().flatten().map(|c| (c.at, c.count)),
        );
        rows.push((name, series));
    }
    let o = &m.outcomes;
    let per = |f: fn(&crate::analysis::metrics::OutcomeMinute) -> usize| {
        bucketed(app, o.per_minute.iter().map(|p| (p.at, f(p) as u64)), n)
    };
    let outcome = |f: fn(&crate::analysis::metrics::OutcomeMinute) -> usize| {
        o.per_minute.iter().map(move |p| (p.at, f(p) as u64))
    };
    rows.push((
        label("events".into(), &mut outcome(|p| p.events)),
        per(|p| p.events),
    ));
    rows.push((
        label(
            "with a side effect".into(),
            &mut outcome(|p| p.with_side_effect),
        ),
        per(|p| p.with_side_effect),
    ));
    rows.push((
        label(
            "duplicated".into(),
            &mut outcome(|p| p.with_duplicate_side_effect),
        ),
        per(|p| p.with_duplicate_side_effect),
    ));
    rows.push((
        label(
            "keys arriving again".into(),
            &mut m
                .idempotency
                .existing_key_arrivals_per_minute
                .iter()
                .map(|c| (c.at, c.count)),
        ),
        bucketed(
            app,
            m.idempotency
                .existing_key_arrivals_per_minute
                .iter()
                .map(|c| (c.at, c.count)),
            n,
        ),
    ));
    for (i, (label, series)) in rows.iter().enumerate() {
        let y = area.y + 2 + i as u16;
        if y >= area.y + area.height {
            break;
        }
        frame.render_widget(
            Paragraph::new(truncate(label, label_w as usize - 1)),
            Rect {
                x: area.x,
                y,
                width: label_w,
                height: 1,
            },
        );
        let bars: Vec<SparklineBar> = series
            .iter()
            .zip(&marked)
            .map(|(v, on)| {
                let bar = SparklineBar::from(*v);
                if *on {
                    bar.style(theme.fg(Color::Magenta).add_modifier(Modifier::BOLD))
                } else {
                    bar
                }
            })
            .collect();
        frame.render_widget(
            Sparkline::default().data(bars).style(theme.fg(Color::Cyan)),
            Rect {
                x: area.x + label_w,
                y,
                width,
                height: 1,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cut_in_the_middle_and_home_is_a_tilde() {
        assert_eq!(elide_middle("samples/payments", 40), "samples/payments");
        let cut = elide_middle(
            "/home/oncall/very/deep/tree/of/bundles/payments-incident",
            24,
        );
        assert_eq!(cut.chars().count(), 24);
        assert!(
            cut.starts_with("/hom") && cut.ends_with("payments-incident"),
            "{cut}"
        );
        let home = std::env::var("HOME").unwrap_or_default();
        if !home.is_empty() && home != "/" {
            assert_eq!(home_as_tilde(&format!("{home}/logs/b")), "~/logs/b");
            assert_eq!(
                home_as_tilde(&format!("{home}x/logs")),
                format!("{home}x/logs")
            );
        }
        assert_eq!(home_as_tilde("/srv/logs"), "/srv/logs");
    }
}
