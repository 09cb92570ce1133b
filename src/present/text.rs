//! Tables and `--json` for the CLI. The JSON shapes here are contracts
//! (design.md): field names do not change.

use std::fmt::Write as _;

use crate::correlate::Footprint;
use crate::correlate::hops::{Arrow, ArrowKind, arrows};
use crate::detect::{Analysis, Finding};
use crate::ingest::{FileStatus, IngestReport};
use crate::present::contract;
use crate::present::step::step_text;
use crate::record::{Record, format_ts};

use super::sanitize::{for_terminal, truncate};

/// `timeline ID --json` (see [`contract::Timeline`]).
pub fn timeline_json(fp: &Footprint, findings: &[Finding]) -> String {
    let arrows = contract::Arrows::of(&fp.records);
    serde_json::to_string(&contract::Timeline::of(fp, findings, &arrows))
        .expect("the timeline contract serialises")
}

/// The arrows of a timeline by the entry each ends at.
fn arrows_into(records: &[Record]) -> std::collections::HashMap<usize, Arrow> {
    arrows(records).into_iter().map(|a| (a.to, a)).collect()
}

pub use contract::skew_ms;

/// How far a clock ran off, in words: `250.5 ms ahead`.
pub fn skew_words(skew: crate::record::Micros) -> String {
    let way = if skew > 0 { "ahead" } else { "behind" };
    format!("{:.1} ms {way}", skew.unsigned_abs() as f64 / 1000.0)
}

/// Time as `HH:MM:SS.mmm`, for views that show the date once (the
/// timeline table's heading, the TUI's header).
pub fn clock(ts: i64) -> String {
    let full = format_ts(ts);
    full.get(11..23).unwrap_or(&full).to_string()
}

pub fn timeline_table(fp: &Footprint, findings: &[Finding], width: Option<usize>) -> String {
    let mut out = String::new();
    let services = fp.services();
    let _ = writeln!(
        out,
        "event {} — {} records, {} services, {} IDs followed",
        for_terminal(&fp.query),
        fp.records.len(),
        services.len(),
        fp.ids.len()
    );
    if let Some(first) = fp.records.first() {
        let ts = format_ts(first.ts);
        let _ = writeln!(out, "date  {}", ts.get(..10).unwrap_or(&ts));
    }
    if !fp.hubs.is_empty() {
        let hubs: Vec<String> = fp
            .hubs
            .iter()
            .map(|h| format!("{}={} ({} records)", h.id.field, h.id.value, h.carriers))
            .collect();
        let _ = writeln!(
            out,
            "hub IDs not followed: {}",
            for_terminal(&hubs.join(", "))
        );
    }
    if fp.truncated {
        let _ = writeln!(out, "footprint cut at {} records", fp.records.len());
    }
    if !fp.events.is_empty() {
        let named: Vec<String> = fp
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| format!("[{}] {}={}", i + 1, e.field, e.value))
            .collect();
        let _ = writeln!(
            out,
            "{} events used this key, each marked: {}",
            fp.events.len(),
            for_terminal(&named.join(", "))
        );
    }
    let svc_w = services
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, 24);
    let src_w = fp
        .records
        .iter()
        .map(|r| r.source.to_string().chars().count())
        .max()
        .unwrap_or(6)
        .min(48);
    // time(12) + skew(1) + 1 + svc + 2 + marker(1) + 1 + msg + 2 + src
    let msg_w = width
        .map(|w| w.saturating_sub(12 + 2 + svc_w + 2 + 2 + 2 + src_w).max(20))
        .unwrap_or(usize::MAX);
    let _ = writeln!(
        out,
        "{:<12}  {:<svc_w$}  M {:<mw$}  SOURCE",
        "TIME",
        "SERVICE",
        "MESSAGE",
        mw = msg_w.min(60)
    );
    let into = arrows_into(&fp.records);
    for (k, r) in fp.records.iter().enumerate() {
        // An arrow the data shows leads the message: `← caller:` for a call,
        // `↩ callee:` for a reply.
        let msg = match into.get(&k) {
            Some(a) => format!(
                "{} {}: {}",
                if a.kind == ArrowKind::Call {
                    '←'
                } else {
                    '↩'
                },
                fp.records[a.from].service,
                step_text(r)
            ),
            None => step_text(r).into_owned(),
        };
        let msg = match fp.event_of.get(k) {
            Some(e) if !fp.events.is_empty() => format!("[{}] {msg}", e + 1),
            _ => msg,
        };
        let msg = for_terminal(&msg);
        let msg = truncate(&msg, msg_w);
        let _ = writeln!(
            out,
            "{:<12}{} {:<svc_w$}  {} {:<mw$}  {}",
            clock(r.ts),
            if r.skew != 0 { '~' } else { ' ' },
            truncate(&for_terminal(&r.service), svc_w),
            if r.mutation { '●' } else { ' ' },
            msg,
            for_terminal(&r.source.to_string()),
            mw = msg_w.min(60)
        );
    }
    for (instance, skew) in crate::correlate::clock::corrected_instances(&fp.records) {
        let _ = writeln!(
            out,
            "~ {}: clock {}, times corrected",
            for_terminal(instance),
            skew_words(skew)
        );
    }
    if !findings.is_empty() {
        let _ = writeln!(out, "\nfindings:");
        out.push_str(&findings_table(findings));
    }
    out
}

