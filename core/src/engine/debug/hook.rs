//! The hook as Lua calls it, written against the C API so that the common case costs a
//! `lua_getinfo` and no trip through mlua.
//!
//! mlua's hook procedure (which runs the engine's Rust hook callback with mlua's error
//! handling) stays the only hook when no breakpoint is set. With breakpoints, [`raw_hook`]
//! is installed in its place with call events on: for each, it asks whether the function
//! entered has a breakpoint in its line range, and turns line events on or off to match
//! (return events only while some caller may need them back on: see [`super::mask`]). A line event on a breakpoint's line, every event while
//! stepping or paused, and the instruction-count events are handed on to mlua's procedure,
//! where the [`Debugger`](super::Debugger) decides.
//!
//! The hook finds the debugger's [`HookCore`] through a thread-local pointer that the
//! engine publishes while it runs Lua ([`HookCore::activate`]); with none published it only
//! forwards to mlua.

use std::cell::{Cell, RefCell};
use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::ffi::{self, lua_Debug, lua_State};

use super::breakpoints::Table;
use super::cache::{function_key, FnCache};
pub(crate) use super::mask::{next_mask, Moment};

/// Instruction-count events.
pub(crate) const MASK_COUNT: c_int = ffi::LUA_MASKCOUNT;
/// Call events (tail calls included).
pub(crate) const MASK_CALL: c_int = ffi::LUA_MASKCALL;
/// Return events.
pub(crate) const MASK_RET: c_int = ffi::LUA_MASKRET;
/// Line events.
pub(crate) const MASK_LINE: c_int = ffi::LUA_MASKLINE;

/// mlua's hook procedure, learnt once from `lua_gethook` (it is one function for every
/// Lua state). 0 until then.
static MLUA_PROC: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The hook core of the engine running Lua on this thread, if it has a debugger.
    static ACTIVE: Cell<*const HookCore> = const { Cell::new(ptr::null()) };
}

/// What the raw hook reads. Owned by the debugger; published by [`HookCore::activate`].
pub(crate) struct HookCore {
    /// Hand every event to the slow path (stepping, pausing, stopped).
    pub slow: Cell<bool>,
    /// The breakpoints.
    pub table: RefCell<Table>,
    /// The engine's interrupt flag: when set, events go to the slow path, which raises.
    pub interrupt: Arc<AtomicBool>,
    /// The thread of the event being handed to the slow path: set just before, taken by
    /// the slow path at once (a thread may die later; its pointer must not linger).
    pub current: Cell<*mut lua_State>,
    /// Whether a function may reach a breakpoint, by identity.
    pub cache: FnCache,
}

/// Unpublishes a [`HookCore`] when dropped (restoring the one before it).
pub(crate) struct ActiveGuard {
    prev: *const HookCore,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.prev));
    }
}

impl HookCore {
    /// A core with no breakpoints.
    pub fn new(interrupt: Arc<AtomicBool>) -> HookCore {
        HookCore {
            slow: Cell::new(false),
            table: RefCell::new(Table::default()),
            interrupt,
            current: Cell::new(ptr::null_mut()),
            cache: FnCache::new(),
        }
    }

    /// Publishes this core to the hook until the guard drops. The core must outlive the
    /// guard (the debugger owns both for the duration of a request).
    pub fn activate(&self) -> ActiveGuard {
        let prev = ACTIVE.with(|a| a.replace(self as *const HookCore));
        ActiveGuard { prev }
    }
}

/// Remembers mlua's hook procedure, which is installed on `state` now.
///
/// # Safety
/// `state` must be a live Lua state.
pub(crate) unsafe fn learn_mlua_proc(state: *mut lua_State) {
    if let Some(f) = ffi::lua_gethook(state) {
        if f as usize != raw_hook as *const () as usize {
            MLUA_PROC.store(f as usize, Ordering::Relaxed);
        }
    }
}

/// Calls mlua's hook procedure, if known.
///
/// # Safety
/// Called from a hook with Lua's own arguments. mlua's procedure may raise a Lua error
/// (a `longjmp`), so the caller must hold nothing that needs dropping.
unsafe fn forward(l: *mut lua_State, ar: *mut lua_Debug) {
    let f = MLUA_PROC.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: MLUA_PROC only ever holds a value read from `lua_gethook`.
        let f: ffi::lua_Hook = std::mem::transmute::<usize, ffi::lua_Hook>(f);
        f(l, ar);
    }
}

/// Installs `mask` on thread `l`, with [`raw_hook`] as the hook when `raw` (a debugger is
/// attached) and mlua's procedure alone otherwise. Does nothing if that is already set
/// (setting it restarts the instruction count).
///
/// # Safety
/// `l` must be a live thread of a state whose mlua procedure is known.
pub(crate) unsafe fn set_mask(l: *mut lua_State, mask: c_int, raw: bool, count: c_int) {
    let current = ffi::lua_gethook(l).map_or(0, |f| f as usize);
    let want = if raw {
        raw_hook as *const () as usize
    } else {
        MLUA_PROC.load(Ordering::Relaxed)
    };
    if want == 0 || (current == want && ffi::lua_gethookmask(l) == mask) {
        return;
    }
    // SAFETY: `want` is `raw_hook` or a value read from `lua_gethook`.
    let f = std::mem::transmute::<usize, ffi::lua_Hook>(want);
    ffi::lua_sethook(l, Some(f), mask, count);
}

