//! One function per subcommand: resolve the index and config, call the
//! stages, print. Errors carry context up to `main`, which prints one line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use hopline::config::Config;
use hopline::correlate::footprint;
use hopline::correlate::footprint::HubRule;
use hopline::detect::{Analysis, FindingKind, footprint_findings};
use hopline::index::{ClockState, RecordIndex, location};
use hopline::ingest::{self, AnalysisNote, IngestReport, ingest_pg};
use hopline::parse::sniff::sniff_with;
use hopline::present::sanitize::for_terminal;
use hopline::present::{contract, export, text, tui};
use hopline::sources;
use hopline::sources::postgres::PgTarget;

use crate::cli::{Cli, Command, ExportFormat, Global, Window};

/// Output that fails when the reader has gone (`hopline … | head`): the
/// error reaches `main`, which ends quietly on a broken pipe, instead of
/// `println!` panicking.
macro_rules! outln {
    ($($t:tt)*) => {
        writeln!(std::io::stdout().lock(), $($t)*)?
    };
}
macro_rules! out {
    ($($t:tt)*) => {
        write!(std::io::stdout().lock(), $($t)*)?
    };
}

/// Exit 3: there is nothing to show (no index, unknown ID, nothing read).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NothingFound {
    message: String,
    hint: Option<String>,
}

fn nothing(message: impl Into<String>, hint: Option<&str>) -> anyhow::Error {
    NothingFound {
        message: message.into(),
        hint: hint.map(str::to_string),
    }
    .into()
}

/// What to say of an ID the index holds but does not follow.
fn unfollowed_words(skip: &hopline::correlate::HubSkip) -> String {
    format!(
        "{} is found in {} records as {}, which says who events concern (not followed: each of its events stands alone)",
        skip.id.value, skip.carriers, skip.id.field
    )
}

fn ambiguous(prefix: &str, matches: &[String]) -> anyhow::Error {
    let shown: Vec<&str> = matches.iter().take(10).map(String::as_str).collect();
    let more = if matches.len() > 10 { ", …" } else { "" };
    nothing(
        format!(
            "the prefix {prefix:?} matches several IDs: {}{more}",
            shown.join(", ")
        ),
        Some("type more of the ID"),
    )
}

/// Exit 2: the command line asked for something that does not exist (a
/// finding kind, a format), as clap's own usage errors do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadUsage(String);

pub fn exit_code_for(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<NothingFound>().is_some() {
        3
    } else if e.downcast_ref::<BadUsage>().is_some() {
        2
    } else {
        1
    }
}

/// Says on stderr what a read of `index` cannot vouch for (an ingest
/// running or stopped half way, no records), and returns why, if anything.
fn say_health(index: &RecordIndex) -> Result<Option<String>> {
    let why = index.health()?.why_not(index.dir());
    if let Some(why) = &why {
        eprintln!("hopline: note: {why}");
    }
    Ok(why)
}

