//! The Jupyter kernel state machine.
//!
//! [`Kernel`] takes verified-or-not multipart messages and engine events, each with the
//! current time, and produces [`Action`]s: messages to send, work for the engine, interrupts
//! and shutdown. It does no I/O.
//!
//! Driving it:
//!
//! 1. Feed every message that arrives on shell, control or stdin, identities first, to
//!    [`Kernel::handle_message`]; feed each new iopub subscription to
//!    [`Kernel::handle_subscription`].
//! 2. Drain [`Kernel::poll_action`] until it returns `None`, after every call that feeds
//!    the kernel.
//! 3. Pass each [`Action::Engine`] job to the engine worker ([`worker::run`]) in order, and
//!    feed what it reports back through [`Kernel::handle_worker_event`].
//!
//! Shell requests run in arrival order, one at a time, each wrapped in `busy` and `idle` on
//! iopub. Engine work is handed to the worker as soon as it arrives, so the engine never
//! waits for the I/O thread between requests; the kernel still publishes each request's
//! messages strictly in order. Control requests are answered at once, even while a cell runs.

mod content;
mod debug;
mod dispatch;
mod history;
mod info;
mod outbox;
mod requests;
mod tools;
pub mod worker;

#[cfg(test)]
mod tests;

use crate::connection::Channel;
use crate::engine::{EngineRequest, InputReply};
use bytes::Bytes;
use std::collections::VecDeque;

pub use history::History;
pub use outbox::PROTOCOL_VERSION;
pub use tools::{ToolCall, ToolDone, ToolJob};
pub use worker::{AbortGate, EngineJob, WorkerEvent};

/// Kernel settings.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// The HMAC key; empty disables signing.
    pub key: Vec<u8>,
    /// Our session id, used in message ids and iopub topics. The runtime makes it random.
    pub session: String,
    /// The user name in our headers.
    pub username: String,
    /// How many recent signatures are remembered against replays.
    pub replay_window: usize,
    /// Most shell requests waiting at once; beyond it requests get an error reply.
    pub max_queue: usize,
    /// Most cells kept in the history.
    pub history_size: usize,
    /// The tools that `tool_request` reaches; without them it answers an error.
    pub tools: Option<crate::tools::ToolHostRef>,
    /// Where to count requests, durations and drops; `None`: not counted.
    pub metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    /// Where cells are written for the debugger; without it, debug_request answers an
    /// error and kernel_info says `"debugger": false`.
    pub debugger: Option<crate::dap::CellFiles>,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            key: Vec::new(),
            session: "llmspell".to_string(),
            username: "kernel".to_string(),
            replay_window: 65_536,
            max_queue: 10_000,
            history_size: 10_000,
            tools: None,
            metrics: None,
            debugger: None,
        }
    }
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send a multipart message. On shell, control and stdin the first frame is the peer's
    /// routing id; on iopub it is the topic, and the message goes to every subscriber whose
    /// prefix matches it.
    Send {
        /// Which socket.
        channel: Channel,
        /// The frames.
        frames: Vec<Bytes>,
    },
    /// Give a job to the engine worker, in order.
    Engine(EngineJob),
    /// Run a tool call on a tool worker (any order) and report [`ToolDone`] through
    /// [`Kernel::handle_tool_done`].
    Tool(ToolJob),
    /// Pass an answer to the engine's pending `io.read`.
    Input(InputReply),
    /// Hand a command to the engine's debugger (its debug channel, not the job queue:
    /// the engine reads it even while a cell runs or is stopped).
    Debug(crate::engine::debug::DebugCommand),
    /// Interrupt the running cell (set the engine's interrupt flag).
    Interrupt,
    /// Flush what is queued, stop serving and exit (or restart).
    Shutdown {
        /// Whether the client asked for a restart.
        restart: bool,
    },
}

/// Where a request came from, to address its reply.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The channel it arrived on.
    pub channel: Channel,
    /// Its routing identities.
    pub identities: Vec<Bytes>,
    /// Its header, verbatim: the parent header of everything it causes.
    pub header: Bytes,
    /// When the kernel read it, for the duration metrics.
    pub received: crate::time::Timestamp,
}

/// What a queued shell request is.
#[derive(Debug)]
enum JobKind {
    /// A cell, handed to the engine as `engine_id`.
    Execute {
        engine_id: u64,
        code: String,
        silent: bool,
        store_history: bool,
        stop_on_error: bool,
        /// The execution count it runs with, set when it starts.
        count: u32,
        /// An earlier cell failed with stop_on_error: answer `aborted` without running.
        aborted: bool,
    },
    /// complete_request, inspect_request or is_complete_request, handed to the engine.
    Query { engine_id: u64 },
    /// history_request, answered when its turn comes.
    History(requests::HistoryRequest),
}

