//! `environment-reader`: one environment variable, or all those the policy lets through.
//!
//! With a non-empty [`Policy::env_allowlist`] only the names on it are visible (even ones
//! that look secret: listing them is a deliberate choice). With an empty one every name is
//! visible except those that look like secrets: any containing one of [`SECRET_MARKERS`],
//! compared without case.
//!
//! [`Policy::env_allowlist`]: llmspell_core::tools::Policy::env_allowlist

use super::params::opt_str;
use llmspell_core::tools::{
    Policy, SecurityLevel, Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec,
};
use serde_json::{json, Map, Value};

/// Parts of a name that mark it as a secret when no allowlist is configured.
pub const SECRET_MARKERS: &[&str] = &[
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "PRIVATE",
];

/// Whether a variable name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
}

/// Whether `policy` lets environment-reader show the variable `name`.
pub fn is_visible(name: &str, policy: &Policy) -> bool {
    if policy.env_allowlist.is_empty() {
        !looks_secret(name)
    } else {
        policy.env_allowlist.iter().any(|allowed| allowed == name)
    }
}

/// The `environment-reader` tool.
pub struct EnvironmentReader {
    spec: ToolSpec,
}

impl EnvironmentReader {
    /// The tool with its spec.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "description": "One variable; without it, all visible ones"},
                "prefix": {"type": "string", "description": "Listing: only names starting with this"}
            },
            "additionalProperties": false
        });
        EnvironmentReader {
            spec: ToolSpec {
                name: "environment-reader",
                category: "system",
                description: "Read environment variables, hiding those that look like secrets unless allowlisted",
                parameters,
                security: SecurityLevel::Restricted,
                cacheable: false,
                blocking: false,
            },
        }
    }
}

impl Default for EnvironmentReader {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for EnvironmentReader {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        if let Some(name) = opt_str(params, "name")? {
            if !is_visible(name, ctx.policy) {
                return Err(ToolError::denied(format!(
                    "environment variable {name} is not readable under the policy"
                )));
            }
            let value = std::env::var_os(name).ok_or_else(|| {
                ToolError::failed(format!("environment variable {name} is not set"))
            })?;
            let value = value.to_string_lossy().into_owned();
            let data = json!({"name": name, "value": value});
            return Ok(ToolOutput { text: value, data });
        }
        let prefix = opt_str(params, "prefix")?.unwrap_or("");
        let mut visible = Vec::new();
        let mut hidden = 0usize;
        for (name, value) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if !name.starts_with(prefix) {
                continue;
            }
            if is_visible(&name, ctx.policy) {
                visible.push((name, value.to_string_lossy().into_owned()));
            } else {
                hidden += 1;
            }
        }
        visible.sort();
        let mut text = String::new();
        let mut variables = Map::new();
        for (name, value) in visible {
            text.push_str(&name);
            text.push('=');
            text.push_str(&value);
            text.push('\n');
            variables.insert(name, Value::String(value));
        }
        let data = json!({"variables": variables, "hidden": hidden});
        Ok(ToolOutput { text, data })
    }
}
