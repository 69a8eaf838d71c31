//! `tool_request` on shell (docs/protocol.md): list, info and search answered at once from
//! the registry; invoke answered at once for pure tools and handed to a tool worker for tools
//! that may block; batches always on a worker. The replies are built by
//! [`crate::tools::protocol`], the same code the embedded CLI answers with.
//!
//! Tool requests do not wait in the shell queue: tools never touch the Lua state, so a
//! tool call is answered while a cell runs.

use super::dispatch::to_vec;
use super::{Action, Ctx, Kernel};
use crate::time::Timestamp;
use crate::tools::protocol::{self, ToolRequest};
use crate::tools::{ToolError, ToolErrorKind, ToolHost, ToolResult};
use serde_json::Value;

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

/// A tool job waiting for its worker.
#[derive(Debug)]
pub(super) struct PendingTool {
    ctx: Ctx,
    /// The tool name of an invoke, for suggestions in its error reply.
    name: Option<String>,
}

impl Kernel {
    pub(super) fn on_tool_request(&mut self, now: Timestamp, ctx: Ctx, body: &[u8]) {
        let request = match super::requests::parse::<ToolRequest>(body) {
            Ok(r) => r,
            Err(e) => {
                let err = ToolError::invalid(format!("invalid tool_request content: {e}"));
                let reply = protocol::error_reply("", &err, &[]);
                return self.answer(now, &ctx, "tool_reply", to_vec(&reply));
            }
        };
        let Some(host) = self.config.tools.clone() else {
            let err = ToolError::new(ToolErrorKind::UnknownTool, "this kernel has no tools");
            let reply = protocol::error_reply(request.command(), &err, &[]);
            return self.answer(now, &ctx, "tool_reply", to_vec(&reply));
        };
        let host = host.0.as_ref();
        let job = match request {
            ToolRequest::Invoke {
                name,
                params,
                timeout_ms,
            } => {
                let blocking = host
                    .registry()
                    .get(&name)
                    .is_some_and(|t| t.spec().blocking);
                if !blocking {
                    // Pure tools are microseconds: answered here, on the I/O thread.
                    let reply = protocol::invoke_reply(
                        host,
                        &name,
                        &host.invoke(&name, &params, timeout_ms),
                    );
                    return self.answer(now, &ctx, "tool_reply", to_vec(&reply));
                }
                let call = ToolCall::Invoke {
                    name: name.clone(),
                    params,
                    timeout_ms,
                };
                (call, Some(name))
            }
            ToolRequest::Batch { calls } => {
                let calls = calls.into_iter().map(|c| (c.name, c.params)).collect();
                (ToolCall::Batch(calls), None)
            }
            other => {
                let reply = protocol::dispatch(host, &other);
                return self.answer(now, &ctx, "tool_reply", to_vec(&reply));
            }
        };
        let id = self.alloc_engine_id();
        self.out.status(now, &ctx.header, true);
        self.tool_jobs.insert(id, PendingTool { ctx, name: job.1 });
        self.out
            .actions
            .push_back(Action::Tool(ToolJob { id, call: job.0 }));
    }

    /// A tool worker finished job `id`.
    pub fn handle_tool_done(&mut self, now: Timestamp, id: u64, done: ToolDone) {
        let Some(PendingTool { ctx, name }) = self.tool_jobs.remove(&id) else {
            tracing::warn!(id, "result for an unknown tool job");
            return;
        };
        let reply = match (done, &self.config.tools) {
            (ToolDone::Batch(results), _) => protocol::batch_reply(&results),
            (ToolDone::Invoke(result), Some(host)) => protocol::invoke_reply(
                host.0.as_ref(),
                name.as_deref().unwrap_or_default(),
                &result,
            ),
            (ToolDone::Invoke(result), None) => protocol::result_json(&result),
        };
        self.out
            .send_to(now, ctx.channel, &ctx, "tool_reply", to_vec(&reply));
        self.out.status(now, &ctx.header, false);
    }
}
