//! Lua values to and from `serde_json` values, on the Lua stack through the C API: the hot
//! path of `tool:execute` (parameters in, the result table out), also used by `JSON`,
//! `Tool.info` and `Tool.batch`, so that every conversion follows one set of rules (see the
//! parent module's docs).
//!
//! Going through mlua's safe API costs a registry reference for every key and value read,
//! and a guard, a stack check and a lock for every field written; here a table is walked
//! with `lua_next` and built with `lua_createtable` and `lua_rawset`, several times faster.
//!
//! # Safety
//!
//! Lua reports errors with `longjmp`, which must never cross these Rust frames (they own
//! `String`s, `Vec`s and `Map`s). So:
//! - Reading calls only functions that raise nothing: `lua_type`, `lua_to*` on values of
//!   the matching type (never `lua_tolstring` on a number, which would convert it in place
//!   and break `lua_next`), `lua_rawlen`, `lua_next` on keys it returned, and
//!   `lua_checkstack`, which reports failure instead of raising. It allocates nothing in
//!   Lua, so no garbage collection and no finalizer runs.
//! - Building allocates (`lua_createtable`, `lua_pushlstring`, and `lua_rawset` into a table
//!   presized for its keys), which raises only on a memory error. It therefore runs in a
//!   protected call (`Lua::exec_raw` in [`build`], or the `execute` module's own
//!   `lua_pcall`), and its frames own nothing: a memory error (under a memory limit)
//!   unwinds to that call and skips no destructor. Garbage collection may run finalizers;
//!   Lua 5.4 turns their errors into warnings.
//! - Every index is absolute or relative to a top this code pushed; each entry point
//!   restores the stack top it found.

use std::ffi::{c_char, c_int};

use mlua::{ffi, Error, Lua, Value};
use serde_json::{Map, Number, Value as Json};

/// Tables nested deeper than this cannot be converted to JSON (this also stops cycles).
const MAX_DEPTH: usize = 64;

/// Stack slots one level of a walk or a build needs: a table, a key and a value.
const SLOTS_PER_LEVEL: c_int = 3;

/// JSON nested deeper than this is not built (it bounds the recursion; JSON parsed by
/// serde_json stops at 128).
const MAX_BUILD_DEPTH: usize = 512;

/// Size hints for `lua_createtable` are capped here (it raises on absurd sizes).
const MAX_SIZE_HINT: usize = 1 << 20;

/// Converts a Lua value to JSON: functions, userdata other than `JSON.null`, non-finite
/// numbers and tables nested too deeply are refused, with a message saying which.
pub(super) fn to_json(lua: &Lua, value: &Value) -> Result<Json, String> {
    match value {
        Value::Nil => Ok(Json::Null),
        Value::LightUserData(p) if p.0.is_null() => Ok(Json::Null),
        Value::Boolean(b) => Ok(Json::Bool(*b)),
        Value::Integer(i) => Ok(Json::Number(Number::from(*i))),
        Value::Number(n) => float(*n),
        Value::String(s) => Ok(Json::String(s.to_string_lossy())),
        Value::Table(_) => lua.exec_raw_lua(|raw| {
            let state = raw.state();
            // SAFETY: see the module docs: nothing below raises; the top is restored.
            unsafe {
                let top = ffi::lua_gettop(state);
                if ffi::lua_checkstack(state, SLOTS_PER_LEVEL) == 0 {
                    return Err(TOO_DEEP.to_owned());
                }
                let json = match raw.push_value(value) {
                    Ok(()) => read(state, top + 1, 0),
                    Err(e) => Err(e.to_string()),
                };
                ffi::lua_settop(state, top);
                json
            }
        }),
        other => Err(format!("cannot encode a {} as JSON", other.type_name())),
    }
}

/// The value at absolute index `idx` as JSON, as [`to_json`] converts it.
///
/// # Safety
/// `idx` is a valid absolute index of `state`'s stack. Raises nothing.
pub(super) unsafe fn read_at(state: *mut ffi::lua_State, idx: c_int) -> Result<Json, String> {
    read(state, idx, 0)
}

/// A finite float as JSON.
fn float(n: f64) -> Result<Json, String> {
    Number::from_f64(n)
        .map(Json::Number)
        .ok_or_else(|| format!("cannot encode {n} as JSON"))
}