pub fn findings_table(findings: &[Finding]) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str("no findings\n");
        return out;
    }
    for f in findings {
        let _ = writeln!(
            out,
            "{:<8}  {:<21}  {}",
            f.severity.as_str(),
            f.kind.as_str(),
            for_terminal(&f.summary)
        );
        let evidence: Vec<String> = f.evidence.iter().map(|e| e.to_string()).collect();
        let _ = writeln!(
            out,
            "{:<8}  {:<21}  evidence: {}",
            "",
            "",
            for_terminal(&evidence.join(", "))
        );
    }
    out
}

pub fn findings_jsonl(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&serde_json::to_string(f).expect("finding serialises"));
        out.push('\n');
    }
    out
}

/// The events at `shown` (positions in `a.events.events`), as a table.
pub fn events_table(a: &Analysis, shown: &[usize]) -> String {
    let mut out = String::new();
    // IDs whole, so they paste back into `timeline`: the column is as wide
    // as the longest (a longer one than the cap pushes its row over).
    let id_w = shown
        .iter()
        .map(|&i| a.events.events[i].key.value.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 48);
    let _ = writeln!(
        out,
        "{:<id_w$}  {:<23}  {:>7}  {:<8}  SERVICES",
        "EVENT", "FIRST", "RECORDS", "FINDINGS"
    );
    for &i in shown {
        let e = &a.events.events[i];
        let kinds: Vec<&str> = a.findings_of(i).map(|f| f.kind.as_str()).collect();
        // Cut by characters: a time outside four-digit years is longer.
        let first: String = format_ts(e.first_ts).chars().take(23).collect();
        let _ = writeln!(
            out,
            "{:<id_w$}  {:<23}  {:>7}  {:<8}  {}{}",
            for_terminal(&e.key.value),
            first,
            e.records,
            kinds.len(),
            for_terminal(&e.services.join(",")),
            if kinds.is_empty() {
                String::new()
            } else {
                format!("  [{}]", kinds.join(","))
            }
        );
    }
    out
}

/// The events at `shown`, one JSON object a line (see
/// [`contract::Event`]).
pub fn events_jsonl(a: &Analysis, shown: &[usize]) -> String {
    let mut out = String::new();
    for &i in shown {
        out.push_str(
            &serde_json::to_string(&contract::Event::of(a, i))
                .expect("the event contract serialises"),
        );
        out.push('\n');
    }
    out
}

