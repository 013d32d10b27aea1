//! Tools: typed tools from async functions, argument checks, failures as errors (never
//! panics), and the built-in calculator, retriever and read-only SQL tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lmc::module::tools::{
    builtin_tools, describe, tool_fn, Calculator, Retrieve, Sql, Tool, ToolError, ToolSpec, Toolbox, ToolboxError,
};
use lmc::schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Arguments of the test tools.
#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "lmc::schemars")]
struct DivideArgs {
    /// The dividend.
    a: i64,
    /// The divisor.
    b: i64,
}

fn divide() -> Arc<dyn Tool> {
    Arc::new(tool_fn("divide", "Divides a by b.", |args: DivideArgs| async move {
        if args.b == 0 {
            Err("division by zero".to_string())
        } else {
            Ok(args.a / args.b)
        }
    }))
}

fn toolbox(tools: Vec<Arc<dyn Tool>>) -> Toolbox {
    Toolbox::new(tools).unwrap()
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmc-tools-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// --- the Tool trait and the toolbox ----------------------------------------------------------

#[tokio::test]
async fn a_typed_function_becomes_a_tool_with_its_schema() {
    let tool = divide();
    assert_eq!(tool.name(), "divide");
    let args = tool.args();
    assert_eq!(args.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(args["a"]["type"], "integer");
    assert_eq!(args["b"]["description"], "The divisor.");
    let out = toolbox(vec![tool]).call("divide", &json!({"a": 84, "b": 2})).await;
    assert_eq!(out, Ok("42".to_string()));
}

#[tokio::test]
async fn arguments_are_checked_against_the_schema_before_the_call() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let tool = tool_fn("divide", "Divides.", move |args: DivideArgs| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { Ok::<_, String>(args.a / args.b.max(1)) }
    });
    let tools = toolbox(vec![Arc::new(tool)]);
    let cases = [
        (json!({"a": "ten", "b": 2}), "$.a"),
        (json!({"a": 1}), "b"),
        (json!({"a": 1, "b": 2, "c": 3}), "Arg c is not in the tool's args."),
        (json!(["a", "b"]), "must be a JSON object"),
    ];
    for (args, want) in cases {
        match tools.call("divide", &args).await {
            Err(ToolError::InvalidArgs(message)) => assert!(message.contains(want), "{args}: {message}"),
            other => panic!("{args}: expected invalid arguments, got {other:?}"),
        }
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0, "no call with bad arguments");
}

#[tokio::test]
async fn a_tool_error_a_panic_and_an_unknown_tool_are_errors_not_crashes() {
    let panicky = tool_fn("boom", "Panics.", |_: DivideArgs| async move {
        if true {
            panic!("kaboom");
        }
        Ok::<_, String>(0)
    });
    let tools = toolbox(vec![divide(), Arc::new(panicky)]);
    assert_eq!(tools.call("divide", &json!({"a": 1, "b": 0})).await, Err(ToolError::Failed("division by zero".into())));
    assert_eq!(tools.call("boom", &json!({"a": 1, "b": 1})).await, Err(ToolError::Panicked("kaboom".into())));
    let unknown = tools.call("search", &json!({})).await.unwrap_err();
    assert_eq!(unknown.to_string(), "no tool named `search`; the tools are: divide, boom");
}

/// A tool that panics while building its future, before anything is polled.
struct EagerPanic(Value);

impl Tool for EagerPanic {
    fn name(&self) -> &str {
        "eager"
    }
    fn description(&self) -> &str {
        "Panics before its future exists."
    }
    fn args_schema(&self) -> &Value {
        &self.0
    }
    fn call<'a>(&'a self, args: Value) -> futures::future::BoxFuture<'a, Result<String, ToolError>> {
        let q = args["q"].as_str().expect("q is a string").to_string();
        Box::pin(async move { Ok(q) })
    }
}

#[tokio::test]
async fn a_panic_while_building_the_call_is_an_error_not_a_crash() {
    let tools = toolbox(vec![Arc::new(EagerPanic(json!({"type": "object", "properties": {"q": {}}})))]);
    assert_eq!(tools.call("eager", &json!({"q": "hi"})).await.unwrap(), "hi");
    let error = tools.call("eager", &json!({"q": 3})).await.unwrap_err();
    assert_eq!(error, ToolError::Panicked("q is a string".into()));
}

