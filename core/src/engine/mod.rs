//! The Lua 5.4 engine (mlua, vendored).
//!
//! The engine is synchronous and owns one Lua state. Whoever drives the core runs it,
//! normally on a thread of its own so that the I/O thread stays free to answer control
//! and heartbeat while a cell runs:
//!
//! 1. Build it with [`Engine::new`], on the thread that will run it (a Lua state is not `Send`).
//! 2. For each [`EngineRequest`], call [`Engine::handle`]. Every output the request produces
//!    is passed to the sink as an [`EngineEvent`], in order; the last event of a request is
//!    its `*Done` event, carrying the request's `id`.
//! 3. To stop a running cell, set the flag from [`EngineIo::interrupt`] from any thread; the
//!    engine raises a `KeyboardInterrupt` error inside Lua at the next instruction-count
//!    hook (every 10,000 VM instructions) and clears the flag. `pcall`, `xpcall` and
//!    `coroutine.resume` cannot swallow it. A flag set while no cell runs is cleared when
//!    the next execute request starts, so a late interrupt never hits the next cell.
//! 4. When a cell calls `io.read`, the engine emits [`EngineEvent::InputRequest`] and blocks
//!    on [`EngineIo::input`] until an [`InputReply`] arrives; it also polls the interrupt
//!    flag while it waits. Answers left in the channel from earlier requests are dropped.
//!
//! # What the Lua code sees
//!
//! - One Lua 5.4 state for the engine's life (safe standard libraries; no `debug`).
//!   Globals persist across cells; locals are chunk-local, as in Lua.
//! - A cell runs as `return <code>` if that compiles, else as a chunk, under the chunk name
//!   of the request. Its values, if any (a chunk's own `return` too, as in the Lua REPL),
//!   become the `text/plain` result, tab-separated; tables are pretty-printed (3 levels,
//!   100 entries per table, cycles shown as `<cycle>`, `__tostring` honoured), strings
//!   quoted. In script mode the cell gets `script_args[1..]` as `...`; `arg` is global.
//! - `print`, `io.write`, `io.stdout:write` go to stdout, `io.stderr:write` and `warn`
//!   (after `warn("@on")`) to stderr. Consecutive writes to a stream are coalesced into one
//!   [`EngineEvent::Stream`], flushed before any other event, at 64 KiB, every ~2.5 million
//!   instructions, by `io.flush()`/`file:flush()`, and at the end of the request.
//! - `io.read` (formats `l`, `L`, `n`, `a`, a byte count), `io.stdin:read`, `io.lines()`
//!   read from the client; without `allow_stdin` they raise an error. `dofile()` and
//!   `loadfile()` without a file name are refused (they would read the process's stdin).
//! - The display API, named as in xeus-lua: the global `ilua` with `ilua.display.display`,
//!   `display_data`, `update_display_data`, `update`, `clear_output`, `mimetype` and the
//!   helpers `plain_text`, `html`, `markdown`, `latex`, `json`, `svg`, `png`, `jpeg`;
//!   also `ilua.json.encode`/`decode`.
//! - The Tool API (`Tool.get(name):execute(params)`, `Tool.list`, `Tool.search`,
//!   `Tool.info`, `Tool.batch`) over [`EngineConfig::tools`], and `JSON.encode`/`decode`.
//! - `?name`, `??name`, `name?` run no code: the reply carries a pager payload.
//! - Errors: `SyntaxError`, `RuntimeError`, `KeyboardInterrupt`, and `InternalError` for a
//!   Rust panic caught at the engine's boundary (the engine goes on working).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::{Map, Value};

/// A MIME bundle: `{"text/plain": "...", "text/html": "..."}`.
pub type MimeBundle = Map<String, Value>;