pub fn ingest_summary(
    report: &IngestReport,
    index_dir: &std::path::Path,
    list_malformed: bool,
) -> String {
    let mut out = String::new();
    if report.config_changed {
        out.push_str(
            "the configuration changed since the last ingest: every file was read again under it\n",
        );
    }
    let path_w = report
        .files
        .iter()
        .map(|f| f.path.chars().count())
        .max()
        .unwrap_or(4)
        .min(60);
    for f in &report.files {
        let status = match f.status {
            FileStatus::New => "new",
            FileStatus::Grown => "grown",
            FileStatus::Replaced => "replaced",
            FileStatus::Unchanged => "unchanged",
            FileStatus::Skipped => "skipped",
        };
        let detail = if f.status == FileStatus::Skipped {
            for_terminal(&f.why).into_owned()
        } else {
            let mut d = format!("{:>7} records", f.records);
            if f.malformed > 0 {
                d.push_str(&format!(", {} malformed", f.malformed));
            }
            d
        };
        let _ = writeln!(
            out,
            "  {:<path_w$}  {:<13}  {:<9}  {}",
            for_terminal(&f.path),
            f.dialect.as_str(),
            status,
            detail
        );
    }
    let read = report
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Skipped)
        .count();
    let _ = writeln!(
        out,
        "{} files read, {} skipped; {} records added, {} in the index ({})",
        read,
        report.files.len() - read,
        report.records_added,
        report.records_total,
        index_dir.display()
    );
    if let Some(a) = &report.analysis {
        let _ = if a.kept_already {
            writeln!(
                out,
                "analysis unchanged: {} events, {} findings (`hopline findings` lists them)",
                a.events, a.findings
            )
        } else {
            writeln!(
                out,
                "analysed in {:.1} s: {} events, {} findings, kept with the index (`hopline findings` lists them)",
                a.seconds, a.events, a.findings
            )
        };
    }
    if report.malformed_total > 0 {
        let reasons: Vec<String> = report
            .malformed_by_reason
            .iter()
            .map(|(r, n)| format!("{r}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "{} malformed lines ({}){}",
            report.malformed_total,
            reasons.join(", "),
            if list_malformed {
                ":"
            } else {
                " — list them with --report"
            }
        );
        if list_malformed {
            for (src, why) in &report.malformed {
                let _ = writeln!(
                    out,
                    "{}: {}",
                    for_terminal(&src.to_string()),
                    for_terminal(why)
                );
            }
            if (report.malformed.len() as u64) < report.malformed_total {
                let _ = writeln!(
                    out,
                    "… and {} more",
                    report.malformed_total - report.malformed.len() as u64
                );
            }
        }
    }
    out
}

/// `metrics` as tables: tasks by state with their durations, then the
/// idempotency table's rows by status.
pub fn metrics_table(m: &crate::analysis::metrics::Metrics) -> String {
    use crate::analysis::metrics::STATES;
    let mut out = String::new();
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    if m.tasks.is_empty() {
        out.push_str("no task events\n");
    } else {
        let name_w = m
            .tasks
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = write!(out, "{:<name_w$}", "TASK");
        for s in STATES {
            let _ = write!(out, "  {:>9}", s.to_uppercase());
        }
        let _ = writeln!(out, "  {:>14}  {:>14}", "WAIT ms p50/p99", "RUN ms p50/p99");
        for (name, t) in &m.tasks {
            let _ = write!(out, "{:<name_w$}", for_terminal(name));
            for s in STATES {
                let _ = write!(out, "  {:>9}", t.counts.get(s).copied().unwrap_or(0));
            }
            let _ = writeln!(
                out,
                "  {:>14}  {:>14}",
                format!("{}/{}", ms(t.queue_wait_ms.p50), ms(t.queue_wait_ms.p99)),
                format!("{}/{}", ms(t.runtime_ms.p50), ms(t.runtime_ms.p99))
            );
        }
    }
    if !m.idempotency.rows_by_status.is_empty() {
        let rows: Vec<String> = m
            .idempotency
            .rows_by_status
            .iter()
            .map(|(s, n)| {
                format!(
                    "{}: {n}",
                    for_terminal(if s.is_empty() { "(none)" } else { s })
                )
            })
            .collect();
        let _ = writeln!(out, "\nidempotency rows by status: {}", rows.join(", "));
    }
    let idem = &m.idempotency;
    if idem.existing_key_arrivals > 0 {
        let _ = writeln!(
            out,
            "requests that arrived with a key already seen: {} (median per minute {})",
            idem.existing_key_arrivals, idem.median_minute
        );
        for s in &idem.spikes {
            let when = if s.from == s.to {
                format!("the minute from {}", s.from)
            } else {
                format!("{} to {}", s.from, s.to)
            };
            let _ = writeln!(
                out,
                "  spike, {when}: {} arrivals, {} in the busiest minute",
                s.arrivals, s.peak
            );
        }
    }
    let o = &m.outcomes;
    if o.events > 0 {
        let pct = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{:.2}%", r * 100.0));
        let _ = writeln!(
            out,
            "\noutcomes: {} events, {} with a side effect, {} duplicated ({})",
            o.events,
            o.with_side_effect,
            o.with_duplicate_side_effect,
            pct(o.duplicate_side_effect_rate)
        );
        let flow_w = o
            .workflows
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(8)
            .clamp(8, 60);
        let _ = writeln!(
            out,
            "{:<flow_w$}  {:>7}  {:>18}  {:>22}",
            "WORKFLOW", "EVENTS", "DUPLICATED", "ACCEPTED→DONE p50/p99"
        );
        for (name, w) in &o.workflows {
            let name: String = for_terminal(name).chars().take(flow_w).collect();
            let _ = writeln!(
                out,
                "{name:<flow_w$}  {:>7}  {:>18}  {:>22}",
                w.events,
                format!(
                    "{} ({})",
                    w.with_duplicate_side_effect,
                    pct(w.duplicate_side_effect_rate)
                ),
                format!(
                    "{}/{} ms",
                    ms(w.accepted_to_completed_ms.p50),
                    ms(w.accepted_to_completed_ms.p99)
                )
            );
        }
    }
    out
}

