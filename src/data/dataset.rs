//! Datasets: loading labeled examples from JSONL, JSON, CSV and Parquet files, mapping their
//! columns to a program's inputs and gold labels, and seeded shuffles, samples and limits.
//!
//! A task spec's `[data]` table names one file per split and says how its columns map to the
//! program (DESIGN.md §5):
//!
//! ```toml
//! [data]
//! train = { path = "../datasets/triage/train.jsonl" }
//! test = { path = "../datasets/triage/test.jsonl", limit = 300, shuffle_seed = 0 }
//! inputs = ["ticket"]
//! labels = { category = "gold_category" }  # output field = dataset column
//! ```
//!
//! Each split is a [`DataSpec`]; `inputs` and `labels` make a [`ColumnMap`]; and
//! [`Dataset::load`] reads the file into [`Example`]s: the input columns are marked as inputs,
//! each label column is stored under its output field's name, and every other column stays as
//! metadata (for slicing reports). Every loaded dataset carries a content [hash](Dataset::hash)
//! that runs record, so two runs can tell whether they saw the same data.
//!
//! ```
//! use lmc::data::dataset::{ColumnMap, DataSpec, Dataset};
//!
//! let path = std::env::temp_dir().join(format!("lmc-dataset-doctest-{}.jsonl", std::process::id()));
//! std::fs::write(
//!     &path,
//!     concat!(
//!         r#"{"ticket": "I was charged twice", "gold_category": "billing", "lang": "en"}"#, "\n",
//!         r#"{"ticket": "The app crashes on start", "gold_category": "technical", "lang": "en"}"#, "\n",
//!         "\n",
//!         r#"{"ticket": "Cambiar mi contraseña", "gold_category": "account", "lang": "es"}"#, "\n",
//!     ),
//! )?;
//!
//! let columns = ColumnMap::new(["ticket"]).with_label("category", "gold_category");
//! let data = Dataset::load(&DataSpec::new(&path), &columns)?;
//! assert_eq!(data.len(), 3);
//!
//! let first = &data.examples()[0];
//! assert!(first.is_input("ticket"));
//! assert_eq!(first.get_as::<String>("category")?, "billing"); // stored under the output field
//! assert_eq!(first.get_as::<String>("lang")?, "en"); // metadata, kept for slicing
//! assert_eq!(data.hash().len(), 64); // hex SHA-256
//!
//! // Seeded and deterministic: the same seed always gives the same order.
//! let a = data.clone().shuffled(7);
//! let b = data.clone().shuffled(7);
//! assert_eq!(a.examples(), b.examples());
//! assert_eq!(data.limit(2).len(), 2);
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors are [`DataError`]s naming the file, the line (JSONL) or row (JSON, CSV, Parquet) and
//! the column; loading never panics on bad data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::{AnyValue, CsvReadOptions, DataFrame, ParquetReader, SerReader};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Example, Fields};

/// The file extensions [`Dataset::load`] reads, in the order error messages list them.
pub const SUPPORTED_EXTENSIONS: [&str; 4] = ["jsonl", "json", "csv", "parquet"];

/// One split of a task spec's `[data]` table: `test = { path = "...", limit = 300 }`.
///
/// `path` is kept as written; resolving a relative path (against the spec file's directory) is
/// the caller's job. The optional steps run in the order shuffle → sample → limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The file: `.jsonl`, `.json` (an array of objects), `.csv` or `.parquet`.
    pub path: PathBuf,
    /// Keep only the first `limit` examples (after shuffling and sampling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Shuffle the examples with this seed (0 is a seed like any other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle_seed: Option<u64>,
    /// Keep a random sample of this many examples, without replacement; seeded with
    /// `shuffle_seed`, or 0 when there is none (see [`Dataset::sample`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
}

impl DataSpec {
    /// A spec for `path` with no limit, shuffle or sample.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DataSpec { path: path.into(), ..DataSpec::default() }
    }
}