/// Work for the engine. `id` is chosen by the kernel and echoed in every event.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineRequest {
    /// Run a cell. If `return <code>` compiles, the cell is an expression and its values
    /// become an execute result; otherwise the code runs as a chunk.
    Execute {
        /// Request id, echoed in events.
        id: u64,
        /// The Lua source.
        code: String,
        /// The chunk name for errors and (later) the debugger, e.g. `@/tmp/cell.lua` or `=[cell 3]`.
        chunk_name: String,
        /// A silent cell produces no execute result.
        silent: bool,
        /// Whether `io.read` may ask the client for input; if false it raises an error.
        allow_stdin: bool,
        /// Expressions to evaluate after the cell, by name.
        user_expressions: Vec<(String, String)>,
    },
    /// Complete the code at `cursor_pos` (in Unicode code points, as Jupyter counts them).
    Complete {
        /// Request id.
        id: u64,
        /// The whole cell.
        code: String,
        /// Cursor position in code points.
        cursor_pos: usize,
    },
    /// Describe the name at `cursor_pos`.
    Inspect {
        /// Request id.
        id: u64,
        /// The whole cell.
        code: String,
        /// Cursor position in code points.
        cursor_pos: usize,
        /// 0 or 1.
        detail_level: u8,
    },
    /// Tell whether `code` is complete, incomplete or invalid, from the Lua parser.
    IsComplete {
        /// Request id.
        id: u64,
        /// The code so far.
        code: String,
    },
}

impl EngineRequest {
    /// The request id.
    pub fn id(&self) -> u64 {
        match self {
            EngineRequest::Execute { id, .. }
            | EngineRequest::Complete { id, .. }
            | EngineRequest::Inspect { id, .. }
            | EngineRequest::IsComplete { id, .. } => *id,
        }
    }
}

/// Which output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamName {
    /// `print`, `io.write`, `io.stdout:write`.
    Stdout,
    /// `io.stderr:write`.
    Stderr,
}

impl StreamName {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamName::Stdout => "stdout",
            StreamName::Stderr => "stderr",
        }
    }
}

/// A Lua error as Jupyter shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LuaError {
    /// `SyntaxError`, `RuntimeError`, `KeyboardInterrupt`, ...
    pub ename: String,
    /// The error message.
    pub evalue: String,
    /// The traceback, one line per entry.
    pub traceback: Vec<String>,
}

/// How a cell ended.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecuteOutcome {
    /// It ran. `result` is the MIME bundle of its values if it was an expression with at
    /// least one value and was not silent.
    Ok {
        /// The execute result, if any.
        result: Option<MimeBundle>,
        /// Payloads for the execute_reply, e.g. a pager page for `?name`.
        payload: Vec<Value>,
    },
    /// It raised an error (interrupts included).
    Error(LuaError),
    /// The script called `os.exit(code)` (only in script mode; in kernel mode `os.exit`
    /// raises an error instead of ending the process).
    Exit(i32),
}

/// Whether code is ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsCompleteStatus {
    /// Ready.
    Complete,
    /// More lines are needed; `indent` is the suggested indent of the next line.
    Incomplete {
        /// Suggested indent.
        indent: String,
    },
    /// A syntax error that more lines cannot fix.
    Invalid,
}

/// The answer to one user expression: `Ok(bundle)` or the error it raised.
pub type UserExpressionResult = Result<MimeBundle, LuaError>;

