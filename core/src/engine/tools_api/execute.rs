//! `tool:execute(params)`, the hot path of the Tool API, as a Lua C function.
//!
//! An mlua callback costs a registry reference (an `Rc` allocation and a slot in mlua's
//! auxiliary thread) for each table argument and for the table it returns, and a protected
//! call for whatever it builds. Here the function reads its arguments where Lua put them,
//! builds its result in place, and returns it on the stack.
//!
//! Each tool object's `execute` is a C closure whose one upvalue is a full userdata
//! holding a [`Slot`]: the host, the resolved tool, and the identity of the tool objects'
//! metatable. The userdata's `__gc` drops the host and marks the slot dead; a call through a
//! dead slot (only possible from another finalizer that kept the function) gets an error
//! result, never a freed host.
//!
//! # Safety
//!
//! Lua errors `longjmp`, and Rust panics must not unwind into Lua's C frames:
//! - [`execute`] reads its arguments with the non-raising functions of the `convert`
//!   module, runs the host call, and builds the result table in a `lua_pcall` of
//!   [`build`], whose frames own nothing (it only borrows the result), so a memory error
//!   there cannot skip a destructor. The Rust work runs under `catch_unwind`; an error to
//!   raise is raised by [`execute`] itself once every Rust value is gone. A panic there
//!   (a bug: tools' own panics are caught by the host) becomes the Lua error `internal
//!   error: tool:execute panicked`, which, unlike a panic in an mlua callback in this
//!   engine, a `pcall` can catch.
//! - [`build`] and [`collect`] catch panics and abort: they run inside Lua's C frames.

use std::ffi::{c_int, c_void};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use mlua::{ffi, Function, Lua};
use serde_json::{Map, Value as Json};

use super::convert::{self, push_json, push_str};
use crate::tools::{ToolError, ToolErrorKind, ToolHost, ToolId, ToolResult};

/// What one tool object's `execute` needs: the userdata that is its upvalue.
struct Slot {
    /// False once the userdata has been finalized and `host` dropped.
    alive: bool,
    /// The host that runs the tool.
    host: ManuallyDrop<Arc<dyn ToolHost>>,
    /// The tool, resolved by `Tool.get`.
    id: ToolId,
    /// The tool objects' metatable, by address: a first argument with it is `self`.
    meta: *const c_void,
}

// Lua aligns userdata memory for any of its own types (8 bytes here); a Slot needs no more.
const _: () = assert!(std::mem::align_of::<Slot>() <= 8);

/// The registry key of the slots' metatable (its `__gc`).
static SLOT_META: u8 = 0;

/// The `execute` function of the tool `id`; `meta` is the tool objects' metatable.
pub(super) fn function(
    lua: &Lua,
    host: &Arc<dyn ToolHost>,
    id: ToolId,
    meta: *const c_void,
) -> mlua::Result<Function> {
    let mut slot = Some(Slot {
        alive: true,
        host: ManuallyDrop::new(host.clone()),
        id,
        meta,
    });
    // SAFETY: runs protected; a memory error before the slot moves into Lua leaves it in
    // `slot`, whose host is dropped below; after, the userdata's `__gc` drops it (the
    // metatable is ready before the userdata is made).
    let function = unsafe {
        lua.exec_raw::<Function>((), |state| {
            let key = std::ptr::addr_of!(SLOT_META).cast::<c_void>();
            if ffi::lua_rawgetp(state, ffi::LUA_REGISTRYINDEX, key) != ffi::LUA_TTABLE {
                ffi::lua_pop(state, 1);
                ffi::lua_createtable(state, 0, 1);
                ffi::lua_pushcfunction(state, collect);
                ffi::lua_setfield(state, -2, c"__gc".as_ptr());
                ffi::lua_pushvalue(state, -1);
                ffi::lua_rawsetp(state, ffi::LUA_REGISTRYINDEX, key);
            }
            let memory = ffi::lua_newuserdatauv(state, std::mem::size_of::<Slot>(), 0);
            if let Some(slot) = slot.take() {
                memory.cast::<Slot>().write(slot);
            }
            // The metatable is below the userdata.
            ffi::lua_rotate(state, -2, 1);
            ffi::lua_setmetatable(state, -2);
            ffi::lua_pushcclosure(state, execute, 1);
        })
    };
    if let Some(mut unused) = slot {
        // SAFETY: the slot never reached Lua, so nothing else drops its host.
        unsafe { ManuallyDrop::drop(&mut unused.host) };
    }
    function
}

/// `__gc` of a slot: drops the host, once.
unsafe extern "C-unwind" fn collect(state: *mut ffi::lua_State) -> c_int {
    let slot = ffi::lua_touserdata(state, 1).cast::<Slot>();
    if !slot.is_null() && (*slot).alive {
        (*slot).alive = false;
        let host = &mut (*slot).host;
        if catch_unwind(AssertUnwindSafe(|| ManuallyDrop::drop(host))).is_err() {
            // Unwinding into Lua's C frames is undefined; a host that panics when dropped
            // is a bug beyond repair here.
            std::process::abort();
        }
    }
    0
}

/// What [`call`] asks [`execute`] to do.
enum Outcome {
    /// Return the value on top of the stack.
    Return,
    /// Raise this message.
    Raise(&'static std::ffi::CStr),
    /// Raise the error value on top of the stack (from the protected build).
    RaiseTop,
}

/// `execute(self, params)`: see the module docs.
unsafe extern "C-unwind" fn execute(state: *mut ffi::lua_State) -> c_int {
    let outcome = catch_unwind(AssertUnwindSafe(|| call(state)));
    // Every Rust value of the call is gone; only `Copy` data is left here.
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(payload) => {
            drop(payload);
            Outcome::Raise(c"internal error: tool:execute panicked")
        }
    };
    match outcome {
        Outcome::Return => 1,
        Outcome::Raise(message) => {
            ffi::lua_pushstring(state, message.as_ptr());
            ffi::lua_error(state)
        }
        Outcome::RaiseTop => ffi::lua_error(state),
    }
}

