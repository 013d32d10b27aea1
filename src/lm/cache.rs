//! The persistent LM cache: content-addressed replies in SQLite, with an in-memory layer in
//! front, and [`CachedLm`], the [`Lm`] wrapper that uses it.
//!
//! # Key
//!
//! [`cache_key`] is the hex SHA-256 of a canonical JSON document holding a version tag
//! ([`KEY_VERSION`]), the provider, the *requested* model, the base URL (trailing `/`
//! removed) and the whole [`LmRequest`] in its serde form: messages, every sampling
//! parameter that is set, the rollout index and the response format. Two requests that
//! differ in any of these (including only the rollout) have different keys; identical
//! requests have identical keys on every run and platform. API keys are never part of it:
//! an [`LmIdentity`] holds no key, and nothing else is hashed.
//!
//! # Layers
//!
//! An [`LmCache`] is a SQLite file (one table, see [`SCHEMA_VERSION`]) with a map in front:
//! a hit or a write in this process keeps the entry in memory, so repeated hits never touch
//! SQLite. A miss in memory always asks SQLite, so entries that another process writes
//! become visible. Each entry keeps the whole [`LmResponse`] as the model first returned
//! it: completions, usage, latency, served model and dollar cost. A hit therefore reports
//! the *program* cost of the call, while [`LmResponse::spent_usd`] is $0 because
//! [`LmResponse::cache_hit`] is set.
//!
//! # Modes
//!
//! | [`CacheMode`] | hit | miss |
//! |---|---|---|
//! | `read-write` (default) | the stored reply, `cache_hit = true` | call the model, store the reply |
//! | `off` | — (the cache is not consulted) | call the model, store nothing |
//! | `refresh` | call the model, overwrite | call the model, store the reply |
//! | `replay-only` | the stored reply, `cache_hit = true` | [`LmError::CacheMiss`]; the model is never called |
//!
//! Errors are never cached: a failed call leaves the cache as it was, and the next identical
//! request calls the model again. `replay-only` makes CI runs free and deterministic: record
//! once in `read-write` mode, [`export`](LmCache::export) the entries to a JSONL file that
//! can be committed or passed between jobs, [`import`](LmCache::import) it, and replay.
//!
//! # Several processes
//!
//! The database runs in WAL mode with a busy timeout, so any number of processes (parallel
//! `lmc` runs, CI shards) can read and write one file at once: readers never block writers,
//! writers queue for the write lock, and SQLite's locking keeps the file consistent. Every
//! write is a single statement or an `IMMEDIATE` transaction, so no write ever has to be
//! upgraded from a read lock (the case that fails with "database is locked" at once).
//!
//! # Default path
//!
//! [`LmCache::default_path`]: `$LMC_CACHE_PATH` when set, else
//! `$XDG_CACHE_HOME/lmc/cache.sqlite`, else `$HOME/.cache/lmc/cache.sqlite`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use lmc::lm::cache::{CacheMode, CachedLm, LmCache};
//! use lmc::{Lm, LmRequest, Message, Sampling, ScriptedLm};
//!
//! let model = Arc::new(ScriptedLm::new().with_default("Paris"));
//! let cache = Arc::new(LmCache::in_memory()?);
//! let lm = CachedLm::new(model.clone(), cache.clone(), CacheMode::ReadWrite);
//!
//! let request = LmRequest::new(vec![Message::user("capital of France?")], Sampling::default());
//! let first = futures::executor::block_on(lm.complete(&request))?;
//! let second = futures::executor::block_on(lm.complete(&request))?;
//!
//! assert!(!first.cache_hit);
//! assert!(second.cache_hit); // served from the cache: spent $0 ...
//! assert_eq!(second.usage, first.usage); // ... but it keeps the original usage
//! assert_eq!(second.completions, first.completions);
//! assert_eq!(model.requests().len(), 1); // the model was asked once
//! assert_eq!(cache.stats()?.entries, 1);
//! # Ok::<(), lmc::LmError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::{BoxFuture, FutureExt, Shared};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Lm, LmError, LmIdentity, LmRequest, LmResponse};

