//! The local tantivy index: the only module that imports tantivy. One
//! document per record; correlation IDs are indexed raw so one term lookup
//! finds every record carrying an ID; the whole record is stored as JSON so
//! what the tool shows is exactly what was parsed. The per-source manifest
//! (how far each file was read) rides in the commit payload, so it is
//! committed atomically with the documents it describes: a `kill -9` leaves
//! either the old commit or the new one, never a manifest that lies.

mod directory;
pub mod location;
pub mod manifest;
pub mod marks;
mod merges;
pub mod state;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tantivy::collector::{Count, DocSetCollector};
use tantivy::query::{AllQuery, TermQuery, TermSetQuery};
use tantivy::schema::document::{DeserializeError, DocumentDeserialize, DocumentDeserializer};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, Value};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

use serde::{Deserialize, Serialize};

use crate::correlate::{Clock, RecordScan, RecordStore};
use crate::record::{Record, SourceRef};

pub use manifest::{Manifest, SourceState, TableState};

/// What the index remembers of malformed lines (see [`RecordIndex::malformed`]).
#[derive(Debug, Default)]
pub struct Remembered {
    /// Each remembered line and why.
    pub lines: Vec<(SourceRef, String)>,
    /// Remembered lines by their short reason.
    pub by_reason: std::collections::BTreeMap<String, u64>,
    /// Every malformed line, remembered or only counted.
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index at {path}: {source}")]
    Tantivy {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("index at {path} has a manifest this version cannot read: {why}")]
    Manifest { path: PathBuf, why: String },
    #[error("index at {path} was made by another hopline schema; remove it and ingest again")]
    Schema { path: PathBuf },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    #[error(
        "an ingest into {} is running (pid {}, started {}): one writer at a time; read commands read what it committed",
        path.display(), holder.pid, holder.started
    )]
    Busy {
        path: PathBuf,
        holder: state::IngestState,
    },
}

/// Typed handles to every field; the rest of the code never spells a field
/// name.
#[derive(Debug, Clone, Copy)]
struct Fields {
    /// Every correlation ID value, raw (multi-valued).
    id: Field,
    /// `path` of the source, raw: how a replaced file's records are deleted.
    path: Field,
    /// The whole record as JSON but for its `raw` text. Nothing else is
    /// indexed: every query is by ID or by path, and search reads the
    /// records themselves.
    record: Field,
    /// The record's `raw` text, apart: the analysis reads every record
    /// three times and needs none of it, and raw is half of what is stored.
    raw: Field,
}

const SCHEMA_VERSION: &str = "hopline-3";

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        path: b.add_text_field("path", STRING),
        // Stored as text, not bytes: tantivy reads a stored string in one
        // copy but a byte field one byte at a time, and every analysis
        // reads every record twice.
        record: b.add_text_field("record", STORED),
        raw: b.add_text_field("raw", STORED),
    };
    (b.build(), fields)
}

/// How a new index stores its documents: JSON log records compress far
/// better under zstd than under tantivy's default lz4, for a little more
/// time per block.
fn settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(ZSTD_LEVEL),
        }),
        docstore_blocksize: DOCSTORE_BLOCK,
        ..IndexSettings::default()
    }
}

const ZSTD_LEVEL: i32 = 1;
const DOCSTORE_BLOCK: usize = 64 << 10;
/// About 140 MB of stored records: the most a merge holds at once.
const MERGE_UP_TO_DOCS: u32 = 2_000_000;

#[derive(Clone)]
pub struct RecordIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    /// The same commits as `reader`, for whole-index scans.
    scan_reader: IndexReader,
    fields: Fields,
    /// The clock offsets of the last analysis, kept for correlation to
    /// apply (shared by clones: the TUI's threads see one clock).
    clock: Arc<RwLock<Clocked>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Estimated on the index as it is.
    Current,
    /// Estimated before a later commit (an ingest) changed the index.
    Stale,
    /// No analysis has run on this index yet.
    Never,
}

/// Clock offsets and the index state they were estimated on: a commit
/// after it (an ingest) may bring the brackets that change them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Clocked {
    snapshot: String,
    clock: Clock,
    /// The IDs the analysis found to be hubs, so a timeline stops where the
    /// event list does.
    #[serde(default)]
    hubs: Vec<String>,
}

/// Where the last analysis leaves its clock offsets, so that a cold
/// `timeline` orders entries as the analysis did without redoing it.
const CLOCK_FILE: &str = "clock.json";