/// How a dataset's columns map to a program: which are inputs, which hold gold labels.
///
/// * `inputs`: dataset columns that are program inputs, with the same names as the program's
///   input fields. Each must be present and non-null in every row.
/// * `labels`: program output field → the dataset column holding its gold value
///   (`labels = { category = "gold_category" }`). The loaded example stores the gold value
///   under the output field's name (`category`); the source column is not kept under its own
///   name. Each label column must be present in every row; a null gold value is kept as null.
/// * Every other column is kept, under its own name, as metadata (for slicing reports), except
///   a column whose name is an input or a label's output field: that one is dropped, since the
///   mapped value takes its place.
///
/// The default map (no inputs, no labels) keeps every column as it is and marks no inputs;
/// callers then mark the program's inputs themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    /// Dataset columns that are program inputs.
    pub inputs: Vec<String>,
    /// Program output field → dataset column with its gold value.
    pub labels: BTreeMap<String, String>,
}

impl ColumnMap {
    /// A map marking `inputs` as the inputs, with no labels.
    pub fn new<I, S>(inputs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ColumnMap { inputs: inputs.into_iter().map(Into::into).collect(), labels: BTreeMap::new() }
    }

    /// Adds a label: the gold value of output field `field` is in dataset column `column`.
    pub fn with_label(mut self, field: impl Into<String>, column: impl Into<String>) -> Self {
        self.labels.insert(field.into(), column.into());
        self
    }

    /// Whether the map keeps every column as it is (no inputs, no labels).
    pub fn is_identity(&self) -> bool {
        self.inputs.is_empty() && self.labels.is_empty()
    }

    /// The dataset columns this map reads: inputs, then label columns (without repeats).
    pub fn required_columns(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.inputs
            .iter()
            .map(String::as_str)
            .chain(self.labels.values().map(String::as_str))
            .filter(|c| seen.insert(*c))
            .collect()
    }

