//! `http-requester`: one HTTP(S) request to an allowed host (ureq).
//!
//! The URL's host must be on [`Policy::http_allowed_hosts`]: an entry `example.com` allows
//! that host on any port, `example.com:8080` that port only, `*.example.com` its
//! subdomains (not IP addresses). Names compare without case. Redirects are not followed (a 3xx comes back as the response, its Location
//! in the headers), so a redirect cannot lead past the allowlist; no proxy is used.
//! A response of any status is a result: `data.status` tells. Transport failures are
//! errors, and so is a body over the size limit.
//!
//! [`Policy::http_allowed_hosts`]: llmspell_core::tools::Policy::http_allowed_hosts

use super::params::{opt_str, opt_u64, req_str};
use llmspell_core::tools::{
    Policy, SecurityLevel, Tool, ToolContext, ToolError, ToolErrorKind, ToolOutput, ToolResult,
    ToolSpec,
};
use serde_json::{json, Map, Value};
use std::time::Duration;
use ureq::http::{Request, Uri};

/// Timeout of the whole exchange unless `timeout_ms` says otherwise.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Largest response body unless `max_response_bytes` says otherwise.
pub const DEFAULT_MAX_RESPONSE: u64 = 10 << 20;

/// The `http-requester` tool.
pub struct HttpRequester {
    spec: ToolSpec,
}

impl HttpRequester {
    /// The tool with its spec.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "method": {
                    "type": "string",
                    "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                    "description": "Default GET"
                },
                "url": {"type": "string", "description": "http:// or https:// URL of an allowed host"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {"type": "string"},
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600_000, "description": "Default 30000"},
                "max_response_bytes": {"type": "integer", "minimum": 0, "maximum": 104_857_600, "description": "Default 10 MiB"}
            },
            "required": ["url"],
            "additionalProperties": false
        });
        HttpRequester {
            spec: ToolSpec {
                name: "http-requester",
                category: "network",
                description: "Send an HTTP request to an allowlisted host and return the status, headers and body",
                parameters,
                security: SecurityLevel::Privileged,
                cacheable: false,
                blocking: true,
            },
        }
    }
}

impl Default for HttpRequester {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `policy` lets requests reach `host` (without brackets) on `port`.
pub fn host_allowed(policy: &Policy, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    policy.http_allowed_hosts.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        // A port follows the last `:` of `name:port` or `[v6]:port`, never of a bare
        // IPv6 address.
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((name, p)) if !name.contains(':') || name.ends_with(']') => {
                match p.parse::<u16>() {
                    Ok(p) => (name, Some(p)),
                    Err(_) => (entry.as_str(), None),
                }
            }
            _ => (entry.as_str(), None),
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let name_ok = match name.strip_prefix("*.") {
            // A wildcard names subdomains, never addresses.
            Some(_) if host.parse::<std::net::IpAddr>().is_ok() => false,
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == name,
        };
        name_ok && entry_port.is_none_or(|p| p == port)
    })
}

fn transport_error(url: &str, e: ureq::Error) -> ToolError {
    match e {
        ureq::Error::Timeout(_) => ToolError::new(
            ToolErrorKind::Timeout,
            format!("{url}: no complete response in time ({e})"),
        ),
        ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::TimedOut => {
            ToolError::new(ToolErrorKind::Timeout, format!("{url}: {e}"))
        }
        ureq::Error::BodyExceedsLimit(limit) => ToolError::new(
            ToolErrorKind::TooLarge,
            format!("{url}: the response body is larger than {limit} bytes"),
        ),
        e => ToolError::failed(format!("{url}: {e}")),
    }
}

impl Tool for HttpRequester {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        let url = req_str(params, "url")?;
        let method = opt_str(params, "method")?.unwrap_or("GET");
        let body = opt_str(params, "body")?;
        let timeout = opt_u64(params, "timeout_ms", DEFAULT_TIMEOUT_MS, 600_000)?;
        let limit = opt_u64(
            params,
            "max_response_bytes",
            DEFAULT_MAX_RESPONSE,
            100 << 20,
        )?;

        let uri: Uri = url
            .parse()
            .map_err(|e| ToolError::invalid(format!("`url` {url}: {e}")))?;
        let default_port = match uri.scheme_str() {
            Some("http") => 80,
            Some("https") => 443,
            _ => {
                return Err(ToolError::invalid(format!(
                    "`url` {url}: not http or https"
                )))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| ToolError::invalid(format!("`url` {url}: no host")))?;
        let port = uri.port_u16().unwrap_or(default_port);
        if !host_allowed(ctx.policy, host, port) {
            return Err(ToolError::denied(format!(
                "host {host} is not on the HTTP allowlist"
            )));
        }

        let mut request = Request::builder().method(method).uri(&uri);
        match params.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(headers)) => {
                for (name, value) in headers {
                    let value = value.as_str().ok_or_else(|| {
                        ToolError::invalid(format!("header {name}: the value must be a string"))
                    })?;
                    request = request.header(name.as_str(), value);
                }
            }
            Some(_) => return Err(ToolError::invalid("`headers` must be an object")),
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(timeout)))
            .max_redirects(0)
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let bad_request = |e: ureq::http::Error| ToolError::invalid(format!("request: {e}"));
        let sent = match body {
            Some(body) => agent.run(request.body(body.to_owned()).map_err(bad_request)?),
            None => agent.run(request.body(()).map_err(bad_request)?),
        };
        let mut response = sent.map_err(|e| transport_error(url, e))?;

        let mut headers = Map::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| transport_error(url, e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let data = json!({
            "url": url, "status": status, "headers": headers, "body": text, "bytes": bytes.len()
        });
        Ok(ToolOutput { text, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entries: &[&str], host: &str, port: u16) -> bool {
        let policy = Policy {
            http_allowed_hosts: entries.iter().map(|e| e.to_string()).collect(),
            ..Policy::default()
        };
        host_allowed(&policy, host, port)
    }

    #[test]
    fn allowlist_entries() {
        assert!(allows(&["Example.com"], "example.COM", 443));
        assert!(allows(&["example.com:8080"], "example.com", 8080));
        assert!(!allows(&["example.com:8080"], "example.com", 80));
        assert!(allows(&["*.example.com"], "api.example.com", 443));
        assert!(!allows(&["*.example.com"], "example.com", 443));
        assert!(!allows(&["*.example.com"], "badexample.com", 443));
        assert!(allows(&["::1"], "[::1]", 80));
        assert!(allows(&["2001:db8::5:1"], "[2001:db8::5:1]", 80));
        assert!(allows(&["[::1]:8080"], "[::1]", 8080));
        assert!(!allows(&["[::1]:8080"], "[::1]", 80));
        assert!(!allows(&[], "example.com", 80));
    }
}
