//! The debugger's slow path: the hook events the raw hook hands on, stepping, stops, and
//! the commands served while idle, running or stopped.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::os::raw::c_int;
use std::path::PathBuf;
use std::ptr;
use std::rc::Rc;

use crossbeam_channel::Receiver;
use mlua::{DebugEvent as HookEvent, Function, Lua, Value, VmState};

use super::frames::{self, DebugLib, Frame, Refs};
use super::hook::{self, HookCore, Moment, MASK_CALL, MASK_COUNT, MASK_LINE, MASK_RET};
use super::stops::{step_done, step_wants_line};
use super::{eval, BreakpointSpec, DebugCommand, DebugEvent, DebugLink, StepKind, StopReason};
use crate::engine::errors::INTERNAL_CHUNK_PREFIX;
use crate::engine::shared::{Shared, HOOK_INSTRUCTIONS};

/// Sources of this many cells are remembered for `source` requests.
const MAX_SOURCES: usize = 1_000;

/// A step in progress.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    /// What kind.
    pub kind: StepKind,
    /// The thread it started on (null for `stopOnEntry`).
    pub thread: *mut mlua::lua_State,
    /// The stack depth of the function it started in.
    pub depth: usize,
    /// A stop on entry rather than a step.
    pub entry: bool,
}

/// Where the engine is when a command arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// No request running.
    Idle,
    /// A request running, between two instructions.
    Running,
    /// Stopped, serving commands.
    Stopped,
}

/// What only exists once a client can reach the debugger.
pub(super) struct Linked {
    /// Commands from the session.
    pub commands: Receiver<DebugCommand>,
    events: RefCell<Box<dyn FnMut(DebugEvent) + Send>>,
    /// The `debug` library.
    pub lib: DebugLib,
    /// A C function that returns the thread it runs on.
    current_thread: Function,
    /// The names of the globals and modules that exist before user code runs.
    pub builtins: HashSet<String>,
}

/// The engine's debugger. Inert until [`Debugger::enable`].
pub(crate) struct Debugger {
    /// What the raw hook reads.
    pub core: HookCore,
    /// The engine's shared state (interrupt flag, output).
    pub(super) shared: Rc<Shared>,
    pub(super) linked: RefCell<Option<Rc<Linked>>>,
    /// The main thread.
    pub(super) main: Cell<*mut mlua::lua_State>,
    /// A client is attached.
    pub(super) attached: Cell<bool>,
    /// Uncaught errors stop.
    pub(super) uncaught: Cell<bool>,
    pub(super) step: Cell<Option<Step>>,
    /// A pause was asked for: stop at the next line.
    pub(super) pause: Cell<bool>,
    pub(super) stopped: Cell<bool>,
    /// The frames of the current stop.
    pub(super) frames: RefCell<Vec<Frame>>,
    /// Stops so far: frame ids are `stops * 1000 + index`.
    pub(super) stops: Cell<i64>,
    pub(super) refs: RefCell<Refs>,
    /// The message of the error the engine is stopped on.
    pub(super) exception: RefCell<Option<String>>,
    /// Code of the chunks run under a path, by chunk name.
    pub(super) sources: RefCell<HashMap<String, String>>,
    /// The working directory at start, to resolve relative chunk names.
    pub(super) cwd: Option<PathBuf>,
}

impl Debugger {
    /// An inert debugger.
    pub fn new(shared: Rc<Shared>) -> Debugger {
        Debugger {
            core: HookCore::new(shared.interrupt.clone()),
            shared,
            linked: RefCell::new(None),
            main: Cell::new(ptr::null_mut()),
            attached: Cell::new(false),
            uncaught: Cell::new(false),
            step: Cell::new(None),
            pause: Cell::new(false),
            stopped: Cell::new(false),
            frames: RefCell::new(Vec::new()),
            stops: Cell::new(0),
            refs: RefCell::new(Refs::default()),
            exception: RefCell::new(None),
            sources: RefCell::new(HashMap::new()),
            cwd: std::env::current_dir().ok(),
        }
    }

    /// Connects the debugger to a client. Call on the engine's thread, while idle.
    pub fn enable(&self, lua: &Lua, link: DebugLink) -> mlua::Result<()> {
        let lib = DebugLib::open(lua)?;
        // SAFETY: `current_thread` is a plain `lua_CFunction` that pushes one light userdata.
        let current_thread = unsafe { lua.create_c_function(hook::current_thread)? };
        let main = match current_thread.call::<Value>(())? {
            Value::LightUserData(p) => p.0 as *mut mlua::lua_State,
            _ => return Err(mlua::Error::runtime("cannot find the main thread")),
        };
        // SAFETY: `main` is this state's main thread, idle; mlua's hook is installed on it.
        unsafe { hook::learn_mlua_proc(main) };
        // SAFETY: `init_pins` is a plain `lua_CFunction` that makes one registry table.
        unsafe { lua.create_c_function(super::cache::init_pins)? }.call::<()>(())?;
        self.main.set(main);
        let mut builtins: HashSet<String> = frames::user_globals(lua, &HashSet::new())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let loaded: mlua::Table = lua.globals().get::<mlua::Table>("package")?.get("loaded")?;
        for (k, _) in loaded.pairs::<String, Value>().filter_map(Result::ok) {
            builtins.insert(k);
        }
        *self.linked.borrow_mut() = Some(Rc::new(Linked {
            commands: link.commands,
            events: RefCell::new(link.events),
            lib,
            current_thread,
            builtins,
        }));
        Ok(())
    }

