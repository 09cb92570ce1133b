//! Ingest: sources -> parse -> index, for a whole bundle. Decides per file
//! whether it is new, grown, replaced or unchanged (from the manifest), parses
//! on one thread while the index writer works on others, and commits records
//! and manifest together.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::mpsc;
use std::thread;

use crate::config::Config;
use crate::index::manifest::{MalformedLine, REMEMBERED_MALFORMED, head_hash};
use crate::index::{IndexError, Manifest, RecordIndex, SourceState};
use crate::parse::{self, Dialect, FileContext, Parsed};
use crate::record::SourceRef;
use crate::sources::{self, SourceFile};

/// How many bytes the sniffer and the identity hash look at.
const HEAD_BYTES: usize = 16 << 10;
/// Malformed lines kept for `--report`; past this only counts are kept.
const MAX_REPORTED: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    New,
    Grown,
    Replaced,
    Unchanged,
    Skipped,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub path: String,
    pub dialect: Dialect,
    pub status: FileStatus,
    pub records: u64,
    pub malformed: u64,
    /// Why the file was taken for its dialect, or why it was skipped.
    pub why: String,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    pub records_added: u64,
    pub records_total: u64,
    pub malformed_by_reason: BTreeMap<String, u64>,
    #[serde(skip)]
    /// Each malformed line and why (this run's; `--report` lists what the
    /// index remembers).
    pub malformed: Vec<(SourceRef, String)>,
    pub malformed_total: u64,
    /// The configuration changed since the last ingest, so every file was
    /// read again under the new one.
    pub config_changed: bool,
    /// The whole-index analysis ingest ended with (none with
    /// `--no-analysis`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisNote>,
}

/// What the analysis at the end of an ingest found, and what it took.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AnalysisNote {
    pub events: u64,
    pub findings: u64,
    pub seconds: f64,
    /// Nothing changed since the last analysis: it was kept.
    pub kept_already: bool,
}

/// Progress as ingest goes, for a bar or a TUI header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub records: u64,
    pub files_done: usize,
    pub files_total: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

enum Plan {
    Skip(SourceState),
    Read {
        from_offset: u64,
        first_line: u64,
        replace: bool,
        prior: Option<SourceState>,
    },
}

fn plan(file: &SourceFile, head: &[u8], prior: Option<&SourceState>, dialect: Dialect) -> Plan {
    let Some(prior) = prior else {
        return Plan::Read {
            from_offset: 0,
            first_line: 1,
            replace: false,
            prior: None,
        };
    };
    // Same identity: the bytes it started with are still there.
    let n = prior.head_len as usize;
    let same_head = head.len() >= n && head_hash(&head[..n]) == prior.head_hash;
    if same_head && file.size == prior.size && file.mtime_ns == prior.mtime_ns {
        return Plan::Skip(prior.clone());
    }
    if same_head && file.size > prior.size && dialect.resumable() && prior.dialect == dialect {
        return Plan::Read {
            from_offset: prior.offset,
            first_line: prior.next_line,
            replace: false,
            prior: Some(prior.clone()),
        };
    }
    Plan::Read {
        from_offset: 0,
        first_line: 1,
        replace: true,
        prior: None,
    }
}