/// The version tag hashed into every key. Changing what a key covers means changing this tag,
/// which leaves old entries unreachable instead of wrongly matching.
pub const KEY_VERSION: &str = "lmc-cache-v1";

/// The database schema version, kept in SQLite's `user_version`.
///
/// Version 1 is one table:
///
/// ```sql
/// CREATE TABLE entries (
///     key        TEXT PRIMARY KEY,  -- cache_key(): 64 lowercase hex digits
///     provider   TEXT NOT NULL,     -- `openai`, `anthropic`, ...
///     model      TEXT NOT NULL,     -- the requested model
///     base_url   TEXT,              -- the endpoint, when there is one
///     response   TEXT NOT NULL,     -- the LmResponse as JSON (original usage, cost, latency)
///     created_at INTEGER NOT NULL   -- when it was written, Unix milliseconds
/// );
/// CREATE INDEX entries_model ON entries (provider, model);
/// ```
pub const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The most entries the in-memory layer holds; past it, the layer starts over (SQLite still
/// has everything).
const MEMORY_CAPACITY: usize = 20_000;

/// The cache key of `request` sent to `identity`: 64 lowercase hex digits.
///
/// The SHA-256 of the compact JSON of `{"version", "provider", "model", "base_url",
/// "request"}`, in that order, where `request` is the serde form of [`LmRequest`] (fields in
/// declaration order, unset sampling parameters omitted, JSON-schema objects in the order
/// they are sent, since providers generate fields in that order). No API key is hashed.
///
/// ```
/// use lmc::lm::cache::cache_key;
/// use lmc::{LmIdentity, LmRequest, Message, Sampling};
///
/// let identity = LmIdentity { provider: "openai".into(), model: "gpt-4o-mini".into(), base_url: None };
/// let request = LmRequest::new(vec![Message::user("hi")], Sampling::default());
/// let mut second = request.clone();
/// second.rollout = 1;
/// assert_eq!(cache_key(&identity, &request).len(), 64);
/// assert_ne!(cache_key(&identity, &request), cache_key(&identity, &second));
/// ```
pub fn cache_key(identity: &LmIdentity, request: &LmRequest) -> String {
    #[derive(Serialize)]
    struct KeyMaterial<'a> {
        version: &'static str,
        provider: &'a str,
        model: &'a str,
        base_url: Option<&'a str>,
        request: &'a LmRequest,
    }
    let material = KeyMaterial {
        version: KEY_VERSION,
        provider: &identity.provider,
        model: &identity.model,
        base_url: identity.base_url.as_deref().map(|url| url.trim_end_matches('/')),
        request,
    };
    // Serializing plain data (strings, numbers, JSON values) into a String cannot fail.
    let canonical = serde_json::to_vec(&material).expect("an LM request always serializes to JSON");
    hex(&Sha256::digest(&canonical))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn is_valid_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How a [`CachedLm`] uses its cache. Parsed from and shown as `read-write`, `off`,
/// `refresh`, `replay-only`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// Serve hits from the cache; call the model on a miss and store the reply.
    #[default]
    ReadWrite,
    /// Do not use the cache at all.
    Off,
    /// Always call the model and overwrite the stored reply (re-record).
    Refresh,
    /// Serve hits from the cache; a miss is [`LmError::CacheMiss`] and the model is never
    /// called (free, deterministic CI runs).
    ReplayOnly,
}

impl CacheMode {
    /// Every mode, in documentation order.
    pub const ALL: [CacheMode; 4] = [CacheMode::ReadWrite, CacheMode::Off, CacheMode::Refresh, CacheMode::ReplayOnly];

    /// The name: `read-write`, `off`, `refresh` or `replay-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::ReadWrite => "read-write",
            CacheMode::Off => "off",
            CacheMode::Refresh => "refresh",
            CacheMode::ReplayOnly => "replay-only",
        }
    }
}