#[tokio::test]
async fn a_slow_tool_times_out() {
    let slow = tool_fn("slow", "Sleeps.", |_: DivideArgs| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<_, String>(1)
    })
    .with_timeout(Some(Duration::from_millis(50)));
    let started = std::time::Instant::now();
    let out = toolbox(vec![Arc::new(slow)]).call("slow", &json!({"a": 1, "b": 1})).await;
    assert_eq!(out, Err(ToolError::Timeout(Duration::from_millis(50))));
    assert_eq!(out.unwrap_err().to_string(), "timed out after 50 ms");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn toolbox_refuses_clashing_and_reserved_names() {
    assert_eq!(Toolbox::new(vec![divide(), divide()]).unwrap_err(), ToolboxError::Duplicate("divide".into()));
    let finish = tool_fn("finish", "No.", |_: DivideArgs| async move { Ok::<_, String>(0) });
    assert_eq!(Toolbox::new(vec![Arc::new(finish)]).unwrap_err(), ToolboxError::ReservedName);
    let spaced = tool_fn("two words", "No.", |_: DivideArgs| async move { Ok::<_, String>(0) });
    assert!(matches!(Toolbox::new(vec![Arc::new(spaced)]), Err(ToolboxError::BadName(_))));
}

#[test]
fn tools_are_described_as_dspy_prints_them() {
    // As DSPy: each argument's schema, its description (from the doc comment) after the type.
    let tool = divide();
    assert_eq!(
        describe(tool.name(), tool.description(), &tool.args()),
        "divide, whose description is <desc>Divides a by b.</desc>. It takes arguments \
         {'a': {'type': 'integer', 'format': 'int64', 'description': 'The dividend.'}, \
         'b': {'type': 'integer', 'format': 'int64', 'description': 'The divisor.'}}."
    );
    assert_eq!(describe("noop", "", &Default::default()), "noop. It takes arguments {}.");
    assert_eq!(
        describe("x", "line one\nline two", &Default::default()),
        "x, whose description is <desc>line one  line two</desc>. It takes arguments {}."
    );
}

// --- calculator ------------------------------------------------------------------------------

#[tokio::test]
async fn calculator_evaluates_arithmetic_and_reports_what_it_cannot() {
    let tools = toolbox(vec![Arc::new(Calculator::new())]);
    let calc = |e: &'static str| {
        let tools = &tools;
        async move { tools.call("calculator", &json!({ "expression": e })).await }
    };
    assert_eq!(calc("(3 + 4.5) * 2").await.unwrap(), "15");
    assert_eq!(calc("2 ** 10").await.unwrap(), "1024");
    assert_eq!(calc("sqrt(16) / 8").await.unwrap(), "0.5");
    assert_eq!(calc("7 / 2").await.unwrap(), "3.5");
    for bad in ["1 / 0", "2 +", "", "std::process::exit(1)", "x + 1", "import os"] {
        assert!(matches!(calc(bad).await, Err(ToolError::Failed(_))), "{bad}");
    }
    let long = "1+".repeat(600) + "1";
    assert!(Calculator::evaluate(&long).unwrap_err().contains("longer than"));
}

// --- retrieve --------------------------------------------------------------------------------

#[tokio::test]
async fn retrieve_ranks_a_jsonl_corpus_with_bm25() {
    let dir = scratch("jsonl");
    let corpus = dir.join("docs.jsonl");
    std::fs::write(
        &corpus,
        "{\"title\": \"Lisbon\", \"text\": \"Lisbon is the capital of Portugal.\"}\n\
         {\"title\": \"Porto\", \"text\": \"Porto is known for port wine.\"}\n\
         \n\
         {\"text\": \"Madrid is the capital of Spain.\"}\n",
    )
    .unwrap();
    let retrieve = Retrieve::load(&corpus, "text").unwrap().with_k(2);
    let out = retrieve.call(json!({"query": "capital of Spain"})).await.unwrap();
    assert_eq!(out, "[1] Madrid is the capital of Spain.\n[2] Lisbon: Lisbon is the capital of Portugal.");
    let one = retrieve.call(json!({"query": "port wine", "k": 1})).await.unwrap();
    assert_eq!(one, "[1] Porto: Porto is known for port wine.");
    assert_eq!(retrieve.call(json!({"query": "zebra"})).await.unwrap(), "No passages match the query.");

    std::fs::write(&corpus, "{\"body\": \"no text field\"}\n").unwrap();
    assert!(Retrieve::load(&corpus, "text").unwrap_err().to_string().contains("line 1: no string field `text`"));
}