/// What the engine produces. Every event carries the id of the request it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineEvent {
    /// Text written to stdout or stderr. Consecutive writes may be coalesced.
    Stream {
        /// Request id.
        id: u64,
        /// Which stream.
        name: StreamName,
        /// The text.
        text: String,
    },
    /// Rich output (`display_data`); `transient` carries `display_id` when one was given.
    DisplayData {
        /// Request id.
        id: u64,
        /// The MIME bundle.
        data: MimeBundle,
        /// Per-MIME metadata.
        metadata: Map<String, Value>,
        /// `{"display_id": "..."}` or empty.
        transient: Map<String, Value>,
    },
    /// Replace an earlier display with the same `display_id` (`update_display_data`).
    UpdateDisplayData {
        /// Request id.
        id: u64,
        /// The MIME bundle.
        data: MimeBundle,
        /// Per-MIME metadata.
        metadata: Map<String, Value>,
        /// `{"display_id": "..."}`.
        transient: Map<String, Value>,
    },
    /// Clear the cell's output (`clear_output`).
    ClearOutput {
        /// Request id.
        id: u64,
        /// Wait for the next output before clearing.
        wait: bool,
    },
    /// The cell called `io.read`; the engine now blocks on [`EngineIo::input`].
    InputRequest {
        /// Request id.
        id: u64,
        /// The prompt to show.
        prompt: String,
        /// Hide what is typed.
        password: bool,
    },
    /// An execute request finished.
    ExecuteDone {
        /// Request id.
        id: u64,
        /// How it ended.
        outcome: ExecuteOutcome,
        /// The user expressions, by name, in request order.
        user_expressions: Vec<(String, UserExpressionResult)>,
    },
    /// A complete request finished.
    CompleteDone {
        /// Request id.
        id: u64,
        /// The candidates, best first.
        matches: Vec<String>,
        /// Start of the text to replace, in code points.
        cursor_start: usize,
        /// End of the text to replace, in code points.
        cursor_end: usize,
    },
    /// An inspect request finished.
    InspectDone {
        /// Request id.
        id: u64,
        /// Whether a name was found.
        found: bool,
        /// The description, as a MIME bundle.
        data: MimeBundle,
    },
    /// An is_complete request finished.
    IsCompleteDone {
        /// Request id.
        id: u64,
        /// The verdict.
        status: IsCompleteStatus,
    },
}

impl EngineEvent {
    /// The id of the request the event belongs to.
    pub fn id(&self) -> u64 {
        match self {
            EngineEvent::Stream { id, .. }
            | EngineEvent::DisplayData { id, .. }
            | EngineEvent::UpdateDisplayData { id, .. }
            | EngineEvent::ClearOutput { id, .. }
            | EngineEvent::InputRequest { id, .. }
            | EngineEvent::ExecuteDone { id, .. }
            | EngineEvent::CompleteDone { id, .. }
            | EngineEvent::InspectDone { id, .. }
            | EngineEvent::IsCompleteDone { id, .. } => *id,
        }
    }
}

/// What the user typed in answer to an [`EngineEvent::InputRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputReply {
    /// The line, without its newline.
    Line(String),
    /// The request was interrupted or the client went away: `io.read` raises.
    Interrupted,
    /// The end of input (the embedded kernel's stdin closed): `io.read` gives `nil`.
    Eof,
}

/// Engine settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Kernel mode (true): `os.exit` raises an error instead of ending the process.
    /// Script mode (false, `llmspell run`): `os.exit(code)` ends the script with
    /// [`ExecuteOutcome::Exit`].
    pub kernel_mode: bool,
    /// Script arguments, exposed as the global `arg` table (`arg[0]` is the script name).
    pub script_args: Vec<String>,
    /// The tools that the Lua `Tool` API reaches; without a host, `Tool` lists nothing.
    pub tools: Option<crate::tools::ToolHostRef>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kernel_mode: true,
            script_args: Vec::new(),
            tools: None,
        }
    }
}

/// The engine's links to the outside, shared with the driver.
#[derive(Clone, Debug)]
pub struct EngineIo {
    /// Set from any thread to interrupt the running cell; the engine clears it.
    pub interrupt: Arc<AtomicBool>,
    /// Answers to input requests.
    pub input: crossbeam_channel::Receiver<InputReply>,
}

mod chunks;
mod complete;
pub mod debug;
mod display;
mod errors;
mod format;
mod help;
mod inspect;
mod lua;
mod shared;
mod stdin;
mod stdio;
#[cfg(test)]
mod tests;
mod tools_api;

pub use lua::Engine;
