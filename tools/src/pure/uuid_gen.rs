//! `uuid-generator`: UUIDs v4 (random), v5 (namespace + name, deterministic) and v7
//! (time-ordered), on the uuid crate. Not cacheable: v4 and v7 differ on every call.

use super::{opt_bool, opt_choice, opt_str, opt_u64, spec};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Value};
use uuid::Uuid;

/// Most UUIDs one call may make.
pub const MAX_COUNT: u64 = 1000;

/// Generates UUIDs.
pub struct UuidGenerator {
    spec: ToolSpec,
}

impl UuidGenerator {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "version": {"type": "string", "enum": ["v4", "v5", "v7"], "default": "v4",
                    "description": "v4 random, v5 from namespace and name, v7 time-ordered"},
                "namespace": {"type": "string",
                    "description": "For v5: dns, url, oid, x500, or a UUID"},
                "name": {"type": "string", "description": "For v5: the name to hash"},
                "count": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": 1},
                "format": {"type": "string",
                    "enum": ["hyphenated", "simple", "urn", "braced"], "default": "hyphenated"},
                "uppercase": {"type": "boolean", "default": false}
            },
            "additionalProperties": false
        });
        UuidGenerator {
            spec: spec(
                "uuid-generator",
                "utility",
                "Generates UUIDs: random (v4), name-based from a namespace and a name (v5), \
                 or time-ordered (v7).",
                parameters,
                false,
            ),
        }
    }
}

impl Default for UuidGenerator {
    fn default() -> Self {
        Self::new()
    }
}

/// The v5 namespace named by `namespace`.
fn namespace(namespace: &str) -> Result<Uuid, ToolError> {
    match namespace.to_ascii_lowercase().as_str() {
        "dns" => Ok(Uuid::NAMESPACE_DNS),
        "url" => Ok(Uuid::NAMESPACE_URL),
        "oid" => Ok(Uuid::NAMESPACE_OID),
        "x500" => Ok(Uuid::NAMESPACE_X500),
        other => Uuid::parse_str(other).map_err(|err| {
            ToolError::invalid(format!(
                "parameter `namespace` must be dns, url, oid, x500 or a UUID: {err}"
            ))
        }),
    }
}

/// `id` written in `format`.
fn render(id: Uuid, format: &str, uppercase: bool) -> String {
    let text = match format {
        "simple" => id.simple().to_string(),
        "urn" => id.urn().to_string(),
        "braced" => id.braced().to_string(),
        _ => id.hyphenated().to_string(),
    };
    if uppercase {
        text.to_ascii_uppercase()
    } else {
        text
    }
}

impl Tool for UuidGenerator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let version = opt_choice(params, "version", &["v4", "v5", "v7"], "v4")?;
        let count = opt_u64(params, "count", 1, MAX_COUNT)?;
        if count == 0 {
            return Err(ToolError::invalid("parameter `count` must be at least 1"));
        }
        let format = opt_choice(
            params,
            "format",
            &["hyphenated", "simple", "urn", "braced"],
            "hyphenated",
        )?;
        let uppercase = opt_bool(params, "uppercase", false)?;
        let ids: Vec<Uuid> = match version {
            "v5" => {
                let ns = opt_str(params, "namespace")?
                    .ok_or_else(|| ToolError::invalid("v5 needs parameter `namespace`"))?;
                let name = opt_str(params, "name")?
                    .ok_or_else(|| ToolError::invalid("v5 needs parameter `name`"))?;
                // Name-based: every copy would be the same, so `count` asks for repeats.
                vec![Uuid::new_v5(&namespace(ns)?, name.as_bytes()); count as usize]
            }
            // v7 ids made in one call are strictly increasing: the crate's context keeps a
            // counter within the same millisecond.
            "v7" => (0..count).map(|_| Uuid::now_v7()).collect(),
            _ => (0..count).map(|_| Uuid::new_v4()).collect(),
        };
        let uuids: Vec<String> = ids
            .into_iter()
            .map(|id| render(id, format, uppercase))
            .collect();
        let version_number = version[1..].parse::<u8>().unwrap_or_default();
        Ok(ToolOutput {
            text: uuids.join("\n"),
            data: json!({"uuids": uuids, "version": version_number, "count": count}),
        })
    }
}
