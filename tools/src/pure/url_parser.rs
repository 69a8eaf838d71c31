//! `url-parser`: parse a URL into its parts, resolve a relative reference against a base,
//! and percent-encode or decode, on the url crate (the WHATWG URL Standard).

use super::{opt_choice, opt_str, req_str, spec};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Value};
use url::Url;

/// Parses, resolves and encodes URLs.
pub struct UrlParser {
    spec: ToolSpec,
}

impl UrlParser {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": ["parse", "join", "encode", "decode"],
                    "default": "parse", "description": "parse: the parts of `url`; join: resolve \
                    `url` against `base`; encode/decode: percent-encoding of `url` as text"},
                "url": {"type": "string", "maxLength": 65536},
                "base": {"type": "string", "description": "For join"}
            },
            "required": ["url"],
            "additionalProperties": false
        });
        UrlParser {
            spec: spec(
                "url-parser",
                "text",
                "Parses a URL into scheme, host, port, path, query parameters and fragment, \
                 resolves relative URLs, and percent-encodes or decodes text.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for UrlParser {
    fn default() -> Self {
        Self::new()
    }
}

fn parse(text: &str, what: &str) -> Result<Url, ToolError> {
    Url::parse(text)
        .map_err(|e| ToolError::invalid(format!("parameter `{what}` is not a URL: {e}")))
}

fn parts(u: &Url) -> Value {
    let query: Vec<Value> = u.query_pairs().map(|(k, v)| json!([k, v])).collect();
    json!({
        "href": u.as_str(), "scheme": u.scheme(), "username": u.username(),
        "password": u.password(), "host": u.host_str(), "port": u.port_or_known_default(),
        "path": u.path(), "segments": u.path_segments().map(|s| s.collect::<Vec<_>>()),
        "query": u.query(), "query_pairs": query, "fragment": u.fragment(),
    })
}

impl Tool for UrlParser {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let op = opt_choice(
            params,
            "operation",
            &["parse", "join", "encode", "decode"],
            "parse",
        )?;
        let text = req_str(params, "url")?;
        match op {
            "parse" => {
                let u = parse(text, "url")?;
                Ok(ToolOutput {
                    text: u.to_string(),
                    data: parts(&u),
                })
            }
            "join" => {
                let base = opt_str(params, "base")?
                    .ok_or_else(|| ToolError::invalid("join needs parameter `base`"))?;
                let joined = parse(base, "base")?.join(text).map_err(|e| {
                    ToolError::invalid(format!("cannot resolve `url` against `base`: {e}"))
                })?;
                Ok(ToolOutput {
                    text: joined.to_string(),
                    data: parts(&joined),
                })
            }
            "encode" => {
                let out: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
                Ok(ToolOutput {
                    text: out.clone(),
                    data: json!({"result": out}),
                })
            }
            _ => {
                // As form decoding does: `+` is a space, then %XX escapes, strictly UTF-8.
                let plus_as_space = text.replace('+', " ");
                let out = percent_encoding::percent_decode_str(&plus_as_space)
                    .decode_utf8()
                    .map_err(|_| ToolError::invalid("the decoded bytes are not UTF-8"))?
                    .into_owned();
                Ok(ToolOutput {
                    text: out.clone(),
                    data: json!({"result": out}),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmspell_core::tools::Policy;

    fn run(params: Value) -> ToolResult {
        let policy = Policy::default();
        UrlParser::new().invoke(&params, &ToolContext { policy: &policy })
    }

    #[test]
    fn parse_join_encode() {
        let out =
            run(json!({"url": "https://u:p@example.com/a/b?x=1&y=two%20words#frag"})).unwrap();
        assert_eq!(out.data["host"], "example.com");
        assert_eq!(out.data["port"], 443);
        assert_eq!(out.data["segments"], json!(["a", "b"]));
        assert_eq!(out.data["query_pairs"][1], json!(["y", "two words"]));
        assert_eq!(out.data["fragment"], "frag");
        let out = run(json!({"operation": "join", "base": "https://x.org/a/b/c", "url": "../d?q"}))
            .unwrap();
        assert_eq!(out.text, "https://x.org/a/d?q");
        let out = run(json!({"operation": "encode", "url": "a b&c=é"})).unwrap();
        assert_eq!(out.text, "a+b%26c%3D%C3%A9");
        let out = run(json!({"operation": "decode", "url": "a+b%26c%3D%C3%A9"})).unwrap();
        assert_eq!(out.text, "a b&c=é");
    }

    #[test]
    fn bad_input() {
        assert!(run(json!({"url": "not a url"}))
            .unwrap_err()
            .message
            .contains("`url`"));
        assert!(run(json!({"operation": "join", "url": "x"}))
            .unwrap_err()
            .message
            .contains("base"));
        assert!(run(json!({"operation": "decode", "url": "%ff"}))
            .unwrap_err()
            .message
            .contains("UTF-8"));
    }
}