/// Too deep for JSON, or for the Lua stack.
const TOO_DEEP: &str = "tables nested too deeply to encode as JSON (or a cycle)";

/// JSON too deep to build as tables.
const BUILT_TOO_DEEP: &str = "JSON nested too deeply to convert to Lua tables";

/// The value at absolute index `idx` as JSON.
///
/// # Safety
/// `idx` is a valid absolute index of `state`'s stack.
unsafe fn read(state: *mut ffi::lua_State, idx: c_int, depth: usize) -> Result<Json, String> {
    Ok(match ffi::lua_type(state, idx) {
        ffi::LUA_TNIL => Json::Null,
        ffi::LUA_TBOOLEAN => Json::Bool(ffi::lua_toboolean(state, idx) != 0),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(state, idx).is_null() => Json::Null,
        ffi::LUA_TNUMBER if ffi::lua_isinteger(state, idx) != 0 => {
            Json::Number(Number::from(ffi::lua_tointeger(state, idx)))
        }
        ffi::LUA_TNUMBER => float(ffi::lua_tonumber(state, idx))?,
        ffi::LUA_TSTRING => Json::String(string(state, idx)),
        ffi::LUA_TTABLE => {
            if depth >= MAX_DEPTH || ffi::lua_checkstack(state, SLOTS_PER_LEVEL) == 0 {
                return Err(TOO_DEEP.to_owned());
            }
            match array(state, idx, depth)? {
                Some(items) => Json::Array(items),
                None => Json::Object(object(state, idx, depth)?),
            }
        }
        _ => return Err(format!("cannot encode a {} as JSON", type_name(state, idx))),
    })
}

/// The string at `idx`, invalid UTF-8 replaced.
///
/// # Safety
/// The value at `idx` is a string (so `lua_tolstring` converts nothing).
unsafe fn string(state: *mut ffi::lua_State, idx: c_int) -> String {
    let mut len = 0;
    let ptr = ffi::lua_tolstring(state, idx, &mut len);
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: Lua strings are `len` bytes at `ptr`, alive while the value is on the stack.
    let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    String::from_utf8_lossy(bytes).into_owned()
}

/// mlua's name for the type of the value at `idx`, for messages.
unsafe fn type_name(state: *mut ffi::lua_State, idx: c_int) -> &'static str {
    match ffi::lua_type(state, idx) {
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TLIGHTUSERDATA => "lightuserdata",
        ffi::LUA_TNUMBER if ffi::lua_isinteger(state, idx) != 0 => "integer",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TTHREAD => "thread",
        ffi::LUA_TUSERDATA => "userdata",
        _ => "other",
    }
}

/// The items of the table at `idx` if its keys are exactly `1..n` with n > 0.
///
/// # Safety
/// `idx` is an absolute index of a table, and the stack has room for a key and a value.
unsafe fn array(
    state: *mut ffi::lua_State,
    idx: c_int,
    depth: usize,
) -> Result<Option<Vec<Json>>, String> {
    let len = ffi::lua_rawlen(state, idx);
    if len == 0 {
        return Ok(None);
    }
    let mut items = vec![Json::Null; len];
    let mut count = 0;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, idx) != 0 {
        let key = ffi::lua_absindex(state, -2);
        let at = match ffi::lua_type(state, key) {
            ffi::LUA_TNUMBER if ffi::lua_isinteger(state, key) != 0 => {
                usize::try_from(ffi::lua_tointeger(state, key)).ok()
            }
            _ => None,
        };
        match at {
            Some(i) if (1..=len).contains(&i) => {
                items[i - 1] = read(state, key + 1, depth + 1)?;
                count += 1;
                ffi::lua_pop(state, 1);
            }
            _ => {
                // An object after all: drop the key and the value, and stop.
                ffi::lua_pop(state, 2);
                return Ok(None);
            }
        }
    }
    Ok((count == len).then_some(items))
}