pub fn hint_for(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<NothingFound>()
        .and_then(|n| n.hint.clone())
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    match &cli.command {
        Command::Open {
            paths,
            pg,
            pg_table,
            export_dir,
        } => open(
            g,
            paths,
            pg.as_deref(),
            pg_table.as_deref(),
            export_dir.clone(),
        ),
        Command::Ingest {
            paths,
            pg,
            pg_table,
            report,
            no_analysis,
            json,
        } => ingest_cmd(
            g,
            paths,
            pg.as_deref(),
            pg_table.as_deref(),
            IngestOptions {
                list: *report,
                analyse: !*no_analysis,
                json: *json,
            },
        ),
        // A pasted ID often brings a space or a newline along.
        Command::Timeline {
            id,
            json,
            follow,
            window,
        } => timeline(g, id.trim(), *json, *follow, window),
        Command::Findings {
            kind,
            fail_on,
            json,
            window,
        } => findings(g, *kind, fail_on, *json, window),
        Command::Events { json, window } => events(g, *json, window),
        Command::Metrics { json } => metrics_cmd(g, *json),
        Command::Diff { a, b, json } => diff_cmd(g, a, b, *json),
        Command::Export {
            id,
            incident: _,
            kind,
            output,
            format,
            no_redact,
            window,
        } => export_cmd(
            g,
            id.as_deref().map(str::trim),
            *kind,
            output.as_deref(),
            match format {
                ExportFormat::Md => export::Format::Markdown,
                ExportFormat::Json => export::Format::Json,
            },
            !*no_redact,
            window.bounds(),
        ),
        Command::Sniff { paths, json } => sniff_cmd(g, paths, *json),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a failed write,
            // and `hopline completions zsh | head` closes the pipe early.
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "hopline", &mut script);
            std::io::stdout().write_all(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn color_enabled(g: &Global) -> bool {
    !g.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The index for ingesting `roots`: --index, else the bundle's cache entry.
fn index_dir_for_ingest(g: &Global, roots: &[PathBuf]) -> PathBuf {
    g.index
        .clone()
        .unwrap_or_else(|| location::index_dir_for(roots))
}

/// The index a read command uses: --index, --bundle, else the last one.
fn index_for_read(g: &Global) -> Result<RecordIndex> {
    let dir = if let Some(dir) = &g.index {
        dir.clone()
    } else if let Some(bundle) = &g.bundle {
        location::index_dir_for(std::slice::from_ref(bundle))
    } else if let Some(last) = location::last_used() {
        last
    } else {
        return Err(nothing(
            "no index to read",
            Some("run `hopline ingest PATH` first, or pass --index DIR"),
        ));
    };
    if !dir.join("meta.json").is_file() {
        return Err(nothing(
            format!("no index at {}", dir.display()),
            Some("run `hopline ingest PATH` first, or pass --index DIR"),
        ));
    }
    RecordIndex::open_existing(&dir)
        .with_context(|| format!("opening the index at {}", dir.display()))
}

/// --config, else `hopline.toml` at one of the index's bundle roots.
fn config_for(g: &Global, index: Option<&RecordIndex>, roots: &[PathBuf]) -> Result<Config> {
    let mut all_roots: Vec<PathBuf> = roots.iter().filter(|r| r.is_dir()).cloned().collect();
    if let Some(index) = index {
        all_roots.extend(index.manifest()?.roots.iter().map(PathBuf::from));
    }
    Ok(Config::for_bundle(g.config.as_deref(), &all_roots)?)
}

fn progress_bar(total: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} ETA {eta}",
        )
        .expect("progress template"),
    );
    Some(bar)
}

/// The whole-index analysis, with a spinner on a terminal: at ten million
/// records it takes most of a minute.
fn analyse(index: &RecordIndex, config: &Config) -> Result<Analysis> {
    analyse_sourced(index, config).map(|(a, _)| a)
}

/// [`analyse`], saying whether the analysis was kept from an earlier run.
fn analyse_sourced(
    index: &RecordIndex,
    config: &Config,
) -> Result<(Analysis, hopline::analysis::Source)> {
    // Nothing to wait for when it was kept: no spinner flashes by.
    if hopline::analysis::is_kept(index, config) {
        return Ok(hopline::analysis::analyse_with_source(index, config)?);
    }
    let spinner = std::io::stderr().is_terminal().then(|| {
        let s = ProgressBar::new_spinner();
        s.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .expect("spinner template"),
        );
        s.set_message("analysing every event of the index…");
        s.enable_steady_tick(std::time::Duration::from_millis(120));
        s
    });
    let analysis = hopline::analysis::analyse_with_source(index, config);
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    Ok(analysis?)
}

/// True order of one event needs the clock offsets, which only the whole
/// index gives: estimated by the first analysis, then read from disk.
/// Offsets from before the last ingest are used as they are rather than
/// making every timeline after an ingest wait for a whole-index pass (43 s
/// at 10M records).
fn ensure_clock(index: &RecordIndex, config: &Config) -> Result<()> {
    match index.clock_state() {
        ClockState::Current => {}
        ClockState::Stale => eprintln!(
            "hopline: note: clock offsets were estimated before the last ingest; `hopline findings` estimates them again"
        ),
        ClockState::Never => {
            eprintln!(
                "hopline: estimating clock offsets over the whole index (once; `findings` does it too)"
            );
            analyse(index, config)?;
        }
    }
    Ok(())
}