/// `hopline diff` for a terminal: one section per kind of change, only
/// what changed.
pub fn diff_text(d: &crate::analysis::diff::Diff) -> String {
    let mut out = String::new();
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            for_terminal(&v.join(", ")).into_owned()
        }
    };
    // Three decimals at most: `463.74199999999996` says nothing more.
    let num = |v: Option<f64>| {
        v.map_or("-".to_string(), |v| {
            let s = format!("{v:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        })
    };
    let _ = writeln!(
        out,
        "A {}: {} records, {} events, {} findings",
        for_terminal(&d.a.label),
        d.a.records,
        d.a.events,
        d.a.findings
    );
    let _ = writeln!(
        out,
        "B {}: {} records, {} events, {} findings",
        for_terminal(&d.b.label),
        d.b.records,
        d.b.events,
        d.b.findings
    );
    if d.is_empty() {
        out.push_str(
            "\nno differences in config, findings, tasks, outcomes, templates or payload shapes\n",
        );
        return out;
    }
    if !d.config.is_empty() {
        out.push_str("\nconfig\n");
        for c in &d.config {
            let _ = writeln!(
                out,
                "  {}: {} {} -> {}",
                for_terminal(&c.service),
                for_terminal(&c.fingerprint.what),
                list(&c.fingerprint.a),
                list(&c.fingerprint.b)
            );
            for s in &c.settings {
                let _ = writeln!(
                    out,
                    "    {}: {} -> {}",
                    for_terminal(&s.what),
                    list(&s.a),
                    list(&s.b)
                );
            }
        }
    }
    if !d.findings.is_empty() {
        out.push_str("\nfindings\n");
        for f in &d.findings {
            let _ = writeln!(out, "  {}: {} -> {}", f.what, f.a, f.b);
        }
    }
    if !d.tasks.is_empty() {
        out.push_str("\ntasks\n");
        for t in &d.tasks {
            let _ = writeln!(
                out,
                "  {} {}: {} -> {}",
                for_terminal(&t.task),
                t.what,
                num(t.a),
                num(t.b)
            );
        }
    }
    if !d.outcomes.is_empty() {
        out.push_str("\noutcomes\n");
        for o in &d.outcomes {
            let _ = writeln!(
                out,
                "  {}: {} -> {}",
                for_terminal(&o.what),
                num(o.a),
                num(o.b)
            );
        }
    }
    for (title, v) in [
        ("new templates", &d.templates.new),
        ("gone templates", &d.templates.gone),
    ] {
        if !v.is_empty() {
            let _ = writeln!(out, "\n{title}");
            for t in v.iter() {
                let _ = writeln!(
                    out,
                    "  {} \"{}\" ({} record{})",
                    for_terminal(&t.service),
                    for_terminal(&t.template),
                    t.records,
                    if t.records == 1 { "" } else { "s" }
                );
            }
        }
    }
    if !d.shapes.is_empty() {
        out.push_str("\npayload shapes\n");
        for s in &d.shapes {
            let fields = |k: &str| {
                s[k].as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(|f| f["field"].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let changes: Vec<String> = ["added", "removed", "retyped"]
                .iter()
                .map(|k| (k, fields(k)))
                .filter(|(_, f)| !f.is_empty())
                .map(|(k, f)| format!("{k} {f}"))
                .collect();
            let _ = writeln!(
                out,
                "  {} \"{}\": {}",
                for_terminal(s["service"].as_str().unwrap_or("")),
                for_terminal(s["template"].as_str().unwrap_or("")),
                for_terminal(&changes.join("; "))
            );
        }
    }
    out
}