    /// Checks that the map is consistent: no input named twice, no label whose output field
    /// is also an input.
    fn validate(&self, path: &Path) -> Result<(), DataError> {
        let mut seen = BTreeSet::new();
        for input in &self.inputs {
            if !seen.insert(input.as_str()) {
                return Err(DataError::at(path, None, Some(input), "the input column is listed twice in `inputs`"));
            }
        }
        for (field, column) in &self.labels {
            if seen.contains(field.as_str()) {
                return Err(DataError::at(
                    path,
                    None,
                    Some(field),
                    format!(
                        "`{field}` is both an input and a label's output field (labels.{field} = \"{column}\"); \
                         a field is either an input or an output"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Maps one record (a row, in file order) to an example.
    fn apply(&self, fields: Fields, at: &Location<'_>) -> Result<Example, DataError> {
        if self.is_identity() {
            return Ok(Example::from_fields(fields));
        }
        let missing = |column: &str| {
            let available = fields.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
            at.error(Some(column), format!("column not found; available: {available}"))
        };
        let mut out = Fields::new();
        for input in &self.inputs {
            match fields.get(input) {
                None => return Err(missing(input)),
                Some(Value::Null) => return Err(at.error(Some(input), "the input is null (every input needs a value)")),
                Some(value) => {
                    out.insert(input.clone(), value.clone());
                }
            }
        }
        for (field, column) in &self.labels {
            match fields.get(column) {
                None => return Err(missing(column)),
                Some(value) => {
                    out.insert(field.clone(), value.clone());
                }
            }
        }
        for (key, value) in fields {
            if !out.contains_key(&key) && !self.labels.values().any(|column| *column == key) {
                out.insert(key, value);
            }
        }
        Ok(Example::from_fields(out).with_inputs(self.inputs.iter().cloned()))
    }
}

/// A dataset that cannot be loaded: the file, where in it, and what is wrong.
///
/// Displays as `datasets/x.jsonl: line 12: ...`, `datasets/x.csv: row 5, column 'label': ...`
/// or `datasets/x.parquet: column 'label': ...`. Positions are 1-based: a JSONL file counts
/// lines (blank lines included), JSON arrays count elements, CSV and Parquet files count data
/// rows (the CSV header is not a row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// The dataset file.
    pub path: PathBuf,
    /// The 1-based line (JSONL) or row (JSON, CSV, Parquet), when the problem is in one.
    pub line_or_row: Option<usize>,
    /// The column, when the problem is about one.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl DataError {
    fn at(path: &Path, line_or_row: Option<usize>, column: Option<&str>, message: impl Into<String>) -> Self {
        DataError { path: path.to_path_buf(), line_or_row, column: column.map(str::to_string), message: message.into() }
    }

    fn file(path: &Path, message: impl Into<String>) -> Self {
        Self::at(path, None, None, message)
    }

    /// `line` for JSONL files, `row` for the others.
    fn unit(&self) -> &'static str {
        match extension(&self.path).as_deref() {
            Some("jsonl") => "line",
            _ => "row",
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match (self.line_or_row, &self.column) {
            (Some(n), Some(column)) => write!(f, "{} {n}, column '{column}': ", self.unit())?,
            (Some(n), None) => write!(f, "{} {n}: ", self.unit())?,
            (None, Some(column)) => write!(f, "column '{column}': ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for DataError {}

/// Where a record is: the file and its 1-based line or row.
struct Location<'a> {
    path: &'a Path,
    at: usize,
}

impl Location<'_> {
    fn error(&self, column: Option<&str>, message: impl Into<String>) -> DataError {
        DataError::at(self.path, Some(self.at), column, message)
    }
}

/// Labeled examples loaded from one file (or built in memory), with a content hash.
///
/// The hash is the hex SHA-256 of the canonical JSON of the examples, in order: an array of
/// `{"fields": {...}, "inputs": [...]}` objects, object keys and input keys sorted by their
/// UTF-8 bytes, no whitespace, numbers as serde_json writes them. It depends on the data and
/// its order only (not on the file's path, format or key order), so the same data gives the
/// same hash on any machine; a shuffle changes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    source: PathBuf,
    examples: Vec<Example>,
    hash: String,
}

impl Dataset {
    /// Loads the file of `spec`, maps its columns, then shuffles, samples and limits it as
    /// `spec` says (in that order).
    ///
    /// The format follows the extension: `.jsonl` (one JSON object per line; blank lines are
    /// skipped), `.json` (an array of objects), `.csv` (with a header row; column types are
    /// inferred from the whole file; empty cells are null) and `.parquet`. CSV and Parquet
    /// values become JSON strings, integers, floats (non-finite ones become null), booleans
    /// and nulls; lists become arrays; other types become their string form.
    pub fn load(spec: &DataSpec, columns: &ColumnMap) -> Result<Dataset, DataError> {
        let path = spec.path.as_path();
        columns.validate(path)?;
        let mut examples = read_examples(path, columns)?;
        if let Some(seed) = spec.shuffle_seed {
            shuffle(&mut examples, seed);
        }
        if let Some(n) = spec.sample {
            examples = sample(examples, n, spec.shuffle_seed.unwrap_or(0));
        }
        if let Some(n) = spec.limit {
            examples.truncate(n);
        }
        Ok(Dataset::from_examples(path, examples))
    }

    /// A dataset of `examples` in memory; `name` stands for the source file in reports.
    pub fn from_examples(name: impl Into<PathBuf>, examples: Vec<Example>) -> Dataset {
        let hash = content_hash(&examples);
        Dataset { source: name.into(), examples, hash }
    }

    /// The examples, in order.
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// The examples, by value.
    pub fn into_examples(self) -> Vec<Example> {
        self.examples
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// The content hash: 64 lowercase hex digits (see [`Dataset`]).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The file the examples were loaded from (or the name given to
    /// [`from_examples`](Dataset::from_examples)).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The first `n` examples (all of them when there are fewer).
    pub fn limit(mut self, n: usize) -> Dataset {
        if n >= self.examples.len() {
            return self;
        }
        self.examples.truncate(n);
        Dataset::from_examples(self.source, self.examples)
    }

    /// The examples in a random order fixed by `seed` (`StdRng::seed_from_u64`, rand 0.9):
    /// the same seed always gives the same order, on any machine. The hash changes with the
    /// order.
    pub fn shuffled(mut self, seed: u64) -> Dataset {
        shuffle(&mut self.examples, seed);
        Dataset::from_examples(self.source, self.examples)
    }

    /// `n` examples drawn without replacement, chosen by `seed` (deterministic like
    /// [`shuffled`](Dataset::shuffled)), kept in their original relative order; all of them,
    /// unchanged, when there are no more than `n`. Shuffle first for a sample in random order.
    pub fn sample(self, n: usize, seed: u64) -> Dataset {
        if n >= self.examples.len() {
            return self;
        }
        Dataset::from_examples(self.source, sample(self.examples, n, seed))
    }
}

fn shuffle(examples: &mut [Example], seed: u64) {
    examples.shuffle(&mut StdRng::seed_from_u64(seed));
}

fn sample(examples: Vec<Example>, n: usize, seed: u64) -> Vec<Example> {
    if n >= examples.len() {
        return examples;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut keep = vec![false; examples.len()];
    for i in rand::seq::index::sample(&mut rng, examples.len(), n) {
        keep[i] = true;
    }
    examples.into_iter().zip(keep).filter_map(|(example, keep)| keep.then_some(example)).collect()
}

/// The lowercase extension of `path`, if any.
fn extension(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn read_examples(path: &Path, columns: &ColumnMap) -> Result<Vec<Example>, DataError> {
    let supported = SUPPORTED_EXTENSIONS.map(|e| format!(".{e}")).join(", ");
    let ext = extension(path).ok_or_else(|| {
        DataError::file(path, format!("the file has no extension, so its format is unknown; supported: {supported}"))
    })?;
    if !SUPPORTED_EXTENSIONS.contains(&ext.as_str()) {
        return Err(DataError::file(path, format!("unsupported file type `.{ext}`; supported: {supported}")));
    }
    let metadata = std::fs::metadata(path).map_err(|e| DataError::file(path, format!("cannot read the file: {e}")))?;
    if metadata.is_dir() {
        return Err(DataError::file(path, "cannot read the file: it is a directory"));
    }
    if metadata.len() == 0 {
        return Err(DataError::file(path, "the file is empty"));
    }
    let examples = match ext.as_str() {
        "jsonl" => read_jsonl(path, columns)?,
        "json" => read_json(path, columns)?,
        "csv" => read_frame(path, columns, &read_csv(path)?)?,
        _ => read_frame(path, columns, &read_parquet(path)?)?,
    };
    if examples.is_empty() {
        return Err(DataError::file(path, "the file has no examples"));
    }
    Ok(examples)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::file(path, format!("cannot read the file: {e}")))
}

/// serde_json's message without its " at line L column C" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) if e.line() > 0 => text[..i].to_string(),
        _ => text,
    }
}

/// "an array", "a string", ...: what kind of JSON value this is, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn read_jsonl(path: &Path, columns: &ColumnMap) -> Result<Vec<Example>, DataError> {
    let bytes = read_bytes(path)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&bytes);
    let mut examples = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = Location { path, at: i + 1 };
        let value: Value = serde_json::from_slice(line)
            .map_err(|e| at.error(None, format!("invalid JSON at column {}: {}", e.column(), json_message(&e))))?;
        match value {
            Value::Object(fields) => examples.push(columns.apply(fields, &at)?),
            other => {
                return Err(at.error(None, format!("expected a JSON object, found {}", json_kind(&other))));
            }
        }
    }
    Ok(examples)
}

fn read_json(path: &Path, columns: &ColumnMap) -> Result<Vec<Example>, DataError> {
    let bytes = read_bytes(path)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&bytes);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        DataError::file(path, format!("invalid JSON at line {}, column {}: {}", e.line(), e.column(), json_message(&e)))
    })?;
    let Value::Array(rows) = value else {
        return Err(DataError::file(
            path,
            format!(
                "expected a JSON array of objects, found {} (use .jsonl for one object per line)",
                json_kind(&value)
            ),
        ));
    };
    let mut examples = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let at = Location { path, at: i + 1 };
        match row {
            Value::Object(fields) => examples.push(columns.apply(fields, &at)?),
            other => return Err(at.error(None, format!("expected a JSON object, found {}", json_kind(&other)))),
        }
    }
    Ok(examples)
}

