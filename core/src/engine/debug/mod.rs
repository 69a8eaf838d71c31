//! The engine's side of the debugger: Lua hooks, breakpoints, stepping, and what a stopped
//! engine answers (stack, scopes, variables, evaluate).
//!
//! The protocol lives in [`crate::dap`]; this module only knows [`DebugCommand`]s in and
//! [`DebugEvent`]s out. Driving it:
//!
//! 1. After [`Engine::new`](super::Engine::new), call
//!    [`Engine::enable_debugger`](super::Engine::enable_debugger) with a [`DebugLink`]: the
//!    receiving end of the command channel and a callback for events.
//! 2. While the engine is idle, hand it each command that arrives with
//!    [`Engine::handle_debug`](super::Engine::handle_debug) (a worker selects over the job
//!    channel and the command channel). A request drains the command channel before it
//!    starts, so breakpoints sent before a cell are in place when it runs.
//! 3. While a cell runs, the engine polls the channel itself at every instruction-count
//!    tick. When it stops (breakpoint, step, pause, uncaught error) it reports
//!    [`DebugEvent::Stopped`] and blocks on the channel, answering queries, until a
//!    [`DebugCommand::Resume`] or [`DebugCommand::Detach`]. An interrupt also resumes it
//!    (the cell then ends with `KeyboardInterrupt`).
//!
//! # Cost
//!
//! With no debugger attached, or attached with no breakpoints, the only hook is the
//! instruction-count hook that every engine has. With breakpoints, call and return events
//! go to a hook written against the C API that checks, without leaving C, whether the
//! function entered or returned to has a breakpoint in its line range; line events are
//! turned on only inside such functions (and while stepping).

mod answers;
mod breakpoints;
mod cache;
mod eval;
mod frames;
mod hook;
mod mask;
mod state;
mod stops;
mod values;

use serde_json::Value;

pub(crate) use state::Debugger;

/// The id of the engine's only thread, as the debugger reports it.
pub const THREAD_ID: i64 = 1;

/// Why the engine stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// A line breakpoint.
    Breakpoint,
    /// A step finished.
    Step,
    /// A pause request.
    Pause,
    /// An uncaught Lua error, with the `uncaught` exception filter on.
    Exception,
    /// The first line of a program launched with `stopOnEntry`.
    Entry,
}

impl StopReason {
    /// The DAP `reason` of a `stopped` event.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Breakpoint => "breakpoint",
            StopReason::Step => "step",
            StopReason::Pause => "pause",
            StopReason::Exception => "exception",
            StopReason::Entry => "entry",
        }
    }
}

/// When a breakpoint's hits count, as `hitCondition` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitCondition {
    /// `N` or `==N`: only the N-th hit stops.
    Eq(u64),
    /// `>N`.
    Gt(u64),
    /// `>=N`.
    Ge(u64),
    /// `<N`.
    Lt(u64),
    /// `<=N`.
    Le(u64),
    /// `%N`: every N-th hit.
    Every(u64),
}

impl HitCondition {
    /// Parses `N`, `==N`, `>N`, `>=N`, `<N`, `<=N` or `%N` (spaces allowed).
    pub fn parse(text: &str) -> Result<HitCondition, String> {
        let t = text.trim();
        let (op, rest) = ["==", ">=", "<=", ">", "<", "%", "="]
            .iter()
            .find_map(|op| t.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("==", t));
        let n: u64 = rest
            .trim()
            .parse()
            .map_err(|_| format!("hit condition {text:?} is not N, ==N, >N, >=N, <N, <=N or %N"))?;
        Ok(match op {
            ">" => HitCondition::Gt(n),
            ">=" => HitCondition::Ge(n),
            "<" => HitCondition::Lt(n),
            "<=" => HitCondition::Le(n),
            "%" if n == 0 => return Err(format!("hit condition {text:?}: %0 never hits")),
            "%" => HitCondition::Every(n),
            _ => HitCondition::Eq(n),
        })
    }

    /// Whether the `hits`-th hit (counting from 1) stops.
    pub fn matches(self, hits: u64) -> bool {
        match self {
            HitCondition::Eq(n) => hits == n,
            HitCondition::Gt(n) => hits > n,
            HitCondition::Ge(n) => hits >= n,
            HitCondition::Lt(n) => hits < n,
            HitCondition::Le(n) => hits <= n,
            HitCondition::Every(n) => hits.checked_rem(n) == Some(0),
        }
    }
}

/// A line breakpoint as the engine keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakpointSpec {
    /// Its id, chosen by the session; reported in `hitBreakpointIds`.
    pub id: u64,
    /// The 1-based line.
    pub line: u32,
    /// A Lua expression; the breakpoint stops only where it is truthy.
    pub condition: Option<String>,
    /// Which hits stop.
    pub hit_condition: Option<HitCondition>,
    /// A log point: print this (with `{expr}` interpolated) instead of stopping.
    pub log_message: Option<String>,
}

/// How to go on from a stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Run until the next breakpoint.
    Continue,
    /// Step over: the next line in this function or a caller.
    Next,
    /// Step in: the next line anywhere.
    StepIn,
    /// Step out: the next line in a caller.
    StepOut,
}

