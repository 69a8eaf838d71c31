//! Every transition of the kernel: messages in, worker events in, the shell queue.

use super::requests::{self, parse};
use super::worker::WorkerEvent;
use super::{content, Action, Ctx, Job, JobKind, Kernel};
use crate::connection::Channel;
use crate::engine::{EngineEvent, EngineRequest, ExecuteOutcome, InputReply, IsCompleteStatus};
use crate::metrics::DropReason;
use crate::time::Timestamp;
use crate::wire::WireError;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use tracing::{debug, warn};

pub(super) fn to_vec(v: &Value) -> Vec<u8> {
    // Serializing a serde_json::Value into a Vec cannot fail.
    serde_json::to_vec(v).expect("json value serializes")
}

/// The reply type for a request type: `execute_request` -> `execute_reply`.
fn reply_type(msg_type: &str) -> Option<&'static str> {
    Some(match msg_type {
        "execute_request" => "execute_reply",
        "complete_request" => "complete_reply",
        "inspect_request" => "inspect_reply",
        "is_complete_request" => "is_complete_reply",
        "history_request" => "history_reply",
        "kernel_info_request" => "kernel_info_reply",
        "comm_info_request" => "comm_info_reply",
        "shutdown_request" => "shutdown_reply",
        "interrupt_request" => "interrupt_reply",
        "debug_request" => "debug_reply",
        "tool_request" => "tool_reply",
        _ => return None,
    })
}

impl Kernel {
    /// Handles a multipart message that arrived on shell, control or stdin, routing
    /// identities first. Bad messages are logged and dropped, or answered with an error
    /// reply when they can be identified.
    pub fn handle_message(&mut self, now: Timestamp, channel: Channel, frames: Vec<Bytes>) {
        let msg = match self.out.codec.decode(frames) {
            Ok(m) => m,
            Err(e) => {
                warn!(channel = channel.name(), error = %e, "dropped message");
                if let Some(m) = &self.config.metrics {
                    m.dropped(match e {
                        WireError::BadSignature => DropReason::BadSignature,
                        WireError::Replayed => DropReason::Replayed,
                        _ => DropReason::Malformed,
                    });
                }
                return;
            }
        };
        let ctx = Ctx {
            channel,
            identities: msg.identities,
            header: msg.header_bytes,
            received: now,
        };
        let msg_type = msg.header.msg_type();
        if let Some(m) = &self.config.metrics {
            m.request(msg_type);
        }
        debug!(channel = channel.name(), msg_type, "request");
        match (channel, msg_type) {
            (Channel::Stdin, "input_reply") => self.on_input_reply(&msg.content),
            (Channel::Stdin, other) => warn!(msg_type = other, "unexpected message on stdin"),
            (Channel::Control, _) | (Channel::Shell, "shutdown_request") => {
                self.on_control(now, ctx, msg_type, &msg.content)
            }
            (Channel::Shell, _) => self.on_shell(now, ctx, msg_type, &msg.content),
            (Channel::Iopub | Channel::Heartbeat, _) => {}
        }
    }

    /// A new iopub subscription: publish `iopub_welcome` so the client knows it is connected.
    pub fn handle_subscription(&mut self, now: Timestamp, topic: &[u8]) {
        let content = to_vec(&json!({ "subscription": String::from_utf8_lossy(topic) }));
        self.out.publish(
            now,
            &Bytes::from_static(b"{}"),
            "iopub_welcome",
            Bytes::from(content),
        );
    }

    /// Answers a request at once, wrapped in busy and idle.
    pub(super) fn answer(
        &mut self,
        now: Timestamp,
        ctx: &Ctx,
        reply: &'static str,
        content: impl Into<Bytes>,
    ) {
        self.out.status(now, &ctx.header, true);
        self.out.send_to(now, ctx.channel, ctx, reply, content);
        self.out.status(now, &ctx.header, false);
    }

    fn bad_request(&mut self, now: Timestamp, ctx: &Ctx, msg_type: &str, error: String) {
        warn!(msg_type, %error, "bad request content");
        if let Some(reply) = reply_type(msg_type) {
            let content = json!({
                "status": "error", "ename": "BadRequest",
                "evalue": format!("invalid {msg_type} content: {error}"), "traceback": [],
            });
            self.answer(now, ctx, reply, to_vec(&content));
        }
    }