impl RecordIndex {
    /// Opens the index in `dir`, creating it (and `dir`) if there is none.
    pub fn open_or_create(dir: &Path) -> Result<RecordIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields) = schema();
        let t = |source| IndexError::Tantivy {
            path: dir.to_path_buf(),
            source,
        };
        let files = directory::IndexDirectory::open(dir).map_err(|e| t(e.into()))?;
        let index = match Index::builder()
            .schema(schema)
            .settings(settings())
            .open_or_create(files)
        {
            Ok(i) => i,
            Err(tantivy::TantivyError::SchemaError(_)) => {
                return Err(IndexError::Schema {
                    path: dir.to_path_buf(),
                });
            }
            Err(e) => return Err(t(e)),
        };
        let manual = |index: &Index| -> Result<IndexReader, IndexError> {
            index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(t)
        };
        // Lookups read a few documents at random: through mappings, as
        // tantivy does by default. Scans read them all once: through the
        // index's own directory (see `directory`).
        let mapped = tantivy::directory::MmapDirectory::open(dir).map_err(|e| t(e.into()))?;
        let reader = manual(&Index::open(mapped).map_err(t)?)?;
        let scan_reader = manual(&index)?;
        // A missing or unreadable clock file only means no estimate yet.
        let clock: Clocked = std::fs::read(dir.join(CLOCK_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let me = RecordIndex {
            dir: dir.to_path_buf(),
            index,
            reader,
            scan_reader,
            fields,
            clock: Arc::new(RwLock::new(clock)),
        };
        let manifest = me.manifest()?;
        if !manifest.schema.is_empty() && manifest.schema != SCHEMA_VERSION {
            return Err(IndexError::Schema {
                path: dir.to_path_buf(),
            });
        }
        Ok(me)
    }

    /// Opens an index that must already exist.
    pub fn open_existing(dir: &Path) -> Result<RecordIndex, IndexError> {
        if !dir.join("meta.json").is_file() {
            return Err(IndexError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no index here"),
            });
        }
        Self::open_or_create(dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, source: tantivy::TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: self.dir.clone(),
            source,
        }
    }

    /// The manifest of the last commit (empty for a new index).
    pub fn manifest(&self) -> Result<Manifest, IndexError> {
        let metas = self.index.load_metas().map_err(|e| self.err(e))?;
        match metas.payload {
            None => Ok(Manifest::default()),
            Some(p) => Manifest::from_json(&p).map_err(|why| IndexError::Manifest {
                path: self.dir.clone(),
                why,
            }),
        }
    }

    /// Picks up what another writer (or this process's) committed.
    pub fn refresh(&self) -> Result<(), IndexError> {
        self.reader.reload().map_err(|e| self.err(e))?;
        self.scan_reader.reload().map_err(|e| self.err(e))
    }

    /// The index for writing: one writer at a time (see [`state`]); a
    /// second one is told who writes.
    pub fn writer(&self) -> Result<RecordWriter, IndexError> {
        let lock = state::WriteLock::take(&self.dir)?;
        // Two threads for two cores; 128 MiB keeps peak RSS well inside
        // the flat-memory budget while making few enough segments.
        let writer: IndexWriter = match self.index.writer_with_num_threads(2, 128 << 20) {
            Ok(w) => w,
            // Another hopline of an older version, or a stale lock of
            // tantivy's own: still one writer at a time.
            Err(tantivy::TantivyError::LockFailure(..)) => {
                return Err(IndexError::Busy {
                    path: self.dir.clone(),
                    holder: state::IngestState::default(),
                });
            }
            Err(e) => return Err(self.err(e)),
        };
        writer.set_merge_policy(Box::new(merges::BoundedMerges {
            max_docs: MERGE_UP_TO_DOCS,
            min_segments: 4,
        }));
        Ok(RecordWriter {
            index: self.clone(),
            writer,
            lock,
        })
    }

    /// The malformed lines the index remembers, with why (only the first
    /// of each source are kept), and how many there are in all.
    pub fn malformed(&self) -> Result<Remembered, IndexError> {
        let manifest = self.manifest()?;
        let mut out = Remembered::default();
        for (path, state) in &manifest.sources {
            out.total += state.malformed;
            for m in &state.malformed_lines {
                *out.by_reason.entry(m.reason.clone()).or_default() += 1;
                out.lines.push((
                    SourceRef {
                        path: path.clone(),
                        line: m.line,
                    },
                    m.why.clone(),
                ));
            }
        }
        Ok(out)
    }

    /// What this index can vouch for (see [`state::health`]).
    pub fn health(&self) -> Result<state::Health, IndexError> {
        Ok(state::health(&self.dir, self.count()?))
    }

    pub fn count(&self) -> Result<u64, IndexError> {
        let searcher = self.reader.searcher();
        searcher
            .search(&AllQuery, &Count)
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The records `query` matches, in index order, found and read from
    /// one searcher.
    fn matching(&self, query: &dyn tantivy::query::Query) -> Result<Vec<Record>, IndexError> {
        let searcher = self.reader.searcher();
        let found: HashSet<DocAddress> = searcher
            .search(query, &DocSetCollector)
            .map_err(|e| self.err(e))?;
        let mut addrs: Vec<DocAddress> = found.into_iter().collect();
        addrs.sort();
        addrs
            .into_iter()
            .map(|addr| {
                let doc: TantivyDocument = searcher.doc(addr).map_err(|e| self.err(e))?;
                decode(&doc, self.fields)
            })
            .collect()
    }

    /// A poisoned lock only means a reader panicked; the offsets are whole.
    fn clocked(&self) -> std::sync::RwLockReadGuard<'_, Clocked> {
        self.clock
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the clock offsets were estimated on the index as it is now.
    pub fn clock_state(&self) -> ClockState {
        let now = snapshot_stamp(&self.scan_reader.searcher());
        let clocked = self.clocked();
        if clocked.snapshot == now {
            ClockState::Current
        } else if clocked.snapshot.is_empty() {
            ClockState::Never
        } else {
            ClockState::Stale
        }
    }

    /// Keeps `clock`, estimated on `analysed`, for correlation to apply from
    /// now on, in this process and (once saved) in the next.
    pub fn set_clock(
        &self,
        clock: Clock,
        hubs: Vec<String>,
        analysed: &Snapshot,
    ) -> std::io::Result<()> {
        let clocked = Clocked {
            snapshot: analysed.stamp.clone(),
            clock,
            hubs,
        };
        let mut current = self
            .clock
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *current == clocked {
            return Ok(());
        }
        let path = self.dir.join(CLOCK_FILE);
        let tmp = self.dir.join(format!("{CLOCK_FILE}.tmp"));
        let text = serde_json::to_vec_pretty(&clocked).map_err(std::io::Error::other)?;
        *current = clocked;
        std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path))
    }

    /// Every live record at once: for tests and small indexes; whole-index
    /// work goes through [`RecordIndex::snapshot`] and holds none.
    pub fn all_records(&self) -> Result<Vec<Record>, IndexError> {
        let mut out = Vec::new();
        self.snapshot().for_each_record(&mut |r| out.push(r))?;
        Ok(out)
    }
}

