//! `sql` and `sql_schema`: read-only queries over a SQLite database.
//!
//! The database is opened with `SQLITE_OPEN_READ_ONLY` on every call. A query must be one
//! statement (SQLite's prepare tail is checked), start with `SELECT`, `WITH` or `VALUES` (so
//! no `ATTACH`, `PRAGMA` or writes), and be read-only by `sqlite3_stmt_readonly`. It is
//! interrupted after a time limit, no string or blob it builds may exceed 16 MiB, and at most
//! `max_rows` rows come back, as a small table.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use futures::future::BoxFuture;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{Tool, ToolError};

/// The widest cell shown, in characters.
const MAX_CELL_CHARS: usize = 200;

/// The largest string or blob a query may build, in bytes. SQLite's default (1 GB) lets one
/// `randomblob(999999999)` take a gigabyte and run past the time limit inside a single step,
/// which the interrupt cannot stop.
const MAX_VALUE_BYTES: i32 = 16 << 20;

/// Why a database cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The file does not exist or is not a SQLite database.
    #[error("cannot open the SQLite database {path}: {message}")]
    Open {
        /// The path.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
}

/// The query tool's arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "crate::schemars")]
struct SqlArgs {
    /// One read-only SQLite statement (SELECT or WITH ... SELECT).
    query: String,
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "crate::schemars")]
struct NoArgs {}

/// Runs one read-only SQL query against a SQLite database and returns the rows as a table.
///
/// ```
/// use lmc::module::tools::{Sql, Tool};
///
/// let dir = std::env::temp_dir().join(format!("lmc-sql-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("pets.db");
/// let _ = std::fs::remove_file(&path);
/// rusqlite::Connection::open(&path)?.execute_batch(
///     "CREATE TABLE pet (name TEXT, legs INTEGER); INSERT INTO pet VALUES ('cat', 4), ('bird', 2);",
/// )?;
/// let sql = Sql::open(&path)?;
/// let call = |q: &str| futures::executor::block_on(sql.call(serde_json::json!({"query": q})));
/// assert_eq!(call("SELECT name, legs FROM pet ORDER BY legs")?, "name | legs\nbird | 2\ncat | 4");
/// assert!(call("DELETE FROM pet").unwrap_err().to_string().contains("read-only"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sql {
    path: PathBuf,
    max_rows: usize,
    query_timeout: Duration,
    schema: Value,
}

impl Sql {
    /// The database at `path`, checked to open read-only; 50 rows and 2 seconds per query
    /// by default.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SqlError> {
        let path = path.as_ref().to_path_buf();
        let conn = open_read_only(&path).map_err(|message| SqlError::Open { path: path.clone(), message })?;
        // Opening is lazy; reading the schema proves the file is a database.
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0))
            .map_err(|e| SqlError::Open { path: path.clone(), message: e.to_string() })?;
        Ok(Sql {
            path,
            max_rows: 50,
            query_timeout: Duration::from_secs(2),
            schema: schemars::schema_for!(SqlArgs).to_value(),
        })
    }

    /// Returns at most `max_rows` rows (and says how many more there were, up to a bound).
    pub fn with_max_rows(mut self, max_rows: usize) -> Self {
        self.max_rows = max_rows.max(1);
        self
    }

    /// Interrupts a query that runs longer than `timeout`.
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema tool for the same database.
    pub fn schema_tool(&self) -> SqlSchema {
        SqlSchema { path: self.path.clone(), schema: schemars::schema_for!(NoArgs).to_value() }
    }

    /// Runs `query` (blocking): the table text, or why the query was refused or failed.
    pub fn query(&self, query: &str) -> Result<String, String> {
        check_statement_kind(query)?;
        let conn = open_read_only(&self.path)?;
        let mut stmt = conn.prepare(query).map_err(|e| match e {
            rusqlite::Error::MultipleStatement => "only one SQL statement is allowed per call".to_string(),
            other => format!("SQL error: {other}"),
        })?;
        if !stmt.readonly() {
            return Err("the database is read-only: only queries that read (SELECT) are allowed".to_string());
        }
        let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
        let _watchdog = Watchdog::start(&conn, self.query_timeout);
        let mut rows = stmt.query([]).map_err(|e| run_error(&e, self.query_timeout))?;
        let mut lines = vec![columns.join(" | ")];
        let mut more = 0usize;
        while let Some(row) = rows.next().map_err(|e| run_error(&e, self.query_timeout))? {
            if lines.len() > self.max_rows {
                more += 1;
                // Counting the rest is bounded too: a huge result is not read to its end.
                if more >= 1000 {
                    break;
                }
                continue;
            }
            let cells: Vec<String> = (0..columns.len()).map(|i| cell(row.get_ref(i).ok())).collect();
            lines.push(cells.join(" | "));
        }
        if lines.len() == 1 {
            return Ok(format!("{}\n(no rows)", lines[0]));
        }
        if more > 0 {
            let plus = if more >= 1000 { "+" } else { "" };
            lines.push(format!("({more}{plus} more rows not shown; the limit is {})", self.max_rows));
        }
        Ok(lines.join("\n"))
    }
}

