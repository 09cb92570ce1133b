//! The postmortem as GitHub-flavoured markdown, written from the export
//! model: summary, findings with evidence, a timeline table, a Mermaid
//! sequence diagram of the hops, the idempotency rows and task events,
//! marks and notes, and the command that reproduces it. Deterministic: the
//! same model gives the same bytes. All text arrives redacted; here it is
//! only escaped, so log text cannot break a table or inject markup.

use std::fmt::Write as _;

use super::model::{EventReport, IncidentReport, Step};

/// Escapes text for a GFM table cell: pipes, backticks and HTML cannot
/// break the table or inject markup; newlines become spaces.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text for a Mermaid participant name, message or note. Mermaid has no
/// string quoting in sequence diagrams: `;` ends a statement, `#` starts an
/// entity, `:` splits a message, and `<`/`>`/`"` can open markup, so each is
/// written as an entity code; `-`, `+` and `>` right after an arrow would
/// change its meaning, so text never starts with them.
pub fn mermaid_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(80) {
        match c {
            ';' => out.push_str("#59;"),
            '#' => out.push_str("#35;"),
            ':' => out.push_str("#58;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '%' => out.push_str("#37;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    let out = out.trim().to_string();
    if out.is_empty() || out.starts_with(['-', '+', '>']) {
        format!("_{out}")
    } else {
        out
    }
}

/// Text inside a code span: a backtick would end it, a pipe would end a cell.
fn code(s: &str) -> String {
    s.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn table(out: &mut String, header: &[&str]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
}

fn timeline_table(out: &mut String, steps: &[Step]) {
    table(
        out,
        &["Time (UTC)", "Service", "Step", "Mutation", "Source"],
    );
    for s in steps {
        let mut step = cell(&s.step);
        if let Some(note) = &s.mark {
            step.push_str(" 📌");
            if !note.is_empty() {
                let _ = write!(step, " _{}_", cell(note));
            }
        }
        let skew = if s.skew_ms != 0 {
            format!(" (skew {:+} ms)", s.skew_ms)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {}{skew} | {} | {} | {} | `{}` |",
            s.ts,
            cell(&s.service),
            step,
            if s.mutation { "yes" } else { "" },
            code(&s.source)
        );
    }
    out.push('\n');
}

fn sequence(out: &mut String, services: &[String], steps: &[Step]) {
    out.push_str("```mermaid\nsequenceDiagram\n");
    for (i, s) in services.iter().enumerate() {
        let _ = writeln!(out, "    participant p{i} as {}", mermaid_text(s));
    }
    let lane = |s: &str| services.iter().position(|x| x == s).unwrap_or(0);
    // Only the arrows the data shows (a call, a reply); a step that is
    // neither is drawn only when it changed state, as a note on its lane.
    for s in steps {
        let to = lane(&s.service);
        if let Some(a) = &s.arrow {
            let line = match a.kind {
                crate::correlate::hops::ArrowKind::Call => "->>",
                crate::correlate::hops::ArrowKind::Reply => "-->>",
            };
            let _ = writeln!(
                out,
                "    p{}{line}p{to}: {}",
                lane(&a.from_service),
                mermaid_text(&s.step)
            );
        }
        if s.mutation {
            let _ = writeln!(out, "    Note over p{to}: {}", mermaid_text(&s.step));
        }
    }
    out.push_str("```\n\n");
}

fn event_body(out: &mut String, e: &EventReport, depth: &str) {
    if !e.findings.is_empty() {
        let _ = writeln!(out, "{depth} Findings\n");
        table(out, &["Severity", "Kind", "What happened", "Evidence"]);
        for f in &e.findings {
            let evidence: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("`{}`", code(&e.source)))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                f.severity,
                f.kind,
                cell(&f.summary),
                evidence.join(", ")
            );
        }
        out.push('\n');
        for f in &e.findings {
            let _ = writeln!(out, "Evidence for `{}`:\n", f.kind);
            for ev in &f.evidence {
                let _ = writeln!(out, "- `{}`: `{}`", code(&ev.source), code(&ev.text));
            }
            out.push('\n');
        }
    }

    if !e.ids.is_empty() {
        let _ = writeln!(out, "{depth} IDs followed\n");
        // By field, in the order the footprint reached them.
        let mut fields: Vec<(&str, Vec<String>)> = Vec::new();
        for id in &e.ids {
            let value = format!("`{}`", code(&id.value));
            match fields.iter_mut().find(|(f, _)| *f == id.field) {
                Some((_, values)) => values.push(value),
                None => fields.push((&id.field, vec![value])),
            }
        }
        for (field, values) in fields {
            let _ = writeln!(out, "- `{}`: {}", code(field), values.join(", "));
        }
        out.push('\n');
    }

    let _ = writeln!(out, "{depth} Timeline\n");
    timeline_table(out, &e.timeline);

    let _ = writeln!(out, "{depth} Sequence\n");
    sequence(out, &e.services, &e.timeline);

    let state: Vec<&Step> = e
        .timeline
        .iter()
        .filter(|s| matches!(s.kind, "idem_row" | "task_event"))
        .collect();
    if !state.is_empty() {
        let _ = writeln!(out, "{depth} Idempotency rows and task events\n");
        table(out, &["Time (UTC)", "Kind", "Record", "Source"]);
        for s in state {
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` |",
                s.ts,
                s.kind,
                cell(&s.step),
                code(&s.source)
            );
        }
        out.push('\n');
    }

    let _ = writeln!(out, "{depth} Clock skew\n");
    if e.clock_skew.is_empty() {
        out.push_str("No source was shifted: times are as the sources wrote them.\n\n");
    } else {
        for note in &e.clock_skew {
            let _ = writeln!(out, "- {}", cell(note));
        }
        out.push('\n');
    }

    if !e.hubs_skipped.is_empty() {
        let _ = writeln!(
            out,
            "{depth} IDs not followed\n\nThese IDs are carried by too many records to belong to one event:\n"
        );
        for h in &e.hubs_skipped {
            let _ = writeln!(
                out,
                "- `{}` = `{}` ({} records)",
                code(&h.field),
                code(&h.value),
                h.records
            );
        }
        out.push('\n');
    }
}

fn marks(out: &mut String, marks: &[super::model::MarkOut], depth: &str) {
    if marks.is_empty() {
        return;
    }
    let _ = writeln!(out, "{depth} Marks and notes\n");
    table(out, &["Time (UTC)", "Step", "Note", "Source"]);
    for m in marks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | `{}` |",
            m.ts.as_deref().unwrap_or(""),
            cell(m.step.as_deref().unwrap_or("")),
            cell(m.note.as_deref().unwrap_or("")),
            code(&m.source)
        );
    }
    out.push('\n');
}

fn reproduce(out: &mut String, command: &str, redaction: &super::model::Redaction) {
    out.push_str("## Reproduce\n\n```sh\n");
    out.push_str(command);
    out.push_str("\n```\n\n");
    let _ = writeln!(out, "_Redaction: {}._", cell(&redaction.sentence()));
}

/// `hopline export ID`.
pub fn event_markdown(e: &EventReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Postmortem: event `{}`\n", code(&e.id));
    out.push_str("## Summary\n\n");
    for s in &e.summary {
        let _ = writeln!(out, "{}", cell(s));
    }
    out.push('\n');
    event_body(&mut out, e, "##");
    marks(&mut out, &e.marks, "##");
    reproduce(&mut out, &e.reproduce, &e.redaction);
    out
}

/// `hopline export --incident`.
pub fn incident_markdown(i: &IncidentReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Incident report: {}\n", cell(&i.title));
    triage(&mut out, i);
    metrics(&mut out, &i.metrics);
    out.push_str("## Summary\n\n");
    for s in &i.summary {
        let _ = writeln!(out, "- {}", cell(s));
    }
    out.push('\n');

    out.push_str("## Findings by kind\n\n");
    if i.findings_by_kind.is_empty() {
        out.push_str("No findings.\n\n");
    } else {
        table(&mut out, &["Severity", "Kind", "Count", "Affected IDs"]);
        for k in &i.findings_by_kind {
            let mut ids: Vec<String> = k
                .affected
                .iter()
                .map(|a| format!("`{}`", code(a)))
                .collect();
            if k.affected_total > k.affected.len() {
                ids.push(format!("and {} more", k.affected_total - k.affected.len()));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                k.severity,
                k.kind,
                k.count,
                ids.join(", ")
            );
        }
        out.push('\n');
    }

    if !i.impact.is_empty() {
        out.push_str("## Impact\n\n");
        table(&mut out, &["Events", "Count"]);
        for m in &i.impact {
            let _ = writeln!(out, "| {} | {} |", cell(m.what), m.count);
        }
        out.push('\n');
    }

    money(&mut out, i);

    if !i.config_drift.is_empty() {
        out.push_str("## Config drift\n\n");
        table(
            &mut out,
            &["Service", "Instance", "Setting", "Value", "Source"],
        );
        for d in &i.config_drift {
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | `{}` |",
                cell(&d.service),
                cell(&d.instance),
                cell(&d.setting),
                code(&d.value),
                code(&d.source)
            );
        }
        out.push('\n');
    }

    config_timeline(&mut out, &i.config_timeline);

    if !i.histogram.is_empty() {
        out.push_str(
            "## Over time\n\nRecords per bucket (`!` marks errors, `F` findings):\n\n```text\n",
        );
        let max = i
            .histogram
            .iter()
            .map(|b| b.records)
            .max()
            .unwrap_or(0)
            .max(1);
        for b in &i.histogram {
            let width = (b.records * 40).div_ceil(max) as usize;
            let _ = writeln!(
                out,
                "{} {:<40} {:>6}{}{}",
                b.start.get(11..19).unwrap_or(&b.start),
                "█".repeat(width),
                b.records,
                if b.errors > 0 {
                    format!(" !{}", b.errors)
                } else {
                    String::new()
                },
                if b.findings > 0 {
                    format!(" F{}", b.findings)
                } else {
                    String::new()
                },
            );
        }
        out.push_str("```\n\n");
    }

    for (kind, e) in &i.representatives {
        let _ = writeln!(out, "## Representative `{kind}`: event `{}`\n", code(&e.id));
        for s in &e.summary {
            let _ = writeln!(out, "{}", cell(s));
        }
        out.push('\n');
        event_body(&mut out, e, "###");
    }
    marks(&mut out, &i.marks, "##");
    out.push_str("## Action items\n\n| Action | Owner | Due |\n|---|---|---|\n| | | |\n\n");
    reproduce(&mut out, &i.reproduce, &i.redaction);
    out
}

fn triage(out: &mut String, i: &IncidentReport) {
    if i.triage.is_empty() {
        return;
    }
    out.push_str("## Triage checklist\n\n");
    table(out, &["#", "Check", "Verdict", "Count", "Status"]);
    for (n, t) in i.triage.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            n + 1,
            cell(t.step),
            cell(&t.verdict),
            t.count,
            match (t.applies, t.alarm) {
                (false, _) => "n/a (no data)",
                (_, true) => "**look**",
                _ => "ok",
            }
        );
    }
    out.push('\n');
}

