//! One Elasticsearch index: its settings and mappings (`meta.json`), a tantivy index in
//! the same directory, one writer at a time, and versioned writes.
//!
//! Every write request commits before it answers (tantivy fsyncs its files and the meta
//! file on commit), so a write that was acknowledged survives a SIGKILL; a `_bulk` is one
//! commit. Deleted documents stay as tombstones with their version.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use serde_json::{Value, json};
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value as _};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::analysis::Analysis;
use crate::document::{Stored, live_document, tombstone};
use crate::error::EsError;
use crate::mapping::{Mapping, MetaFields};

/// Beside tantivy's own `meta.json`.
const META_FILE: &str = "es-index.json";
/// The writer's indexing memory (tantivy's floor is 15 MB); it is only taken while writing.
const WRITER_BYTES: usize = 15_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionType {
    Internal,
    /// Writes only a version greater than the stored one.
    External,
    /// Writes a version greater than or equal to the stored one.
    ExternalGte,
}

impl VersionType {
    pub fn parse(text: Option<&str>) -> Result<Self, EsError> {
        match text {
            None | Some("internal") => Ok(VersionType::Internal),
            Some("external") => Ok(VersionType::External),
            Some("external_gte") => Ok(VersionType::ExternalGte),
            Some(other) => Err(EsError::illegal_argument(format!("No version type match [{other}]"))),
        }
    }
}

#[derive(Debug, Clone)]
pub enum WriteAction {
    Index { source: Value, create_only: bool },
    Delete,
}

#[derive(Debug, Clone)]
pub struct WriteOp {
    pub id: Option<String>,
    pub action: WriteAction,
    pub version: Option<u64>,
    pub version_type: VersionType,
}

#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub id: String,
    pub version: u64,
    pub seq_no: u64,
    /// `created`, `updated`, `deleted` or `not_found`.
    pub result: &'static str,
    pub status: StatusCode,
}

impl WriteOutcome {
    pub fn body(&self, index: &str) -> Value {
        json!({
            "_index": index,
            "_id": self.id,
            "_version": self.version,
            "result": self.result,
            "_shards": { "total": 1, "successful": 1, "failed": 0 },
            "_seq_no": self.seq_no,
            "_primary_term": 1,
            "status": self.status.as_u16(),
        })
    }
}

/// What the index holds for an id: a live document or a tombstone.
#[derive(Debug, Clone, Copy)]
struct Current {
    version: u64,
    live: bool,
}

/// A live document as `GET _doc` answers it.
pub struct Found {
    pub version: u64,
    pub seq_no: u64,
    pub source: Value,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    uuid: String,
    creation_date: i64,
    settings: Value,
    mappings: Value,
}

pub struct EsIndex {
    pub name: String,
    pub uuid: String,
    pub creation_date: i64,
    /// `settings.index` as answered by `GET /{index}/_settings` (analysis included).
    pub settings: Value,
    pub mapping: Mapping,
    pub index: Index,
    pub meta: MetaFields,
    pub reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    next_seq_no: AtomicU64,
    pub directory: PathBuf,
}

const KNOWN_SETTINGS: &[&str] = &[
    "number_of_shards",
    "number_of_replicas",
    "refresh_interval",
    "max_result_window",
    "analysis",
    "codec",
    "uuid",
    "creation_date",
    "provided_name",
    "version",
];

/// `settings` as Elasticsearch accepts them: flat (`index.number_of_shards`), nested
/// (`{"index": {...}}`) or bare (`{"number_of_shards": 1}`); returns `settings.index`.
fn index_settings(settings: Option<&Value>) -> Result<Value, EsError> {
    let mut out = serde_json::Map::new();
    let Some(settings) = settings else { return Ok(Value::Object(out)) };
    let settings = settings.as_object().ok_or_else(|| EsError::illegal_argument("[settings] must be an object"))?;
    for (key, value) in settings {
        if key == "index" {
            let nested =
                value.as_object().ok_or_else(|| EsError::illegal_argument("[settings.index] must be an object"))?;
            out.extend(nested.clone());
        } else {
            out.insert(key.strip_prefix("index.").unwrap_or(key).to_owned(), value.clone());
        }
    }
    if let Some(key) = out.keys().find(|k| !KNOWN_SETTINGS.contains(&String::as_str(k))) {
        return Err(EsError::illegal_argument(format!(
            "unknown setting [index.{key}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"
        )));
    }
    Ok(Value::Object(out))
}

fn tantivy_error(err: tantivy::TantivyError) -> EsError {
    EsError::internal(err)
}

