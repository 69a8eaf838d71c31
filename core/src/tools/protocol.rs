//! The `tool_request` / `tool_reply` protocol (docs/protocol.md): the request type, and the
//! replies an in-process host gives, shaped exactly as a kernel's `tool_reply` content.
//!
//! A kernel answers `tool_request` with these; the embedded CLI answers requests with
//! [`dispatch`] and the remote CLI sends the same [`ToolRequest`] to a kernel, so the replies
//! are the same bytes either way.

use super::{ToolError, ToolErrorKind, ToolHost, ToolResult, ToolSpec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The default `limit` of a search.
pub const DEFAULT_SEARCH_LIMIT: usize = 10;

fn default_limit() -> usize {
    DEFAULT_SEARCH_LIMIT
}

/// One call of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchCall {
    /// The tool.
    pub name: String,
    /// Its parameters.
    #[serde(default)]
    pub params: Value,
}

/// The content of a `tool_request`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum ToolRequest {
    /// Every tool's spec, or those of one category.
    List {
        /// Only this category.
        #[serde(default)]
        category: Option<String>,
    },
    /// One tool's spec, schema included.
    Info {
        /// The tool.
        name: String,
    },
    /// Tools matching a query, best first, with scores.
    Search {
        /// Words to look for in names, descriptions and categories.
        query: String,
        /// Most results.
        #[serde(default = "default_limit")]
        limit: usize,
    },
    /// Runs one tool.
    Invoke {
        /// The tool.
        name: String,
        /// Its parameters (a JSON object).
        #[serde(default)]
        params: Value,
        /// Overrides the tool's timeout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Runs several calls in parallel.
    Batch {
        /// The calls, whose results come back in this order.
        calls: Vec<BatchCall>,
    },
}

impl ToolRequest {
    /// The `command` field.
    pub fn command(&self) -> &'static str {
        match self {
            ToolRequest::List { .. } => "list",
            ToolRequest::Info { .. } => "info",
            ToolRequest::Search { .. } => "search",
            ToolRequest::Invoke { .. } => "invoke",
            ToolRequest::Batch { .. } => "batch",
        }
    }

    /// The request's JSON content.
    pub fn to_json(&self) -> String {
        // A request holds strings, numbers and Values only: it always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The `timeout_ms` of an invoke.
    pub fn timeout_ms(&self) -> Option<u64> {
        match self {
            ToolRequest::Invoke { timeout_ms, .. } => *timeout_ms,
            _ => None,
        }
    }
}

/// A spec as the protocol's SPEC object.
pub fn spec_json(spec: &ToolSpec) -> Value {
    json!({
        "name": spec.name,
        "category": spec.category,
        "description": spec.description,
        "parameters": spec.parameters,
        "security": spec.security,
        "cacheable": spec.cacheable,
        "blocking": spec.blocking,
    })
}

/// A score rounded to three decimals, so that `0.9f32` reads `0.9`, not `0.8999999761581421`.
fn score_json(score: f32) -> Value {
    let rounded = (f64::from(score) * 1000.0).round() / 1000.0;
    serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
}

/// The error reply of `command`.
pub fn error_reply(command: &str, error: &ToolError, suggestions: &[&str]) -> Value {
    json!({
        "status": "error",
        "command": command,
        "ename": "ToolError",
        "evalue": error.message,
        "traceback": [],
        "error": {
            "kind": error.kind.as_str(),
            "message": error.message,
            "suggestions": suggestions,
        },
    })
}

/// The error reply for a failed call of `name`, with suggestions when the name is unknown.
pub fn call_error(host: &dyn ToolHost, command: &str, name: &str, error: &ToolError) -> Value {
    let suggestions = if error.kind == ToolErrorKind::UnknownTool {
        host.registry().suggest(name)
    } else {
        Vec::new()
    };
    error_reply(command, error, &suggestions)
}

/// One entry of a batch reply.
pub fn result_json(result: &ToolResult) -> Value {
    match result {
        Ok(out) => json!({"success": true, "text": out.text, "data": out.data}),
        Err(e) => json!({
            "success": false,
            "error": {"kind": e.kind.as_str(), "message": e.message},
        }),
    }
}