    /// Whether a client can reach the debugger.
    pub fn is_enabled(&self) -> bool {
        self.linked.borrow().is_some()
    }

    /// What exists once enabled.
    pub(super) fn linked(&self) -> Option<Rc<Linked>> {
        self.linked.borrow().clone()
    }

    /// The command channel, for a worker that waits on jobs and commands at once.
    pub fn commands(&self) -> Option<Receiver<DebugCommand>> {
        self.linked().map(|l| l.commands.clone())
    }

    pub(super) fn emit(&self, event: DebugEvent) {
        if let Some(l) = self.linked() {
            (l.events.borrow_mut())(event);
        }
    }

    /// Remembers the code of a chunk run under a path, for `source` requests.
    pub fn record_source(&self, chunk_name: &str, code: &str) {
        if !self.is_enabled() || !chunk_name.starts_with('@') {
            return;
        }
        let mut sources = self.sources.borrow_mut();
        if sources.len() >= MAX_SOURCES && !sources.contains_key(chunk_name) {
            sources.clear();
        }
        sources.insert(chunk_name.to_owned(), code.to_owned());
    }

    /// Before a request runs: serve the commands already sent (so that breakpoints sent
    /// before a cell are in place), forget the last request's references, and set the main
    /// thread's hook.
    pub fn before_request(&self, lua: &Lua) {
        let Some(linked) = self.linked() else { return };
        self.core.current.set(ptr::null_mut());
        while let Ok(cmd) = linked.commands.try_recv() {
            self.apply(lua, cmd, Mode::Idle);
        }
        self.refs.borrow_mut().clear();
        self.apply_mask(self.main.get(), Moment::Idle, -1);
    }

    /// Serves one command while no request runs.
    pub fn handle_idle(&self, lua: &Lua, cmd: DebugCommand) {
        if self.is_enabled() {
            self.apply(lua, cmd, Mode::Idle);
            self.apply_mask(self.main.get(), Moment::Idle, -1);
        }
    }

    /// The thread the current hook event belongs to (`hint`, from the raw hook, or asked
    /// of Lua), and the level on it of the function the event is about (see
    /// [`hook::event_level`]).
    pub(super) fn thread(
        &self,
        linked: &Linked,
        hint: *mut mlua::lua_State,
    ) -> (*mut mlua::lua_State, c_int) {
        let mut l = hint;
        if l.is_null() {
            l = match linked.current_thread.call::<Value>(()) {
                Ok(Value::LightUserData(p)) => p.0 as *mut mlua::lua_State,
                _ => self.main.get(),
            };
        }
        // SAFETY: `l` is the live thread running the hook.
        (l, unsafe { hook::event_level(l) })
    }

    pub(super) fn update_slow(&self) {
        let slow = self.stopped.get() || self.pause.get() || self.step.get().is_some();
        self.core.slow.set(slow);
    }

    /// The hook mask thread `l` needs at `moment`, about the function at `level` (the one
    /// running, entered, or returned to; ignored when idle).
    fn wanted_mask(&self, l: *mut mlua::lua_State, moment: Moment, level: c_int) -> c_int {
        if !self.attached.get() || self.stopped.get() {
            return MASK_COUNT;
        }
        if self.pause.get() {
            return MASK_COUNT | MASK_LINE;
        }
        let level = if moment == Moment::Idle { -1 } else { level };
        if let Some(step) = self.step.get() {
            let line = step_wants_line(step, l, level);
            return MASK_COUNT | MASK_CALL | MASK_RET | if line { MASK_LINE } else { 0 };
        }
        let Ok(table) = self.core.table.try_borrow() else {
            return MASK_COUNT;
        };
        if table.is_empty() {
            return MASK_COUNT;
        }
        // SAFETY: `l` is a live thread of this state (the hooked one, or the main thread).
        unsafe {
            let needs = level >= 0 && hook::level_needs_lines(l, level, &table);
            let moment = match moment {
                Moment::Return { .. } => Moment::Return {
                    bottom: !needs && hook::at_bottom(l, level),
                },
                other => other,
            };
            hook::next_mask(mlua::ffi::lua_gethookmask(l), moment, needs)
        }
    }

    pub(super) fn apply_mask(&self, l: *mut mlua::lua_State, moment: Moment, level: c_int) {
        if l.is_null() || !self.is_enabled() {
            return;
        }
        let mask = self.wanted_mask(l, moment, level);
        // SAFETY: `l` is a live thread of this state, and mlua's procedure is known
        // (learnt in `enable`).
        unsafe { hook::set_mask(l, mask, self.attached.get(), HOOK_INSTRUCTIONS as c_int) };
    }