fn polars_error(path: &Path, what: &str, e: &polars::prelude::PolarsError) -> DataError {
    DataError::file(path, format!("cannot read the {what} file: {e}"))
}

fn read_csv(path: &Path) -> Result<DataFrame, DataError> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|reader| reader.finish())
        .map_err(|e| long_csv_row(path).unwrap_or_else(|| polars_error(path, "CSV", &e)))
}

/// Finds the first CSV row with more fields than the header (polars names no row when it
/// rejects one): a quote-aware count of commas, for a better error after polars has failed.
fn long_csv_row(path: &Path) -> Option<DataError> {
    let bytes = std::fs::read(path).ok()?;
    let (mut row, mut fields, mut header, mut in_quotes, mut blank) = (0usize, 1usize, None, false, true);
    for &byte in bytes.iter().chain(std::iter::once(&b'\n')) {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => fields += 1,
            b'\n' if !in_quotes => {
                if !blank {
                    match header {
                        None => header = Some(fields),
                        Some(width) => {
                            row += 1;
                            if fields > width {
                                return Some(DataError::at(
                                    path,
                                    Some(row),
                                    None,
                                    format!("{fields} fields, but the header has {width}"),
                                ));
                            }
                        }
                    }
                }
                (fields, blank) = (1, true);
                continue;
            }
            b'\r' | b' ' | b'\t' => continue,
            _ => {}
        }
        blank = false;
    }
    None
}

