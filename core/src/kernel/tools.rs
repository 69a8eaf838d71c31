//! `tool_request` on shell: list, info and search answered at once from the registry;
//! invoke answered at once for pure tools, and handed to a tool worker for tools that may
//! block and for batches. See docs/protocol.md.
//!
//! Tool requests do not wait in the shell queue: tools never touch the Lua state, so a
//! tool call is answered while a cell runs.

use super::{Action, Ctx, Kernel};
use crate::time::Timestamp;
use crate::tools::{ToolError, ToolErrorKind, ToolHost, ToolOutput, ToolResult, ToolSpec};
use serde::Deserialize;
use serde_json::{json, Value};

/// A tool call for a worker thread.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolCall {
    /// One call.
    Invoke {
        /// The tool.
        name: String,
        /// Its parameters.
        params: Value,
        /// A timeout other than the tool's own.
        timeout_ms: Option<u64>,
    },
    /// Several calls, run in parallel.
    Batch(Vec<(String, Value)>),
}

/// A tool call handed to the driver.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolJob {
    /// Echoed in [`ToolDone`].
    pub id: u64,
    /// What to run.
    pub call: ToolCall,
}

/// What a tool worker reports.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolDone {
    /// The result of an `Invoke`.
    Invoke(ToolResult),
    /// The results of a `Batch`, in order.
    Batch(Vec<ToolResult>),
}

impl ToolJob {
    /// Runs the job on `host`, on the caller's thread.
    pub fn run(&self, host: &dyn ToolHost) -> ToolDone {
        match &self.call {
            ToolCall::Invoke {
                name,
                params,
                timeout_ms,
            } => ToolDone::Invoke(host.invoke(name, params, *timeout_ms)),
            ToolCall::Batch(calls) => ToolDone::Batch(host.batch(calls)),
        }
    }
}

#[derive(Deserialize)]
struct ToolRequest {
    command: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    calls: Option<Vec<BatchCall>>,
}

#[derive(Deserialize)]
struct BatchCall {
    name: String,
    #[serde(default)]
    params: Option<Value>,
}

/// The JSON of a spec, as list and info give it.
pub fn spec_json(spec: &ToolSpec) -> Value {
    // A ToolSpec holds only strings, booleans and JSON.
    serde_json::to_value(spec).expect("a spec serializes")
}

fn error_content(command: &str, e: &ToolError, suggestions: &[&str]) -> Value {
    json!({
        "status": "error", "command": command, "ename": "ToolError", "evalue": e.message,
        "traceback": [],
        "error": {"kind": e.kind.as_str(), "message": e.message, "suggestions": suggestions},
    })
}

fn ok_invoke(out: &ToolOutput) -> Value {
    json!({"status": "ok", "command": "invoke", "text": out.text, "data": out.data})
}

/// One batch entry.
pub fn batch_entry(r: &ToolResult) -> Value {
    match r {
        Ok(out) => json!({"success": true, "text": out.text, "data": out.data}),
        Err(e) => {
            json!({"success": false, "error": {"kind": e.kind.as_str(), "message": e.message}})
        }
    }
}

impl Kernel {
    pub(super) fn on_tool_request(&mut self, now: Timestamp, ctx: Ctx, body: &[u8]) {
        let req = match super::requests::parse::<ToolRequest>(body) {
            Ok(r) => r,
            Err(e) => {
                let err = ToolError::invalid(format!("invalid tool_request content: {e}"));
                return self.answer(
                    now,
                    &ctx,
                    "tool_reply",
                    to_vec(&error_content("", &err, &[])),
                );
            }
        };
        let Some(host) = self.config.tools.clone() else {
            let err = ToolError::new(ToolErrorKind::UnknownTool, "this kernel has no tools");
            return self.answer(
                now,
                &ctx,
                "tool_reply",
                to_vec(&error_content(&req.command, &err, &[])),
            );
        };
        let host = host.0;
        let registry = host.registry();
        let command = req.command.as_str();
        let reply = match command {
            "list" => {
                let tools: Vec<Value> = registry
                    .list(req.category.as_deref())
                    .into_iter()
                    .map(spec_json)
                    .collect();
                json!({"status": "ok", "command": "list", "tools": tools})
            }
            "info" => match registry.info(req.name.as_deref().unwrap_or_default()) {
                Ok(spec) => json!({"status": "ok", "command": "info", "tool": spec_json(spec)}),
                Err(e) => {
                    let s = registry.suggest(req.name.as_deref().unwrap_or_default());
                    error_content(command, &e, &s)
                }
            },
            "search" => {
                let limit = req.limit.unwrap_or(10);
                let results: Vec<Value> = registry
                    .search(req.query.as_deref().unwrap_or_default(), limit)
                    .into_iter()
                    .map(|(score, spec)| json!({"score": score, "tool": spec_json(spec)}))
                    .collect();
                json!({"status": "ok", "command": "search", "results": results})
            }
            "invoke" => {
                let Some(name) = req.name else {
                    let e = ToolError::invalid("invoke needs `name`");
                    return self.answer(
                        now,
                        &ctx,
                        "tool_reply",
                        to_vec(&error_content(command, &e, &[])),
                    );
                };
                let params = req.params.unwrap_or_else(|| json!({}));
                let inline = registry.get(&name).is_some_and(|t| !t.spec().blocking);
                if inline || registry.get(&name).is_none() {
                    // Pure tools are microseconds: answered here, on the I/O thread.
                    match host.invoke(&name, &params, req.timeout_ms) {
                        Ok(out) => ok_invoke(&out),
                        Err(e) => error_content(command, &e, &registry.suggest(&name)),
                    }
                } else {
                    let call = ToolCall::Invoke {
                        name,
                        params,
                        timeout_ms: req.timeout_ms,
                    };
                    return self.start_tool_job(now, ctx, call);
                }
            }
            "batch" => {
                let calls = req
                    .calls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| (c.name, c.params.unwrap_or_else(|| json!({}))))
                    .collect();
                return self.start_tool_job(now, ctx, ToolCall::Batch(calls));
            }
            other => {
                let e = ToolError::invalid(format!(
                    "unknown tool command {other:?}: expected list, info, search, invoke or batch"
                ));
                error_content(other, &e, &[])
            }
        };
        self.answer(now, &ctx, "tool_reply", to_vec(&reply));
    }

    fn start_tool_job(&mut self, now: Timestamp, ctx: Ctx, call: ToolCall) {
        let id = self.alloc_engine_id();
        self.out.status(now, &ctx.header, true);
        self.tool_jobs.insert(id, ctx);
        self.out
            .actions
            .push_back(Action::Tool(ToolJob { id, call }));
    }

    /// A tool worker finished job `id`.
    pub fn handle_tool_done(&mut self, now: Timestamp, id: u64, done: ToolDone) {
        let Some(ctx) = self.tool_jobs.remove(&id) else {
            tracing::warn!(id, "result for an unknown tool job");
            return;
        };
        let reply = match done {
            ToolDone::Invoke(Ok(out)) => ok_invoke(&out),
            ToolDone::Invoke(Err(e)) => error_content("invoke", &e, &[]),
            ToolDone::Batch(results) => {
                let results: Vec<Value> = results.iter().map(batch_entry).collect();
                json!({"status": "ok", "command": "batch", "results": results})
            }
        };
        self.out
            .send_to(now, ctx.channel, &ctx, "tool_reply", to_vec(&reply));
        self.out.status(now, &ctx.header, false);
    }
}

fn to_vec(v: &Value) -> Vec<u8> {
    // Serializing a serde_json::Value into a Vec cannot fail.
    serde_json::to_vec(v).expect("json value serializes")
}