/// The whole record of a document, raw text included, as stored (on its
/// instance's own clock).
fn decode(doc: &TantivyDocument, fields: Fields) -> Result<Record, IndexError> {
    let json = doc
        .get_first(fields.record)
        .and_then(|v| v.as_str())
        .ok_or_else(|| IndexError::Corrupt("document without a record".into()))?;
    let mut r: Record =
        serde_json::from_str(json).map_err(|e| IndexError::Corrupt(e.to_string()))?;
    if let Some(raw) = doc.get_first(fields.raw).and_then(|v| v.as_str()) {
        r.raw = raw.to_string();
    }
    Ok(r)
}

/// Records handed from the store thread to a scan at a time.
const SCAN_BATCH: usize = 1024;

/// A stored document's first stored field, the rest unread: a record's
/// JSON, written before its raw text, which scans skip without decoding.
struct FirstStored(Field, String);

impl DocumentDeserialize for FirstStored {
    fn deserialize<'de, D>(mut doc: D) -> Result<Self, DeserializeError>
    where
        D: DocumentDeserializer<'de>,
    {
        match doc.next_field::<String>()? {
            Some((field, text)) => Ok(FirstStored(field, text)),
            None => Err(DeserializeError::custom("document without stored fields")),
        }
    }
}

/// One reader's view of the index, unchanged by later commits: what the
/// two-pass analysis reads.
pub struct Snapshot {
    searcher: tantivy::Searcher,
    fields: Fields,
    dir: PathBuf,
    /// Which commit's segments and deletions this is.
    stamp: String,
}

