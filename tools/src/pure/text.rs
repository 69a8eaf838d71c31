//! `text-manipulator`: case changes (heck), grapheme-aware reversal and counts
//! (unicode-segmentation), trimming, replacing, splitting and truncating.

use super::{opt_bool, opt_str, opt_u64, req_str, spec};
use heck::{
    ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToTitleCase, ToUpperCamelCase,
};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Value};
use unicode_segmentation::UnicodeSegmentation;

/// The operations, as the schema lists them.
const OPERATIONS: [&str; 19] = [
    "uppercase",
    "lowercase",
    "reverse",
    "trim",
    "trim_start",
    "trim_end",
    "word_count",
    "char_count",
    "line_count",
    "replace",
    "split",
    "truncate",
    "snake_case",
    "camel_case",
    "pascal_case",
    "kebab_case",
    "title_case",
    "constant_case",
    "capitalize",
];

/// Changes case, counts, replaces, splits and truncates text.
pub struct TextManipulator {
    spec: ToolSpec,
}

impl TextManipulator {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": OPERATIONS},
                "input": {"type": "string"},
                "pattern": {"type": "string", "minLength": 1,
                    "description": "For replace: the text to find"},
                "replacement": {"type": "string", "default": "",
                    "description": "For replace: what to put instead"},
                "count": {"type": "integer", "minimum": 0,
                    "description": "For replace: at most this many replacements (all if absent)"},
                "separator": {"type": "string",
                    "description": "For split: the separator (whitespace runs if absent)"},
                "length": {"type": "integer", "minimum": 0,
                    "description": "For truncate: the most characters to keep"},
                "suffix": {"type": "string", "default": "...",
                    "description": "For truncate: appended when text was cut"},
                "skip_empty": {"type": "boolean", "default": false,
                    "description": "For split: drop empty pieces"}
            },
            "required": ["operation", "input"],
            "additionalProperties": false
        });
        TextManipulator {
            spec: spec(
                "text-manipulator",
                "text",
                "Transforms text: upper, lower, snake, camel, kebab or title case, reverse, \
                 trim, replace, split, truncate, or counts its words, characters and lines.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for TextManipulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for TextManipulator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let operation = req_str(params, "operation")?;
        let input = req_str(params, "input")?;
        let text = |output: String| {
            Ok(ToolOutput {
                data: json!({"operation": operation, "output": output}),
                text: output,
            })
        };
        match operation {
            "uppercase" => text(input.to_uppercase()),
            "lowercase" => text(input.to_lowercase()),
            "reverse" => text(input.graphemes(true).rev().collect()),
            "trim" => text(input.trim().to_string()),
            "trim_start" => text(input.trim_start().to_string()),
            "trim_end" => text(input.trim_end().to_string()),
            "snake_case" => text(input.to_snake_case()),
            "camel_case" => text(input.to_lower_camel_case()),
            "pascal_case" => text(input.to_upper_camel_case()),
            "kebab_case" => text(input.to_kebab_case()),
            "title_case" => text(input.to_title_case()),
            "constant_case" => text(input.to_shouty_snake_case()),
            "capitalize" => text(capitalize(input)),
            "replace" => replace(params, input),
            "split" => split(params, input),
            "truncate" => truncate(params, input),
            "word_count" => count(operation, input.unicode_words().count()),
            "char_count" => {
                let chars = input.chars().count();
                Ok(ToolOutput {
                    text: chars.to_string(),
                    data: json!({
                        "operation": operation,
                        "count": chars,
                        "graphemes": input.graphemes(true).count(),
                        "bytes": input.len(),
                        "non_whitespace": input.chars().filter(|c| !c.is_whitespace()).count(),
                    }),
                })
            }
            "line_count" => count(operation, input.lines().count()),
            other => Err(ToolError::invalid(format!(
                "parameter `operation` is `{other}`; expected one of: {}",
                OPERATIONS.join(", ")
            ))),
        }
    }
}

/// A count result.
fn count(operation: &str, n: usize) -> ToolResult {
    Ok(ToolOutput {
        text: n.to_string(),
        data: json!({"operation": operation, "count": n}),
    })
}

/// The first character in upper case, the rest unchanged.
fn capitalize(input: &str) -> String {
    let mut chars = input.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn replace(params: &Value, input: &str) -> ToolResult {
    let pattern = opt_str(params, "pattern")?
        .ok_or_else(|| ToolError::invalid("replace needs parameter `pattern`"))?;
    if pattern.is_empty() {
        return Err(ToolError::invalid("parameter `pattern` must not be empty"));
    }
    let replacement = opt_str(params, "replacement")?.unwrap_or("");
    let limit = match params.get("count") {
        None | Some(Value::Null) => None,
        Some(_) => Some(opt_u64(params, "count", 0, u64::MAX)?),
    }
    .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
    let found = input.matches(pattern).count();
    let output = match limit {
        Some(limit) => input.replacen(pattern, replacement, limit),
        None => input.replace(pattern, replacement),
    };
    let replaced = limit.map_or(found, |limit| found.min(limit));
    Ok(ToolOutput {
        data: json!({"operation": "replace", "output": output, "replacements": replaced}),
        text: output,
    })
}

fn split(params: &Value, input: &str) -> ToolResult {
    let skip_empty = opt_bool(params, "skip_empty", false)?;
    let parts: Vec<&str> = match opt_str(params, "separator")? {
        None => input.split_whitespace().collect(),
        Some("") => {
            return Err(ToolError::invalid(
                "parameter `separator` must not be empty",
            ))
        }
        Some(sep) => input
            .split(sep)
            .filter(|part| !skip_empty || !part.is_empty())
            .collect(),
    };
    Ok(ToolOutput {
        text: parts.join("\n"),
        data: json!({"operation": "split", "parts": parts, "count": parts.len()}),
    })
}

fn truncate(params: &Value, input: &str) -> ToolResult {
    let length = opt_u64(params, "length", u64::MAX, u64::MAX)?;
    if params.get("length").is_none_or(Value::is_null) {
        return Err(ToolError::invalid("truncate needs parameter `length`"));
    }
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    let suffix = opt_str(params, "suffix")?.unwrap_or("...");
    let graphemes: Vec<&str> = input.graphemes(true).collect();
    let (output, truncated) = if graphemes.len() <= length {
        (input.to_string(), false)
    } else {
        let mut cut: String = graphemes[..length].concat();
        cut.push_str(suffix);
        (cut, true)
    };
    Ok(ToolOutput {
        data: json!({"operation": "truncate", "output": output, "truncated": truncated}),
        text: output,
    })
}