/// Installs `mask` with [`raw_hook`] on `l` if it differs from the current one.
///
/// # Safety
/// `l` must be a live thread whose hook is [`raw_hook`].
unsafe fn set_raw_mask(l: *mut lua_State, mask: c_int) {
    if ffi::lua_gethookmask(l) != mask {
        ffi::lua_sethook(l, Some(raw_hook), mask, ffi::lua_gethookcount(l));
    }
}

/// Whether nothing but C functions lies below `level` on `l` (bounded look: the level
/// below `level` may be the C function the engine entered Lua through).
///
/// # Safety
/// `l` must be a live thread.
pub(crate) unsafe fn at_bottom(l: *mut lua_State, level: c_int) -> bool {
    let mut ar: lua_Debug = std::mem::zeroed();
    ffi::lua_getstack(l, level + 2, &mut ar) == 0
}

/// The chunk source of a `lua_Debug` filled with `S`.
///
/// # Safety
/// `ar` must have been filled by `lua_getinfo` with `S`.
pub(crate) unsafe fn source_of(ar: &lua_Debug) -> &[u8] {
    if ar.source.is_null() {
        return b"";
    }
    std::slice::from_raw_parts(ar.source as *const u8, ar.srclen)
}

/// Whether the function described by `ar` (filled with `S`) may reach a breakpoint: one
/// whose line range holds a breakpoint line, or a main chunk with its own code on one.
///
/// # Safety
/// `l` must be the live thread `ar` describes, and `ar` filled by `lua_getinfo` with `S`.
pub(crate) unsafe fn needs_lines(l: *mut lua_State, table: &Table, ar: *mut lua_Debug) -> bool {
    let d = &*ar;
    if d.what.is_null() || CStr::from_ptr(d.what).to_bytes() == b"C" {
        return false;
    }
    let Some(s) = table.find(source_of(d)) else {
        return false;
    };
    if d.linedefined > 0 {
        return s.covers(d.linedefined, d.lastlinedefined);
    }
    if let Some(known) = s.main_needs.get() {
        return known;
    }
    let known = main_chunk_reaches(l, ar, &s.lines);
    s.main_needs.set(Some(known));
    known
}

/// Whether the main chunk described by `ar` has its own code on one of `lines` (Lua's
/// `activelines`, which leave out the functions the chunk defines). True when unsure.
///
/// # Safety
/// As [`needs_lines`].
unsafe fn main_chunk_reaches(l: *mut lua_State, ar: *mut lua_Debug, lines: &[u32]) -> bool {
    if ffi::lua_checkstack(l, 2) == 0 || ffi::lua_getinfo(l, c"L".as_ptr(), ar) == 0 {
        return true;
    }
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        ffi::lua_settop(l, -2);
        return true;
    }
    let found = lines.iter().any(|&line| {
        let t = ffi::lua_rawgeti(l, -1, ffi::lua_Integer::from(line));
        ffi::lua_settop(l, -2);
        t != ffi::LUA_TNIL
    });
    ffi::lua_settop(l, -2);
    found
}

/// Whether the function at `level` of thread `l` may reach a breakpoint.
///
/// # Safety
/// `l` must be a live thread.
pub(crate) unsafe fn level_needs_lines(l: *mut lua_State, level: c_int, table: &Table) -> bool {
    let mut ar: lua_Debug = std::mem::zeroed();
    if ffi::lua_getstack(l, level, &mut ar) == 0 || ffi::lua_getinfo(l, c"S".as_ptr(), &mut ar) == 0
    {
        return false;
    }
    needs_lines(l, table, &mut ar)
}

/// The number of active levels on thread `l` (bounded).
///
/// # Safety
/// `l` must be a live thread.
pub(crate) unsafe fn depth(l: *mut lua_State) -> usize {
    let mut ar: lua_Debug = std::mem::zeroed();
    let mut n = 0;
    while n < 100_000 && ffi::lua_getstack(l, n as c_int, &mut ar) != 0 {
        n += 1;
    }
    n
}

/// What the fast path did with an event.
enum Fast {
    /// Handled: nothing more to do.
    Done,
    /// Hand it to mlua's procedure (the slow path).
    Slow,
}

