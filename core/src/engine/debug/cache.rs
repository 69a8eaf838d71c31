//! A cache of "may this function reach a breakpoint?", by function identity, so that a
//! call event usually costs two memory reads instead of a `lua_getinfo`.
//!
//! The identity is the function value in the call's stack slot, read through the
//! `CallInfo` that Lua hands the hook (Lua 5.4's layout: `ar->i_ci`, then `ci->func`, a
//! `TValue` whose first word is the closure). Every miss checks that reading against
//! `lua_getinfo(L, "f")`; one mismatch turns the cache off for good. A cached function is
//! pinned in a registry table, slot for slot, so its address cannot be reused by another
//! function while the cache holds it. Changing breakpoints bumps a generation.

use std::cell::Cell;
use std::ffi::c_void;
use std::os::raw::c_int;

use mlua::ffi::{self, lua_Debug, lua_State};

/// Slots of the direct-mapped cache (and of the pin table).
pub(crate) const SLOTS: usize = 64;

/// The registry key (its address) of the pin table.
static PINS_KEY: u8 = 0;

fn pins_key() -> *const c_void {
    &PINS_KEY as *const u8 as *const c_void
}

/// One cached answer.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    key: usize,
    generation: u32,
    needs: bool,
}

/// The cache. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct FnCache {
    slots: [Cell<Slot>; SLOTS],
    /// Answers from another generation are misses.
    generation: Cell<u32>,
    /// The internal reading agreed with `lua_getinfo` so far.
    trusted: Cell<bool>,
}

impl FnCache {
    /// An empty cache; it stays off until [`init_pins`] made the pin table.
    pub fn new() -> FnCache {
        FnCache {
            slots: std::array::from_fn(|_| Cell::new(Slot::default())),
            generation: Cell::new(1),
            trusted: Cell::new(true),
        }
    }

    /// Forgets every answer (the breakpoints changed).
    pub fn invalidate(&self) {
        let g = self.generation.get().wrapping_add(1).max(1);
        self.generation.set(g);
    }

    fn slot(key: usize) -> usize {
        (key >> 4) % SLOTS
    }

    /// Whether the internal reading of identities has matched `lua_getinfo` so far.
    #[cfg(test)]
    pub fn is_trusted(&self) -> bool {
        self.trusted.get()
    }

    /// How many answers of the current generation are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let g = self.generation.get();
        self.slots
            .iter()
            .filter(|s| s.get().generation == g && s.get().key != 0)
            .count()
    }

    /// The cached answer for `key`.
    pub fn get(&self, key: usize) -> Option<bool> {
        if !self.trusted.get() {
            return None;
        }
        let s = self.slots[Self::slot(key)].get();
        (s.key == key && s.generation == self.generation.get()).then_some(s.needs)
    }

    /// After `lua_getinfo(l, "...f", ar)` pushed the function with identity `key`: checks
    /// the identity, pins the function and remembers `needs`. Leaves the stack as it was
    /// (the pushed function included).
    ///
    /// # Safety
    /// `l` must be a live thread with the function on top of its stack.
    pub unsafe fn put(&self, l: *mut lua_State, key: usize, needs: bool) {
        if !self.trusted.get() {
            return;
        }
        if ffi::lua_topointer(l, -1) as usize != key {
            self.trusted.set(false);
            return;
        }
        if ffi::lua_checkstack(l, 2) == 0 {
            return;
        }
        if ffi::lua_rawgetp(l, ffi::LUA_REGISTRYINDEX, pins_key()) != ffi::LUA_TTABLE {
            ffi::lua_settop(l, -2);
            return;
        }
        let slot = Self::slot(key);
        ffi::lua_pushvalue(l, -2);
        // The table was made with SLOTS array entries: this store never allocates.
        ffi::lua_rawseti(l, -2, slot as ffi::lua_Integer + 1);
        ffi::lua_settop(l, -2);
        self.slots[slot].set(Slot {
            key,
            generation: self.generation.get(),
            needs,
        });
    }
}

/// Makes the pin table. Called once per Lua state, through `lua_call`.
///
/// # Safety
/// Called by Lua only.
pub(crate) unsafe extern "C-unwind" fn init_pins(l: *mut lua_State) -> c_int {
    ffi::lua_createtable(l, SLOTS as c_int, 0);
    ffi::lua_rawsetp(l, ffi::LUA_REGISTRYINDEX, pins_key());
    0
}

/// The identity of the function `ar` describes (a hook's `lua_Debug`, or one filled by
/// `lua_getstack`): the first word of its stack slot when that slot holds a function.
///
/// # Safety
/// `ar` must come from a hook or from `lua_getstack` on a live thread, so that its private
/// `i_ci` points at a live `CallInfo`.
pub(crate) unsafe fn function_key(ar: *const lua_Debug) -> Option<usize> {
    // `i_ci` is the last field of lua_Debug.
    let at = std::mem::size_of::<lua_Debug>() - std::mem::size_of::<*const c_void>();
    let ci = *((ar as *const u8).add(at) as *const *const *const u8);
    if ci.is_null() {
        return None;
    }
    // `CallInfo.func` (a pointer while the stack is not being reallocated) comes first.
    let slot = *ci;
    if slot.is_null() {
        return None;
    }
    // A TValue: the value's word, then its type tag; functions are type 6.
    let tag = *slot.add(std::mem::size_of::<usize>());
    if tag & 0x0F != ffi::LUA_TFUNCTION as u8 {
        return None;
    }
    Some(*(slot as *const usize)).filter(|k| *k != 0)
}