#[tokio::test]
async fn retrieve_reads_a_folder_of_text_files() {
    let dir = scratch("folder");
    std::fs::write(dir.join("b_rust.txt"), "Rust has ownership and borrowing.").unwrap();
    std::fs::write(dir.join("a_python.txt"), "Python has a garbage collector.").unwrap();
    std::fs::write(dir.join("notes.md"), "Rust ownership ownership ownership").unwrap();
    let retrieve = Retrieve::load(&dir, "text").unwrap();
    let out = retrieve.call(json!({"query": "ownership"})).await.unwrap();
    assert_eq!(out, "[1] b_rust: Rust has ownership and borrowing.");
    assert!(Retrieve::load(&scratch("empty"), "text").is_err());
}

// --- sql -------------------------------------------------------------------------------------

/// A small database: `pet(name, legs)` with three rows.
fn pets_db(name: &str) -> PathBuf {
    let path = scratch(name).join("pets.db");
    rusqlite_exec(
        &path,
        "CREATE TABLE pet (name TEXT, legs INTEGER); INSERT INTO pet VALUES ('cat', 4), ('bird', 2), ('snake', 0);",
    );
    path
}

fn rusqlite_exec(path: &Path, sql: &str) {
    // The SQL tool cannot write, so fixtures go through an ordinary writable connection.
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn count_pets(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM pet", [], |r| r.get(0)).unwrap()
}

async fn query(sql: &Sql, q: &str) -> Result<String, ToolError> {
    sql.call(json!({ "query": q })).await
}

#[tokio::test]
async fn sql_returns_rows_as_a_table_within_the_row_limit() {
    let sql = Sql::open(pets_db("table")).unwrap().with_max_rows(2);
    assert_eq!(
        query(&sql, "SELECT name, legs FROM pet ORDER BY legs DESC").await.unwrap(),
        "name | legs\ncat | 4\nbird | 2\n(1 more rows not shown; the limit is 2)"
    );
    assert_eq!(query(&sql, "-- a comment\nSELECT avg(legs) AS mean FROM pet").await.unwrap(), "mean\n2.0");
    assert_eq!(query(&sql, "SELECT name FROM pet WHERE legs > 10").await.unwrap(), "name\n(no rows)");
    let error = query(&sql, "SELECT nope FROM pet").await.unwrap_err().to_string();
    assert!(error.contains("no such column: nope"), "{error}");
}

#[tokio::test]
async fn sql_refuses_writes_multiple_statements_and_attached_databases() {
    let path = pets_db("refuse");
    let sql = Sql::open(&path).unwrap();
    let other = path.with_file_name("other.db");
    let refusals = [
        ("DELETE FROM pet", "read-only"),
        ("INSERT INTO pet VALUES ('dog', 4)", "read-only"),
        ("UPDATE pet SET legs = 3", "read-only"),
        ("DROP TABLE pet", "read-only"),
        ("CREATE TABLE x (y)", "read-only"),
        ("WITH doomed AS (SELECT 1) DELETE FROM pet", "read-only"),
        ("PRAGMA writable_schema = 1", "read-only"),
        ("SELECT 1; DELETE FROM pet", "only one SQL statement"),
        ("SELECT 1; SELECT 2", "only one SQL statement"),
        (&*format!("ATTACH DATABASE '{}' AS other", other.display()), "attaching databases is not allowed"),
        (&*format!("/* hi */ attach '{}' as o", other.display()), "attaching databases is not allowed"),
        ("", "empty"),
    ];
    for (q, want) in refusals {
        let error = query(&sql, q).await.unwrap_err().to_string();
        assert!(error.contains(want), "{q}: {error}");
    }
    assert_eq!(count_pets(&path), 3, "nothing was deleted");
    assert!(!other.exists(), "no database was attached or created");
    // A trailing semicolon and whitespace are still one statement.
    assert_eq!(query(&sql, "SELECT count(*) AS n FROM pet;  ").await.unwrap(), "n\n3");
}

#[tokio::test]
async fn sql_interrupts_a_query_that_runs_too_long() {
    let sql = Sql::open(pets_db("slow")).unwrap().with_query_timeout(Duration::from_millis(100));
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
    let started = std::time::Instant::now();
    let error = query(&sql, endless).await.unwrap_err().to_string();
    assert!(error.contains("took longer than 100 ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn sql_refuses_huge_values_instead_of_allocating_them() {
    // SQLite's default allows 1 GB per value, built in one uninterruptible step.
    let sql = Sql::open(pets_db("huge")).unwrap();
    let started = std::time::Instant::now();
    let error = query(&sql, "SELECT length(randomblob(200000000)) AS n").await.unwrap_err().to_string();
    assert!(error.contains("too big"), "{error}");
    // printf gives up with NULL rather than an error.
    let padded = query(&sql, "SELECT length(printf('%.*c', 200000000, 'x')) AS n").await;
    assert!(!format!("{padded:?}").contains("200000000"), "{padded:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(query(&sql, "SELECT length(randomblob(1000000)) AS n").await.unwrap(), "n\n1000000");
}

#[tokio::test]
async fn sql_schema_lists_the_tables_and_open_checks_the_file() {
    let sql = Sql::open(pets_db("schema")).unwrap();
    let schema = sql.schema_tool();
    assert_eq!(schema.name(), "sql_schema");
    assert!(schema.args().is_empty());
    assert_eq!(schema.call(json!({})).await.unwrap(), "CREATE TABLE pet (name TEXT, legs INTEGER);");

    let missing = scratch("missing").join("nope.db");
    assert!(Sql::open(&missing).unwrap_err().to_string().contains("cannot open the SQLite database"));
    assert!(!missing.exists(), "opening read-only never creates the file");
    let not_db = scratch("notdb").join("text.db");
    std::fs::write(&not_db, "this is not a database, just some text that is long enough to have a header").unwrap();
    assert!(Sql::open(&not_db).is_err());
}

// --- built-in tools by name --------------------------------------------------------------------

fn spec(name: &str, settings: Value) -> ToolSpec {
    ToolSpec { name: name.into(), settings: serde_json::from_value(settings).unwrap() }
}

#[test]
fn builtin_tools_resolve_paths_and_name_bad_settings() {
    let db = pets_db("builtin");
    let base = db.parent().unwrap();
    let names = |tools: Vec<Arc<dyn Tool>>| tools.iter().map(|t| t.name().to_string()).collect::<Vec<_>>();
    let sql = builtin_tools(&spec("sql", json!({"database": "pets.db", "max_rows": 5})), Some(base)).unwrap();
    assert_eq!(names(sql), ["sql_schema", "sql"]);
    let only = builtin_tools(&spec("sql", json!({"database": "pets.db", "schema_tool": false})), Some(base)).unwrap();
    assert_eq!(names(only), ["sql"]);

    let errors = [
        (spec("shell", json!({})), "unknown tool `shell`; the built-in tools are calculator, retrieve, sql"),
        (spec("sql", json!({})), "tool `sql` needs the setting `database`"),
        (spec("sql", json!({"database": "pets.db", "rows": 3})), "tool `sql` has no setting `rows`"),
        (spec("sql", json!({"database": "pets.db", "max_rows": 0})), "`max_rows` is a positive integer"),
        (spec("sql", json!({"database": "absent.db"})), "cannot open the SQLite database"),
        (spec("retrieve", json!({})), "tool `retrieve` needs the setting `corpus`"),
        (spec("calculator", json!({"precision": 3})), "its settings are timeout_ms"),
    ];
    for (spec, want) in errors {
        let error = builtin_tools(&spec, Some(base)).err().unwrap();
        assert!(error.contains(want), "want {want:?} in {error:?}");
    }
}