impl fmt::Display for CacheMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CacheMode {
    type Err = ParseCacheModeError;

    /// Parses a mode name, ignoring case and accepting `_` for `-` (`replay_only`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalized = s.trim().to_ascii_lowercase().replace('_', "-");
        CacheMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == normalized)
            .ok_or_else(|| ParseCacheModeError { input: s.to_string() })
    }
}

/// An unknown [`CacheMode`] name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCacheModeError {
    input: String,
}

impl fmt::Display for ParseCacheModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown cache mode {:?}: expected read-write (the default), off, refresh or replay-only", self.input)
    }
}

impl std::error::Error for ParseCacheModeError {}

/// What is in a cache, and what this process did with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// The database file (`None` for an in-memory cache).
    pub path: Option<PathBuf>,
    /// The schema version of the database.
    pub schema_version: i64,
    /// Stored entries.
    pub entries: u64,
    /// Size of the database and its write-ahead log on disk, in bytes (for an in-memory
    /// cache, the size of its pages).
    pub bytes_on_disk: u64,
    /// Entries per `provider/model`.
    pub per_model: BTreeMap<String, u64>,
    /// Lookups this process served from the cache.
    pub hits: u64,
    /// Lookups this process did not find.
    pub misses: u64,
    /// Entries this process wrote.
    pub writes: u64,
}

impl fmt::Display for CacheStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => writeln!(f, "cache:   {}", path.display())?,
            None => writeln!(f, "cache:   (in memory)")?,
        }
        writeln!(f, "entries: {}", self.entries)?;
        writeln!(f, "size:    {} bytes", self.bytes_on_disk)?;
        for (model, count) in &self.per_model {
            writeln!(f, "  {model}: {count}")?;
        }
        write!(f, "this process: {} hits, {} misses, {} writes", self.hits, self.misses, self.writes)
    }
}

/// One line of an export file.
#[derive(Debug, Serialize, Deserialize)]
struct ExportEntry {
    key: String,
    provider: String,
    model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    response: LmResponse,
}

/// The persistent cache: a SQLite database with an in-memory layer in front. See the
/// [module documentation](self).
///
/// Thread-safe; share it as `Arc<LmCache>`. SQLite calls run synchronously under a mutex:
/// each is a single indexed lookup or write of one row (well under a millisecond, except
/// when another process holds the write lock), which is cheaper than handing the call to a
/// blocking thread and works under any executor. The mutex is never held across an
/// `.await`.
pub struct LmCache {
    path: Option<PathBuf>,
    conn: Mutex<Connection>,
    memory: Mutex<HashMap<String, LmResponse>>,
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
}

impl fmt::Debug for LmCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LmCache").field("path", &self.path).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A reply as stored: the original completions, usage, cost and latency, not marked as a hit,
/// no retries.
fn normalized(response: &LmResponse) -> LmResponse {
    LmResponse { cache_hit: false, retries: 0, ..response.clone() }
}

