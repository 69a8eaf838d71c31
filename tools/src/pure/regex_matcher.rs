//! `regex-matcher`: find, test, capture, replace and split with regular expressions, on the
//! regex crate (linear-time matching: no pattern can make it backtrack for ever).

use super::{opt_bool, opt_choice, opt_str, opt_u64, req_str, spec};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use regex::RegexBuilder;
use serde_json::{json, Value};

/// Longest pattern accepted, in bytes.
const MAX_PATTERN: usize = 4096;
/// Most matches reported.
const MAX_MATCHES: u64 = 10_000;

/// Regular expressions over text.
pub struct RegexMatcher {
    spec: ToolSpec,
}

impl RegexMatcher {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": ["test", "find", "captures", "replace", "split"],
                    "default": "find", "description": "test: whether it matches; find: every match; \
                    captures: groups of every match; replace: substitute ($1, ${name}); split: pieces"},
                "pattern": {"type": "string", "maxLength": MAX_PATTERN, "description": "Rust regex syntax"},
                "input": {"type": "string", "description": "The text to search"},
                "replacement": {"type": "string", "description": "For replace"},
                "case_insensitive": {"type": "boolean", "default": false},
                "multi_line": {"type": "boolean", "default": false, "description": "^ and $ match at line ends"},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_MATCHES, "default": 1000}
            },
            "required": ["pattern", "input"],
            "additionalProperties": false
        });
        RegexMatcher {
            spec: spec(
                "regex-matcher",
                "text",
                "Tests, finds, captures, replaces or splits text with a regular expression.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for RegexMatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for RegexMatcher {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let ops = ["test", "find", "captures", "replace", "split"];
        let op = opt_choice(params, "operation", &ops, "find")?;
        let pattern = req_str(params, "pattern")?;
        let input = req_str(params, "input")?;
        let limit = opt_u64(params, "limit", 1000, MAX_MATCHES)? as usize;
        if pattern.len() > MAX_PATTERN {
            return Err(ToolError::invalid(format!(
                "parameter `pattern` is longer than {MAX_PATTERN} bytes"
            )));
        }
        let re = RegexBuilder::new(pattern)
            .case_insensitive(opt_bool(params, "case_insensitive", false)?)
            .multi_line(opt_bool(params, "multi_line", false)?)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| ToolError::invalid(format!("parameter `pattern`: {e}")))?;
        let (text, data) = match op {
            "test" => {
                let m = re.is_match(input);
                (m.to_string(), json!({"matched": m}))
            }
            "find" => {
                let found: Vec<Value> = re
                    .find_iter(input)
                    .take(limit)
                    .map(|m| json!({"match": m.as_str(), "start": m.start(), "end": m.end()}))
                    .collect();
                let text = found
                    .iter()
                    .filter_map(|m| m["match"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                (text, json!({"count": found.len(), "matches": found}))
            }
            "captures" => {
                let names: Vec<Option<&str>> = re.capture_names().collect();
                let all: Vec<Value> = re
                    .captures_iter(input)
                    .take(limit)
                    .map(|caps| {
                        let groups: Vec<Value> = (0..caps.len())
                            .map(|i| caps.get(i).map_or(Value::Null, |m| Value::from(m.as_str())))
                            .collect();
                        let named: serde_json::Map<String, Value> = names
                            .iter()
                            .enumerate()
                            .filter_map(|(i, n)| n.map(|n| (i, n)))
                            .map(|(i, n)| {
                                (
                                    n.to_string(),
                                    caps.get(i).map_or(Value::Null, |m| Value::from(m.as_str())),
                                )
                            })
                            .collect();
                        json!({"groups": groups, "named": named})
                    })
                    .collect();
                (
                    serde_json::to_string(&all).unwrap_or_default(),
                    json!({"count": all.len(), "captures": all}),
                )
            }
            "replace" => {
                let replacement = opt_str(params, "replacement")?
                    .ok_or_else(|| ToolError::invalid("replace needs parameter `replacement`"))?;
                let out = re.replacen(input, limit, replacement).into_owned();
                (out.clone(), json!({"result": out}))
            }
            _ => {
                let parts: Vec<&str> = re.splitn(input, limit + 1).collect();
                (
                    parts.join("\n"),
                    json!({"count": parts.len(), "parts": parts}),
                )
            }
        };
        Ok(ToolOutput { text, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmspell_core::tools::{Policy, ToolErrorKind};

    fn run(params: Value) -> ToolResult {
        let policy = Policy::default();
        RegexMatcher::new().invoke(&params, &ToolContext { policy: &policy })
    }

    #[test]
    fn operations() {
        let out =
            run(json!({"operation": "find", "pattern": r"\d+", "input": "a1 b22 c333"})).unwrap();
        assert_eq!(out.text, "1\n22\n333");
        assert_eq!(
            out.data["matches"][1],
            json!({"match": "22", "start": 4, "end": 6})
        );
        let out = run(
            json!({"operation": "test", "pattern": "^B", "input": "abc", "case_insensitive": true}),
        )
        .unwrap();
        assert_eq!(out.data["matched"], false);
        let out = run(
            json!({"operation": "captures", "pattern": r"(?P<k>\w+)=(\d)", "input": "x=1 y=2"}),
        )
        .unwrap();
        assert_eq!(out.data["captures"][1]["named"]["k"], "y");
        assert_eq!(out.data["captures"][0]["groups"], json!(["x=1", "x", "1"]));
        let out = run(json!({"operation": "replace", "pattern": r"(\w+)@", "input": "me@x you@y", "replacement": "<$1>@"})).unwrap();
        assert_eq!(out.text, "<me>@x <you>@y");
        let out =
            run(json!({"operation": "split", "pattern": r"\s*,\s*", "input": "a , b,c"})).unwrap();
        assert_eq!(out.data["parts"], json!(["a", "b", "c"]));
        let out =
            run(json!({"operation": "find", "pattern": "a", "input": "aaaa", "limit": 2})).unwrap();
        assert_eq!(out.data["count"], 2);
    }

    #[test]
    fn bad_input() {
        let e = run(json!({"pattern": "(", "input": "x"})).unwrap_err();
        assert_eq!(e.kind, ToolErrorKind::InvalidParams);
        assert!(e.message.contains("pattern"), "{}", e.message);
        let e = run(json!({"operation": "replace", "pattern": "x", "input": "x"})).unwrap_err();
        assert!(e.message.contains("replacement"));
        // Catastrophic-backtracking patterns are linear here.
        let out = run(json!({"operation": "test", "pattern": "(a+)+$", "input": format!("{}!", "a".repeat(5000))})).unwrap();
        assert_eq!(out.data["matched"], false);
    }
}