/// A question for the engine, answered with [`DebugEvent::Reply`]. The reply is the DAP
/// response body, or an error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// The stopped thread's frames.
    StackTrace {
        /// First frame to return.
        start_frame: usize,
        /// Most frames to return; 0 for all.
        levels: usize,
    },
    /// The scopes of a frame: Locals, Upvalues, Globals.
    Scopes {
        /// A frame id from the stack trace.
        frame_id: i64,
    },
    /// The children of a scope or a table.
    Variables {
        /// A `variablesReference`.
        reference: i64,
        /// First child to return.
        start: usize,
        /// Most children to return; 0 for all.
        count: usize,
    },
    /// Evaluate an expression (or run a statement) in a frame, or in the global scope.
    Evaluate {
        /// The Lua code.
        expression: String,
        /// The frame whose locals and upvalues are visible; `None` for globals only.
        frame_id: Option<i64>,
        /// `repl`, `watch`, `hover`, `clipboard`...
        context: String,
    },
    /// Assign a variable from the value of a Lua expression.
    SetVariable {
        /// The scope or table holding it.
        reference: i64,
        /// Its name as `variables` showed it.
        name: String,
        /// A Lua expression for the new value.
        value: String,
    },
    /// The text of a source.
    Source {
        /// Its path (or chunk name).
        path: String,
    },
    /// What the current uncaught error is.
    ExceptionInfo,
    /// The user's globals (Jupyter's variable explorer).
    InspectVariables,
    /// One variable as a MIME bundle.
    RichInspectVariables {
        /// Its name.
        name: String,
        /// The frame to look in; `None` for globals.
        frame_id: Option<i64>,
    },
    /// Copy a local of a frame into a global.
    CopyToGlobals {
        /// The local's name.
        src: String,
        /// The global's name.
        dst: String,
        /// The frame.
        frame_id: i64,
    },
    /// Write a cell's code to its file, so that clients can show it.
    DumpCell {
        /// Where.
        path: String,
        /// The code.
        code: String,
    },
    /// The loaded modules (`package.loaded`, less the standard ones).
    Modules,
}

/// Work for the engine's debugger, sent over the debug channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DebugCommand {
    /// A client attached: hooks go on as breakpoints require.
    Attach,
    /// The client went away: breakpoints and filters are cleared, a stopped engine resumes.
    Detach,
    /// Replace the breakpoints of one source (a chunk name such as `@/path/x.lua`).
    SetBreakpoints {
        /// The chunk source the breakpoints belong to.
        source: String,
        /// All of its breakpoints.
        breakpoints: Vec<BreakpointSpec>,
    },
    /// Whether uncaught errors stop.
    SetExceptionBreakpoints {
        /// The `uncaught` filter.
        uncaught: bool,
    },
    /// Stop at the first line of the next request (`stopOnEntry`).
    StopOnEntry,
    /// Go on from a stop.
    Resume(StepKind),
    /// Stop as soon as possible.
    Pause,
    /// A question; the answer comes as [`DebugEvent::Reply`] with the same token.
    Query {
        /// Echoed in the reply.
        token: u64,
        /// The question.
        query: Query,
    },
}

/// What the engine's debugger reports.
#[derive(Clone, Debug, PartialEq)]
pub enum DebugEvent {
    /// The answer to a [`DebugCommand::Query`]: a DAP response body, or an error message.
    Reply {
        /// The query's token.
        token: u64,
        /// The body, or why there is none.
        result: Result<Value, String>,
    },
    /// The engine stopped and waits for commands.
    Stopped {
        /// Why.
        reason: StopReason,
        /// A description (the error message of an exception).
        description: Option<String>,
        /// The breakpoints that stopped it.
        hit_breakpoint_ids: Vec<u64>,
    },
    /// The engine resumed after a stop.
    Continued,
    /// Text for the client's console: log points, and breakpoint conditions that failed.
    Output {
        /// The text, with its newline.
        text: String,
    },
}

/// The engine's ends of the debug channel.
pub struct DebugLink {
    /// Commands from the session.
    pub commands: crossbeam_channel::Receiver<DebugCommand>,
    /// Where events go (called on the engine's thread).
    pub events: Box<dyn FnMut(DebugEvent) + Send>,
}

impl std::fmt::Debug for DebugLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugLink").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::HitCondition;

    #[test]
    fn hit_conditions_parse_and_match() {
        assert_eq!(HitCondition::parse("3"), Ok(HitCondition::Eq(3)));
        assert_eq!(HitCondition::parse(" == 3 "), Ok(HitCondition::Eq(3)));
        assert_eq!(HitCondition::parse(">=2"), Ok(HitCondition::Ge(2)));
        assert_eq!(HitCondition::parse("> 2"), Ok(HitCondition::Gt(2)));
        assert_eq!(HitCondition::parse("<2"), Ok(HitCondition::Lt(2)));
        assert_eq!(HitCondition::parse("<=2"), Ok(HitCondition::Le(2)));
        assert_eq!(HitCondition::parse("%2"), Ok(HitCondition::Every(2)));
        assert!(HitCondition::parse("%0").is_err());
        assert!(HitCondition::parse("often").is_err());
        assert!(HitCondition::parse("").is_err());
        let every = HitCondition::Every(2);
        assert_eq!(
            (1..=4).map(|h| every.matches(h)).collect::<Vec<_>>(),
            [false, true, false, true]
        );
        assert!(HitCondition::Eq(3).matches(3) && !HitCondition::Eq(3).matches(4));
        assert!(HitCondition::Ge(2).matches(2) && !HitCondition::Gt(2).matches(2));
        assert!(HitCondition::Le(2).matches(2) && !HitCondition::Lt(2).matches(2));
    }
}