/// `-` reads standard input: it is copied (streaming) to `stdin.log`
/// beside the index, so every record still points at a file and line, and
/// piping the same text again adds nothing.
fn spool_stdin(paths: &[PathBuf], index_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        if p.as_os_str() == "-" {
            let spool = index_dir.join("stdin.log");
            let mut file = std::fs::File::create(&spool)
                .with_context(|| format!("creating {}", spool.display()))?;
            std::io::copy(&mut std::io::stdin().lock(), &mut file)
                .context("reading standard input")?;
            out.push(spool);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn do_ingest(index: &RecordIndex, roots: &[PathBuf], config: &Config) -> Result<IngestReport> {
    let mut bar: Option<ProgressBar> = None;
    let started = std::time::Instant::now();
    // An ingest that was stopped part way goes on from its last commit.
    let resuming = match index.health()? {
        hopline::index::state::Health::Partial(s) => {
            eprintln!(
                "hopline: resuming the ingest that stopped at {} %: what it committed is not read again",
                s.percent()
            );
            "resuming · "
        }
        _ => "",
    };
    let report = ingest::ingest(index, roots, config, &mut |p| {
        let b = bar
            .get_or_insert_with(|| progress_bar(p.bytes_total).unwrap_or_else(ProgressBar::hidden));
        b.set_position(p.bytes_done);
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        b.set_message(format!(
            "{resuming}{} records ({:.0}/s)",
            p.records,
            p.records as f64 / secs
        ));
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(report)
}

struct IngestOptions {
    /// List every malformed line.
    list: bool,
    /// End by analysing the index and keeping the result.
    analyse: bool,
    json: bool,
}

fn ingest_cmd(
    g: &Global,
    paths: &[PathBuf],
    pg: Option<&str>,
    pg_table: Option<&str>,
    options: IngestOptions,
) -> Result<ExitCode> {
    let IngestOptions {
        list,
        analyse: analyse_after,
        json,
    } = options;
    let target = pg.map(PgTarget::parse).transpose()?;
    for w in target.iter().flat_map(|t| &t.warnings) {
        eprintln!("hopline: warning: {w}");
    }
    // A path that is not there is named, the others are still read, and
    // nothing is made of a typo alone.
    let missing: Vec<&PathBuf> = paths
        .iter()
        .filter(|p| p.as_os_str() != "-" && !p.exists())
        .collect();
    for m in &missing {
        eprintln!("hopline: error: {}: no such file or directory", m.display());
    }
    let missing_names = missing
        .iter()
        .map(|m| m.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if !missing.is_empty() && missing.len() == paths.len() && target.is_none() {
        bail!("nothing to ingest: {missing_names} not found");
    }
    let present: Vec<PathBuf> = paths
        .iter()
        .filter(|p| !missing.contains(p))
        .cloned()
        .collect();
    let paths = &present;
    let dir = match (&g.index, paths.is_empty(), &target) {
        (None, true, Some(t)) => {
            location::index_dir_for(&[PathBuf::from(format!("postgres-{}", t.label))])
        }
        _ => index_dir_for_ingest(g, paths),
    };
    let made_here = !dir.exists();
    let index = RecordIndex::open_or_create(&dir)?;
    let paths = &spool_stdin(paths, index.dir())?;
    let config = config_for(g, None, paths)?;
    let mut report = if paths.is_empty() {
        IngestReport::default()
    } else {
        do_ingest(&index, paths, &config)?
    };
    let pg_report = match &target {
        Some(t) => {
            let r = ingest_pg(&index, t, pg_table, &config)?;
            report.records_added += r.records_added;
            report.records_total = r.records_total;
            Some(r)
        }
        None => None,
    };
    if analyse_after && report.records_total > 0 {
        index.refresh()?;
        let started = std::time::Instant::now();
        let (analysis, source) = analyse_sourced(&index, &config)?;
        report.analysis = Some(AnalysisNote {
            events: analysis.events.events.len() as u64,
            findings: analysis.findings.len() as u64,
            seconds: started.elapsed().as_secs_f64(),
            kept_already: source == hopline::analysis::Source::Kept,
        });
    }
    if list && report.records_total > 0 {
        // Everything the index remembers, not only this run's: a rerun
        // that read nothing new still lists what was malformed.
        let remembered = index.malformed()?;
        report.malformed_by_reason = remembered.by_reason;
        report.malformed = remembered.lines;
        report.malformed_total = remembered.total;
    }
    if report.records_total > 0 {
        location::remember_last(&dir);
    } else if made_here {
        drop(index);
        let _ = std::fs::remove_dir_all(&dir);
    }
    if json {
        let out = contract::Ingested {
            report: &report,
            index: dir.display().to_string(),
            malformed: list.then(|| {
                report
                    .malformed
                    .iter()
                    .map(|(s, why)| contract::MalformedLine {
                        line: s.line,
                        path: &s.path,
                        reason: why,
                    })
                    .collect()
            }),
            postgres: pg_report.as_ref(),
        };
        outln!("{}", serde_json::to_string(&out)?);
    } else {
        if let Some(pg) = &pg_report {
            outln!(
                "  {:<30}  {} rows read ({} new records{}), cursor {}",
                pg.source,
                pg.rows_read,
                pg.records_added,
                if pg.malformed > 0 {
                    format!(", {} malformed", pg.malformed)
                } else {
                    String::new()
                },
                pg.cursor.as_deref().unwrap_or("-")
            );
            if list {
                for (row, why) in &pg.malformed_rows {
                    outln!(
                        "{}: row {row}: {}",
                        for_terminal(&pg.source),
                        for_terminal(why)
                    );
                }
            }
        }
        out!("{}", text::ingest_summary(&report, &dir, list));
    }
    if !missing.is_empty() {
        bail!("not found, so not ingested: {missing_names}");
    }
    let read_anything = report.records_total > 0;
    if !read_anything {
        return Err(nothing(
            "nothing could be ingested: no file held a record hopline can read",
            Some("`hopline sniff PATH` shows what each file was taken for and why"),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn open(
    g: &Global,
    paths: &[PathBuf],
    pg: Option<&str>,
    pg_table: Option<&str>,
    export_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let pg = pg.map(PgTarget::parse).transpose()?;
    if let Some(dir) = &export_dir
        && !dir.is_dir()
    {
        return Err(BadUsage(format!("--export-dir {}: not a directory", dir.display())).into());
    }
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or directory", p.display());
        }
    }
    if !std::io::stdout().is_terminal() {
        bail!("`open` needs a terminal; use `ingest`, `timeline` or `findings` in scripts");
    }
    let dir = index_dir_for_ingest(g, paths);
    let index = RecordIndex::open_or_create(&dir)?;
    let config = config_for(g, None, paths)?;
    location::remember_last(&dir);
    let label = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let live = pg.map(|target| tui::LiveTable {
        target,
        table: pg_table.map(str::to_string),
    });
    tui::run(
        index,
        paths.to_vec(),
        live,
        config,
        label,
        color_enabled(g),
        export_dir,
    )?;
    Ok(ExitCode::SUCCESS)
}

fn timeline(g: &Global, id: &str, json: bool, follow: bool, window: &Window) -> Result<ExitCode> {
    let index = index_for_read(g)?;
    say_health(&index)?;
    let config = config_for(g, Some(&index), &[])?;
    ensure_clock(&index, &config)?;
    let rule = HubRule {
        follow_context: follow,
        ..HubRule::from_config(&config)
    };
    let fp = footprint(&index, id, rule, &config)?;
    if !fp.ambiguous.is_empty() {
        return Err(ambiguous(id, &fp.ambiguous));
    }
    if let Some(skip) = &fp.unfollowed {
        return Err(nothing(
            unfollowed_words(skip),
            Some(&format!(
                "follow it with `hopline timeline --follow {}`, or open one of its events from `hopline events`",
                skip.id.value
            )),
        ));
    }
    if fp.records.is_empty() {
        return Err(nothing(
            format!("no record carries the ID {id:?}"),
            Some("`hopline events` lists the events in the index"),
        ));
    }
    // Findings are the whole event's; the window only narrows the entries
    // shown, counted back from the event's newest record.
    let found = footprint_findings(&fp, &config);
    let mut fp = fp;
    if fp.narrow_to(&window.bounds()) && fp.records.is_empty() {
        return Err(nothing(
            format!("no record of {id:?} lies in the window asked for"),
            Some("widen --since/--until, or leave them out"),
        ));
    }
    if json {
        outln!("{}", text::timeline_json(&fp, &found));
    } else {
        let width = terminal_width();
        out!("{}", text::timeline_table(&fp, &found, width));
    }
    Ok(ExitCode::SUCCESS)
}

fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or(Some(120))
}

fn findings(
    g: &Global,
    kind: Option<FindingKind>,
    fail_on: &[FindingKind],
    json: bool,
    window: &Window,
) -> Result<ExitCode> {
    let index = index_for_read(g)?;
    let config = config_for(g, Some(&index), &[])?;
    let unsure = say_health(&index)?;
    let analysis = analyse(&index, &config)?;
    let in_window = events_in_window(&analysis, window);
    let finding_events = analysis.finding_events();
    let shown: Vec<_> = analysis
        .findings
        .iter()
        .zip(&finding_events)
        .filter(|(f, e)| {
            // Findings of no one event (config drift, clock skew) hold for
            // every window.
            kind.is_none_or(|k| f.kind == k) && e.is_none_or(|e| in_window[e])
        })
        .map(|(f, _)| f)
        .cloned()
        .collect();
    // Findings that exist are always shown; an all-clear (none shown, or
    // none of the kinds a gate fails on) only from a whole index.
    if json {
        out!("{}", text::findings_jsonl(&shown));
    } else if !shown.is_empty() || unsure.is_none() {
        out!("{}", text::findings_table(&shown));
    }
    if analysis.findings.iter().any(|f| fail_on.contains(&f.kind)) {
        return Ok(ExitCode::from(4));
    }
    let all_clear = if fail_on.is_empty() {
        shown.is_empty()
    } else {
        true
    };
    match unsure {
        Some(why) if all_clear => Err(nothing(
            format!("no all-clear: {why}"),
            Some(
                "findings found so far are shown; ingest again (or wait for the running ingest) for a whole answer",
            ),
        )),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn events(g: &Global, json: bool, window: &Window) -> Result<ExitCode> {
    let index = index_for_read(g)?;
    say_health(&index)?;
    let config = config_for(g, Some(&index), &[])?;
    let analysis = analyse(&index, &config)?;
    let in_window = events_in_window(&analysis, window);
    let shown: Vec<usize> = (0..analysis.events.events.len())
        .filter(|&e| in_window[e])
        .collect();
    if json {
        out!("{}", text::events_jsonl(&analysis, &shown));
    } else {
        out!("{}", text::events_table(&analysis, &shown));
    }
    Ok(ExitCode::SUCCESS)
}

fn metrics_cmd(g: &Global, json: bool) -> Result<ExitCode> {
    let index = index_for_read(g)?;
    let config = config_for(g, Some(&index), &[])?;
    say_health(&index)?;
    let analysis = analyse(&index, &config)?;
    let m = hopline::analysis::metrics::metrics(&index.snapshot(), &analysis, &config)?;
    if json {
        outln!("{}", serde_json::to_string(&m)?);
    } else {
        out!("{}", text::metrics_table(&m));
    }
    Ok(ExitCode::SUCCESS)
}

/// A bundle's index (ingested first when it has new files), or an index
/// directory as it is, with its configuration.
fn side_index(g: &Global, path: &Path) -> Result<(RecordIndex, Config)> {
    if path.join("meta.json").is_file() {
        let index = RecordIndex::open_existing(path)
            .with_context(|| format!("opening the index at {}", path.display()))?;
        let config = config_for(g, Some(&index), &[])?;
        return Ok((index, config));
    }
    if !path.exists() {
        bail!("{}: no such file or directory", path.display());
    }
    let roots = [path.to_path_buf()];
    let index = RecordIndex::open_or_create(&location::index_dir_for(&roots))?;
    let config = config_for(g, None, &roots)?;
    do_ingest(&index, &roots, &config)?;
    Ok((index, config))
}

fn diff_cmd(g: &Global, a: &Path, b: &Path, json: bool) -> Result<ExitCode> {
    let (ia, ca) = side_index(g, a)?;
    let (ib, cb) = side_index(g, b)?;
    let (aa, ab) = (analyse(&ia, &ca)?, analyse(&ib, &cb)?);
    let ma = hopline::analysis::metrics::metrics(&ia.snapshot(), &aa, &ca)?;
    let mb = hopline::analysis::metrics::metrics(&ib.snapshot(), &ab, &cb)?;
    let side = |label: &Path, index: &RecordIndex, analysis, metrics, config| {
        hopline::analysis::diff::Side {
            label: label.display().to_string(),
            snapshot: index.snapshot(),
            analysis,
            metrics,
            config,
        }
    };
    let d =
        hopline::analysis::diff::diff(&side(a, &ia, &aa, &ma, &ca), &side(b, &ib, &ab, &mb, &cb))?;
    if json {
        outln!("{}", serde_json::to_string(&d)?);
    } else {
        out!("{}", text::diff_text(&d));
    }
    Ok(ExitCode::SUCCESS)
}

/// For each event, whether its span meets the window; durations count
/// back from the newest record of the index (stray far outliers aside).
fn events_in_window(analysis: &Analysis, window: &Window) -> Vec<bool> {
    let events = &analysis.events.events;
    match window.bounds().range(analysis.histogram.last) {
        None => vec![true; events.len()],
        Some((from, to)) => events
            .iter()
            .map(|e| e.first_ts <= to && e.last_ts >= from)
            .collect(),
    }
}

fn export_cmd(
    g: &Global,
    id: Option<&str>,
    only: Option<FindingKind>,
    output: Option<&Path>,
    format: export::Format,
    redact: bool,
    window: hopline::parse::time::Window,
) -> Result<ExitCode> {
    if id.is_none() && window != Default::default() {
        return Err(BadUsage(
            "--since/--until narrow one event's export; the incident report covers the whole index"
                .into(),
        )
        .into());
    }
    let index = index_for_read(g)?;
    say_health(&index)?;
    let config = config_for(g, Some(&index), &[])?;
    let (text, what) = match id {
        Some(id) => {
            ensure_clock(&index, &config)?;
            let Some(report) = export::event_from_index(&index, id, &config, redact, window)?
            else {
                let fp = footprint(&index, id, HubRule::from_config(&config), &config)?;
                return Err(match &fp.unfollowed {
                    Some(skip) => nothing(unfollowed_words(skip), None),
                    None => nothing(format!("no record carries the ID {id:?}"), None),
                });
            };
            let what = format!(
                "{} records, {} findings",
                report.timeline.len(),
                report.findings.len()
            );
            (export::render_event(&report, format), what)
        }
        None => {
            let analysis = analyse(&index, &config)?;
            let report = export::incident_from_index(&index, &analysis, &config, only, redact)?;
            let what = format!(
                "{} records, {} finding kinds",
                report.records,
                report.findings_by_kind.len()
            );
            (export::render_incident(&report, format), what)
        }
    };
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} ({what})", path.display());
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Who the file's first record says it is from, and why (for `sniff`).
fn first_identity(
    dialect: hopline::parse::Dialect,
    head: &[u8],
    rel: &str,
    config: &hopline::config::Config,
) -> Option<String> {
    use hopline::parse::{FileContext, Parsed, normalize, parse_stream};
    let ctx = FileContext::for_path(rel);
    let mut first = None;
    let mut reader = head;
    parse_stream(dialect, &mut reader, 1, &ctx, config, &mut |p| {
        if let (Parsed::Record(r), None) = (p, &first) {
            first = Some(r);
        }
    })
    .ok()?;
    first.map(|r| normalize::explain_identity(&r, &ctx, config))
}

fn sniff_cmd(g: &Global, paths: &[PathBuf], json: bool) -> Result<ExitCode> {
    // The bundle's hopline.toml: its [[formats]] are part of the answer.
    let config = config_for(g, None, paths)?;
    let found = sources::discover(paths);
    for f in &found.files {
        let head = sources::open(f).and_then(|(_, r)| sources::peek(r, 16 << 10));
        let (dialect, why) = match head {
            Ok((head, _)) => {
                let s = sniff_with(&head, &config.formats);
                let why = match first_identity(s.dialect, &head, &f.rel, &config) {
                    Some(identity) => format!("{}; {identity}", s.why),
                    None => s.why,
                };
                (s.dialect.as_str(), why)
            }
            Err(e) => ("unreadable", e.to_string()),
        };
        if json {
            outln!(
                "{}",
                serde_json::to_string(&contract::Sniffed {
                    dialect,
                    path: &f.rel,
                    why: &why,
                })?
            );
        } else {
            outln!(
                "{}  {dialect}  {}",
                for_terminal(&f.rel),
                for_terminal(&why)
            );
        }
    }
    for u in &found.unreadable {
        if json {
            outln!(
                "{}",
                serde_json::to_string(&contract::Sniffed {
                    dialect: "unreadable",
                    path: &u.path,
                    why: &u.why,
                })?
            );
        } else {
            outln!(
                "{}  unreadable  {}",
                for_terminal(&u.path),
                for_terminal(&u.why)
            );
        }
    }
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!("no such file or directory: {}", missing.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