/// The entries of the table at `idx` as a JSON object; number keys become strings.
///
/// # Safety
/// As for [`array`].
unsafe fn object(
    state: *mut ffi::lua_State,
    idx: c_int,
    depth: usize,
) -> Result<Map<String, Json>, String> {
    let mut map = Map::new();
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, idx) != 0 {
        let key = ffi::lua_absindex(state, -2);
        let name = match ffi::lua_type(state, key) {
            ffi::LUA_TSTRING => string(state, key),
            ffi::LUA_TNUMBER if ffi::lua_isinteger(state, key) != 0 => {
                ffi::lua_tointeger(state, key).to_string()
            }
            ffi::LUA_TNUMBER => ffi::lua_tonumber(state, key).to_string(),
            _ => {
                return Err(format!(
                    "cannot encode a table key of type {} as JSON",
                    type_name(state, key)
                ))
            }
        };
        map.insert(name, read(state, key + 1, depth + 1)?);
        ffi::lua_pop(state, 1);
    }
    Ok(map)
}

/// Runs `build` in a protected call with room for three values, and returns the one value
/// it pushed; the error it returned, or the memory error Lua raised, otherwise.
pub(super) fn build<T>(
    lua: &Lua,
    build: impl FnOnce(*mut ffi::lua_State) -> Result<(), &'static str>,
) -> mlua::Result<T>
where
    T: mlua::FromLua,
{
    let mut failure = None;
    // SAFETY: `build` pushes exactly one value on success and nothing else survives: the
    // error path is discarded by `exec_raw`'s stack guard.
    let value: Value = unsafe {
        lua.exec_raw((), |state| {
            if ffi::lua_checkstack(state, SLOTS_PER_LEVEL) == 0 {
                failure = Some(BUILT_TOO_DEEP);
                return;
            }
            let top = ffi::lua_gettop(state);
            if let Err(e) = build(state) {
                ffi::lua_settop(state, top);
                failure = Some(e);
            }
        })?
    };
    match failure {
        Some(e) => Err(Error::runtime(e)),
        None => T::from_lua(value, lua),
    }
}

/// Pushes `json` as a Lua value: `null` as nil, or as `JSON.null` in an array (so that
/// positions hold); integers as integers, other numbers as floats.
///
/// # Safety
/// Runs inside [`build`]; the stack has room for one value.
pub(super) unsafe fn push_json(
    state: *mut ffi::lua_State,
    json: &Json,
    in_array: bool,
) -> Result<(), &'static str> {
    push_nested(state, json, in_array, 0)
}

/// [`push_json`] at `depth`.
unsafe fn push_nested(
    state: *mut ffi::lua_State,
    json: &Json,
    in_array: bool,
    depth: usize,
) -> Result<(), &'static str> {
    let room = |state| depth < MAX_BUILD_DEPTH && ffi::lua_checkstack(state, SLOTS_PER_LEVEL) != 0;
    match json {
        Json::Null if in_array => ffi::lua_pushlightuserdata(state, std::ptr::null_mut()),
        Json::Null => ffi::lua_pushnil(state),
        Json::Bool(b) => ffi::lua_pushboolean(state, c_int::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => ffi::lua_pushinteger(state, i),
            None => ffi::lua_pushnumber(state, n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => push_str(state, s),
        Json::Array(items) => {
            if !room(state) {
                return Err(BUILT_TOO_DEEP);
            }
            ffi::lua_createtable(state, size_hint(items.len()), 0);
            for (i, item) in items.iter().enumerate() {
                push_nested(state, item, true, depth + 1)?;
                ffi::lua_rawseti(state, -2, i as ffi::lua_Integer + 1);
            }
        }
        Json::Object(map) => {
            if !room(state) {
                return Err(BUILT_TOO_DEEP);
            }
            ffi::lua_createtable(state, 0, size_hint(map.len()));
            for (key, value) in map {
                if value.is_null() {
                    continue;
                }
                push_str(state, key);
                push_nested(state, value, false, depth + 1)?;
                ffi::lua_rawset(state, -3);
            }
        }
    }
    Ok(())
}

/// Pushes a string.
///
/// # Safety
/// Runs inside [`build`]; the stack has room for one value.
pub(super) unsafe fn push_str(state: *mut ffi::lua_State, s: &str) {
    ffi::lua_pushlstring(state, s.as_ptr().cast::<c_char>(), s.len());
}

/// A table size hint for `lua_createtable`.
pub(super) fn size_hint(n: usize) -> c_int {
    n.min(MAX_SIZE_HINT) as c_int
}