fn read_parquet(path: &Path) -> Result<DataFrame, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::file(path, format!("cannot read the file: {e}")))?;
    ParquetReader::new(file).finish().map_err(|e| polars_error(path, "Parquet", &e))
}

/// Converts a data frame to examples, checking the mapped columns against its schema first.
fn read_frame(path: &Path, columns: &ColumnMap, frame: &DataFrame) -> Result<Vec<Example>, DataError> {
    let names: Vec<String> = frame.get_column_names().into_iter().map(|n| n.to_string()).collect();
    for required in columns.required_columns() {
        if !names.iter().any(|n| n == required) {
            return Err(DataError::at(
                path,
                None,
                Some(required),
                format!("column not found; available columns: {}", names.join(", ")),
            ));
        }
    }
    let height = frame.height();
    let mut rows = vec![Fields::new(); height];
    for column in frame.columns() {
        let column = column.rechunk();
        let name = column.name().to_string();
        for (i, row) in rows.iter_mut().enumerate() {
            let value = column
                .get(i)
                .map_err(|e| DataError::at(path, Some(i + 1), Some(&name), format!("cannot read the value: {e}")))?;
            row.insert(name.clone(), any_to_json(&value));
        }
    }
    rows.into_iter().enumerate().map(|(i, fields)| columns.apply(fields, &Location { path, at: i + 1 })).collect()
}