fn ms(p: &crate::analysis::metrics::Percentiles) -> String {
    let v = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.0}"));
    format!("{} / {}", v(p.p50), v(p.p99))
}

fn metrics(out: &mut String, m: &super::model::MetricsOut) {
    if m.tasks.is_empty() && m.rows_by_status.is_empty() && m.workflows.is_empty() {
        return;
    }
    out.push_str("## Metrics\n\n");
    if !m.tasks.is_empty() {
        let mut header = vec!["Task"];
        header.extend(crate::analysis::metrics::STATES);
        header.extend(["Queue wait p50 / p99 (ms)", "Runtime p50 / p99 (ms)"]);
        table(out, &header);
        for t in &m.tasks {
            let counts: Vec<String> = t.counts.iter().map(|(_, n)| n.to_string()).collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                code(&t.task),
                counts.join(" | "),
                ms(&t.queue_wait_ms),
                ms(&t.runtime_ms)
            );
        }
        out.push('\n');
    }
    if !m.rows_by_status.is_empty() {
        let rows: Vec<String> = m
            .rows_by_status
            .iter()
            .map(|(s, n)| format!("{} {n}", if s.is_empty() { "(none)" } else { s }))
            .collect();
        let _ = writeln!(
            out,
            "Idempotency rows by status: {}. Requests that arrived with an existing key: {}.\n",
            cell(&rows.join(", ")),
            m.existing_key_arrivals
        );
        for s in &m.spikes {
            let _ = writeln!(
                out,
                "- Spike {} to {}: {} arrivals, {} in the busiest minute",
                s.from, s.to, s.arrivals, s.peak
            );
        }
        if !m.spikes.is_empty() {
            out.push('\n');
        }
    }
    if !m.workflows.is_empty() {
        table(
            out,
            &[
                "Workflow",
                "Events",
                "With a side effect",
                "Duplicated",
                "Accepted to completed p50 / p99 (ms)",
            ],
        );
        for w in &m.workflows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&w.workflow),
                w.events,
                w.with_side_effect,
                w.with_duplicate_side_effect,
                ms(&w.accepted_to_completed_ms)
            );
        }
        out.push('\n');
    }
}