/// Names an index state: its segments and how many documents each has
/// lost. Any commit that adds or deletes records changes it (a merge does
/// too, though it changes no record: what is keyed by it is then redone
/// once).
fn snapshot_stamp(searcher: &tantivy::Searcher) -> String {
    let mut parts: Vec<String> = searcher
        .segment_readers()
        .iter()
        .map(|s| format!("{}-{}", s.segment_id().uuid_string(), s.num_deleted_docs()))
        .collect();
    parts.sort();
    parts.join(",")
}

impl RecordIndex {
    pub fn snapshot(&self) -> Snapshot {
        let searcher = self.scan_reader.searcher();
        Snapshot {
            stamp: snapshot_stamp(&searcher),
            searcher,
            fields: self.fields,
            dir: self.dir.clone(),
        }
    }

    /// The records at these `path:line`s (marks), found through their
    /// paths so nothing else is held.
    pub fn records_at(&self, at: &[SourceRef]) -> Result<Vec<Record>, IndexError> {
        let wanted: HashSet<&SourceRef> = at.iter().collect();
        let paths: std::collections::BTreeSet<&str> = at.iter().map(|s| s.path.as_str()).collect();
        let mut out = Vec::new();
        for path in paths {
            let q = TermQuery::new(
                Term::from_field_text(self.fields.path, path),
                IndexRecordOption::Basic,
            );
            let mut records = self.matching(&q)?;
            records.retain(|r| wanted.contains(&r.source));
            out.extend(records);
        }
        Ok(out)
    }
}

impl Snapshot {
    /// Which index state this is: what is kept of an analysis is keyed by
    /// it.
    pub fn stamp(&self) -> &str {
        &self.stamp
    }

    /// Every record of the snapshot, decoded as stored, one at a time.
    pub fn for_each_record(&self, each: &mut dyn FnMut(Record)) -> Result<(), IndexError> {
        self.each_stored(&mut |doc: TantivyDocument| {
            each(decode(&doc, self.fields)?);
            Ok(())
        })
    }

    /// Every live document of the snapshot in store order, decoded as `D`
    /// (a whole document, or only what a scan needs of it).
    fn each_stored<D: DocumentDeserialize>(
        &self,
        each: &mut dyn FnMut(D) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let err = |source| IndexError::Tantivy {
            path: self.dir.clone(),
            source,
        };
        for segment in self.searcher.segment_readers() {
            // Read in order, each block once: no block cache needed.
            let store = segment.get_store_reader(1).map_err(|e| err(e.into()))?;
            for doc in store.iter::<D>(segment.alive_bitset()) {
                each(doc.map_err(err)?)?;
            }
        }
        Ok(())
    }
}

impl RecordScan for Snapshot {
    type Error = IndexError;

    /// Decompressing and decoding the store takes about as long as what an
    /// analysis pass does with each record, so the store is read on a
    /// second thread, a bounded batch ahead.
    fn scan(&self, each: &mut dyn FnMut(&[u8])) -> Result<(), IndexError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<String>>(4);
        std::thread::scope(|s| {
            let reader = s.spawn(move || -> Result<(), IndexError> {
                let mut batch = Vec::with_capacity(SCAN_BATCH);
                self.each_stored(&mut |FirstStored(field, json)| {
                    if field != self.fields.record {
                        return Err(IndexError::Corrupt("document without a record".into()));
                    }
                    batch.push(json);
                    if batch.len() == SCAN_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(SCAN_BATCH));
                        // A closed receiver cannot happen: the scan drains
                        // the channel until this thread ends.
                        let _ = tx.send(full);
                    }
                    Ok(())
                })?;
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                Ok(())
            });
            for batch in rx {
                for json in &batch {
                    each(json.as_bytes());
                }
            }
            match reader.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    fn spill_dir(&self) -> Option<PathBuf> {
        Some(self.dir.clone())
    }
}

impl RecordStore for RecordIndex {
    type Error = IndexError;

