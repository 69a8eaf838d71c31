//! The Debug Adapter Protocol, sans-IO: framing ([`Codec`]) and the session state machine
//! ([`Session`]) shared by Jupyter's `debug_request` and the standalone `llmspell dap`.
//!
//! The session does no I/O. Driving it:
//!
//! 1. Feed each DAP request (a JSON object; in Jupyter mode, a `debug_request`'s content)
//!    to [`Session::handle_request`] with a tag of your choice; its response comes back as
//!    [`Output::Response`] with that tag.
//! 2. Drain [`Session::poll_output`] after every `handle_*` call:
//!    - [`Output::Response`] and [`Output::Event`]: send them (Jupyter: `debug_reply` to
//!      the tagged request's client, `debug_event` on iopub; standalone: framed with
//!      [`Codec::encode`]);
//!    - [`Output::Engine`]: hand the command to the engine's debug channel
//!      (see [`crate::engine::debug`]);
//!    - standalone only: [`Output::Launch`] (make an engine for the program),
//!      [`Output::Start`] (run it), [`Output::Terminate`] (stop it and end the session).
//! 3. Feed every [`DebugEvent`](crate::engine::debug::DebugEvent) the engine reports to
//!    [`Session::handle_engine_event`]; in standalone mode also the program's output
//!    ([`Session::handle_program_output`]) and its end ([`Session::handle_program_exit`]).
//!
//! Requests that need the engine (stack, variables, evaluate, dumpCell...) are answered
//! when the engine replies, so control stays free while the engine is stopped. Bad input
//! never panics: an unknown command or bad arguments get `success: false` and a message.

mod args;
mod codec;
mod events;
mod murmur;
mod session;
#[cfg(test)]
mod tests;

use serde_json::{json, Value};

pub use codec::{Codec, CodecError, DEFAULT_MAX_MESSAGE};
pub use murmur::{murmur2, DEFAULT_HASH_SEED};
pub use session::Session;

use crate::engine::debug::DebugCommand;

/// Where cells are written in Jupyter mode, and how their names are hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellFiles {
    /// The start of every cell path, e.g. `/tmp/llmspell_1234/`.
    pub tmp_file_prefix: String,
    /// The end of every cell path: `.lua`.
    pub tmp_file_suffix: String,
    /// The murmur2 seed.
    pub hash_seed: u32,
}

impl CellFiles {
    /// Cells under `dir` (ending with a separator is not needed), named `<hash>.lua`.
    pub fn in_dir(dir: &str) -> CellFiles {
        CellFiles {
            tmp_file_prefix: format!("{}/", dir.trim_end_matches('/')),
            tmp_file_suffix: ".lua".to_owned(),
            hash_seed: DEFAULT_HASH_SEED,
        }
    }
}

/// Which protocol dialect the session speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Inside a Jupyter kernel (JEP 47): attach, cells, dumpCell, debugInfo...
    Jupyter(CellFiles),
    /// A standalone adapter: launch a program.
    Standalone,
}

/// A program to debug, from a `launch` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The Lua script.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Stop at its first line.
    pub stop_on_entry: bool,
    /// Run it without debugging.
    pub no_debug: bool,
    /// The working directory to run it in.
    pub cwd: Option<String>,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A response to the request tagged `tag`.
    Response {
        /// The tag given to [`Session::handle_request`].
        tag: u64,
        /// The DAP response.
        message: Value,
    },
    /// A DAP event, for every client.
    Event(Value),
    /// A command for the engine's debugger.
    Engine(DebugCommand),
    /// Standalone: prepare an engine for this program (do not run it yet).
    Launch(Launch),
    /// Standalone: run the launched program.
    Start,
    /// Standalone: stop the program (interrupt it) and end the session once the
    /// responses are out.
    Terminate,
}

/// The capabilities we announce in the `initialize` response.
pub fn capabilities(mode: &Mode) -> Value {
    json!({
        "supportsConfigurationDoneRequest": true,
        "supportsConditionalBreakpoints": true,
        "supportsHitConditionalBreakpoints": true,
        "supportsLogPoints": true,
        "supportsEvaluateForHovers": true,
        "supportsSetVariable": true,
        "supportsExceptionInfoRequest": true,
        "supportsExceptionFilterOptions": true,
        "supportsModulesRequest": true,
        "supportsDelayedStackTraceLoading": true,
        "supportsTerminateRequest": matches!(mode, Mode::Standalone),
        "supportTerminateDebuggee": matches!(mode, Mode::Standalone),
        "exceptionBreakpointFilters": [{
            "filter": "uncaught",
            "label": "Uncaught Errors",
            "description": "Stop where a Lua error is raised that nothing catches",
            "default": false,
        }],
    })
}