    fn on_control(&mut self, now: Timestamp, ctx: Ctx, msg_type: &str, content: &[u8]) {
        match msg_type {
            "kernel_info_request" => {
                let content = self.kernel_info.clone();
                self.answer(now, &ctx, "kernel_info_reply", content)
            }
            "shutdown_request" => match parse::<requests::ShutdownRequest>(content) {
                Ok(req) => {
                    let body = to_vec(&json!({"status": "ok", "restart": req.restart}));
                    self.out.status(now, &ctx.header, true);
                    self.out
                        .send_to(now, ctx.channel, &ctx, "shutdown_reply", body.clone());
                    // ipykernel also publishes the reply on iopub, for other clients.
                    self.out
                        .publish(now, &ctx.header, "shutdown_reply", Bytes::from(body));
                    self.out.status(now, &ctx.header, false);
                    self.interrupt_running();
                    self.out.actions.push_back(Action::Shutdown {
                        restart: req.restart,
                    });
                }
                Err(e) => self.bad_request(now, &ctx, msg_type, e),
            },
            "interrupt_request" => {
                self.interrupt_running();
                self.answer(now, &ctx, "interrupt_reply", br#"{"status":"ok"}"#.to_vec());
            }
            "debug_request" => self.on_debug_request(now, ctx, content),
            // Other shell requests may come on control too; those that need no queue are
            // answered here, the rest go through the shell queue.
            _ => self.on_shell(now, ctx, msg_type, content),
        }
    }

    fn on_shell(&mut self, now: Timestamp, ctx: Ctx, msg_type: &str, content: &[u8]) {
        match msg_type {
            "kernel_info_request" => {
                let content = self.kernel_info.clone();
                self.answer(now, &ctx, "kernel_info_reply", content)
            }
            "comm_info_request" => {
                // No comm targets are registered, so no comms are ever open.
                let body = br#"{"status":"ok","comms":{}}"#.to_vec();
                self.answer(now, &ctx, "comm_info_reply", body);
            }
            "comm_open" => match parse::<requests::CommOpen>(content) {
                Ok(open) => {
                    self.out.status(now, &ctx.header, true);
                    warn!(target_name = %open.target_name, "comm_open for an unknown target");
                    let body = to_vec(&json!({"comm_id": open.comm_id, "data": {}}));
                    self.out
                        .publish(now, &ctx.header, "comm_close", Bytes::from(body));
                    self.out.status(now, &ctx.header, false);
                }
                Err(e) => warn!(error = %e, "bad comm_open"),
            },
            "comm_msg" | "comm_close" => {
                let id = parse::<requests::CommRef>(content)
                    .map(|c| c.comm_id)
                    .unwrap_or_default();
                self.out.status(now, &ctx.header, true);
                warn!(msg_type, comm_id = %id, "message for an unknown comm");
                self.out.status(now, &ctx.header, false);
            }
            "execute_request"
            | "complete_request"
            | "inspect_request"
            | "is_complete_request"
            | "history_request" => self.enqueue(now, ctx, msg_type, content),
            "tool_request" => self.on_tool_request(now, ctx, content),
            other => {
                self.out.status(now, &ctx.header, true);
                warn!(msg_type = other, "unknown message type");
                self.out.status(now, &ctx.header, false);
            }
        }
    }

    fn enqueue(&mut self, now: Timestamp, ctx: Ctx, msg_type: &str, content: &[u8]) {
        if self.queue.len() >= self.config.max_queue {
            let e = format!(
                "the kernel's queue is full ({} requests)",
                self.config.max_queue
            );
            return self.bad_request(now, &ctx, msg_type, e);
        }
        let kind = match msg_type {
            "execute_request" => match parse::<requests::ExecuteRequest>(content) {
                Ok(req) => {
                    let engine_id = self.alloc_engine_id();
                    let counts = !req.silent && req.store_history;
                    let cell_chunk = self
                        .debug
                        .as_ref()
                        .and_then(|d| d.cell_chunk_name(&req.code));
                    let chunk_name = if let Some(name) = cell_chunk {
                        if counts {
                            self.counting_queued += 1;
                        }
                        name
                    } else if counts {
                        self.counting_queued += 1;
                        format!("=In[{}]", self.execution_count + self.counting_queued)
                    } else {
                        "=In[silent]".to_string()
                    };
                    let user_expressions = req
                        .user_expressions
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect();
                    let request = EngineRequest::Execute {
                        id: engine_id,
                        code: req.code.clone(),
                        chunk_name,
                        silent: req.silent,
                        allow_stdin: req.allow_stdin,
                        user_expressions,
                    };
                    self.dispatch(request, req.stop_on_error);
                    JobKind::Execute {
                        engine_id,
                        code: req.code,
                        silent: req.silent,
                        store_history: counts,
                        stop_on_error: req.stop_on_error,
                        count: 0,
                        aborted: false,
                    }
                }
                Err(e) => return self.bad_request(now, &ctx, msg_type, e),
            },
            "complete_request" | "inspect_request" => {
                match parse::<requests::CodeAtCursor>(content) {
                    Ok(req) => {
                        let id = self.alloc_engine_id();
                        let request = if msg_type == "complete_request" {
                            EngineRequest::Complete {
                                id,
                                code: req.code,
                                cursor_pos: req.cursor_pos,
                            }
                        } else {
                            EngineRequest::Inspect {
                                id,
                                code: req.code,
                                cursor_pos: req.cursor_pos,
                                detail_level: req.detail_level,
                            }
                        };
                        self.dispatch(request, false);
                        JobKind::Query { engine_id: id }
                    }
                    Err(e) => return self.bad_request(now, &ctx, msg_type, e),
                }
            }
            "is_complete_request" => match parse::<requests::IsCompleteRequest>(content) {
                Ok(req) => {
                    let id = self.alloc_engine_id();
                    self.dispatch(EngineRequest::IsComplete { id, code: req.code }, false);
                    JobKind::Query { engine_id: id }
                }
                Err(e) => return self.bad_request(now, &ctx, msg_type, e),
            },
            _ => match parse::<requests::HistoryRequest>(content) {
                Ok(req) => JobKind::History(req),
                Err(e) => return self.bad_request(now, &ctx, msg_type, e),
            },
        };
        self.queue.push_back(Job { ctx, kind });
        self.advance(now);
    }

    /// Starts the request at the front of the queue if it has not started, answering
    /// history requests on the spot, until the front is an engine job or the queue is empty.
    fn advance(&mut self, now: Timestamp) {
        while !self.head_started {
            let Some(job) = self.queue.front_mut() else {
                return;
            };
            self.head_started = true;
            self.out.status(now, &job.ctx.header, true);
            match &mut job.kind {
                JobKind::Execute { aborted: true, .. } => {
                    // Popped just below, answered without running.
                    if let Some(job) = self.queue.pop_front() {
                        let body = br#"{"status":"aborted"}"#.to_vec();
                        self.out
                            .send_to(now, job.ctx.channel, &job.ctx, "execute_reply", body);
                        self.out.status(now, &job.ctx.header, false);
                    }
                    self.head_started = false;
                }
                JobKind::Execute {
                    code,
                    silent,
                    store_history,
                    count,
                    ..
                } => {
                    if *store_history {
                        self.counting_queued = self.counting_queued.saturating_sub(1);
                        self.execution_count += 1;
                        self.history.push(self.execution_count, code);
                    }
                    *count = self.execution_count;
                    if !*silent {
                        let body = content::execute_input(code, *count);
                        let parent = job.ctx.header.clone();
                        self.out
                            .publish(now, &parent, "execute_input", Bytes::from(body));
                    }
                }
                JobKind::Query { .. } => {}
                JobKind::History(_) => {
                    // Popped just below; the match only needs to see the kind.
                    let Some(Job {
                        ctx,
                        kind: JobKind::History(req),
                    }) = self.queue.pop_front()
                    else {
                        unreachable!("the front job is a history request")
                    };
                    let rows = match req.hist_access_type.as_str() {
                        "tail" => self.history.tail(req.n, req.output),
                        "range" => self
                            .history
                            .range(req.session, req.start, req.stop, req.output),
                        "search" => {
                            self.history
                                .search(&req.pattern, req.n, req.unique, req.output)
                        }
                        _ => Vec::new(),
                    };
                    let _ = req.raw;
                    let body = to_vec(&json!({"status": "ok", "history": rows}));
                    self.out
                        .send_to(now, ctx.channel, &ctx, "history_reply", body);
                    self.out.status(now, &ctx.header, false);
                    self.head_started = false;
                }
            }
        }
    }

    /// Ends the front request: its reply, then idle, then the next request starts.
    fn finish_head(&mut self, now: Timestamp, reply: &'static str, content: Vec<u8>) {
        if let Some(job) = self.queue.pop_front() {
            self.out
                .send_to(now, job.ctx.channel, &job.ctx, reply, content);
            self.out.status(now, &job.ctx.header, false);
        }
        self.head_started = false;
        self.awaiting_input = false;
        self.advance(now);
    }

    fn on_input_reply(&mut self, content: &[u8]) {
        if !self.awaiting_input {
            warn!("input_reply with no input request pending");
            return;
        }
        match parse::<requests::InputReplyContent>(content) {
            Ok(r) => {
                self.awaiting_input = false;
                self.out
                    .actions
                    .push_back(Action::Input(InputReply::Line(r.value)));
            }
            Err(e) => warn!(error = %e, "bad input_reply"),
        }
    }

    /// Handles what the engine worker reported.
    pub fn handle_worker_event(&mut self, now: Timestamp, event: WorkerEvent) {
        match event {
            WorkerEvent::Aborted { id } => self.on_aborted(id),
            WorkerEvent::Tool { id, done } => self.handle_tool_done(now, id, done),
            WorkerEvent::Engine(ev) => self.on_engine_event(now, ev),
            WorkerEvent::Debug(ev) => self.on_debug_event(now, ev),
        }
    }

    fn head_engine_id(&self) -> Option<u64> {
        match &self.queue.front()?.kind {
            JobKind::Execute { engine_id, .. } | JobKind::Query { engine_id, .. } => {
                Some(*engine_id)
            }
            JobKind::History(_) => None,
        }
    }

    fn head_is_silent(&self) -> bool {
        matches!(
            self.queue.front(),
            Some(Job {
                kind: JobKind::Execute { silent: true, .. },
                ..
            })
        )
    }

    fn on_aborted(&mut self, id: u64) {
        // The kernel marked and answered these cells when it handled the failure; the
        // worker's report only confirms that it skipped them.
        debug!(id, "the worker skipped an aborted cell");
    }

    /// After a failure with stop_on_error: every execute request queued now is aborted, as
    /// ipykernel aborts its queue. The worker skips the same cells (see [`AbortGate`]).
    ///
    /// [`AbortGate`]: super::worker::AbortGate
    fn abort_queued_executes(&mut self) {
        self.abort.reopen_after(self.last_dispatched);
        for job in self.queue.iter_mut().skip(1) {
            if let JobKind::Execute {
                aborted,
                store_history,
                ..
            } = &mut job.kind
            {
                if !*aborted && *store_history {
                    self.counting_queued = self.counting_queued.saturating_sub(1);
                }
                *aborted = true;
            }
        }
    }

    fn on_engine_event(&mut self, now: Timestamp, ev: EngineEvent) {
        let id = ev.id();
        if self.head_engine_id() != Some(id) {
            warn!(id, "engine event for a job that is not running");
            return;
        }
        let parent = match self.queue.front() {
            Some(job) => job.ctx.header.clone(),
            None => return,
        };
        let silent = self.head_is_silent();
        match ev {
            EngineEvent::Stream { name, text, .. } => {
                if !silent {
                    let body = content::stream(name.as_str(), &text);
                    self.out.publish(now, &parent, "stream", Bytes::from(body));
                }
            }
            EngineEvent::DisplayData {
                data,
                metadata,
                transient,
                ..
            } => {
                if !silent {
                    let body = json!({"data": data, "metadata": metadata, "transient": transient});
                    self.out
                        .publish(now, &parent, "display_data", Bytes::from(to_vec(&body)));
                }
            }
            EngineEvent::UpdateDisplayData {
                data,
                metadata,
                transient,
                ..
            } => {
                if !silent {
                    let body = json!({"data": data, "metadata": metadata, "transient": transient});
                    self.out.publish(
                        now,
                        &parent,
                        "update_display_data",
                        Bytes::from(to_vec(&body)),
                    );
                }
            }
            EngineEvent::ClearOutput { wait, .. } => {
                if !silent {
                    let body = to_vec(&json!({ "wait": wait }));
                    self.out
                        .publish(now, &parent, "clear_output", Bytes::from(body));
                }
            }
            EngineEvent::InputRequest {
                prompt, password, ..
            } => {
                // Sent to the stdin socket of the client whose shell socket asked.
                let Some(job) = self.queue.front() else {
                    return;
                };
                let ctx = Ctx {
                    channel: Channel::Stdin,
                    ..job.ctx.clone()
                };
                let body = to_vec(&json!({"prompt": prompt, "password": password}));
                self.awaiting_input = true;
                self.out
                    .send_to(now, Channel::Stdin, &ctx, "input_request", body);
            }
            EngineEvent::ExecuteDone {
                outcome,
                user_expressions,
                ..
            } => self.on_execute_done(now, &parent, silent, outcome, user_expressions),
            EngineEvent::CompleteDone {
                matches,
                cursor_start,
                cursor_end,
                ..
            } => {
                let body = json!({"status": "ok", "matches": matches, "cursor_start": cursor_start,
                    "cursor_end": cursor_end, "metadata": {}});
                self.finish_head(now, "complete_reply", to_vec(&body));
            }
            EngineEvent::InspectDone { found, data, .. } => {
                let body = json!({"status": "ok", "found": found, "data": data, "metadata": {}});
                self.finish_head(now, "inspect_reply", to_vec(&body));
            }
            EngineEvent::IsCompleteDone { status, .. } => {
                let body = match status {
                    IsCompleteStatus::Complete => json!({"status": "complete"}),
                    IsCompleteStatus::Incomplete { indent } => {
                        json!({"status": "incomplete", "indent": indent})
                    }
                    IsCompleteStatus::Invalid => json!({"status": "invalid"}),
                };
                self.finish_head(now, "is_complete_reply", to_vec(&body));
            }
        }
    }

    fn on_execute_done(
        &mut self,
        now: Timestamp,
        parent: &Bytes,
        silent: bool,
        outcome: ExecuteOutcome,
        user_expressions: Vec<(String, crate::engine::UserExpressionResult)>,
    ) {
        let (count, stop_on_error) = match self.queue.front() {
            Some(Job {
                kind:
                    JobKind::Execute {
                        count,
                        stop_on_error,
                        ..
                    },
                ..
            }) => (*count, *stop_on_error),
            _ => return,
        };
        let mut exprs = Map::new();
        for (name, r) in user_expressions {
            let v = match r {
                Ok(data) => json!({"status": "ok", "data": data, "metadata": {}}),
                Err(e) => {
                    json!({"status": "error", "ename": e.ename, "evalue": e.evalue, "traceback": e.traceback})
                }
            };
            exprs.insert(name, v);
        }
        let reply = match outcome {
            ExecuteOutcome::Ok { result, payload } => {
                if let (Some(data), false) = (result, silent) {
                    let body = content::execute_result(count, &data);
                    self.out
                        .publish(now, parent, "execute_result", Bytes::from(body));
                }
                if payload.is_empty() && exprs.is_empty() {
                    return self.finish_head(
                        now,
                        "execute_reply",
                        content::execute_reply_ok(count),
                    );
                }
                json!({"status": "ok", "execution_count": count, "payload": payload, "user_expressions": exprs})
            }
            ExecuteOutcome::Error(e) => {
                if !silent {
                    let body =
                        json!({"ename": e.ename, "evalue": e.evalue, "traceback": e.traceback});
                    self.out
                        .publish(now, parent, "error", Bytes::from(to_vec(&body)));
                }
                if stop_on_error {
                    self.abort_queued_executes();
                }
                json!({"status": "error", "execution_count": count, "ename": e.ename, "evalue": e.evalue,
                    "traceback": e.traceback, "user_expressions": exprs, "payload": []})
            }
            ExecuteOutcome::Exit(code) => {
                // Kernel mode disables os.exit, so this only comes from a misconfigured engine.
                warn!(code, "the engine reported os.exit in kernel mode");
                json!({"status": "ok", "execution_count": count, "payload": [], "user_expressions": exprs})
            }
        };
        self.finish_head(now, "execute_reply", to_vec(&reply));
    }
}