pub fn ingest(
    index: &RecordIndex,
    roots: &[std::path::PathBuf],
    config: &Config,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<IngestReport, IngestError> {
    let found = sources::discover(roots);
    let mut manifest = index.manifest()?;
    for root in roots {
        let abs = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
        let abs = abs.display().to_string();
        if !manifest.roots.contains(&abs) {
            manifest.roots.push(abs);
        }
    }
    let mut report = IngestReport::default();
    for u in &found.unreadable {
        report.files.push(FileReport {
            path: u.path.clone(),
            dialect: Dialect::Unknown,
            status: FileStatus::Skipped,
            records: 0,
            malformed: 0,
            why: u.why.clone(),
        });
    }
    let mut progress = Progress {
        bytes_total: found.files.iter().map(|f| f.size).sum(),
        files_total: found.files.len(),
        ..Progress::default()
    };
    let mut writer = index.writer()?;
    // Records read under another configuration are read again: its rules
    // decide IDs, services and mutations.
    let reread = writer
        .state()
        .previous()
        .and_then(|p| p.config.as_deref())
        .is_some_and(|c| c != config.fingerprint);
    report.config_changed = reread;
    writer
        .state()
        .begin(progress.bytes_total, Some(config.fingerprint.clone()))?;
    let mut advance = |bytes: u64, records: u64, files: usize| {
        progress.bytes_done += bytes;
        progress.records += records;
        progress.files_done += files;
        on_progress(progress);
        progress
    };
    let mut run = Run {
        index_dir: index.dir(),
        manifest: &mut manifest,
        writer: &mut writer,
        config,
        report: &mut report,
        reread,
        commits: Commits::new(),
    };
    for file in &found.files {
        let reports = ingest_file(&mut run, file, &mut |bytes, records| {
            advance(bytes, records, 0);
        })?;
        // (Records counted at checkpoints inside the file are not again.)
        run.commits.records += reports
            .iter()
            .map(|r| r.records)
            .sum::<u64>()
            .saturating_sub(std::mem::take(&mut run.commits.counted_in_file));
        let now = advance(0, 0, 1);
        run.commits.bytes_before = now.bytes_done;
        run.report.files.extend(reports);
        // Every few seconds, at a file's end (and inside a long file, see
        // `Parsed::Checkpoint`): an interrupted ingest resumes from here,
        // and readers see the progress.
        if run.commits.due() {
            run.writer.commit(run.manifest.clone())?;
            run.writer.state().committed(now.bytes_done)?;
            run.commits.done();
        }
    }
    writer.commit(manifest)?;
    writer.state().finish()?;
    let index = writer.finish()?;
    report.records_total = index.count()?;
    Ok(report)
}

/// How often a long ingest commits (`HOPLINE_COMMIT_EVERY_MS` sets it, for
/// tests that interrupt ingests).
fn commit_every() -> std::time::Duration {
    std::env::var("HOPLINE_COMMIT_EVERY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(COMMIT_EVERY, std::time::Duration::from_millis)
}

/// A commit at the first file end or checkpoint after this long, or after
/// this many records. Each commit makes a segment, and segments get merged:
/// more often costs ingest time for no safety an on-call would notice.
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
const COMMIT_RECORDS: u64 = 2_000_000;

/// What one ingest run writes into, shared by every file it reads.
struct Run<'a> {
    index_dir: &'a std::path::Path,
    manifest: &'a mut Manifest,
    writer: &'a mut crate::index::RecordWriter,
    config: &'a Config,
    report: &'a mut IngestReport,
    /// The configuration changed since the last ingest: every file is read
    /// again.
    reread: bool,
    commits: Commits,
}

/// When the running ingest commits next.
struct Commits {
    every: std::time::Duration,
    last: std::time::Instant,
    /// Records added since the last commit.
    records: u64,
    /// Bytes of the files done before the one being read.
    bytes_before: u64,
    /// Records of the file being read already counted at its checkpoints.
    counted_in_file: u64,
}

impl Commits {
    fn new() -> Commits {
        Commits {
            every: commit_every(),
            last: std::time::Instant::now(),
            records: 0,
            bytes_before: 0,
            counted_in_file: 0,
        }
    }

    fn due(&self) -> bool {
        self.last.elapsed() >= self.every || self.records >= COMMIT_RECORDS
    }

    fn done(&mut self) {
        self.last = std::time::Instant::now();
        self.records = 0;
    }
}

/// A tar archive (any compression): unchanged since the last ingest, it is
/// skipped whole; otherwise its members are unpacked into a scratch
/// directory beside the index and ingested as files named
/// `archive!member`, and members that vanished lose their records.
/// `head` and `reader` are the file as ingest_file opened and sniffed it.
fn ingest_archive(
    run: &mut Run<'_>,
    file: &SourceFile,
    head: &[u8],
    reader: Box<dyn std::io::BufRead + Send>,
    tick: &mut dyn FnMut(u64, u64),
) -> Result<Vec<FileReport>, IngestError> {
    let head_len = head.len().min(4096);
    let hash = head_hash(&head[..head_len]);
    let archive_report = |status, records, malformed, why: String| FileReport {
        path: file.rel.clone(),
        dialect: Dialect::Archive,
        status,
        records,
        malformed,
        why,
    };
    if let Some(prior) = run.manifest.sources.get(&file.rel)
        && !run.reread
        && prior.dialect == Dialect::Archive
        && prior.size == file.size
        && prior.mtime_ns == file.mtime_ns
        && prior.head_hash == hash
    {
        tick(file.size, 0);
        return Ok(vec![archive_report(
            FileStatus::Unchanged,
            0,
            0,
            "tar archive, unchanged".into(),
        )]);
    }
    // One scratch directory per archive, so an archive inside an archive
    // does not clear its parent's members.
    let scratch = run
        .index_dir
        .join("unpack")
        .join(format!("{:016x}", head_hash(file.rel.as_bytes())));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|source| IngestError::Read {
        path: scratch.display().to_string(),
        source,
    })?;
    let unpacked = sources::archive::unpack(file, reader, &scratch);
    let (members, bad) = match unpacked {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&scratch);
            tick(file.size, 0);
            return Ok(vec![archive_report(
                FileStatus::Skipped,
                0,
                0,
                format!("tar archive unreadable: {e}"),
            )]);
        }
    };
    let mut reports = Vec::new();
    for u in bad {
        reports.push(FileReport {
            path: u.path,
            dialect: Dialect::Unknown,
            status: FileStatus::Skipped,
            records: 0,
            malformed: 0,
            why: u.why,
        });
    }
    let prefix = format!("{}!", file.rel);
    let present: std::collections::HashSet<&str> = members.iter().map(|m| m.rel.as_str()).collect();
    let vanished: Vec<String> = run
        .manifest
        .sources
        .keys()
        .filter(|k| {
            // `outer!inner.tar!x.log` belongs to member `outer!inner.tar`,
            // which answers for it itself.
            let Some(rest) = k.strip_prefix(&prefix) else {
                return false;
            };
            let member = rest
                .find('!')
                .map_or(k.as_str(), |i| &k[..prefix.len() + i]);
            !present.contains(member)
        })
        .cloned()
        .collect();
    for k in vanished {
        run.writer.delete_source(&k);
        run.manifest.sources.remove(&k);
    }
    let (mut records, mut malformed) = (0, 0);
    for member in &members {
        let rs = ingest_file(run, member, &mut |_, n| tick(0, n))?;
        // The first report is the member's own; a nested archive's further
        // reports are its members, already in that total.
        if let Some(own) = rs.first() {
            records += own.records;
            malformed += own.malformed;
        }
        reports.extend(rs);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    tick(file.size, 0);
    run.manifest.sources.insert(
        file.rel.clone(),
        SourceState {
            dialect: Dialect::Archive,
            size: file.size,
            mtime_ns: file.mtime_ns,
            head_hash: hash,
            head_len: head_len as u64,
            offset: file.size,
            next_line: 0,
            records,
            malformed,
            partial_line: None,
            malformed_lines: Vec::new(),
        },
    );
    reports.insert(
        0,
        archive_report(
            FileStatus::New,
            records,
            malformed,
            format!("tar archive of {} members", members.len()),
        ),
    );
    Ok(reports)
}