impl EsIndex {
    /// Creates the index in `directory` (which must not exist yet).
    pub fn create(directory: &Path, name: &str, body: &Value) -> Result<Self, EsError> {
        if let Some(key) = body
            .as_object()
            .and_then(|b| b.keys().find(|k| !matches!(String::as_str(k), "settings" | "mappings" | "aliases")))
        {
            return Err(EsError::parsing(format!("unknown key [{key}] for create index")));
        }
        let settings = index_settings(body.get("settings"))?;
        let analysis = Analysis::parse(settings.get("analysis"))?;
        let mapping = Mapping::parse(body.get("mappings"), &analysis)?;
        let meta = Meta {
            uuid: new_uuid(),
            creation_date: chrono::Utc::now().timestamp_millis(),
            settings,
            mappings: mapping.declared.clone(),
        };
        let staging = directory.with_extension("creating");
        let _ = std::fs::remove_dir_all(&staging);
        // A directory no index was opened from is a create cut short.
        let _ = std::fs::remove_dir_all(directory);
        std::fs::create_dir_all(&staging)?;
        let mmap = tantivy::directory::MmapDirectory::open(&staging).map_err(EsError::internal)?;
        Index::create(mmap, mapping.schema(), tantivy::IndexSettings::default()).map_err(tantivy_error)?;
        write_synced(&staging.join(META_FILE), &serde_json::to_vec_pretty(&meta).map_err(EsError::internal)?)?;
        std::fs::rename(&staging, directory)?;
        if let Some(parent) = directory.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Self::open(directory, name).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(directory);
        })
    }

    pub fn open(directory: &Path, name: &str) -> Result<Self, EsError> {
        let meta: Meta =
            serde_json::from_slice(&std::fs::read(directory.join(META_FILE))?).map_err(EsError::internal)?;
        let analysis = Analysis::parse(meta.settings.get("analysis"))?;
        let mapping = Mapping::parse(Some(&meta.mappings), &analysis)?;
        let mmap = tantivy::directory::MmapDirectory::open(directory).map_err(EsError::internal)?;
        let index = Index::open(mmap).map_err(tantivy_error)?;
        analysis.register(index.tokenizers());
        analysis.register(index.fast_field_tokenizer());
        let meta_fields = MetaFields::of(&index.schema())?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(tantivy_error)?;
        let next_seq_no = max_seq_no(&reader.searcher()).map_or(0, |max| max + 1);
        Ok(EsIndex {
            name: name.to_owned(),
            uuid: meta.uuid,
            creation_date: meta.creation_date,
            settings: meta.settings,
            mapping,
            index,
            meta: meta_fields,
            reader,
            writer: Mutex::new(None),
            next_seq_no: AtomicU64::new(next_seq_no),
            directory: directory.to_owned(),
        })
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    fn current(&self, searcher: &Searcher, id: &str) -> Result<Option<Current>, EsError> {
        let query = TermQuery::new(Term::from_field_text(self.meta.id, id), IndexRecordOption::Basic);
        let found = searcher.search(&query, &TopDocs::with_limit(1).order_by_score()).map_err(tantivy_error)?;
        let Some((_, address)) = found.first() else { return Ok(None) };
        let doc: TantivyDocument = searcher.doc(*address).map_err(tantivy_error)?;
        let version = doc.get_first(self.meta.version).and_then(|v| v.as_u64()).unwrap_or(0);
        let tombstone = doc.get_first(self.meta.tombstone).and_then(|v| v.as_bool()).unwrap_or(false);
        Ok(Some(Current { version, live: !tombstone }))
    }

    /// A live document by id.
    pub fn get(&self, id: &str) -> Result<Option<Found>, EsError> {
        let searcher = self.searcher();
        let query = TermQuery::new(Term::from_field_text(self.meta.id, id), IndexRecordOption::Basic);
        let found = searcher.search(&query, &TopDocs::with_limit(1).order_by_score()).map_err(tantivy_error)?;
        let Some((_, address)) = found.first() else { return Ok(None) };
        let doc: TantivyDocument = searcher.doc(*address).map_err(tantivy_error)?;
        if doc.get_first(self.meta.tombstone).and_then(|v| v.as_bool()).unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some(Found {
            version: doc.get_first(self.meta.version).and_then(|v| v.as_u64()).unwrap_or(0),
            seq_no: doc.get_first(self.meta.seq_no).and_then(|v| v.as_u64()).unwrap_or(0),
            source: source_of(&doc, self.meta),
        }))
    }

    /// Applies writes in order, each checked against what the ones before it left, and
    /// commits them together; each op answers on its own.
    pub fn write(&self, ops: Vec<WriteOp>) -> Vec<Result<WriteOutcome, EsError>> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let options = tantivy::indexer::IndexWriterOptions::builder()
                .memory_budget_per_thread(WRITER_BYTES)
                .num_worker_threads(1)
                .num_merge_threads(1)
                .build();
            match self.index.writer_with_options(options) {
                Ok(writer) => *guard = Some(writer),
                Err(err) => {
                    let err = tantivy_error(err);
                    return ops.iter().map(|_| Err(err.clone())).collect();
                }
            }
        }
        let Some(writer) = guard.as_mut() else { return Vec::new() };
        let searcher = self.searcher();
        let mut pending: HashMap<String, Current> = HashMap::new();
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut wrote = false;
        for op in ops {
            let outcome = self.write_one(writer, &searcher, &mut pending, op);
            wrote |= outcome.as_ref().is_ok_and(|o| o.result != "noop");
            outcomes.push(outcome);
        }
        if wrote
            && let Err(err) =
                writer.commit().map_err(tantivy_error).and_then(|_| self.reader.reload().map_err(tantivy_error))
        {
            // Nothing of this request is acknowledged; the writer starts over.
            *guard = None;
            return outcomes.into_iter().map(|_| Err(err.clone())).collect();
        }
        outcomes
    }

    fn write_one(
        &self,
        writer: &mut IndexWriter,
        searcher: &Searcher,
        pending: &mut HashMap<String, Current>,
        op: WriteOp,
    ) -> Result<WriteOutcome, EsError> {
        let id = match op.id {
            Some(id) if id.is_empty() => {
                return Err(EsError::illegal_argument("if _id is specified it must not be empty"));
            }
            Some(id) if id.len() > 512 => {
                return Err(EsError::illegal_argument(format!(
                    "id [{id}] is too long, must be no longer than 512 bytes"
                )));
            }
            Some(id) => id,
            None => match op.action {
                WriteAction::Index { .. } => new_uuid(),
                WriteAction::Delete => return Err(EsError::illegal_argument("a delete needs an id")),
            },
        };
        let current = match pending.get(&id) {
            Some(current) => Some(*current),
            None => self.current(searcher, &id)?,
        };
        let version = match (op.version_type, op.version) {
            (VersionType::Internal, Some(_)) => {
                return Err(EsError::illegal_argument(
                    "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead",
                ));
            }
            (VersionType::Internal, None) => current.map_or(1, |c| c.version + 1),
            (_, None) => return Err(EsError::illegal_argument("an external version type needs a version")),
            (kind, Some(version)) => {
                if let Some(current) = current {
                    let stale = match kind {
                        VersionType::ExternalGte => current.version > version,
                        _ => current.version >= version,
                    };
                    if stale {
                        return Err(EsError::version_conflict(
                            &id,
                            format!(
                                "current version [{}] is higher or equal to the one provided [{version}]",
                                current.version
                            ),
                        ));
                    }
                }
                version
            }
        };
        let live_before = current.is_some_and(|c| c.live);
        let seq_no = self.next_seq_no.fetch_add(1, Ordering::SeqCst);
        let (document, result, status, live) = match &op.action {
            WriteAction::Index { source, create_only } => {
                if *create_only && live_before {
                    return Err(EsError::version_conflict(
                        &id,
                        format!("document already exists (current version [{}])", current.map_or(0, |c| c.version)),
                    ));
                }
                let stored = Stored { id: &id, version, seq_no };
                let doc = live_document(
                    &self.index.schema(),
                    self.meta,
                    &self.mapping,
                    self.index.tokenizers(),
                    stored,
                    source,
                )?;
                let (result, status) =
                    if live_before { ("updated", StatusCode::OK) } else { ("created", StatusCode::CREATED) };
                (doc, result, status, true)
            }
            WriteAction::Delete => {
                let (result, status) =
                    if live_before { ("deleted", StatusCode::OK) } else { ("not_found", StatusCode::NOT_FOUND) };
                (tombstone(self.meta, &id, version, seq_no), result, status, false)
            }
        };
        writer.delete_term(Term::from_field_text(self.meta.id, &id));
        writer.add_document(document).map_err(tantivy_error)?;
        pending.insert(id.clone(), Current { version, live });
        Ok(WriteOutcome { id, version, seq_no, result, status })
    }

    /// Live documents (tombstones not counted).
    pub fn live_count(&self) -> Result<u64, EsError> {
        let searcher = self.searcher();
        let query = TermQuery::new(Term::from_field_bool(self.meta.tombstone, false), IndexRecordOption::Basic);
        Ok(searcher.search(&query, &tantivy::collector::Count).map_err(tantivy_error)? as u64)
    }

    /// Bytes the index's files take on disk.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.directory)
            .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    /// Lets go of the writer's memory between writes.
    pub fn release_writer(&self) {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(writer) = guard.take() {
            let _ = writer.wait_merging_threads();
        }
    }
}

pub fn source_of(doc: &TantivyDocument, meta: MetaFields) -> Value {
    doc.get_first(meta.source)
        .and_then(|v| v.as_bytes())
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .unwrap_or(Value::Null)
}

fn max_seq_no(searcher: &Searcher) -> Option<u64> {
    searcher
        .segment_readers()
        .iter()
        .filter_map(|segment| segment.fast_fields().u64("_seq_no").ok())
        .filter(|column| column.num_docs() > 0)
        .map(|column| column.max_value())
        .max()
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A random 20-character id like Elasticsearch's, from the OS's randomness.
pub fn new_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(20);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    while out.len() < 20 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher
            .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let mut bits = hasher.finish();
        for _ in 0..10 {
            out.push(alphabet[(bits & 63) as usize] as char);
            bits >>= 6;
        }
    }
    out.truncate(20);
    out
}