/// The fast path: call and return events adjust line events; line events that are not on
/// a breakpoint return at once.
unsafe fn fast(core: &HookCore, l: *mut lua_State, ar: *mut lua_Debug, table: &Table) -> Fast {
    let current = ffi::lua_gethookmask(l);
    match (*ar).event {
        ffi::LUA_HOOKCALL | ffi::LUA_HOOKTAILCALL => {
            let needs = cached_needs(core, l, ar, table);
            set_raw_mask(l, next_mask(current, Moment::Call, needs));
            Fast::Done
        }
        ffi::LUA_HOOKRET => {
            // Level 0 is the function returning; level 1 the one it returns to.
            let mut caller: lua_Debug = std::mem::zeroed();
            let needs = ffi::lua_getstack(l, 1, &mut caller) != 0
                && cached_needs(core, l, &mut caller, table);
            let moment = Moment::Return {
                bottom: !needs && at_bottom(l, 1),
            };
            set_raw_mask(l, next_mask(current, moment, needs));
            Fast::Done
        }
        ffi::LUA_HOOKLINE => {
            if ffi::lua_getinfo(l, c"S".as_ptr(), ar) == 0 {
                return Fast::Done;
            }
            let line = (*ar).currentline;
            if !needs_lines(l, table, ar) {
                set_raw_mask(l, next_mask(current, Moment::At, false));
                return Fast::Done;
            }
            match table.find(source_of(&*ar)) {
                Some(s) if s.has_line(line) => Fast::Slow,
                _ => Fast::Done,
            }
        }
        _ => Fast::Slow,
    }
}

/// [`needs_lines`] for the function `ar` describes (from the hook, or `lua_getstack`),
/// through the cache.
///
/// # Safety
/// `l` must be the live thread `ar` describes.
unsafe fn cached_needs(
    core: &HookCore,
    l: *mut lua_State,
    ar: *mut lua_Debug,
    table: &Table,
) -> bool {
    let key = function_key(ar);
    if let Some(needs) = key.and_then(|k| core.cache.get(k)) {
        return needs;
    }
    if ffi::lua_checkstack(l, 4) == 0 {
        return false;
    }
    // "f" pushes the function, whatever the result.
    let ok = ffi::lua_getinfo(l, c"Sf".as_ptr(), ar) != 0;
    let needs = ok && needs_lines(l, table, ar);
    if let (true, Some(k)) = (ok, key) {
        core.cache.put(l, k, needs);
    }
    ffi::lua_settop(l, -2);
    needs
}

/// The hook installed while breakpoints exist. See the [module docs](self).
///
/// # Safety
/// Called by Lua only, with a live thread and its `lua_Debug`.
pub(crate) unsafe extern "C-unwind" fn raw_hook(l: *mut lua_State, ar: *mut lua_Debug) {
    let core = ACTIVE.with(|a| a.get());
    if !core.is_null() {
        // SAFETY: a published core outlives its guard, and Lua runs only inside it.
        let core = &*core;
        let quick = (*ar).event != ffi::LUA_HOOKCOUNT
            && !core.slow.get()
            && !core.interrupt.load(Ordering::Relaxed);
        if quick {
            // The borrow ends before `forward`, which may longjmp.
            let done = match core.table.try_borrow() {
                Ok(table) => matches!(fast(core, l, ar, &table), Fast::Done),
                Err(_) => false,
            };
            if done {
                return;
            }
        }
        // Everything the slow path sees goes through a C frame of its own, so that mlua,
        // which may insert a value at the bottom of the current frame while it runs the
        // callback, never shifts the registers of the function the hook fired in.
        core.current.set(l);
        if ffi::lua_checkstack(l, 3) != 0 {
            ffi::lua_pushcfunction(l, trampoline);
            ffi::lua_pushlightuserdata(l, ar as *mut std::ffi::c_void);
            ffi::lua_call(l, 1, 0);
            return;
        }
    }
    forward(l, ar);
}

/// The C frame the slow path runs in: forwards the event whose `lua_Debug` it is given.
///
/// # Safety
/// Called by [`raw_hook`] only, with the event's `lua_Debug` as a light userdata.
unsafe extern "C-unwind" fn trampoline(l: *mut lua_State) -> c_int {
    let ar = ffi::lua_touserdata(l, 1) as *mut lua_Debug;
    if !ar.is_null() {
        forward(l, ar);
    }
    0
}

/// The level, on thread `l`, of the function the current hook event is about: 1 inside
/// [`trampoline`], 0 when mlua's procedure was called directly.
///
/// # Safety
/// `l` must be the live thread running the hook.
pub(crate) unsafe fn event_level(l: *mut lua_State) -> c_int {
    let mut ar: lua_Debug = std::mem::zeroed();
    if ffi::lua_getstack(l, 0, &mut ar) == 0 || ffi::lua_getinfo(l, c"f".as_ptr(), &mut ar) == 0 {
        return 0;
    }
    let f = ffi::lua_tocfunction(l, -1);
    ffi::lua_settop(l, -2);
    match f {
        Some(f) if std::ptr::eq(f as *const (), trampoline as *const ()) => 1,
        _ => 0,
    }
}

/// A C function that returns the thread it runs on, as a light userdata: how the engine
/// learns its main thread's `lua_State` through mlua's public API.
///
/// # Safety
/// Called by Lua only.
pub(crate) unsafe extern "C-unwind" fn current_thread(l: *mut lua_State) -> c_int {
    ffi::lua_pushlightuserdata(l, l as *mut std::ffi::c_void);
    1
}
