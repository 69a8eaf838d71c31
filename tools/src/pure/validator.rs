//! `data-validator`: checks JSON data against a JSON Schema (drafts 4 to 2020-12) on the
//! jsonschema crate, built without remote reference resolution, and reports every
//! violation with the path of the offending value.

use super::{object, opt_bool, opt_u64, spec};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Violations reported when `max_errors` is not given.
const DEFAULT_MAX_ERRORS: u64 = 100;

/// Validates data against a JSON Schema.
pub struct DataValidator {
    spec: ToolSpec,
}

impl DataValidator {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "data": {"description": "The JSON value to check"},
                "schema": {"type": ["object", "boolean"],
                    "description": "The JSON Schema; $schema picks the draft (2020-12 if absent)"},
                "validate_formats": {"type": "boolean", "default": true,
                    "description": "Check `format` (email, date-time, uri, ...) as an assertion"},
                "max_errors": {"type": "integer", "minimum": 1, "maximum": 10000,
                    "default": DEFAULT_MAX_ERRORS}
            },
            "required": ["data", "schema"],
            "additionalProperties": false
        });
        DataValidator {
            spec: spec(
                "data-validator",
                "data",
                "Validates JSON data against a JSON Schema and lists every violation with the \
                 path of the offending value.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for DataValidator {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for DataValidator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let fields = object(params)?;
        let data = fields
            .get("data")
            .ok_or_else(|| ToolError::invalid("missing required parameter `data`"))?;
        let schema = fields
            .get("schema")
            .ok_or_else(|| ToolError::invalid("missing required parameter `schema`"))?;
        if !schema.is_object() && !schema.is_boolean() {
            return Err(super::wrong_type(
                "schema",
                "an object or a boolean",
                schema,
            ));
        }
        let max_errors = opt_u64(params, "max_errors", DEFAULT_MAX_ERRORS, 10_000)?.max(1);
        let validator = jsonschema::options()
            .should_validate_formats(opt_bool(params, "validate_formats", true)?)
            .build(schema)
            .map_err(|err| {
                ToolError::invalid(format!(
                    "parameter `schema` is not a usable JSON Schema: {err} (at {})",
                    pointer(err.instance_path().as_str())
                ))
            })?;
        let mut total = 0usize;
        let mut errors = Vec::new();
        for error in validator.iter_errors(data) {
            total += 1;
            if errors.len() < max_errors as usize {
                errors.push(json!({
                    "instance_path": error.instance_path().as_str(),
                    "schema_path": error.schema_path().as_str(),
                    "message": error.to_string(),
                }));
            }
        }
        let text = if total == 0 {
            "valid".to_string()
        } else {
            let mut text = format!(
                "invalid: {total} error{}",
                if total == 1 { "" } else { "s" }
            );
            for error in &errors {
                let path = error["instance_path"].as_str().unwrap_or_default();
                let message = error["message"].as_str().unwrap_or_default();
                // Writing to a String cannot fail.
                let _ = write!(text, "\n  {}: {message}", pointer(path));
            }
            if total > errors.len() {
                let _ = write!(text, "\n  ... and {} more", total - errors.len());
            }
            text
        };
        Ok(ToolOutput {
            text,
            data: json!({
                "valid": total == 0,
                "error_count": total,
                "errors": errors,
            }),
        })
    }
}

/// A JSON Pointer for people: the root, which is the empty pointer, reads `/`.
fn pointer(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}