impl Tool for Sql {
    fn name(&self) -> &str {
        "sql"
    }

    fn description(&self) -> &str {
        "Runs one read-only SQLite query (SELECT) on the database and returns the rows as a table. Call sql_schema first to see the tables and columns."
    }

    fn args_schema(&self) -> &Value {
        &self.schema
    }

    fn call<'a>(&'a self, args: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let args: SqlArgs = serde_json::from_value(args).map_err(|e| ToolError::InvalidArgs(e.to_string()))?;
            let this = self.clone();
            blocking(move || this.query(&args.query)).await.map_err(ToolError::Failed)
        })
    }
}

/// Returns the database schema: the `CREATE` statements of its tables and views.
#[derive(Debug, Clone)]
pub struct SqlSchema {
    path: PathBuf,
    schema: Value,
}

impl SqlSchema {
    /// The `CREATE` statements, one per table or view, in name order (blocking).
    pub fn describe(&self) -> Result<String, String> {
        let conn = open_read_only(&self.path)?;
        let mut stmt = conn
            .prepare(
                "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND type IN ('table', 'view') \
                 AND name NOT LIKE 'sqlite_%' ORDER BY type, name",
            )
            .map_err(|e| e.to_string())?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
        let statements: Vec<String> = rows.collect::<Result<_, _>>().map_err(|e| e.to_string())?;
        Ok(statements.join(";\n") + ";")
    }
}

impl Tool for SqlSchema {
    fn name(&self) -> &str {
        "sql_schema"
    }

    fn description(&self) -> &str {
        "Returns the database schema: the CREATE TABLE statements of every table."
    }

    fn args_schema(&self) -> &Value {
        &self.schema
    }

    fn call<'a>(&'a self, args: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let _: NoArgs = serde_json::from_value(args).map_err(|e| ToolError::InvalidArgs(e.to_string()))?;
            let this = self.clone();
            blocking(move || this.describe()).await.map_err(ToolError::Failed)
        })
    }
}

fn open_read_only(path: &Path) -> Result<Connection, String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| format!("cannot open the database: {e}"))?;
    conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        .map_err(|e| format!("cannot limit the database connection: {e}"))?;
    Ok(conn)
}

/// Runs blocking work off the async workers when a Tokio runtime is running.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(work).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
        Err(_) => work(),
    }
}

/// Refuses anything but a query by its first keyword (after comments): `ATTACH`, `PRAGMA`
/// and the like are "read-only" to SQLite but change the connection.
fn check_statement_kind(query: &str) -> Result<(), String> {
    let mut rest = query.trim_start();
    loop {
        if let Some(line) = rest.strip_prefix("--") {
            rest = line.split_once('\n').map_or("", |(_, after)| after).trim_start();
        } else if let Some(block) = rest.strip_prefix("/*") {
            rest = block.split_once("*/").map_or("", |(_, after)| after).trim_start();
        } else {
            break;
        }
    }
    let keyword: String = rest.chars().take_while(char::is_ascii_alphabetic).collect::<String>().to_uppercase();
    match keyword.as_str() {
        "SELECT" | "WITH" | "VALUES" => Ok(()),
        "" => Err("the query is empty".to_string()),
        "ATTACH" | "DETACH" => Err("attaching databases is not allowed: the tool reads one database".to_string()),
        other => Err(format!("the database is read-only: only queries that read (SELECT) are allowed, not {other}")),
    }
}

fn run_error(e: &rusqlite::Error, timeout: Duration) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::OperationInterrupted) => {
            format!("the query took longer than {} ms and was stopped", timeout.as_millis())
        }
        _ => format!("SQL error: {e}"),
    }
}

fn cell(value: Option<ValueRef<'_>>) -> String {
    let text = match value {
        None | Some(ValueRef::Null) => "NULL".to_string(),
        Some(ValueRef::Integer(i)) => i.to_string(),
        Some(ValueRef::Real(x)) => crate::adapter::pyfmt::py_str(&Value::from(x)),
        Some(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
        Some(ValueRef::Blob(b)) => format!("<blob, {} bytes>", b.len()),
    };
    if text.chars().count() > MAX_CELL_CHARS {
        text.chars().take(MAX_CELL_CHARS).collect::<String>() + "…"
    } else {
        text
    }
}

/// Interrupts the connection's running statement when the time is up; dropping it first
/// (the query finished) stops the timer.
struct Watchdog {
    _stop: mpsc::Sender<()>,
}

impl Watchdog {
    fn start(conn: &Connection, timeout: Duration) -> Self {
        let handle = conn.get_interrupt_handle();
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(timeout) {
                handle.interrupt();
            }
        });
        Watchdog { _stop: stop }
    }
}