fn float_to_json(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// A polars value as JSON: strings, integers, floats, booleans and nulls as themselves, lists
/// as arrays, everything else in its string form.
fn any_to_json(value: &AnyValue<'_>) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String((*s).to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::UInt8(n) => Value::from(*n),
        AnyValue::UInt16(n) => Value::from(*n),
        AnyValue::UInt32(n) => Value::from(*n),
        AnyValue::UInt64(n) => Value::from(*n),
        AnyValue::Int8(n) => Value::from(*n),
        AnyValue::Int16(n) => Value::from(*n),
        AnyValue::Int32(n) => Value::from(*n),
        AnyValue::Int64(n) => Value::from(*n),
        AnyValue::Int128(n) => i64::try_from(*n).map_or_else(|_| Value::String(n.to_string()), Value::from),
        AnyValue::UInt128(n) => u64::try_from(*n).map_or_else(|_| Value::String(n.to_string()), Value::from),
        // Through the shortest decimal form, so 0.1f32 stays 0.1 rather than 0.10000000149...
        AnyValue::Float32(x) => x.to_string().parse::<f64>().map_or(Value::Null, float_to_json),
        AnyValue::Float64(x) => float_to_json(*x),
        AnyValue::Float16(_) => value.extract::<f64>().map_or(Value::Null, float_to_json),
        AnyValue::List(series) => {
            Value::Array((0..series.len()).map(|i| series.get(i).map_or(Value::Null, |v| any_to_json(&v))).collect())
        }
        AnyValue::Binary(bytes) => binary_to_json(value, bytes),
        AnyValue::BinaryOwned(bytes) => binary_to_json(value, bytes),
        other => Value::String(other.str_value().into_owned()),
    }
}

fn binary_to_json(value: &AnyValue<'_>, bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => Value::String(value.to_string()),
    }
}

/// The content hash of one example: the hash of a dataset holding just it (see [`Dataset`]).
/// Optimizers key cached scores by it.
pub fn example_hash(example: &Example) -> String {
    content_hash(std::slice::from_ref(example))
}

/// The hex SHA-256 of the canonical JSON of `examples` (see [`Dataset`]).
fn content_hash(examples: &[Example]) -> String {
    let mut hasher = Sha256::new();
    let mut sink = HashSink(&mut hasher);
    sink.put(b"[");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        sink.put(b"{\"fields\":");
        write_canonical_object(&mut sink, example.fields().iter());
        sink.put(b",\"inputs\":[");
        let mut inputs: Vec<&str> = example.input_keys().iter().map(String::as_str).collect();
        inputs.sort_unstable();
        inputs.dedup();
        for (j, key) in inputs.into_iter().enumerate() {
            if j > 0 {
                sink.put(b",");
            }
            sink.string(key);
        }
        sink.put(b"]}");
    }
    sink.put(b"]");
    hasher.finalize().iter().fold(String::with_capacity(64), |mut hex, byte| {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
        hex
    })
}

/// Feeds canonical JSON into a hasher.
struct HashSink<'a>(&'a mut Sha256);

impl HashSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn string(&mut self, s: &str) {
        // Writing a string into a hasher cannot fail.
        let _ = serde_json::to_writer(&mut *self, s);
    }
}

impl Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_canonical_object<'v>(sink: &mut HashSink<'_>, entries: impl Iterator<Item = (&'v String, &'v Value)>) {
    let mut entries: Vec<(&String, &Value)> = entries.collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    sink.put(b"{");
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        sink.string(key);
        sink.put(b":");
        write_canonical(sink, value);
    }
    sink.put(b"}");
}

fn write_canonical(sink: &mut HashSink<'_>, value: &Value) {
    match value {
        Value::Null => sink.put(b"null"),
        Value::Bool(true) => sink.put(b"true"),
        Value::Bool(false) => sink.put(b"false"),
        Value::Number(n) => sink.put(n.to_string().as_bytes()),
        Value::String(s) => sink.string(s),
        Value::Array(items) => {
            sink.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sink.put(b",");
                }
                write_canonical(sink, item);
            }
            sink.put(b"]");
        }
        Value::Object(map) => write_canonical_object(sink, map.iter()),
    }
}
