//! The built-in tools by name, with their settings, as program files name them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Calculator, Retrieve, Sql, Tool};

/// The names of the built-in tools.
pub const BUILTIN_TOOLS: &[&str] = &["calculator", "retrieve", "sql"];

/// One `[[step.tool]]` table: a built-in tool's name and its settings.
///
/// | name | settings |
/// |---|---|
/// | `calculator` | `timeout_ms` |
/// | `retrieve` | `corpus` (required: a `.jsonl` file or a folder of `.txt` files), `k` (default 3), `text_field` (JSONL, default `text`), `timeout_ms` |
/// | `sql` | `database` (required: a SQLite file), `max_rows` (default 50), `timeout_ms` (per query, default 2000), `schema_tool` (default `true`: also add `sql_schema`) |
///
/// Paths are relative to the program file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The built-in tool: `calculator`, `retrieve` or `sql`.
    pub name: String,
    /// Its settings.
    #[serde(flatten)]
    pub settings: BTreeMap<String, Value>,
}

/// The tools a `[[step.tool]]` table stands for (`sql` also brings `sql_schema`), with paths
/// resolved against `base` (the program file's folder). The error says what to fix.
///
/// ```
/// use lmc::module::tools::{builtin_tools, ToolSpec};
///
/// let spec = ToolSpec { name: "calculator".into(), settings: Default::default() };
/// let tools = builtin_tools(&spec, None)?;
/// assert_eq!(tools[0].name(), "calculator");
///
/// let missing = ToolSpec { name: "sql".into(), settings: Default::default() };
/// assert!(builtin_tools(&missing, None).err().unwrap().contains("`database`"));
/// # Ok::<(), String>(())
/// ```
pub fn builtin_tools(spec: &ToolSpec, base: Option<&Path>) -> Result<Vec<Arc<dyn Tool>>, String> {
    let settings = Settings { spec, base };
    match spec.name.as_str() {
        "calculator" => {
            settings.allow(&["timeout_ms"])?;
            let mut calc = Calculator::new();
            if let Some(t) = settings.millis("timeout_ms")? {
                calc = calc.with_timeout(Some(t));
            }
            Ok(vec![Arc::new(calc)])
        }
        "retrieve" => {
            settings.allow(&["corpus", "k", "text_field", "timeout_ms"])?;
            let corpus = settings.path("corpus")?;
            let text_field = settings.string("text_field")?.unwrap_or_else(|| "text".to_string());
            let mut retrieve = Retrieve::load(&corpus, &text_field).map_err(|e| e.to_string())?;
            if let Some(k) = settings.count("k")? {
                retrieve = retrieve.with_k(k);
            }
            if let Some(t) = settings.millis("timeout_ms")? {
                retrieve = retrieve.with_timeout(Some(t));
            }
            Ok(vec![Arc::new(retrieve)])
        }
        "sql" => {
            settings.allow(&["database", "max_rows", "timeout_ms", "schema_tool"])?;
            let mut sql = Sql::open(settings.path("database")?).map_err(|e| e.to_string())?;
            if let Some(n) = settings.count("max_rows")? {
                sql = sql.with_max_rows(n);
            }
            if let Some(t) = settings.millis("timeout_ms")? {
                sql = sql.with_query_timeout(t);
            }
            let with_schema = match spec.settings.get("schema_tool") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(format!("tool `sql`: `schema_tool` is true or false, not {other}")),
            };
            let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
            if with_schema {
                tools.push(Arc::new(sql.schema_tool()));
            }
            tools.push(Arc::new(sql));
            Ok(tools)
        }
        other => Err(format!("unknown tool `{other}`; the built-in tools are {}", BUILTIN_TOOLS.join(", "))),
    }
}

/// Typed access to a tool's settings, with messages that name the tool and the setting.
struct Settings<'a> {
    spec: &'a ToolSpec,
    base: Option<&'a Path>,
}

impl Settings<'_> {
    fn allow(&self, known: &[&str]) -> Result<(), String> {
        match self.spec.settings.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(format!(
                "tool `{}` has no setting `{key}`; its settings are {}",
                self.spec.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )),
            None => Ok(()),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.spec.settings.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("tool `{}`: `{key}` is a string, not {other}", self.spec.name)),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, String> {
        let Some(relative) = self.string(key)? else {
            return Err(format!("tool `{}` needs the setting `{key}` (a path)", self.spec.name));
        };
        let path = PathBuf::from(relative);
        Ok(match self.base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        })
    }

    fn count(&self, key: &str) -> Result<Option<usize>, String> {
        match self.spec.settings.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n as usize)),
                _ => Err(format!("tool `{}`: `{key}` is a positive integer, not {v}", self.spec.name)),
            },
        }
    }

    fn millis(&self, key: &str) -> Result<Option<Duration>, String> {
        Ok(self.count(key)?.map(|ms| Duration::from_millis(ms as u64)))
    }
}