fn money(out: &mut String, i: &IncidentReport) {
    if i.extra_charges.is_empty() {
        return;
    }
    out.push_str("## Money impact\n\nSide effects done once too often, each after the first of its event (the ones to refund):\n\n");
    table(
        out,
        &["Event", "Object", "Amount", "Field", "Currency", "Source"],
    );
    for c in &i.extra_charges {
        let object = c
            .object
            .as_ref()
            .map_or(String::new(), |(f, v)| format!("{} `{}`", cell(f), code(v)));
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | `{}` | {} | `{}` |",
            code(&c.event),
            object,
            cell(c.amount.as_deref().unwrap_or("")),
            code(c.field.as_deref().unwrap_or("")),
            cell(c.currency.as_deref().unwrap_or("")),
            code(&c.source)
        );
    }
    out.push('\n');
    for t in &i.money_totals {
        let _ = writeln!(
            out,
            "- {}: {} over {} charge{}",
            cell(&t.currency),
            cell(&t.total),
            t.charges,
            if t.charges == 1 { "" } else { "s" }
        );
    }
    out.push_str("\nAmounts in fields named for minor units (`amount_minor`, `amount_cents`, or with a `unit` field) are shown in major units; any other amount is as the service logged it, in its own unit (payment APIs often log cents under `amount`).\n\n");
}

fn config_timeline(out: &mut String, lines: &[super::model::ConfigLine]) {
    if lines.is_empty() {
        return;
    }
    out.push_str("## Config changes\n\nEvery start and reload that logged its config (a fingerprint, or the settings themselves, which hopline fingerprints), in time order; **changed** marks a new value for its instance (a deploy, a mitigation) and what changed:\n\n");
    table(
        out,
        &[
            "Time (UTC)",
            "Service",
            "Instance",
            "Setting",
            "Value",
            "Changed",
            "Source",
        ],
    );
    for l in lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | `{}` | {} | `{}` |",
            l.ts,
            cell(&l.service),
            cell(&l.instance),
            cell(&l.setting),
            code(&l.value),
            if l.changed {
                format!("**changed** {}", cell(&l.changes.join(", ")))
            } else {
                String::new()
            },
            code(&l.source)
        );
    }
    out.push('\n');
}