    /// The engine's hook callback (mlua's procedure calls it for every event the raw hook
    /// does not handle itself).
    pub fn on_hook(&self, lua: &Lua, debug: &mlua::Debug) -> mlua::Result<VmState> {
        let event = debug.event();
        let Some(linked) = self.linked() else {
            return match event {
                HookEvent::Count => self.shared.on_tick(),
                _ => Ok(VmState::Continue),
            };
        };
        let hint = self.core.current.replace(ptr::null_mut());
        if self.stopped.get() {
            // Code run while stopped (an evaluate in the message handler).
            return Ok(VmState::Continue);
        }
        match event {
            HookEvent::Count => {
                self.shared.on_tick()?;
                while let Ok(cmd) = linked.commands.try_recv() {
                    self.apply(lua, cmd, Mode::Running);
                }
                if self.attached.get() {
                    let (l, base) = self.thread(&linked, hint);
                    self.apply_mask(l, Moment::At, base);
                }
            }
            HookEvent::Line => {
                self.shared.check_pending()?;
                let (l, base) = self.thread(&linked, hint);
                self.on_line(lua, &linked, debug, l, base)?;
            }
            HookEvent::Call | HookEvent::TailCall => {
                self.shared.check_pending()?;
                let (l, base) = self.thread(&linked, hint);
                self.apply_mask(l, Moment::Call, base);
            }
            HookEvent::Ret => {
                self.shared.check_pending()?;
                let (l, base) = self.thread(&linked, hint);
                self.apply_mask(l, Moment::Return { bottom: false }, base + 1);
            }
            _ => {}
        }
        Ok(VmState::Continue)
    }

    fn on_line(
        &self,
        lua: &Lua,
        linked: &Linked,
        debug: &mlua::Debug,
        l: *mut mlua::lua_State,
        base: c_int,
    ) -> mlua::Result<()> {
        let source = debug.source().source.map(|s| s.into_owned());
        let source = source.unwrap_or_default();
        if source
            .strip_prefix('=')
            .is_some_and(|s| s.starts_with(INTERNAL_CHUNK_PREFIX))
        {
            self.apply_mask(l, Moment::At, base);
            return Ok(());
        }
        if self.pause.get() {
            return self.stop(lua, l, base, StopReason::Pause, Vec::new());
        }
        if let Some(step) = self.step.get() {
            if step_done(step, l, base, self.main.get()) {
                let reason = if step.entry {
                    StopReason::Entry
                } else {
                    StopReason::Step
                };
                return self.stop(lua, l, base, reason, Vec::new());
            }
        }
        let line = debug.current_line().unwrap_or(0) as u32;
        let specs: Vec<BreakpointSpec> = match self.core.table.try_borrow() {
            Ok(table) => table
                .find(source.as_bytes())
                .map(|s| s.specs.iter().filter(|b| b.line == line).cloned().collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if !specs.is_empty() {
            let ids = self.breakpoints_that_stop(lua, &linked.lib, &specs, base)?;
            if !ids.is_empty() {
                return self.stop(lua, l, base, StopReason::Breakpoint, ids);
            }
        }
        self.apply_mask(l, Moment::At, base);
        Ok(())
    }

    /// Evaluates conditions, counts hits, prints log points; returns the ids that stop.
    fn breakpoints_that_stop(
        &self,
        lua: &Lua,
        lib: &DebugLib,
        specs: &[BreakpointSpec],
        base: c_int,
    ) -> mlua::Result<Vec<u64>> {
        // Level 1 is the first frame below the `debug` function's own.
        let Some(frame) = frames::frame_at(lib, 1 + i64::from(base))? else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        for spec in specs {
            if let Some(condition) = &spec.condition {
                let (holds, error) = eval::condition_holds(lua, lib, &frame, condition);
                if let Some(e) = error {
                    self.emit(DebugEvent::Output {
                        text: format!("breakpoint condition `{condition}` failed: {e}\n"),
                    });
                }
                if !holds {
                    continue;
                }
            }
            let hits = self.core.table.borrow_mut().hit(spec.id);
            if spec.hit_condition.is_some_and(|h| !h.matches(hits)) {
                continue;
            }
            if let Some(template) = &spec.log_message {
                let mut text = eval::log_message(lua, lib, &frame, template);
                text.push('\n');
                self.emit(DebugEvent::Output { text });
                continue;
            }
            ids.push(spec.id);
        }
        Ok(ids)
    }

    /// The id of frame `index` of the current stop.
    pub(super) fn frame_id(&self, index: usize) -> i64 {
        self.stops.get() * 1000 + index as i64
    }

    /// The index of the frame with `id` in the current stop.
    pub(super) fn frame_index(&self, id: i64) -> Option<usize> {
        let index = id.checked_sub(self.stops.get() * 1000)?;
        let index = usize::try_from(index).ok()?;
        (index < self.frames.borrow().len()).then_some(index)
    }

    /// Whether the engine is stopped.
    pub(super) fn is_stopped(&self) -> bool {
        self.stopped.get()
    }
}