/// One shell request in the queue.
#[derive(Debug)]
struct Job {
    ctx: Ctx,
    kind: JobKind,
}

/// The kernel state machine. See the [module docs](self) for how to drive it.
pub struct Kernel {
    /// Settings.
    config: KernelConfig,
    /// Outgoing messages and actions.
    out: outbox::Outbox,
    /// The count of the last cell that counted.
    execution_count: u32,
    /// Counting cells queued but not started: to name their chunks `In[n]` in advance.
    counting_queued: u32,
    /// The input history.
    history: History,
    /// Shell requests in arrival order; the front one is running once `head_started`.
    queue: VecDeque<Job>,
    /// Whether the front of `queue` has published busy.
    head_started: bool,
    /// Id of the next engine job.
    next_engine_id: u64,
    /// Id of the last engine job handed out.
    last_dispatched: u64,
    /// Shared with the worker: which queued executes to skip after an error.
    abort: AbortGate,
    /// Whether the running cell waits in `io.read`.
    awaiting_input: bool,
    /// Tool requests running on a worker, by job id.
    tool_jobs: std::collections::HashMap<u64, tools::PendingTool>,
    /// The debug session, if the kernel has a debugger.
    debug: Option<crate::dap::Session>,
    /// The kernel_info_reply content, made once: it never changes.
    kernel_info: Bytes,
    /// debug_requests waiting for their reply, by tag.
    debug_requests: std::collections::HashMap<u64, Ctx>,
    /// The tag of the next debug_request.
    next_debug_tag: u64,
    /// The header of the last debug_request: the parent of debug events sent while no
    /// cell runs.
    last_debug_header: Option<Bytes>,
}

impl Kernel {
    /// A kernel with `config`. Share [`Kernel::abort_gate`] with the engine worker.
    pub fn new(config: KernelConfig) -> Self {
        let codec = crate::wire::Codec::new(&config.key, config.replay_window);
        let mut out = outbox::Outbox::new(codec, config.session.clone(), config.username.clone());
        out.metrics = config.metrics.clone();
        let history = History::new(config.history_size);
        let debug = config
            .debugger
            .clone()
            .map(|files| crate::dap::Session::new(crate::dap::Mode::Jupyter(files)));
        Kernel {
            config,
            out,
            execution_count: 0,
            counting_queued: 0,
            history,
            queue: VecDeque::new(),
            head_started: false,
            next_engine_id: 1,
            last_dispatched: 0,
            abort: AbortGate::default(),
            awaiting_input: false,
            tool_jobs: std::collections::HashMap::new(),
            kernel_info: Bytes::from(info::kernel_info_content(debug.is_some())),
            debug,
            debug_requests: std::collections::HashMap::new(),
            next_debug_tag: 1,
            last_debug_header: None,
        }
    }

    /// The gate that the engine worker must share, so that queued cells are skipped after
    /// an error with `stop_on_error`.
    pub fn abort_gate(&self) -> AbortGate {
        self.abort.clone()
    }

    /// The next action, if any. Drain after every `handle_*` call.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.actions.pop_front()
    }

    /// The execution count of the last counted cell.
    pub fn execution_count(&self) -> u32 {
        self.execution_count
    }

    /// Whether a shell request is running or waiting.
    pub fn is_busy(&self) -> bool {
        !self.queue.is_empty()
    }

    /// A process-level interrupt (SIGINT): interrupt the running cell, if any.
    pub fn handle_interrupt_signal(&mut self) {
        self.interrupt_running();
    }

    fn interrupt_running(&mut self) {
        if self.awaiting_input {
            self.awaiting_input = false;
            self.out
                .actions
                .push_back(Action::Input(InputReply::Interrupted));
        }
        if matches!(
            self.queue.front(),
            Some(Job {
                kind: JobKind::Execute { .. },
                ..
            })
        ) {
            self.out.actions.push_back(Action::Interrupt);
        }
    }

    fn dispatch(&mut self, request: EngineRequest, stop_on_error: bool) {
        self.last_dispatched = request.id();
        self.out.actions.push_back(Action::Engine(EngineJob {
            request,
            stop_on_error,
        }));
    }

    fn alloc_engine_id(&mut self) -> u64 {
        let id = self.next_engine_id;
        self.next_engine_id += 1;
        id
    }
}