/// Answers a request with `host`, as a kernel would: the `tool_reply` content.
pub fn dispatch(host: &dyn ToolHost, request: &ToolRequest) -> Value {
    let registry = host.registry();
    match request {
        ToolRequest::List { category } => {
            let tools: Vec<Value> = registry
                .list(category.as_deref())
                .into_iter()
                .map(spec_json)
                .collect();
            json!({"status": "ok", "command": "list", "tools": tools})
        }
        ToolRequest::Info { name } => match registry.info(name) {
            Ok(spec) => json!({"status": "ok", "command": "info", "tool": spec_json(spec)}),
            Err(e) => call_error(host, "info", name, &e),
        },
        ToolRequest::Search { query, limit } => {
            let results: Vec<Value> = registry
                .search(query, *limit)
                .into_iter()
                .map(|(score, spec)| json!({"score": score_json(score), "tool": spec_json(spec)}))
                .collect();
            json!({"status": "ok", "command": "search", "results": results})
        }
        ToolRequest::Invoke {
            name,
            params,
            timeout_ms,
        } => invoke_reply(host, name, &host.invoke(name, params, *timeout_ms)),
        ToolRequest::Batch { calls } => {
            let calls: Vec<(String, Value)> = calls
                .iter()
                .map(|c| (c.name.clone(), c.params.clone()))
                .collect();
            batch_reply(&host.batch(&calls))
        }
    }
}

/// The reply to an invoke of `name` that gave `result`.
pub fn invoke_reply(host: &dyn ToolHost, name: &str, result: &ToolResult) -> Value {
    match result {
        Ok(out) => json!({"status": "ok", "command": "invoke", "text": out.text, "data": out.data}),
        Err(e) => call_error(host, "invoke", name, e),
    }
}

/// The reply to a batch that gave `results`.
pub fn batch_reply(results: &[ToolResult]) -> Value {
    let results: Vec<Value> = results.iter().map(result_json).collect();
    json!({"status": "ok", "command": "batch", "results": results})
}

/// Whether a reply says `"status": "ok"`.
pub fn is_ok(reply: &Value) -> bool {
    reply.get("status").and_then(Value::as_str) == Some("ok")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::SecurityLevel;

    #[test]
    fn requests_serialize_as_the_protocol_says() {
        let invoke = ToolRequest::Invoke {
            name: "calculator".into(),
            params: json!({"input": "2+2"}),
            timeout_ms: None,
        };
        assert_eq!(
            serde_json::to_value(&invoke).unwrap(),
            json!({"command": "invoke", "name": "calculator", "params": {"input": "2+2"}})
        );
        let list = ToolRequest::List { category: None };
        assert_eq!(list.to_json(), r#"{"command":"list","category":null}"#);
        let parsed: ToolRequest =
            serde_json::from_str(r#"{"command":"search","query":"calc"}"#).expect("valid request");
        assert_eq!(
            parsed,
            ToolRequest::Search {
                query: "calc".into(),
                limit: DEFAULT_SEARCH_LIMIT
            }
        );
        let batch: ToolRequest = serde_json::from_str(
            r#"{"command":"batch","calls":[{"name":"a","params":{}},{"name":"b"}]}"#,
        )
        .expect("valid batch");
        assert_eq!(batch.command(), "batch");
        assert!(serde_json::from_str::<ToolRequest>(r#"{"command":"frob"}"#).is_err());
    }

    #[test]
    fn error_reply_shape() {
        let e = ToolError::new(ToolErrorKind::UnknownTool, "no tool calculater");
        let r = error_reply("invoke", &e, &["calculator"]);
        assert_eq!(
            r,
            json!({
                "status": "error", "command": "invoke", "ename": "ToolError",
                "evalue": "no tool calculater", "traceback": [],
                "error": {"kind": "unknown_tool", "message": "no tool calculater",
                          "suggestions": ["calculator"]},
            })
        );
        assert!(!is_ok(&r));
        assert!(is_ok(&json!({"status": "ok"})));
    }

    #[test]
    fn spec_and_scores() {
        let spec = ToolSpec {
            name: "calculator",
            category: "utility",
            description: "Arithmetic.",
            parameters: json!({"type": "object"}),
            security: SecurityLevel::Safe,
            cacheable: true,
            blocking: false,
        };
        let v = spec_json(&spec);
        assert_eq!(v, serde_json::to_value(&spec).unwrap());
        assert_eq!(v["security"], "safe");
        assert_eq!(score_json(0.9), json!(0.9));
        assert_eq!(score_json(f32::NAN), Value::Null);
        let batch = [
            Ok(crate::tools::ToolOutput {
                text: "4".into(),
                data: json!(4),
            }),
            Err(ToolError::invalid("input: missing")),
        ];
        assert_eq!(
            result_json(&batch[0]),
            json!({"success": true, "text": "4", "data": 4})
        );
        assert_eq!(
            result_json(&batch[1]),
            json!({"success": false, "error": {"kind": "invalid_params", "message": "input: missing"}})
        );
    }
}
