//! `csv-analyzer`: statistics, head, filter and columns of CSV text, on the csv crate.
//! Rows may be ragged (missing fields read as empty).

use super::{number, opt_bool, opt_choice, opt_str, opt_u64, req_str, spec};
use csv::{ReaderBuilder, StringRecord, WriterBuilder};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::fmt::Write as _;

const OPERATIONS: [&str; 4] = ["stats", "head", "filter", "columns"];
const OPERATORS: [&str; 7] = ["eq", "ne", "gt", "ge", "lt", "le", "contains"];

/// Analyses CSV text.
pub struct CsvAnalyzer {
    spec: ToolSpec,
}

impl CsvAnalyzer {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "input": {"type": "string", "description": "CSV text"},
                "operation": {"type": "string", "enum": OPERATIONS, "default": "stats"},
                "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ","},
                "has_headers": {"type": "boolean", "default": true},
                "limit": {"type": "integer", "minimum": 0,
                    "description": "For head and filter: the most rows to return (10 for head)"},
                "column": {"type": ["string", "integer"],
                    "description": "For filter: a column name, or its index from 0"},
                "operator": {"type": "string", "enum": OPERATORS, "default": "eq"},
                "value": {"type": ["string", "number", "boolean"],
                    "description": "For filter: what to compare with; numbers compare as numbers"}
            },
            "required": ["input"],
            "additionalProperties": false
        });
        CsvAnalyzer {
            spec: spec(
                "csv-analyzer",
                "data",
                "Analyses CSV text: row and column counts, column types with min, max and mean, \
                 the first rows, or the rows matching a condition.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for CsvAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

/// A parsed table: column names and the rows.
struct Table {
    headers: Vec<String>,
    rows: Vec<StringRecord>,
}

fn read(params: &Value) -> Result<Table, ToolError> {
    let input = req_str(params, "input")?;
    let delimiter = match opt_str(params, "delimiter")?.unwrap_or(",").as_bytes() {
        [byte] => *byte,
        _ => {
            return Err(ToolError::invalid(
                "parameter `delimiter` must be one ASCII character",
            ))
        }
    };
    let has_headers = opt_bool(params, "has_headers", true)?;
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(has_headers)
        .flexible(true)
        .from_reader(input.as_bytes());
    let mut headers: Vec<String> = if has_headers {
        let record = reader.headers().map_err(csv_error)?;
        record.iter().map(str::to_string).collect()
    } else {
        Vec::new()
    };
    let rows = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(csv_error)?;
    let width = rows.iter().map(StringRecord::len).max().unwrap_or(0);
    for i in headers.len()..width {
        headers.push(format!("column_{}", i + 1));
    }
    Ok(Table { headers, rows })
}

fn csv_error(err: csv::Error) -> ToolError {
    ToolError::invalid(format!("parameter `input` is not valid CSV: {err}"))
}

impl Tool for CsvAnalyzer {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let operation = opt_choice(params, "operation", &OPERATIONS, "stats")?;
        let table = read(params)?;
        match operation {
            "columns" => {
                let columns: Vec<Value> = (0..table.headers.len())
                    .map(|i| json!({"index": i, "name": table.headers[i], "type": guess(&table, i).0}))
                    .collect();
                Ok(ToolOutput {
                    text: table.headers.join("\n"),
                    data: json!({"columns": columns, "count": columns.len()}),
                })
            }
            "head" => {
                let limit = opt_u64(params, "limit", 10, u64::MAX)? as usize;
                rows_output(&table, table.rows.iter().take(limit).collect())
            }
            "filter" => {
                let limit = opt_u64(params, "limit", u64::MAX, u64::MAX)? as usize;
                let matches = filter(params, &table)?;
                rows_output(&table, matches.into_iter().take(limit).collect())
            }
            _ => Ok(stats(&table)),
        }
    }
}

/// The rows as objects (or arrays without headers), and as CSV text.
fn rows_output(table: &Table, rows: Vec<&StringRecord>) -> ToolResult {
    let objects: Vec<Value> = rows
        .iter()
        .map(|row| {
            let map: Map<String, Value> = table
                .headers
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), Value::from(row.get(i).unwrap_or(""))))
                .collect();
            Value::Object(map)
        })
        .collect();
    let mut writer = WriterBuilder::new().flexible(true).from_writer(Vec::new());
    let written = std::iter::once(&StringRecord::from(table.headers.clone()))
        .chain(rows.iter().copied())
        .try_for_each(|record| writer.write_record(record));
    let bytes = written
        .map_err(|err| err.to_string())
        .and_then(|()| writer.into_inner().map_err(|err| err.to_string()))
        .map_err(|err| ToolError::failed(format!("cannot write CSV: {err}")))?;
    Ok(ToolOutput {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        data: json!({"columns": table.headers, "rows": objects, "count": rows.len()}),
    })
}

