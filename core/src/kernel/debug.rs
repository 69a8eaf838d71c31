//! debug_request on control (JEP 47): each request goes to the DAP session, wrapped in busy
//! and idle; its reply follows at once or when the engine answers; events go to iopub as
//! debug_event. Commands for the engine leave as [`Action::Debug`], on the engine's debug
//! channel, so control is answered even while a cell is stopped at a breakpoint.

use bytes::Bytes;
use serde_json::{json, Value};
use tracing::warn;

use super::dispatch::to_vec;
use super::{Action, Ctx, Kernel};
use crate::dap::Output;
use crate::engine::debug::DebugEvent;
use crate::time::Timestamp;

impl Kernel {
    /// A debug_request arrived (on control, or on shell).
    pub(super) fn on_debug_request(&mut self, now: Timestamp, ctx: Ctx, content: &[u8]) {
        if self.debug.is_none() {
            let body = json!({"status": "error", "ename": "NotSupported",
                "evalue": "the debugger is not available", "traceback": []});
            return self.answer(now, &ctx, "debug_reply", to_vec(&body));
        }
        let request: Value = serde_json::from_slice(content).unwrap_or_else(|e| {
            warn!(error = %e, "debug_request content is not JSON");
            Value::Null
        });
        let tag = self.next_debug_tag;
        self.next_debug_tag += 1;
        self.out.status(now, &ctx.header, true);
        self.last_debug_header = Some(ctx.header.clone());
        self.debug_requests.insert(tag, ctx);
        if let Some(session) = self.debug.as_mut() {
            session.handle_request(tag, &request);
        }
        self.drain_debug(now);
    }

    /// The engine's debugger reported.
    pub(super) fn on_debug_event(&mut self, now: Timestamp, event: DebugEvent) {
        match self.debug.as_mut() {
            Some(session) => session.handle_engine_event(event),
            None => warn!("a debugger event with no debug session"),
        }
        self.drain_debug(now);
    }

    /// Sends what the session produced. The idle of a request that got its reply comes
    /// after the events the request caused.
    fn drain_debug(&mut self, now: Timestamp) {
        let mut idle = Vec::new();
        while let Some(output) = self.debug.as_mut().and_then(|s| s.poll_output()) {
            match output {
                Output::Response { tag, message } => {
                    let Some(ctx) = self.debug_requests.remove(&tag) else {
                        warn!(tag, "a debug reply for no request");
                        continue;
                    };
                    self.out
                        .send_to(now, ctx.channel, &ctx, "debug_reply", to_vec(&message));
                    idle.push(ctx.header);
                }
                Output::Event(event) => {
                    // A stop belongs to the cell that runs; other events to the last
                    // debug_request.
                    let parent = self
                        .queue
                        .front()
                        .map(|job| job.ctx.header.clone())
                        .or_else(|| self.last_debug_header.clone())
                        .unwrap_or_else(|| Bytes::from_static(b"{}"));
                    self.out
                        .publish(now, &parent, "debug_event", Bytes::from(to_vec(&event)));
                }
                Output::Engine(cmd) => self.out.actions.push_back(Action::Debug(cmd)),
                Output::Launch(_) | Output::Start | Output::Terminate => {
                    warn!("a standalone-only debugger output in a kernel");
                }
            }
        }
        for header in idle {
            self.out.status(now, &header, false);
        }
    }
}