/// One file: opened once, sniffed from its head, then parsed from where
/// the last ingest stopped (an archive goes to [`ingest_archive`]).
fn ingest_file(
    run: &mut Run<'_>,
    file: &SourceFile,
    tick: &mut dyn FnMut(u64, u64),
) -> Result<Vec<FileReport>, IngestError> {
    let read_err = |source| IngestError::Read {
        path: file.rel.clone(),
        source,
    };
    let report = |dialect, status, why: String| FileReport {
        path: file.rel.clone(),
        dialect,
        status,
        records: 0,
        malformed: 0,
        why,
    };
    let skipped = |why: String| report(Dialect::Unknown, FileStatus::Skipped, why);
    // A file with the size and modification time it had when it was read
    // is not opened again: follow mode looks at every file each tick, and
    // opening, decompressing and sniffing them all is what a tick would
    // otherwise cost. (A checkpoint inside a file records the size read so
    // far, so a file an ingest stopped in is read on, not skipped.)
    if !run.reread
        && let Some(prior) = run.manifest.sources.get(&file.rel)
        && prior.size == file.size
        && prior.mtime_ns == file.mtime_ns
    {
        tick(file.size, 0);
        return Ok(vec![report(
            prior.dialect,
            FileStatus::Unchanged,
            "unchanged since it was read (same size and modification time)".into(),
        )]);
    }
    let opened =
        sources::open(file).and_then(|(c, r)| sources::peek(r, HEAD_BYTES).map(|(h, r)| (c, h, r)));
    let (compression, head, mut reader) = match opened {
        Ok(x) => x,
        Err(e) => return Ok(vec![skipped(e.to_string())]),
    };
    let sniffed = parse::sniff::sniff_with(&head, &run.config.formats);
    match sniffed.dialect {
        Dialect::Unknown => {
            tick(file.size, 0);
            return Ok(vec![skipped(sniffed.why)]);
        }
        Dialect::Archive => {
            return ingest_archive(run, file, &head, reader, tick);
        }
        _ => {}
    }
    let known = run.manifest.sources.get(&file.rel);
    let planned = match known {
        Some(_) if run.reread => Plan::Read {
            from_offset: 0,
            first_line: 1,
            replace: true,
            prior: None,
        },
        _ => plan(file, &head, known, sniffed.dialect),
    };
    let (from_offset, first_line, replace, prior) = match planned {
        Plan::Skip(state) => {
            tick(file.size, 0);
            return Ok(vec![report(
                state.dialect,
                FileStatus::Unchanged,
                sniffed.why,
            )]);
        }
        Plan::Read {
            from_offset,
            first_line,
            replace,
            prior,
        } => (from_offset, first_line, replace, prior),
    };
    if replace {
        run.writer.delete_source(&file.rel);
    } else if let Some(line) = prior.as_ref().and_then(|p| p.partial_line) {
        // The line read before its newline is read again, whole.
        run.writer.delete_partial(&file.rel, line);
    }
    if from_offset > 0 && compression == sources::Compression::None {
        // A plain file is read on from where the last ingest stopped, not
        // again from byte 0: follow mode on a large file depends on it.
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::File::open(&file.abs).map_err(read_err)?;
        f.seek(SeekFrom::Start(from_offset)).map_err(read_err)?;
        reader = Box::new(std::io::BufReader::with_capacity(1 << 16, f));
    } else if from_offset > 0 {
        // A compressed stream has no offsets to seek to: decode and skip.
        std::io::copy(&mut (&mut reader).take(from_offset), &mut std::io::sink())
            .map_err(read_err)?;
    }
    let mut ctx = FileContext::for_path(&file.rel);
    ctx.fallback_ts = file.mtime_micros();
    let dialect = sniffed.dialect;

    // Parse on a scoped thread; index on this one. Bounded channel: the
    // parser never runs more than a few batches ahead (flat memory).
    let (tx, rx) = mpsc::sync_channel::<Vec<Parsed>>(8);
    let config = run.config;
    let mut records = 0u64;
    let mut malformed = 0u64;
    let mut held: Option<Box<crate::record::Record>> = None;
    let mut remembered: Vec<MalformedLine> = Vec::new();
    // This file's records already counted towards the next commit.
    let mut counted = 0u64;
    let head_len = head.len().min(4096);
    let hash = head_hash(&head[..head_len]);
    let mut last_line: Option<u64> = None;
    let end = thread::scope(
        |s| -> Result<(parse::StreamEnd, Option<(u64, u64)>), IngestError> {
            let parser = s.spawn(move || {
                let mut batch = Vec::with_capacity(1024);
                let result =
                    parse::parse_stream(dialect, &mut reader, first_line, &ctx, config, &mut |p| {
                        batch.push(p);
                        if batch.len() == 1024 {
                            // A closed receiver means the indexer failed; its error wins.
                            let _ =
                                tx.send(std::mem::replace(&mut batch, Vec::with_capacity(1024)));
                        }
                    });
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                result
            });
            let mut failure = None;
            for batch in rx {
                let mut n = 0;
                for p in batch {
                    match p {
                        Parsed::Record(r) => {
                            // The last record waits: it may be of a line whose
                            // newline has not come yet.
                            last_line = Some(r.source.line);
                            if let Some(prev) = held.replace(r)
                                && failure.is_none()
                                && let Err(e) = run.writer.add(*prev)
                            {
                                failure = Some(e);
                            }
                            n += 1;
                        }
                        Parsed::Checkpoint(at) => {
                            // Everything before `at` is handed over: the
                            // record held back is too.
                            if let Some(prev) = held.take()
                                && failure.is_none()
                                && let Err(e) = run.writer.add(*prev)
                            {
                                failure = Some(e);
                            }
                            let so_far = records + n;
                            run.commits.records += so_far - counted;
                            run.commits.counted_in_file += so_far - counted;
                            counted = so_far;
                            if failure.is_none() && run.commits.due() {
                                let state = SourceState {
                                    dialect,
                                    // A later ingest sees the file longer
                                    // than this and reads on from `offset`.
                                    size: from_offset + at.bytes,
                                    mtime_ns: file.mtime_ns,
                                    head_hash: hash,
                                    head_len: head_len as u64,
                                    offset: from_offset + at.bytes,
                                    next_line: at.next_line,
                                    records: prior.as_ref().map_or(0, |p| p.records) + so_far,
                                    malformed: prior.as_ref().map_or(0, |p| p.malformed)
                                        + malformed,
                                    partial_line: None,
                                    malformed_lines: remembered.clone(),
                                };
                                run.manifest.sources.insert(file.rel.clone(), state);
                                let committed =
                                    run.writer.commit(run.manifest.clone()).and_then(|()| {
                                        run.writer
                                            .state()
                                            .committed(run.commits.bytes_before + at.bytes)
                                    });
                                match committed {
                                    Ok(()) => run.commits.done(),
                                    Err(e) => failure = Some(e),
                                }
                            }
                        }
                        Parsed::Malformed { line, why } => {
                            last_line = Some(line);
                            malformed += 1;
                            if remembered.len() < REMEMBERED_MALFORMED {
                                remembered.push(MalformedLine {
                                    line,
                                    reason: why.reason().to_string(),
                                    why: why.to_string(),
                                });
                            }
                            run.report.malformed_total += 1;
                            *run.report
                                .malformed_by_reason
                                .entry(why.reason().to_string())
                                .or_default() += 1;
                            if run.report.malformed.len() < MAX_REPORTED {
                                run.report.malformed.push((
                                    SourceRef {
                                        path: file.rel.clone(),
                                        line,
                                    },
                                    why.to_string(),
                                ));
                            }
                        }
                    }
                }
                records += n;
                tick(0, n);
            }
            let end = match parser.join() {
                Ok(r) => r.map_err(read_err)?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            // A plain file whose last line has no newline yet: that line is
            // read, but ingest resumes before it.
            let open_line = end.open_line.filter(|&(line, _)| {
                compression == sources::Compression::None
                    && dialect.resumable()
                    && last_line == Some(line)
            });
            if let Some(r) = held.take()
                && failure.is_none()
            {
                let added = if open_line.is_some_and(|(line, _)| line == r.source.line) {
                    run.writer.add_partial(*r)
                } else {
                    run.writer.add(*r)
                };
                if let Err(e) = added {
                    failure = Some(e);
                }
            }
            if let Some(e) = failure {
                return Err(e.into());
            }
            Ok((end, open_line))
        },
    )?;
    let (end, open_line) = end;
    tick(file.size, 0);
    run.report.records_added += records;
    let (offset, next_line, open_line) = match open_line {
        Some((line, start)) => (from_offset + start, line, Some(line)),
        None => (from_offset + end.bytes, end.next_line, None),
    };
    // A line read before its newline came is counted once, whole.
    let again = u64::from(prior.as_ref().is_some_and(|p| p.partial_line.is_some()));
    let state = SourceState {
        dialect,
        size: file.size,
        mtime_ns: file.mtime_ns,
        head_hash: hash,
        head_len: head_len as u64,
        offset,
        next_line,
        records: (prior.as_ref().map_or(0, |p| p.records) + records).saturating_sub(again),
        malformed: prior.as_ref().map_or(0, |p| {
            let again = p
                .malformed_lines
                .iter()
                .filter(|m| m.line >= first_line)
                .count();
            p.malformed.saturating_sub(again as u64)
        }) + malformed,
        partial_line: open_line,
        // What was read again (a line that had no newline) is judged anew.
        malformed_lines: prior
            .as_ref()
            .map(|p| p.malformed_lines.iter().filter(|m| m.line < first_line))
            .into_iter()
            .flatten()
            .cloned()
            .chain(remembered)
            .take(REMEMBERED_MALFORMED)
            .collect(),
    };
    let status = match (prior.is_some(), replace) {
        (true, _) => FileStatus::Grown,
        (false, true) => FileStatus::Replaced,
        (false, false) => FileStatus::New,
    };
    run.manifest.sources.insert(file.rel.clone(), state);
    Ok(vec![FileReport {
        path: file.rel.clone(),
        dialect,
        status,
        records,
        malformed,
        why: sniffed.why,
    }])
}

/// What a live read of the idempotency table added.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PgReport {
    pub source: String,
    pub table: String,
    pub rows_read: u64,
    pub records_added: u64,
    pub malformed: u64,
    /// The first rows that could not be read, by their number in this
    /// read, and why (at most [`REMEMBERED_MALFORMED`]).
    pub malformed_rows: Vec<(u64, String)>,
    pub cursor: Option<String>,
    pub records_total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PgIngestError {
    #[error(transparent)]
    Pg(#[from] crate::sources::postgres::PgError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Reads the idempotency table live into the index: the first read takes
/// every row, later reads only rows whose time column moved. A row that
/// changed becomes a new record at the time of its change — the status
/// history is the evidence. Nothing is committed unless the whole read
/// succeeded, so a failure leaves the index as it was.
pub fn ingest_pg(
    index: &RecordIndex,
    target: &crate::sources::postgres::PgTarget,
    table: Option<&str>,
    config: &Config,
) -> Result<PgReport, PgIngestError> {
    use crate::parse::idem::{RowShape, row_record};
    use crate::sources::postgres::{find_table, stream_rows, with_read_only};

    let mut manifest = index.manifest()?;
    let mut writer = index.writer()?;
    let mut added = 0u64;
    let mut malformed_rows: Vec<(u64, String)> = Vec::new();
    let mut malformed = 0u64;
    let mut add_error: Option<IndexError> = None;
    let table = table.or(config.postgres.table.as_deref());
    let (source, read) = with_read_only(target, async |client| {
        let mut found = find_table(client, target, table).await?;
        let source = format!("postgres:{}", found.name);
        let prior = manifest.tables.get(&source).cloned().unwrap_or_default();
        let shape = RowShape::mapped(&found.columns, &config.postgres.columns).map_err(
            |(key, column)| crate::sources::postgres::PgError::MissingColumn {
                table: format!("{}.{}", found.schema, found.name),
                column,
                origin: format!(
                    "{} postgres.columns.{key}",
                    config
                        .origin
                        .as_ref()
                        .map_or("hopline.toml".into(), |p| p.display().to_string())
                ),
            },
        )?;
        if config.postgres.columns.time.is_some() {
            found.time_column = shape.time_column().map(str::to_string);
        }
        // The table is the service: the same lane a dump of it gets.
        let ctx = FileContext {
            rel_path: source.clone(),
            service: found.name.clone(),
            instance: found.name.clone(),
            fallback_ts: None,
        };
        // Without a time column nothing says which rows changed: read the
        // table whole, replace what was read before, place rows at now.
        let (mut line, fallback_ts, since) = match &found.time_column {
            Some(_) => (prior.rows, None, prior.cursor.clone()),
            None => {
                writer.delete_source(&source);
                (0, Some(chrono::Utc::now().timestamp_micros()), None)
            }
        };
        let read = stream_rows(
            client,
            target,
            &found,
            since.as_deref(),
            &mut |_, values| {
                line += 1;
                let values: Vec<&str> = values.iter().map(|v| v.as_deref().unwrap_or("")).collect();
                match row_record(&shape, &values, line, fallback_ts, &ctx, config) {
                    Ok(r) => {
                        if add_error.is_none()
                            && let Err(e) = writer.add(r)
                        {
                            add_error = Some(e);
                        }
                        added += 1;
                    }
                    Err(why) => {
                        malformed += 1;
                        if malformed_rows.len() < REMEMBERED_MALFORMED {
                            malformed_rows.push((line, why.to_string()));
                        }
                    }
                }
            },
        )
        .await?;
        Ok((source, read))
    })?;
    if let Some(e) = add_error {
        return Err(e.into());
    }
    let prior_rows = match read.table.time_column {
        Some(_) => manifest.tables.get(&source).map_or(0, |t| t.rows),
        None => 0,
    };
    manifest.tables.insert(
        source.clone(),
        crate::index::TableState {
            cursor: read.cursor.clone(),
            rows: prior_rows + read.rows,
        },
    );
    writer.commit(manifest)?;
    let index = writer.finish()?;
    Ok(PgReport {
        source,
        table: format!("{}.{}", read.table.schema, read.table.name),
        rows_read: read.rows,
        records_added: added,
        malformed,
        malformed_rows,
        cursor: read.cursor,
        records_total: index.count()?,
    })
}
