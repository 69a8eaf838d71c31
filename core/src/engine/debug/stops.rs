//! Stops and commands: what the engine does when it stops (report, serve commands until
//! told to go on, set up the step asked for), and how each command changes its state.

use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use mlua::Lua;

use super::frames;
use super::hook::{self, Moment};
use super::state::{Debugger, Linked, Mode, Step};
use super::{DebugCommand, DebugEvent, StepKind, StopReason};

/// While stopped, the interrupt flag is checked this often.
const STOP_POLL: Duration = Duration::from_millis(50);

impl Debugger {
    /// The message handler saw an uncaught error: stop on it if the filter says so.
    pub fn on_uncaught_error(&self, lua: &Lua, message: &str) {
        if !self.attached.get() || !self.uncaught.get() || self.stopped.get() {
            return;
        }
        let Some(linked) = self.linked() else { return };
        let (l, _) = self.thread(&linked, ptr::null_mut());
        *self.exception.borrow_mut() = Some(message.to_owned());
        // The error goes on unwinding whatever the client asks: a step is a continue.
        let _ = self.stop_here(lua, l, 0, StopReason::Exception, Vec::new(), Some(message));
        self.step.set(None);
        self.update_slow();
        *self.exception.borrow_mut() = None;
    }

    pub(super) fn stop(
        &self,
        lua: &Lua,
        l: *mut mlua::lua_State,
        base: c_int,
        reason: StopReason,
        ids: Vec<u64>,
    ) -> mlua::Result<()> {
        self.stop_here(lua, l, base, reason, ids, None)?;
        self.apply_mask(l, Moment::At, base);
        self.shared.check_pending()
    }

    /// Reports the stop, serves commands until told to go on, and sets up the step asked
    /// for. Returns early, leaving the interrupt flag set, when the cell is interrupted.
    fn stop_here(
        &self,
        lua: &Lua,
        l: *mut mlua::lua_State,
        base: c_int,
        reason: StopReason,
        ids: Vec<u64>,
        description: Option<&str>,
    ) -> mlua::Result<()> {
        let Some(linked) = self.linked() else {
            return Ok(());
        };
        self.shared.flush();
        self.stopped.set(true);
        self.pause.set(false);
        self.step.set(None);
        self.update_slow();
        self.stops.set(self.stops.get() + 1);
        *self.frames.borrow_mut() = frames::stack(&linked.lib).unwrap_or_default();
        self.emit(DebugEvent::Stopped {
            reason,
            description: description.map(str::to_owned),
            hit_breakpoint_ids: ids,
        });
        let next = self.serve_stop(lua, &linked);
        self.frames.borrow_mut().clear();
        self.refs.borrow_mut().clear();
        self.stopped.set(false);
        self.emit(DebugEvent::Continued);
        if let Some(kind) = next.filter(|k| *k != StepKind::Continue) {
            // SAFETY: `l` is the live thread the stop happened on.
            let depth = unsafe { hook::depth(l) }.saturating_sub(base as usize);
            self.step.set(Some(Step {
                kind,
                thread: l,
                depth,
                entry: false,
            }));
        }
        self.update_slow();
        Ok(())
    }

    /// Serves commands until one resumes; `None` when interrupted.
    fn serve_stop(&self, lua: &Lua, linked: &Linked) -> Option<StepKind> {
        loop {
            match linked.commands.recv_timeout(STOP_POLL) {
                Ok(cmd) => {
                    if let Some(kind) = self.apply(lua, cmd, Mode::Stopped) {
                        return Some(kind);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.shared.interrupt.load(Ordering::Relaxed) {
                        return None;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.detach();
                    return Some(StepKind::Continue);
                }
            }
        }
    }

    pub(super) fn detach(&self) {
        self.attached.set(false);
        self.uncaught.set(false);
        self.pause.set(false);
        self.step.set(None);
        self.core.table.borrow_mut().clear();
        self.core.cache.invalidate();
        self.update_slow();
    }

    /// Applies one command; returns how to go on when it resumes a stop.
    pub(super) fn apply(&self, lua: &Lua, cmd: DebugCommand, mode: Mode) -> Option<StepKind> {
        let mut resume = None;
        match cmd {
            DebugCommand::Attach => self.attached.set(true),
            DebugCommand::Detach => {
                self.detach();
                if mode == Mode::Stopped {
                    resume = Some(StepKind::Continue);
                }
            }
            DebugCommand::SetBreakpoints {
                source,
                breakpoints,
            } => {
                let cwd = self.cwd.clone();
                self.core
                    .table
                    .borrow_mut()
                    .set(&source, breakpoints, cwd.as_deref());
                self.core.cache.invalidate();
            }
            DebugCommand::SetExceptionBreakpoints { uncaught } => self.uncaught.set(uncaught),
            DebugCommand::StopOnEntry => self.step.set(Some(Step {
                kind: StepKind::StepIn,
                thread: ptr::null_mut(),
                depth: 0,
                entry: true,
            })),
            DebugCommand::Resume(kind) => {
                if mode == Mode::Stopped {
                    resume = Some(kind);
                }
            }
            DebugCommand::Pause => {
                if mode == Mode::Running && self.attached.get() {
                    self.pause.set(true);
                }
            }
            DebugCommand::Query { token, query } => {
                let result = self.answer(lua, query, mode);
                self.emit(DebugEvent::Reply { token, result });
            }
        }
        self.update_slow();
        resume
    }
}

/// Whether a line event on thread `l`, about the function at level `base`, ends `step`.
pub(super) fn step_done(
    step: Step,
    l: *mut mlua::lua_State,
    base: c_int,
    main: *mut mlua::lua_State,
) -> bool {
    // SAFETY: `l` is the live hooked thread.
    let depth = || unsafe { hook::depth(l) }.saturating_sub(base as usize);
    match step.kind {
        StepKind::StepIn => true,
        StepKind::Continue => false,
        StepKind::Next | StepKind::StepOut if l != step.thread => {
            // Left the coroutine the step began in (it yielded or returned).
            l == main && step.thread != main
        }
        StepKind::Next => depth() <= step.depth,
        StepKind::StepOut => depth() < step.depth,
    }
}

/// Whether line events are needed on `l` for the function at `level` during `step`.
pub(super) fn step_wants_line(step: Step, l: *mut mlua::lua_State, level: c_int) -> bool {
    match step.kind {
        StepKind::StepIn => true,
        StepKind::Continue => false,
        // Another thread: let `step_done` decide at each line.
        StepKind::Next | StepKind::StepOut if l != step.thread => true,
        StepKind::Next | StepKind::StepOut => {
            // SAFETY: `l` is a live thread.
            let depth = unsafe { hook::depth(l) }.saturating_sub(level.max(0) as usize);
            if step.kind == StepKind::Next {
                depth <= step.depth
            } else {
                depth < step.depth
            }
        }
    }
}