/// The call itself: reads the arguments, runs the tool and pushes the result table.
unsafe fn call(state: *mut ffi::lua_State) -> Outcome {
    let slot = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Slot>();
    let nargs = ffi::lua_gettop(state);
    let params_type = if nargs >= 2 {
        ffi::lua_type(state, 2)
    } else {
        ffi::LUA_TNIL
    };
    let params = if params_type == ffi::LUA_TNIL {
        // `tool.execute(params)` passes the parameters as `self`.
        if !is_tool_object(state, slot) {
            return Outcome::Raise(c"call execute with a colon: tool:execute(params)");
        }
        Ok(Json::Object(Map::new()))
    } else {
        let json = convert::read_at(state, 2);
        // A walk that failed part way leaves keys and values behind.
        ffi::lua_settop(state, nargs);
        json
    };
    let result: ToolResult = match (slot.is_null() || !(*slot).alive, params) {
        (true, _) => Err(ToolError::new(
            ToolErrorKind::Internal,
            "the tool host is gone (the Lua state is closing)",
        )),
        (false, Ok(params)) => (*slot).host.invoke_id((*slot).id, &params, None),
        (false, Err(why)) => Err(super::unconvertible(&why)),
    };
    if push_result_protected(state, &result) {
        Outcome::Return
    } else {
        Outcome::RaiseTop
    }
}

/// Whether argument 1 is a tool object: a table with the tool objects' metatable.
unsafe fn is_tool_object(state: *mut ffi::lua_State, slot: *const Slot) -> bool {
    if slot.is_null() || ffi::lua_gettop(state) < 1 || ffi::lua_getmetatable(state, 1) == 0 {
        return false;
    }
    let same = std::ptr::eq(ffi::lua_topointer(state, -1), (*slot).meta);
    ffi::lua_pop(state, 1);
    same
}

/// Pushes the result table for `result` in a protected call of [`build`]: true and the
/// table on top, or false and the error on top.
unsafe fn push_result_protected(state: *mut ffi::lua_State, result: &ToolResult) -> bool {
    // A C function starts with room for 20 values; the walk of the parameters left it so.
    ffi::lua_pushcfunction(state, build);
    ffi::lua_pushlightuserdata(state, (result as *const ToolResult).cast_mut().cast());
    ffi::lua_pcall(state, 1, 1, 0) == ffi::LUA_OK
}

/// The protected part of [`push_result_protected`]: argument 1 is a light userdata
/// pointing to the `ToolResult`.
unsafe extern "C-unwind" fn build(state: *mut ffi::lua_State) -> c_int {
    let result = ffi::lua_touserdata(state, 1)
        .cast::<ToolResult>()
        .cast_const();
    match catch_unwind(AssertUnwindSafe(|| push_result_or_failure(state, &*result))) {
        Ok(()) => 1,
        // Unwinding into Lua's C frames is undefined, and push_result does not panic.
        Err(_) => std::process::abort(),
    }
}

/// [`push_result`], or when its data cannot be built (nested past the build limit), a
/// TooLarge failure in its place.
///
/// # Safety
/// As for [`push_result`].
pub(super) unsafe fn push_result_or_failure(state: *mut ffi::lua_State, result: &ToolResult) {
    let top = ffi::lua_gettop(state);
    if let Err(message) = push_result(state, result) {
        ffi::lua_settop(state, top);
        push_failure(state, ToolErrorKind::TooLarge.as_str(), message);
    }
}

/// Pushes `{success = true, text = ..., data = ...}` or `{success = false, error = {kind =
/// ..., message = ...}}`. The keys are C string literals, which Lua's string cache finds by
/// address without hashing them.
///
/// # Safety
/// Raises only memory errors: run it protected. Needs room for three values. On `Err` the
/// stack above where it started holds a part built.
pub(super) unsafe fn push_result(
    state: *mut ffi::lua_State,
    result: &ToolResult,
) -> Result<(), &'static str> {
    let output = match result {
        Ok(output) => output,
        Err(e) => {
            push_failure(state, e.kind.as_str(), &e.message);
            return Ok(());
        }
    };
    ffi::lua_createtable(state, 0, 3);
    ffi::lua_pushboolean(state, 1);
    ffi::lua_setfield(state, -2, c"success".as_ptr());
    push_str(state, &output.text);
    ffi::lua_setfield(state, -2, c"text".as_ptr());
    if !output.data.is_null() {
        // On failure the stack holds a part built: the caller resets it.
        push_json(state, &output.data, false)?;
        ffi::lua_setfield(state, -2, c"data".as_ptr());
    }
    Ok(())
}

/// Pushes `{success = false, error = {kind = kind, message = message}}`.
///
/// # Safety
/// As for [`push_result`]; it cannot fail otherwise.
unsafe fn push_failure(state: *mut ffi::lua_State, kind: &str, message: &str) {
    ffi::lua_createtable(state, 0, 2);
    ffi::lua_pushboolean(state, 0);
    ffi::lua_setfield(state, -2, c"success".as_ptr());
    ffi::lua_createtable(state, 0, 2);
    push_str(state, kind);
    ffi::lua_setfield(state, -2, c"kind".as_ptr());
    push_str(state, message);
    ffi::lua_setfield(state, -2, c"message".as_ptr());
    ffi::lua_setfield(state, -2, c"error".as_ptr());
}
