//! Tools that compute on their parameters alone: no files, processes, network or
//! environment. Each is a struct implementing [`Tool`] with a JSON Schema for its
//! parameters, built on a well-kept crate (fasteval, base64, RustCrypto hashes, blake3,
//! uuid, heck, chrono, similar, jsonschema, jaq, csv, minijinja, regex, url).
//!
//! Every tool here is [`SecurityLevel::Safe`] and non-blocking; all but `uuid-generator`
//! and `datetime-handler` (which read the clock or randomness) are cacheable.
//!
//! The registry validates parameters against each schema before `invoke`, but every tool
//! re-checks what it reads, so a direct call with bad parameters gets an
//! [`ToolErrorKind::InvalidParams`](llmspell_core::tools::ToolErrorKind) error, never a
//! panic.

mod calculator;
mod csv_analyzer;
mod datetime;
mod diff;
mod encoding;
pub(crate) mod json_processor;
mod regex_matcher;
mod template;
mod text;
mod url_parser;
mod uuid_gen;
mod validator;

#[cfg(test)]
mod tests;

pub use calculator::Calculator;
pub use csv_analyzer::CsvAnalyzer;
pub use datetime::DatetimeHandler;
pub use diff::DiffCalculator;
pub use encoding::{Base64Encoder, HashCalculator};
pub use json_processor::JsonProcessor;
pub use regex_matcher::RegexMatcher;
pub use template::TemplateCreator;
pub use text::TextManipulator;
pub use url_parser::UrlParser;
pub use uuid_gen::UuidGenerator;
pub use validator::DataValidator;

use llmspell_core::tools::{Registry, SecurityLevel, Tool, ToolError, ToolSpec};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Every pure tool, freshly built.
pub fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(Calculator::new()),
        Arc::new(Base64Encoder::new()),
        Arc::new(HashCalculator::new()),
        Arc::new(UuidGenerator::new()),
        Arc::new(TextManipulator::new()),
        Arc::new(DatetimeHandler::new()),
        Arc::new(DiffCalculator::new()),
        Arc::new(DataValidator::new()),
        Arc::new(JsonProcessor::new()),
        Arc::new(CsvAnalyzer::new()),
        Arc::new(TemplateCreator::new()),
        Arc::new(RegexMatcher::new()),
        Arc::new(UrlParser::new()),
    ]
}

/// Registers the pure tools.
pub fn register(registry: &mut Registry) {
    for tool in tools() {
        let name = tool.spec().name;
        // Names are fixed and distinct, so a refusal is a bug in this crate: say so loudly
        // in debug builds, and go on without that tool in release builds.
        if let Err(err) = registry.register_lazy(tool) {
            tracing::error!(tool = name, %err, "built-in tool not registered");
            debug_assert!(false, "built-in tool {name} not registered: {err}");
        }
    }
}

/// A spec for a pure tool: safe and non-blocking.
fn spec(
    name: &'static str,
    category: &'static str,
    description: &'static str,
    parameters: Value,
    cacheable: bool,
) -> ToolSpec {
    ToolSpec {
        name,
        category,
        description,
        parameters,
        security: SecurityLevel::Safe,
        cacheable,
        blocking: false,
    }
}

/// The parameters as an object.
fn object(params: &Value) -> Result<&Map<String, Value>, ToolError> {
    params
        .as_object()
        .ok_or_else(|| ToolError::invalid("parameters must be a JSON object"))
}

/// A required string parameter.
fn req_str<'a>(params: &'a Value, name: &str) -> Result<&'a str, ToolError> {
    match params.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type(name, "a string", other)),
        None => Err(ToolError::invalid(format!(
            "missing required parameter `{name}`"
        ))),
    }
}

/// An optional string parameter (`null` counts as absent).
fn opt_str<'a>(params: &'a Value, name: &str) -> Result<Option<&'a str>, ToolError> {
    match params.get(name) {
        Some(Value::String(s)) => Ok(Some(s)),
        None | Some(Value::Null) => Ok(None),
        Some(other) => Err(wrong_type(name, "a string", other)),
    }
}

/// An optional boolean parameter with a default.
fn opt_bool(params: &Value, name: &str, default: bool) -> Result<bool, ToolError> {
    match params.get(name) {
        Some(Value::Bool(b)) => Ok(*b),
        None | Some(Value::Null) => Ok(default),
        Some(other) => Err(wrong_type(name, "a boolean", other)),
    }
}

/// An optional non-negative integer parameter with a default, at most `max`.
fn opt_u64(params: &Value, name: &str, default: u64, max: u64) -> Result<u64, ToolError> {
    let n = match params.get(name) {
        None | Some(Value::Null) => return Ok(default),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| wrong_type(name, "a non-negative integer", v))?,
    };
    if n > max {
        return Err(ToolError::invalid(format!(
            "parameter `{name}` is {n}, above the maximum of {max}"
        )));
    }
    Ok(n)
}

/// One of `allowed`, or `default` when absent.
fn opt_choice<'a>(
    params: &'a Value,
    name: &str,
    allowed: &[&str],
    default: &'a str,
) -> Result<&'a str, ToolError> {
    let value = opt_str(params, name)?.unwrap_or(default);
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(ToolError::invalid(format!(
            "parameter `{name}` is `{value}`; expected one of: {}",
            allowed.join(", ")
        )))
    }
}

/// The error for a parameter of the wrong JSON type.
fn wrong_type(name: &str, expected: &str, got: &Value) -> ToolError {
    ToolError::invalid(format!(
        "parameter `{name}` must be {expected}, not {}",
        type_name(got)
    ))
}

/// The JSON type of a value, for messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An f64 as JSON: an integer when it is one (so 4.0 reads `4`), else a float; NaN and
/// infinities, which JSON cannot hold, become `null`.
fn number(x: f64) -> Value {
    // 2^53: every integer below it is exact in an f64.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}
