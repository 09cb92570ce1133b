//! `hopline export`: a postmortem of one event or of the whole incident, as
//! markdown or JSON from one model, redacted by default.

pub mod markdown;
pub mod model;
pub mod redact;

pub use markdown::{event_markdown, incident_markdown};
pub use model::{EventInput, IncidentInput, Scrub, event_report, incident_report};
pub use redact::Redactor;

use std::collections::HashMap;

use crate::config::Config;
use crate::correlate::{HubRule, event_records as event_records_of, footprint};
use crate::detect::{Analysis, FindingKind, footprint_findings};
use crate::index::marks::Marks;
use crate::index::{IndexError, RecordIndex};
use crate::record::{Record, SourceRef};

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
}

fn scrub_for(config: &Config, redact: bool) -> Scrub {
    Scrub::new(redact.then(|| Redactor::with_rules(&config.redact)))
}

fn marks_of(index: &RecordIndex) -> Result<Marks, IndexError> {
    Marks::load(index.dir()).map_err(|source| IndexError::Io {
        path: index.dir().join("marks.json"),
        source,
    })
}

/// One event's report straight from the index: what `hopline export ID`
/// and the TUI's `e` both write. None when no record carries `id`.
pub fn event_from_index(
    index: &RecordIndex,
    id: &str,
    config: &Config,
    redact: bool,
    window: crate::parse::time::Window,
) -> Result<Option<model::EventReport>, IndexError> {
    let reproduce = format!(
        "{} export {}",
        reproduce_prefix(index, config)?,
        shell_word(id)
    );
    let mut fp = footprint(index, id, HubRule::from_config(config), config)?;
    if fp.records.is_empty() {
        return Ok(None);
    }
    // Findings are the whole event's; their evidence outside the window is
    // quoted as cited records.
    let findings = footprint_findings(&fp, config);
    if fp.narrow_to(&window) && fp.records.is_empty() {
        return Ok(None);
    }
    let marks = marks_of(index)?;
    let cited = cited_records(index, &findings, [&fp.records])?;
    let mut scrub = scrub_for(config, redact);
    Ok(Some(event_report(
        &EventInput {
            id: &fp.query,
            ids: &fp.ids,
            hubs: &fp.hubs,
            records: &fp.records,
            findings: &findings,
            marks: &marks.marks,
            reproduce,
            cited: &cited,
        },
        &mut scrub,
    )))
}

/// The records `findings` cite that none of `held` holds, read back.
fn cited_records<'r>(
    index: &RecordIndex,
    findings: &[crate::detect::Finding],
    held: impl IntoIterator<Item = &'r Vec<Record>>,
) -> Result<Vec<Record>, IndexError> {
    let held: std::collections::HashSet<&SourceRef> = held
        .into_iter()
        .flat_map(|records| records.iter().map(|r| &r.source))
        .collect();
    let mut missing: Vec<SourceRef> = findings
        .iter()
        .flat_map(|f| f.evidence.iter())
        .filter(|s| !held.contains(s))
        .cloned()
        .collect();
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    index.records_at(&missing)
}

/// The whole bundle's report (`hopline export --incident [--kind K]`) from
/// the index's `analysis`, which holds no records: the representative
/// events' records and the marked ones are read back from the index, on the
/// clock that analysis found.
pub fn incident_from_index(
    index: &RecordIndex,
    analysis: &Analysis,
    config: &Config,
    only: Option<FindingKind>,
    redact: bool,
) -> anyhow::Result<model::IncidentReport> {
    // Titled by the bundles ingested into it, by name.
    let title = index
        .manifest()?
        .roots
        .iter()
        .filter_map(|r| std::path::Path::new(r).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" + ");
    let title = if title.is_empty() {
        index.dir().display().to_string()
    } else {
        title
    };
    let mut reproduce = format!("{} export --incident", reproduce_prefix(index, config)?);
    if let Some(k) = only {
        reproduce.push_str(&format!(" --kind {}", k.as_str()));
    }
    let marks = marks_of(index)?;
    let marked_at: Vec<SourceRef> = marks.marks.iter().map(|m| m.source.clone()).collect();
    let mut marked = index.records_at(&marked_at)?;
    crate::correlate::on_clock(&mut marked, &analysis.clock);
    let mut event_records = HashMap::new();
    for (_, e) in model::representative_events(analysis, only) {
        event_records.insert(
            e,
            event_records_of(index, &analysis.events.events[e], config)?,
        );
    }
    let cited_by: Vec<crate::detect::Finding> = event_records
        .keys()
        .flat_map(|&e| analysis.findings_of(e).cloned())
        .collect();
    let cited = cited_records(index, &cited_by, event_records.values())?;
    let metrics = crate::analysis::metrics::metrics(&index.snapshot(), analysis, config)?;
    let triage = crate::analysis::triage::triage(analysis, &metrics);
    let mut duplicated = HashMap::new();
    for (e, _) in analysis.events.events.iter().enumerate() {
        if analysis
            .findings_of(e)
            .any(|f| f.kind == FindingKind::DuplicateSideEffect)
        {
            duplicated.insert(
                e,
                event_records_of(index, &analysis.events.events[e], config)?,
            );
        }
    }
    let mut scrub = scrub_for(config, redact);
    Ok(incident_report(
        &IncidentInput {
            title,
            analysis,
            event_records: &event_records,
            marked: &marked,
            cited: &cited,
            only,
            marks: &marks.marks,
            reproduce,
            metrics: &metrics,
            triage: &triage,
            duplicated: &duplicated,
            config,
        },
        &mut scrub,
    ))
}

/// How to open this index again from the command line: by its bundle (and
/// the configuration file used) when it holds one bundle, else by the
/// index directory.
fn reproduce_prefix(index: &RecordIndex, config: &Config) -> Result<String, IndexError> {
    let roots = index.manifest()?.roots;
    let mut out = match roots.as_slice() {
        [one] => format!("hopline --bundle {}", shell_word(one)),
        _ => format!(
            "hopline --index {}",
            shell_word(&index.dir().display().to_string())
        ),
    };
    if let Some(path) = &config.origin {
        out.push_str(&format!(
            " --config {}",
            shell_word(&path.display().to_string())
        ));
    }
    Ok(out)
}

/// A word a POSIX shell reads back as it is.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%=,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Either report in either format, as the bytes to write.
pub fn render_event(report: &model::EventReport, format: Format) -> String {
    match format {
        Format::Markdown => event_markdown(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
    }
}

pub fn render_incident(report: &model::IncidentReport, format: Format) -> String {
    match format {
        Format::Markdown => incident_markdown(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
    }
}