/// The rows that satisfy `column operator value`.
fn filter<'t>(params: &Value, table: &'t Table) -> Result<Vec<&'t StringRecord>, ToolError> {
    let index = match params.get("column") {
        Some(Value::String(name)) => {
            table
                .headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| {
                    ToolError::invalid(format!(
                        "parameter `column`: no column `{name}`; columns are: {}",
                        table.headers.join(", ")
                    ))
                })?
        }
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| n as usize)
            .filter(|n| *n < table.headers.len())
            .ok_or_else(|| ToolError::invalid(format!("parameter `column`: no column {n}")))?,
        _ => return Err(ToolError::invalid("filter needs parameter `column`")),
    };
    let operator = opt_choice(params, "operator", &OPERATORS, "eq")?;
    let wanted = match params.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        _ => return Err(ToolError::invalid("filter needs parameter `value`")),
    };
    let wanted_num = wanted.trim().parse::<f64>().ok();
    Ok(table
        .rows
        .iter()
        .filter(|row| {
            let cell = row.get(index).unwrap_or("");
            if operator == "contains" {
                return cell.contains(wanted.as_str());
            }
            let order = match (cell.trim().parse::<f64>().ok(), wanted_num) {
                (Some(a), Some(b)) => a.partial_cmp(&b),
                _ => Some(cell.cmp(wanted.as_str())),
            };
            order.is_some_and(|order| match operator {
                "ne" => order.is_ne(),
                "gt" => order.is_gt(),
                "ge" => order.is_ge(),
                "lt" => order.is_lt(),
                "le" => order.is_le(),
                _ => order.is_eq(),
            })
        })
        .collect())
}

/// A column's type (integer, float, boolean, string or empty) and its numeric values.
fn guess(table: &Table, column: usize) -> (&'static str, Vec<f64>) {
    let (mut ints, mut floats, mut bools, mut others) = (0, 0, 0, 0);
    let mut numbers = Vec::new();
    for cell in table.rows.iter().filter_map(|row| row.get(column)) {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        if let Ok(n) = cell.parse::<i64>() {
            ints += 1;
            numbers.push(n as f64);
        } else if let Some(x) = cell.parse::<f64>().ok().filter(|x| x.is_finite()) {
            floats += 1;
            numbers.push(x);
        } else if cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false") {
            bools += 1;
        } else {
            others += 1;
        }
    }
    let kind = match (ints, floats, bools, others) {
        (0, 0, 0, 0) => "empty",
        (_, 0, 0, 0) => "integer",
        (_, _, 0, 0) => "float",
        (0, 0, _, 0) => "boolean",
        _ => "string",
    };
    (kind, numbers)
}

/// Row and column counts, and per column its type, counts and numeric summary.
fn stats(table: &Table) -> ToolOutput {
    let width = table.headers.len();
    let ragged = table.rows.iter().filter(|row| row.len() != width).count();
    let mut text = format!("rows: {}, columns: {width}", table.rows.len());
    let mut columns = Vec::with_capacity(width);
    for (i, name) in table.headers.iter().enumerate() {
        let (kind, numbers) = guess(table, i);
        let cells = table.rows.iter().map(|row| row.get(i).unwrap_or("").trim());
        let empty = cells.clone().filter(|c| c.is_empty()).count();
        let unique = cells
            .filter(|c| !c.is_empty())
            .collect::<HashSet<_>>()
            .len();
        let non_empty = table.rows.len() - empty;
        let mut column = json!({
            "name": name, "type": kind, "count": non_empty, "empty": empty, "unique": unique,
        });
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "\n{name} ({kind}): {non_empty} values, {unique} unique"
        );
        if matches!(kind, "integer" | "float") {
            let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
            let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = numbers.iter().sum();
            let mean = sum / numbers.len() as f64;
            column["min"] = number(min);
            column["max"] = number(max);
            column["sum"] = number(sum);
            column["mean"] = number(mean);
            let _ = write!(
                text,
                ", min {}, max {}, mean {}",
                number(min),
                number(max),
                number(mean)
            );
        }
        columns.push(column);
    }
    ToolOutput {
        text,
        data: json!({
            "rows": table.rows.len(),
            "columns": width,
            "ragged_rows": ragged,
            "column_stats": columns,
        }),
    }
}