/// A stored reply as served: marked as a hit, no retries.
fn as_hit(stored: LmResponse) -> LmResponse {
    LmResponse { cache_hit: true, retries: 0, ..stored }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn default_path_from(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let set = |name: &str| var(name).filter(|value| !value.is_empty());
    if let Some(path) = set("LMC_CACHE_PATH") {
        return PathBuf::from(path);
    }
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(dir) = set("XDG_CACHE_HOME").map(PathBuf::from).filter(|dir| dir.is_absolute()) {
        return dir.join("lmc").join("cache.sqlite");
    }
    if let Some(home) = set("HOME").or_else(|| set("USERPROFILE")) {
        return PathBuf::from(home).join(".cache").join("lmc").join("cache.sqlite");
    }
    std::env::temp_dir().join("lmc").join("cache.sqlite")
}

impl LmCache {
    /// Opens (creating if needed) the cache database at `path`, creating its parent
    /// directories, in WAL mode with a busy timeout. Errors name the path.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LmError> {
        let path = path.as_ref();
        let fail = |what: &str, e: &dyn fmt::Display| LmError::Cache(format!("{}: {what}: {e}", path.display()));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| fail("cannot create the cache directory", &e))?;
        }
        let conn = Connection::open(path).map_err(|e| fail("cannot open the cache database", &e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail("cannot set the busy timeout", &e))?;
        // Switching to WAL needs a moment of exclusive access; another process opening the
        // same new file can make it report busy even with the timeout, so try again briefly.
        let started = std::time::Instant::now();
        let mode = loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0)) {
                Ok(mode) => break mode,
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(fail("cannot switch the cache database to WAL mode", &e)),
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(fail("cannot switch the cache database to WAL mode", &format!("journal mode is {mode}")));
        }
        // In WAL mode, NORMAL never corrupts the database; a power cut may lose the last writes.
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(|e| fail("cannot configure the cache database", &e))?;
        Self::from_connection(Some(path.to_path_buf()), conn)
    }

    /// Opens the cache at [`LmCache::default_path`].
    pub fn open_default() -> Result<Self, LmError> {
        Self::open(Self::default_path())
    }

    /// A cache that lives only in this process and is gone when it is dropped (tests,
    /// doctests, throwaway runs).
    pub fn in_memory() -> Result<Self, LmError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| LmError::Cache(format!(":memory:: cannot open an in-memory database: {e}")))?;
        Self::from_connection(None, conn)
    }

    /// Where the cache lives by default: `$LMC_CACHE_PATH` when set, else
    /// `$XDG_CACHE_HOME/lmc/cache.sqlite` (when `XDG_CACHE_HOME` is an absolute path), else
    /// `$HOME/.cache/lmc/cache.sqlite` (`%USERPROFILE%` on Windows), else
    /// `lmc/cache.sqlite` in the system's temporary directory.
    pub fn default_path() -> PathBuf {
        default_path_from(|name| std::env::var_os(name))
    }

    fn from_connection(path: Option<PathBuf>, mut conn: Connection) -> Result<Self, LmError> {
        let name = path.as_ref().map_or_else(|| ":memory:".to_string(), |p| p.display().to_string());
        let fail = |what: &str, e: &dyn fmt::Display| LmError::Cache(format!("{name}: {what}: {e}"));
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| fail("cannot lock the cache database", &e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| fail("cannot read the cache database (is it an lmc cache?)", &e))?;
        match version {
            0 => {
                tx.execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS entries (
                         key        TEXT PRIMARY KEY,
                         provider   TEXT NOT NULL,
                         model      TEXT NOT NULL,
                         base_url   TEXT,
                         response   TEXT NOT NULL,
                         created_at INTEGER NOT NULL
                     );
                     CREATE INDEX IF NOT EXISTS entries_model ON entries (provider, model);
                     PRAGMA user_version = {SCHEMA_VERSION};"
                ))
                .map_err(|e| fail("cannot create the cache tables", &e))?;
            }
            SCHEMA_VERSION => {}
            newer => {
                return Err(LmError::Cache(format!(
                    "{name}: schema version {newer} is not one this lmc understands ({SCHEMA_VERSION}); \
                     upgrade lmc or use another cache path"
                )))
            }
        }
        tx.commit().map_err(|e| fail("cannot initialize the cache database", &e))?;
        Ok(LmCache {
            path,
            conn: Mutex::new(conn),
            memory: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }

    /// The database file, or `None` for an in-memory cache.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn name(&self) -> String {
        self.path.as_ref().map_or_else(|| ":memory:".to_string(), |p| p.display().to_string())
    }

    fn error(&self, what: &str, e: impl fmt::Display) -> LmError {
        LmError::Cache(format!("{}: {what}: {e}", self.name()))
    }

    /// The stored reply for `key`, as stored (original usage, cost and latency; `cache_hit`
    /// false). Counts a hit or a miss in [`CacheStats`].
    pub fn get(&self, key: &str) -> Result<Option<LmResponse>, LmError> {
        let found = self.lookup(key)?;
        if found.is_some() {
            self.count_hit();
        } else {
            self.count_miss();
        }
        Ok(found)
    }

    /// Memory first, then SQLite; counts nothing.
    fn lookup(&self, key: &str) -> Result<Option<LmResponse>, LmError> {
        if let Some(found) = self.peek_memory(key) {
            return Ok(Some(found));
        }
        let text: Option<String> = lock(&self.conn)
            .query_row("SELECT response FROM entries WHERE key = ?1", [key], |row| row.get(0))
            .optional()
            .map_err(|e| self.error("cannot read the cache", e))?;
        let Some(text) = text else { return Ok(None) };
        let response: LmResponse = serde_json::from_str(&text).map_err(|e| {
            self.error(
                &format!("entry {key} is unreadable (re-record it with the cache in refresh mode, or clear the cache)"),
                e,
            )
        })?;
        self.remember(key, response.clone());
        Ok(Some(response))
    }

    fn peek_memory(&self, key: &str) -> Option<LmResponse> {
        lock(&self.memory).get(key).cloned()
    }

    fn remember(&self, key: &str, response: LmResponse) {
        let mut memory = lock(&self.memory);
        if memory.len() >= MEMORY_CAPACITY && !memory.contains_key(key) {
            memory.clear();
        }
        memory.insert(key.to_string(), response);
    }

    fn count_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    fn count_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores `response` under `key` (from [`cache_key`]), replacing any entry there. The
    /// reply is stored with its original usage, cost, latency and served model; `cache_hit`
    /// and `retries` are reset.
    pub fn put(&self, key: &str, identity: &LmIdentity, response: &LmResponse) -> Result<(), LmError> {
        if !is_valid_key(key) {
            return Err(self.error("cannot store an entry", format!("{key:?} is not a cache key (64 hex digits)")));
        }
        let stored = normalized(response);
        let text = serde_json::to_string(&stored).map_err(|e| self.error("cannot encode a reply", e))?;
        lock(&self.conn)
            .execute(
                "INSERT INTO entries (key, provider, model, base_url, response, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (key) DO UPDATE SET
                     provider = excluded.provider, model = excluded.model, base_url = excluded.base_url,
                     response = excluded.response, created_at = excluded.created_at",
                params![key, identity.provider, identity.model, identity.base_url, text, now_ms()],
            )
            .map_err(|e| self.error("cannot write to the cache", e))?;
        self.remember(key, stored);
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Entries, size, entries per model, and this process's hits, misses and writes.
    pub fn stats(&self) -> Result<CacheStats, LmError> {
        let conn = lock(&self.conn);
        let read = |e: rusqlite::Error| self.error("cannot read the cache", e);
        let entries: i64 = conn.query_row("SELECT COUNT(*) FROM entries", [], |row| row.get(0)).map_err(read)?;
        let mut per_model = BTreeMap::new();
        let mut statement = conn
            .prepare("SELECT provider, model, COUNT(*) FROM entries GROUP BY provider, model ORDER BY provider, model")
            .map_err(read)?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?)))
            .map_err(read)?;
        for row in rows {
            let (provider, model, count) = row.map_err(read)?;
            *per_model.entry(format!("{provider}/{model}")).or_insert(0) += u64::try_from(count).unwrap_or(0);
        }
        drop(statement);
        let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(read)?;
        let bytes_on_disk = match &self.path {
            Some(path) => [path.clone(), with_suffix(path, "-wal")]
                .iter()
                .filter_map(|p| fs::metadata(p).ok())
                .map(|m| m.len())
                .sum(),
            None => {
                let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0)).map_err(read)?;
                let size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0)).map_err(read)?;
                u64::try_from(pages * size).unwrap_or(0)
            }
        };
        Ok(CacheStats {
            path: self.path.clone(),
            schema_version,
            entries: u64::try_from(entries).unwrap_or(0),
            bytes_on_disk,
            per_model,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        })
    }

    /// Deletes every entry and returns how many there were. The file is then compacted when
    /// no other process is using it (best effort).
    pub fn clear(&self) -> Result<usize, LmError> {
        let conn = lock(&self.conn);
        let removed = conn.execute("DELETE FROM entries", []).map_err(|e| self.error("cannot clear the cache", e))?;
        lock(&self.memory).clear();
        if self.path.is_some() {
            if let Err(e) = conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);") {
                tracing::debug!(cache = %self.name(), error = %e, "could not compact the cache after clearing it");
            }
        }
        Ok(removed)
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok` when the database is sound.
    pub fn integrity_check(&self) -> Result<(), LmError> {
        let conn = lock(&self.conn);
        let mut statement =
            conn.prepare("PRAGMA integrity_check").map_err(|e| self.error("cannot check the cache", e))?;
        let problems: Vec<String> = statement
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error("cannot check the cache", e))?;
        if problems.len() == 1 && problems[0] == "ok" {
            Ok(())
        } else {
            Err(self.error("the database is damaged", problems.join("; ")))
        }
    }

    /// Writes every entry to `path` as JSON Lines, one entry per line, ordered by key:
    /// `{"key", "provider", "model", "base_url", "response"}`. The file holds no timestamps,
    /// so the same entries always give the same bytes; it can be committed or passed between
    /// CI jobs and read back with [`LmCache::import`]. Returns the number of entries.
    pub fn export(&self, path: impl AsRef<Path>) -> Result<usize, LmError> {
        let path = path.as_ref();
        let fail = |what: &str, e: &dyn fmt::Display| LmError::Cache(format!("{}: {what}: {e}", path.display()));
        let rows: Vec<(String, String, String, Option<String>, String)> = {
            let conn = lock(&self.conn);
            let read = |e: rusqlite::Error| self.error("cannot read the cache", e);
            let mut statement = conn
                .prepare("SELECT key, provider, model, base_url, response FROM entries ORDER BY key")
                .map_err(read)?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
                .and_then(|rows| rows.collect())
                .map_err(read)?;
            rows
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| fail("cannot create the directory", &e))?;
        }
        // Write beside the target and rename, so a reader never sees half a file.
        let partial = with_suffix(path, &format!(".partial-{}", std::process::id()));
        let write = || -> Result<(), LmError> {
            let file = fs::File::create(&partial).map_err(|e| fail("cannot create the export file", &e))?;
            let mut out = BufWriter::new(file);
            for (key, provider, model, base_url, text) in &rows {
                let response: LmResponse =
                    serde_json::from_str(text).map_err(|e| self.error(&format!("entry {key} is unreadable"), e))?;
                let entry = ExportEntry {
                    key: key.clone(),
                    provider: provider.clone(),
                    model: model.clone(),
                    base_url: base_url.clone(),
                    response: normalized(&response),
                };
                serde_json::to_writer(&mut out, &entry).map_err(|e| fail("cannot write the export file", &e))?;
                out.write_all(b"\n").map_err(|e| fail("cannot write the export file", &e))?;
            }
            let file = out.into_inner().map_err(|e| fail("cannot write the export file", e.error()))?;
            file.sync_all().map_err(|e| fail("cannot write the export file", &e))
        };
        if let Err(e) =
            write().and_then(|()| fs::rename(&partial, path).map_err(|e| fail("cannot write the export file", &e)))
        {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
        Ok(rows.len())
    }

    /// Reads a file written by [`LmCache::export`] and adds its entries, skipping keys that
    /// are already present. Returns how many entries were added. A line that is not a valid
    /// entry fails the whole import (nothing is added) with an error naming the file and the
    /// line number; blank lines are ignored.
    pub fn import(&self, path: impl AsRef<Path>) -> Result<usize, LmError> {
        let path = path.as_ref();
        let text = fs::read_to_string(path)
            .map_err(|e| LmError::Cache(format!("{}: cannot read the import file: {e}", path.display())))?;
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<ExportEntry>(line) {
                Ok(entry) if is_valid_key(&entry.key) => entries.push(entry),
                Ok(entry) => {
                    problems.push(format!("line {}: {:?} is not a cache key (64 hex digits)", index + 1, entry.key))
                }
                Err(e) => problems.push(format!("line {}: not a cache entry: {e}", index + 1)),
            }
        }
        if !problems.is_empty() {
            let shown = problems.len().min(5);
            let more =
                if problems.len() > shown { format!(" (and {} more)", problems.len() - shown) } else { String::new() };
            return Err(LmError::Cache(format!(
                "{}: nothing imported: {}{more}",
                path.display(),
                problems[..shown].join("; ")
            )));
        }
        let mut conn = lock(&self.conn);
        let write = |e: rusqlite::Error| self.error(&format!("cannot import {}", path.display()), e);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(write)?;
        let mut added = 0;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO entries (key, provider, model, base_url, response, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(write)?;
            let now = now_ms();
            for entry in &entries {
                let response = serde_json::to_string(&normalized(&entry.response))
                    .map_err(|e| self.error("cannot encode a reply", e))?;
                added += insert
                    .execute(params![entry.key, entry.provider, entry.model, entry.base_url, response, now])
                    .map_err(write)?;
            }
        }
        tx.commit().map_err(write)?;
        drop(conn);
        self.writes.fetch_add(added as u64, Ordering::Relaxed);
        Ok(added)
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

type SharedReply = Shared<BoxFuture<'static, Result<LmResponse, LmError>>>;

/// An [`Lm`] that answers from an [`LmCache`] and asks the wrapped model otherwise, as its
/// [`CacheMode`] says (see the [module documentation](self)).
///
/// Its identity is the inner model's. A hit returns the stored reply with `cache_hit = true`,
/// `retries = 0`, and the usage, cost and latency originally recorded. Failed calls are never
/// stored. If the cache cannot be written, the reply is still returned and a warning is
/// logged.
///
/// In `read-write` mode, identical requests in flight at the same time share one call to
/// the model: the first one calls it, the others wait for its reply and receive it as a
/// cache hit (they spent nothing). Identical requests from *different* processes, or in
/// `refresh` mode, may each call the model; the last reply stored wins, which is harmless
/// since they answer the same request.
pub struct CachedLm {
    inner: Arc<dyn Lm>,
    cache: Arc<LmCache>,
    mode: CacheMode,
    in_flight: Mutex<HashMap<String, SharedReply>>,
}

impl fmt::Debug for CachedLm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedLm")
            .field("inner", &self.inner)
            .field("cache", &self.cache)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Removes a leader's in-flight entry when it finishes or is cancelled.
struct InFlight<'a> {
    map: &'a Mutex<HashMap<String, SharedReply>>,
    key: &'a str,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(self.map).remove(self.key);
    }
}

enum Lookup {
    Hit(LmResponse),
    Follow(SharedReply),
    Lead(SharedReply),
}

impl CachedLm {
    /// Wraps `inner` with `cache` in `mode`.
    pub fn new(inner: Arc<dyn Lm>, cache: Arc<LmCache>, mode: CacheMode) -> Self {
        CachedLm { inner, cache, mode, in_flight: Mutex::new(HashMap::new()) }
    }

    /// The mode.
    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<LmCache> {
        &self.cache
    }

    /// The wrapped model.
    pub fn inner(&self) -> &Arc<dyn Lm> {
        &self.inner
    }

    fn store(cache: &LmCache, key: &str, identity: &LmIdentity, response: &LmResponse) {
        if let Err(e) = cache.put(key, identity, response) {
            tracing::warn!(model = %identity, key, error = %e, "could not store an LM reply in the cache");
        }
    }

    fn hit(&self, identity: &LmIdentity, key: &str, stored: LmResponse) -> LmResponse {
        self.cache.count_hit();
        tracing::debug!(model = %identity, key, "LM cache hit");
        as_hit(stored)
    }

    async fn read_write(&self, key: String, identity: LmIdentity, request: &LmRequest) -> Result<LmResponse, LmError> {
        if let Some(stored) = self.cache.lookup(&key)? {
            return Ok(self.hit(&identity, &key, stored));
        }
        let lookup = {
            let mut in_flight = lock(&self.in_flight);
            // A call that finished since the lookup above stored its reply in memory before
            // leaving the in-flight map, so checking memory here closes that gap.
            if let Some(stored) = self.cache.peek_memory(&key) {
                Lookup::Hit(stored)
            } else if let Some(shared) = in_flight.get(&key) {
                Lookup::Follow(shared.clone())
            } else {
                let inner = Arc::clone(&self.inner);
                let cache = Arc::clone(&self.cache);
                let (call_key, call_identity, request) = (key.clone(), identity.clone(), request.clone());
                let call: BoxFuture<'static, Result<LmResponse, LmError>> = async move {
                    let response = inner.complete(&request).await?;
                    Self::store(&cache, &call_key, &call_identity, &response);
                    Ok(response)
                }
                .boxed();
                let shared = call.shared();
                in_flight.insert(key.clone(), shared.clone());
                Lookup::Lead(shared)
            }
        };
        match lookup {
            Lookup::Hit(stored) => Ok(self.hit(&identity, &key, stored)),
            Lookup::Follow(shared) => {
                tracing::debug!(model = %identity, key, "waiting for an identical LM request in flight");
                let response = shared.await?;
                Ok(self.hit(&identity, &key, normalized(&response)))
            }
            Lookup::Lead(shared) => {
                let _in_flight = InFlight { map: &self.in_flight, key: &key };
                self.cache.count_miss();
                tracing::debug!(model = %identity, key, "LM cache miss");
                shared.await
            }
        }
    }
}

impl Lm for CachedLm {
    fn identity(&self) -> LmIdentity {
        self.inner.identity()
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            if self.mode == CacheMode::Off {
                return self.inner.complete(request).await;
            }
            let identity = self.inner.identity();
            let key = cache_key(&identity, request);
            match self.mode {
                CacheMode::Off | CacheMode::ReadWrite => self.read_write(key, identity, request).await,
                CacheMode::Refresh => {
                    let response = self.inner.complete(request).await?;
                    Self::store(&self.cache, &key, &identity, &response);
                    Ok(response)
                }
                CacheMode::ReplayOnly => match self.cache.lookup(&key)? {
                    Some(stored) => Ok(self.hit(&identity, &key, stored)),
                    None => {
                        self.cache.count_miss();
                        Err(LmError::CacheMiss { model: identity.to_string(), key })
                    }
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn default_path_prefers_lmc_cache_path_then_xdg_then_home() {
        let all = [("LMC_CACHE_PATH", "/x/c.sqlite"), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")];
        assert_eq!(default_path_from(env(&all)), PathBuf::from("/x/c.sqlite"));
        assert_eq!(default_path_from(env(&all[1..])), PathBuf::from("/xdg/lmc/cache.sqlite"));
        assert_eq!(default_path_from(env(&all[2..])), PathBuf::from("/home/u/.cache/lmc/cache.sqlite"));
        // Empty and relative values are ignored.
        let odd = [("LMC_CACHE_PATH", ""), ("XDG_CACHE_HOME", "relative"), ("HOME", "/home/u")];
        assert_eq!(default_path_from(env(&odd)), PathBuf::from("/home/u/.cache/lmc/cache.sqlite"));
    }

    #[test]
    fn keys_are_validated() {
        assert!(is_valid_key(&"a".repeat(64)));
        assert!(!is_valid_key(&"A".repeat(64)));
        assert!(!is_valid_key("abc"));
    }
}
