//! The postmortem as GitHub-flavoured markdown: summary, findings with
//! evidence, a timeline table, a Mermaid sequence diagram of the hops, the
//! idempotency rows and task events, and the command that reproduces it.
//! Deterministic: the same index gives the same bytes.

use std::fmt::Write as _;

use crate::correlate::Footprint;
use crate::detect::Finding;
use crate::record::{Kind, Record, format_ts};

use super::redact::Redactor;

pub struct ExportInput<'a> {
    pub footprint: &'a Footprint,
    pub findings: &'a [Finding],
    /// How to run this again, shown at the end.
    pub reproduce: String,
    pub redact: bool,
}

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

/// Text for a Mermaid message or note: `;` and `#` end or escape a
/// statement in Mermaid, so they are written as entity codes.
fn mermaid_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(80) {
        match c {
            ';' => out.push_str("#59;"),
            '#' => out.push_str("#35;"),
            ':' => out.push_str("#58;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a code span: a backtick would end it, a pipe would end a cell.
fn code(s: &str) -> String {
    s.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn duration(micros: i64) -> String {
    let ms = micros / 1000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

pub fn postmortem(input: &ExportInput<'_>) -> String {
    let mut red = Redactor::default();
    let mut r = |s: &str| {
        if input.redact {
            red.redact(s)
        } else {
            s.to_string()
        }
    };
    let fp = input.footprint;
    let mut out = String::new();
    let services = fp.services();
    let _ = writeln!(out, "# Postmortem: event `{}`\n", code(&fp.query));

    out.push_str("## Summary\n\n");
    if let (Some(first), Some(last)) = (fp.records.first(), fp.records.last()) {
        let _ = writeln!(
            out,
            "The event was followed across {} records and {} services ({}) from {} to {} UTC ({}), through {} IDs.",
            fp.records.len(),
            services.len(),
            cell(&services.join(", ")),
            format_ts(first.ts),
            format_ts(last.ts),
            duration(last.ts - first.ts),
            fp.ids.len()
        );
        let mutations = fp.records.iter().filter(|r| r.mutation).count();
        let _ = writeln!(out, "It made {mutations} state mutations.");
    } else {
        out.push_str("No record carries this ID.\n");
    }
    if input.findings.is_empty() {
        out.push_str("No findings: nothing in this event looks anomalous.\n");
    } else {
        let kinds: Vec<&str> = input.findings.iter().map(|f| f.kind.as_str()).collect();
        let _ = writeln!(
            out,
            "{} findings: {}.",
            input.findings.len(),
            kinds.join(", ")
        );
    }
    out.push('\n');

    if !input.findings.is_empty() {
        out.push_str(
            "## Findings\n\n| Severity | Kind | What happened | Evidence |\n|---|---|---|---|\n",
        );
        for f in input.findings {
            let evidence: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("`{}`", code(&e.to_string())))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                f.severity.as_str(),
                f.kind.as_str(),
                cell(&r(&f.summary)),
                evidence.join(", ")
            );
        }
        out.push('\n');
    }

    out.push_str("## Timeline\n\n| Time (UTC) | Service | Step | Mutation | Source |\n|---|---|---|---|---|\n");
    for rec in &fp.records {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | `{}` |",
            format_ts(rec.ts),
            cell(&rec.service),
            cell(&r(&rec.message)),
            if rec.mutation { "yes" } else { "" },
            code(&rec.source.to_string())
        );
    }
    out.push('\n');

    out.push_str("## Sequence\n\n```mermaid\nsequenceDiagram\n");
    for (i, s) in services.iter().enumerate() {
        let _ = writeln!(out, "    participant p{i} as {}", mermaid_text(s));
    }
    let lane = |s: &str| services.iter().position(|x| x == s).unwrap_or(0);
    let mut prev: Option<&Record> = None;
    for rec in &fp.records {
        let to = lane(&rec.service);
        if let Some(p) = prev
            && p.service != rec.service
        {
            let _ = writeln!(
                out,
                "    p{}->>p{to}: {}",
                lane(&p.service),
                mermaid_text(&r(&rec.message))
            );
        }
        if rec.mutation {
            let _ = writeln!(
                out,
                "    Note over p{to}: {}",
                mermaid_text(&r(&rec.message))
            );
        }
        prev = Some(rec);
    }
    out.push_str("```\n\n");

    let state: Vec<&Record> = fp
        .records
        .iter()
        .filter(|r| matches!(r.kind, Kind::IdemRow | Kind::TaskEvent))
        .collect();
    if !state.is_empty() {
        out.push_str("## Idempotency rows and task events\n\n| Time (UTC) | Kind | Record | Source |\n|---|---|---|---|\n");
        for rec in state {
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` |",
                format_ts(rec.ts),
                rec.kind.as_str(),
                cell(&r(&rec.message)),
                code(&rec.source.to_string())
            );
        }
        out.push('\n');
    }

    if !fp.hubs.is_empty() {
        out.push_str("## IDs not followed\n\nThese IDs are carried by too many records to belong to one event:\n\n");
        for h in &fp.hubs {
            let _ = writeln!(
                out,
                "- `{}` = `{}` ({} records)",
                code(&h.id.field),
                code(&h.id.value),
                h.carriers
            );
        }
        out.push('\n');
    }

    out.push_str("## Reproduce\n\n```sh\n");
    out.push_str(&input.reproduce);
    out.push_str("\n```\n\n");
    let _ = writeln!(
        out,
        "_Redaction: {}._",
        if input.redact {
            red.summary()
        } else {
            "off (--no-redact)".into()
        }
    );
    out
}
