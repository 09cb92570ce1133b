//! Drawing: a pure function of [`App`]. Every byte of log data goes through
//! `sanitize` first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use crate::detect::Severity;
use crate::record::{Record, format_ts};

use super::app::{App, Pane, Status};
use crate::present::sanitize::{for_terminal, truncate};

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

fn clock(ts: i64) -> String {
    let full = format_ts(ts);
    full.get(11..23).unwrap_or(&full).to_string()
}

pub fn render(app: &App, frame: &mut Frame) {
    let theme = Theme { color: app.color };
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_header(app, &theme, frame, header);
    // Wide enough for a full `evt_` + 12 hex ID, and no wider.
    let left_w = (body.width * 34 / 100).clamp(30, 42);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(20)]).areas(body);
    let [timeline, detail] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(right);
    render_events(app, &theme, frame, left);
    render_timeline(app, &theme, frame, timeline);
    render_detail(app, &theme, frame, detail);
    let keys = "↑↓/jk move  Enter open  Esc back  Tab pane  ? help  q quit";
    frame.render_widget(
        Paragraph::new(keys).style(theme.fg(Color::DarkGray)),
        footer,
    );
    if app.show_help {
        render_help(&theme, frame);
    }
}

fn render_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(
        "hopline ",
        theme.fg(Color::Cyan).add_modifier(Modifier::BOLD),
    )];
    spans.push(Span::raw(for_terminal(&app.bundle).into_owned()));
    let state = match &app.status {
        Status::Ingesting(p) => format!(
            " · ingesting {}/{} files, {} records",
            p.files_done, p.files_total, p.records
        ),
        Status::Analysing => " · analysing…".to_string(),
        Status::Ready => {
            let a = app.analysis.as_ref();
            format!(
                " · {} records · {} events · {} findings",
                a.map_or(0, |a| a.records),
                app.event_count(),
                a.map_or(0, |a| a.findings.len())
            )
        }
        Status::Failed(e) => format!(" · error: {}", for_terminal(e)),
    };
    spans.push(Span::raw(state));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn block(title: &str, focused: bool, theme: &Theme) -> Block<'static> {
    Block::bordered()
        .title(title.to_string())
        .border_style(theme.border(focused))
}

fn render_events(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
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
        return;
    };
    // Borders, the marker, time, service and record counts, four column gaps.
    let id_w = (area.width as usize)
        .saturating_sub(2 + 1 + 8 + 3 + 3 + 4)
        .max(8);
    let rows: Vec<Row> = a
        .events
        .events
        .iter()
        .enumerate()
        .map(|(i, (e, _))| {
            let worst = a.event_findings[i]
                .iter()
                .map(|&f| a.findings[f].severity)
                .min();
            let mark = match worst {
                Some(s) => Cell::from("●").style(theme.severity(s)),
                None => Cell::from(" "),
            };
            Row::new(vec![
                mark,
                Cell::from(truncate(&for_terminal(&e.key.value), id_w).into_owned()),
                Cell::from(clock(e.first_ts).get(..8).unwrap_or("").to_string()),
                Cell::from(format!("{:>3}", e.services.len())),
                Cell::from(format!("{:>3}", e.records)),
            ])
        })
        .collect();
    let title = format!("Events ({})", a.events.events.len());
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(id_w as u16),
            Constraint::Length(8),
            Constraint::Length(3),
            Constraint::Length(3),
        ],
    )
    .header(Row::new(vec!["!", "event", "first", "svc", "rec"]).style(theme.fg(Color::DarkGray)))
    .block(block(&title, focused, theme))
    .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(app.event_sel));
    frame.render_stateful_widget(table, area, &mut state);
}

/// One lane per service: `●` in the entry's lane, `─` across the lanes a hop
/// from the previous entry's service crosses, `│` elsewhere.
fn lanes_cell(
    services: &[String],
    prev: Option<&Record>,
    r: &Record,
    theme: &Theme,
) -> Line<'static> {
    let me = services.iter().position(|s| *s == r.service).unwrap_or(0);
    let from = prev
        .and_then(|p| services.iter().position(|s| *s == p.service))
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

fn render_timeline(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Pane::Timeline;
    let records = app.timeline();
    let mut services: Vec<String> = Vec::new();
    for r in records {
        if !services.contains(&r.service) {
            services.push(r.service.clone());
        }
    }
    let title = match (&app.analysis, app.open_event) {
        (Some(a), Some(i)) if i < a.events.events.len() => {
            let e = &a.events.events[i].0;
            let findings = app.event_findings(i);
            let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
            format!(
                "Timeline {} — {} services{}",
                for_terminal(&e.key.value),
                services.len(),
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", kinds.join(", "))
                }
            )
        }
        _ => "Timeline".to_string(),
    };
    let lanes_w = (services.len() * 2).saturating_sub(1).max(1) as u16;
    let legend: String = services
        .iter()
        .map(|s| s.chars().next().unwrap_or('?').to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let rows: Vec<Row> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let prev = i.checked_sub(1).map(|p| &records[p]);
            Row::new(vec![
                Cell::from(clock(r.ts)),
                Cell::from(lanes_cell(&services, prev, r, theme)),
                Cell::from(truncate(&for_terminal(&r.service), 18).into_owned()),
                Cell::from(for_terminal(&r.message).into_owned()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(lanes_w),
            Constraint::Length(18),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(vec![
            "time".to_string(),
            legend,
            "service".into(),
            "message".into(),
        ])
        .style(theme.fg(Color::DarkGray)),
    )
    .block(block(&title, focused, theme))
    .row_highlight_style(if focused || app.focus == Pane::Detail {
        theme.selected()
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    });
    let mut state =
        TableState::default().with_selected((!records.is_empty()).then_some(app.entry_sel));
    frame.render_stateful_widget(table, area, &mut state);
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
    let ids: Vec<String> = r
        .ids
        .iter()
        .map(|i| format!("{}={}", i.field, i.value))
        .collect();
    lines.push(Line::from(format!(
        "ids: {}",
        for_terminal(&ids.join("  "))
    )));
    lines.push(Line::from(""));
    let pretty = serde_json::from_str::<serde_json::Value>(&r.raw)
        .ok()
        .filter(|v| v.is_object())
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| r.raw.clone());
    for l in pretty.lines() {
        lines.push(Line::from(for_terminal(l).into_owned()));
    }
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(block("Detail", focused, theme)),
        area,
    );
}

const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection"),
    ("PgUp PgDn", "move a page"),
    ("g G  Home End", "first / last"),
    ("Enter → l", "open the event / the entry's detail"),
    ("Esc ← h", "back out"),
    ("Tab  Shift-Tab", "next / previous pane"),
    ("?", "this help (any of ? Esc q closes it)"),
    ("q  Ctrl-C", "quit"),
];

fn render_help(theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    let w = 58.min(area.width);
    let h = (HELP.len() as u16 + 4).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let mut lines = vec![Line::from("")];
    for (k, what) in HELP {
        lines.push(Line::from(vec![
            Span::styled(format!(" {k:<15}"), theme.fg(Color::Cyan)),
            Span::raw(*what),
        ]));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(block("Keys", true, theme)),
        popup,
    );
}
