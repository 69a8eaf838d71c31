//! Reading parameters that the schema has already checked, without trusting that it did:
//! a tool called directly (tests, embedders) gets an InvalidParams error, never a panic.

use llmspell_core::tools::ToolError;
use serde_json::Value;

/// The string `key`, which must be present.
pub(crate) fn req_str<'a>(params: &'a Value, key: &str) -> Result<&'a str, ToolError> {
    opt_str(params, key)?.ok_or_else(|| ToolError::invalid(format!("missing parameter `{key}`")))
}

/// The string `key`, if present.
pub(crate) fn opt_str<'a>(params: &'a Value, key: &str) -> Result<Option<&'a str>, ToolError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ToolError::invalid(format!("`{key}` must be a string"))),
    }
}

/// The boolean `key`, or `default`.
pub(crate) fn opt_bool(params: &Value, key: &str, default: bool) -> Result<bool, ToolError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ToolError::invalid(format!("`{key}` must be a boolean"))),
    }
}

/// The non-negative integer `key`, or `default`; at most `max`.
pub(crate) fn opt_u64(params: &Value, key: &str, default: u64, max: u64) -> Result<u64, ToolError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(n),
            Some(n) => Err(ToolError::invalid(format!(
                "`{key}` is {n}, more than the maximum {max}"
            ))),
            None => Err(ToolError::invalid(format!(
                "`{key}` must be a non-negative integer"
            ))),
        },
    }
}

/// The array of strings `key`, or empty.
pub(crate) fn str_array<'a>(params: &'a Value, key: &str) -> Result<Vec<&'a str>, ToolError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| ToolError::invalid(format!("`{key}` must hold only strings")))
            })
            .collect(),
        Some(_) => Err(ToolError::invalid(format!(
            "`{key}` must be an array of strings"
        ))),
    }
}

/// An I/O error as a tool error: a missing file or a refused permission is the tool's
/// failure (the policy allowed the path; the system did not).
pub(crate) fn io_failed(what: &str, path: &std::path::Path, e: std::io::Error) -> ToolError {
    ToolError::failed(format!("{what} {}: {e}", path.display()))
}