    fn records_carrying(&self, ids: &[String]) -> Result<Vec<Record>, IndexError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let terms = ids.iter().map(|v| Term::from_field_text(self.fields.id, v));
        self.matching(&TermSetQuery::new(terms))
    }

    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>, IndexError> {
        self.prefix_terms(prefix, limit)
    }

    fn clock(&self) -> Clock {
        self.clocked().clock.clone()
    }

    fn known_hubs(&self) -> Vec<String> {
        self.clocked().hubs.clone()
    }

    fn carriers(&self, id: &str) -> Result<u64, IndexError> {
        let term = Term::from_field_text(self.fields.id, id);
        let searcher = self.reader.searcher();
        // doc_freq counts deleted documents until a merge; exact counts only
        // matter near the hub limit, so ask precisely there.
        let approx = searcher.doc_freq(&term).map_err(|e| self.err(e))?;
        if approx < 64 {
            return Ok(approx);
        }
        let q = TermQuery::new(term, IndexRecordOption::Basic);
        searcher
            .search(&q, &Count)
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
}

impl RecordIndex {
    fn prefix_terms(&self, prefix: &str, limit: usize) -> Result<Vec<String>, IndexError> {
        let searcher = self.reader.searcher();
        let mut out: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for segment in searcher.segment_readers() {
            let inverted = segment
                .inverted_index(self.fields.id)
                .map_err(|e| self.err(e))?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(prefix.as_bytes())
                .into_stream()
                .map_err(|e| self.err(e.into()))?;
            let mut taken = 0;
            while stream.advance() && taken < limit {
                let Ok(key) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                if !key.starts_with(prefix) {
                    break;
                }
                // A term of deleted documents only is no ID any more.
                if stream.value().doc_freq > 0 {
                    out.insert(key.to_string());
                    taken += 1;
                }
            }
        }
        Ok(out.into_iter().take(limit).collect())
    }
}

/// A term no ID can be (it starts with a control character) that names
/// the record of a line read before its newline.
fn partial_marker(path: &str, line: u64) -> String {
    format!("\u{1}partial\u{1}{path}\u{1}{line}")
}

/// Adds records and commits them together with the manifest that says how
/// far each source was read.
pub struct RecordWriter {
    index: RecordIndex,
    writer: IndexWriter,
    lock: state::WriteLock,
}

impl RecordWriter {
    pub fn add(&mut self, record: Record) -> Result<(), IndexError> {
        self.add_with(record, None)
    }

    fn add_with(&mut self, mut record: Record, marker: Option<&str>) -> Result<(), IndexError> {
        let f = &self.index.fields;
        let mut doc = TantivyDocument::default();
        for id in record.ids.iter().chain(&record.context_ids) {
            doc.add_text(f.id, &id.value);
        }
        if let Some(m) = marker {
            doc.add_text(f.id, m);
        }
        doc.add_text(f.path, &record.source.path);
        let raw = std::mem::take(&mut record.raw);
        let json =
            serde_json::to_string(&record).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        doc.add_text(f.record, &json);
        doc.add_text(f.raw, &raw);
        self.writer
            .add_document(doc)
            .map(|_| ())
            .map_err(|e| self.index.err(e))
    }

    /// Adds the record of a line that has no newline yet, marked so that
    /// [`RecordWriter::delete_partial`] can take it back when the line is
    /// read again whole.
    pub fn add_partial(&mut self, record: Record) -> Result<(), IndexError> {
        let marker = partial_marker(&record.source.path, record.source.line);
        self.add_with(record, Some(&marker))
    }

    /// Forgets the record of a line read before its newline came.
    pub fn delete_partial(&mut self, path: &str, line: u64) {
        self.writer.delete_term(Term::from_field_text(
            self.index.fields.id,
            &partial_marker(path, line),
        ));
    }

    /// Forgets every record of a source (a truncated or replaced file).
    pub fn delete_source(&mut self, path: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.index.fields.path, path));
    }

    /// Commits what was added with `manifest`, which says how far each
    /// source was read; the writer goes on.
    pub fn commit(&mut self, mut manifest: Manifest) -> Result<(), IndexError> {
        manifest.schema = SCHEMA_VERSION.to_string();
        let mut prepared = self
            .writer
            .prepare_commit()
            .map_err(|e| self.index.err(e))?;
        prepared.set_payload(&manifest.to_json());
        prepared.commit().map_err(|e| self.index.err(e))?;
        Ok(())
    }

    /// The writer's own record of the ingest (see [`state`]).
    pub fn state(&mut self) -> &mut state::WriteLock {
        &mut self.lock
    }

    /// Lets go of the index, once merges are done (what was not committed
    /// is dropped).
    pub fn finish(self) -> Result<RecordIndex, IndexError> {
        self.writer
            .wait_merging_threads()
            .map_err(|e| self.index.err(e))?;
        self.index.refresh()?;
        Ok(self.index)
    }
}
