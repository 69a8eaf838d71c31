//! Errors: the private sentinels raised for interrupts and `os.exit`, the message handler
//! that records a readable message and a traceback where the error was raised, and the
//! conversion of all of it into a [`LuaError`].

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use mlua::{Error, Lua, MultiValue, Value};

use super::shared::Shared;

use super::format::format_value;
use super::LuaError;

/// `ename` of a compile error.
pub(crate) const SYNTAX_ERROR: &str = "SyntaxError";
/// `ename` of a runtime error.
pub(crate) const RUNTIME_ERROR: &str = "RuntimeError";
/// `ename` of an interrupted cell.
pub(crate) const KEYBOARD_INTERRUPT: &str = "KeyboardInterrupt";
/// `ename` when a Rust callback panicked (a bug in the engine, caught).
pub(crate) const INTERNAL_ERROR: &str = "InternalError";

/// Chunk names of the engine's own Lua code start with this (after the `=`); their frames
/// are left out of tracebacks and error positions.
pub(crate) const INTERNAL_CHUNK_PREFIX: &str = "[llmspell";

/// Raised inside Lua when the interrupt flag is seen, or when input was interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyboardInterrupt;

impl fmt::Display for KeyboardInterrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyboardInterrupt: interrupted")
    }
}

impl std::error::Error for KeyboardInterrupt {}

/// Raised inside Lua by `os.exit(code)` in script mode; the engine recognises it and ends
/// the cell with `ExecuteOutcome::Exit(code)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExitRequest(pub i32);

impl fmt::Display for ExitRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "os.exit({})", self.0)
    }
}

impl std::error::Error for ExitRequest {}

/// Wraps `pcall`, `xpcall` and `coroutine.resume` so that they cannot swallow an interrupt
/// or an exit: when the protected call returns while one is pending, it is raised again.
const GUARD_PRELUDE: &str = r#"
local check, pcall, xpcall, resume = ...
_G.pcall = function(...) return check(pcall(...)) end
_G.xpcall = function(...) return check(xpcall(...)) end
coroutine.resume = function(...) return check(resume(...)) end
"#;

/// Installs the `pcall`/`xpcall` guards (see [`GUARD_PRELUDE`]).
pub(crate) fn install_pcall_guards(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    let sh = shared.clone();
    let check = lua.create_function(move |_, results: MultiValue| {
        if let Some(code) = sh.exit_code.get() {
            return Err(Error::external(ExitRequest(code)));
        }
        if sh.interrupting.get() {
            return Err(Error::external(KeyboardInterrupt));
        }
        Ok(results)
    })?;
    let globals = lua.globals();
    let (pcall, xpcall): (Value, Value) = (globals.get("pcall")?, globals.get("xpcall")?);
    let resume: Value = globals.get::<mlua::Table>("coroutine")?.get("resume")?;
    lua.load(GUARD_PRELUDE)
        .set_name("=[llmspell guard]")
        .call::<()>((check, pcall, xpcall, resume))
}

/// What the message handler saw when an error was raised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Captured {
    /// A readable message for the error value.
    pub evalue: String,
    /// The `stack traceback:` lines at the point of the error.
    pub stack: Vec<String>,
}

/// The slot the message handler writes into.
pub(crate) type CapturedSlot = Rc<RefCell<Option<Captured>>>;

/// Called by the message handler with the message of an uncaught error (not an interrupt
/// or an exit), before the stack unwinds: the debugger stops there.
pub(crate) type OnUncaught = Rc<dyn Fn(&Lua, &str)>;

/// Creates the message handler passed to `xpcall` around every cell: it records the error
/// message and the traceback, lets `on_uncaught` see the error, and returns the error
/// value unchanged.
pub(crate) fn create_message_handler(
    lua: &Lua,
    slot: CapturedSlot,
    on_uncaught: Option<OnUncaught>,
) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, err: Value| {
        let mut evalue = describe_error_value(lua, &err);
        let sentinel = matches!(&err, Value::Error(e) if is_sentinel(e));
        if matches!(&err, Value::Error(_)) && !sentinel {
            evalue = format!("{}{}", where_prefix(lua), evalue);
        }
        let stack = lua
            .traceback(None, 2)
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        let stack = stack.lines().map(str::to_owned).collect();
        if !sentinel {
            if let Some(f) = &on_uncaught {
                f(lua, &evalue);
            }
        }
        *slot.borrow_mut() = Some(Captured { evalue, stack });
        Ok(err)
    })
}

/// A readable message for any error value: strings as they are, tables through
/// `__tostring` or the pretty-printer, Rust errors through their cause.
pub(crate) fn describe_error_value(lua: &Lua, err: &Value) -> String {
    match err {
        Value::String(s) => s.to_string_lossy(),
        Value::Error(e) => error_message(e),
        Value::Nil => "nil".to_owned(),
        other => format_value(lua, other),
    }
}

/// The message of an mlua error, without mlua's `runtime error: ` prefixes and with
/// callback wrappers removed.
pub(crate) fn error_message(e: &Error) -> String {
    match e {
        Error::CallbackError { cause, .. } => error_message(cause),
        Error::WithContext { context, cause } => format!("{context}: {}", error_message(cause)),
        Error::RuntimeError(m) | Error::MemoryError(m) | Error::SafetyError(m) => m.clone(),
        Error::SyntaxError { message, .. } => message.clone(),
        Error::ExternalError(x) => x.to_string(),
        other => other.to_string(),
    }
}

/// Finds an external error of type `T` wrapped anywhere in `e`.
pub(crate) fn find_external<T: std::error::Error + Copy + 'static>(e: &Error) -> Option<T> {
    match e {
        Error::CallbackError { cause, .. } | Error::WithContext { cause, .. } => {
            find_external(cause)
        }
        Error::BadArgument { cause, .. } => find_external(cause),
        Error::ExternalError(x) => x.downcast_ref::<T>().copied(),
        _ => None,
    }
}

/// Whether `e` is one of the engine's sentinels.
fn is_sentinel(e: &Error) -> bool {
    find_external::<KeyboardInterrupt>(e).is_some() || find_external::<ExitRequest>(e).is_some()
}

/// `source:line: ` of the innermost Lua function on the stack, as `luaL_where` gives it, for
/// errors raised by Rust callbacks (which carry no position).
fn where_prefix(lua: &Lua) -> String {
    for level in 1..8 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source();
            let short_src = src.short_src.as_deref().unwrap_or("?");
            if src.what == "C" || short_src.starts_with(INTERNAL_CHUNK_PREFIX) {
                return None;
            }
            let line = d.current_line()?;
            Some(format!("{short_src}:{line}: "))
        });
        match found {
            None => break,
            Some(Some(prefix)) => return prefix,
            Some(None) => {}
        }
    }
    String::new()
}

/// Builds a [`LuaError`]: the first traceback lines are `<ename>: <evalue>`, then the stack.
pub(crate) fn lua_error(ename: &str, evalue: String, stack: Vec<String>) -> LuaError {
    let mut traceback: Vec<String> = format!("{ename}: {evalue}")
        .lines()
        .map(str::to_owned)
        .collect();
    traceback.extend(trim_stack(stack));
    LuaError {
        ename: ename.to_owned(),
        evalue,
        traceback,
    }
}

/// Removes the frames of the engine's own machinery from a traceback: its Lua wrappers,
/// and at the bottom the `xpcall` the cell runs under and the C entry point.
fn trim_stack(stack: Vec<String>) -> Vec<String> {
    let internal = format!("\t{INTERNAL_CHUNK_PREFIX}");
    let mut stack: Vec<String> = stack
        .into_iter()
        .filter(|l| !l.starts_with(&internal) && l.trim() != "[C]: in hook '?'")
        .collect();
    while let Some(last) = stack.last() {
        let t = last.trim();
        if t == "[C]: in ?" || t.starts_with("[C]: in function 'xpcall'") {
            stack.pop();
        } else {
            break;
        }
    }
    if stack.len() == 1 {
        // Only the "stack traceback:" header is left.
        stack.clear();
    }
    stack
}

/// The [`LuaError`] for a compile error reported by mlua.
pub(crate) fn syntax_error(e: &Error) -> LuaError {
    lua_error(SYNTAX_ERROR, error_message(e), Vec::new())
}

/// The [`LuaError`] for an mlua error that reached Rust without going through the message
/// handler.
pub(crate) fn from_mlua_error(e: &Error) -> LuaError {
    if find_external::<KeyboardInterrupt>(e).is_some() {
        return lua_error(KEYBOARD_INTERRUPT, "interrupted".to_owned(), Vec::new());
    }
    match e {
        Error::SyntaxError { .. } => syntax_error(e),
        _ => {
            let msg = error_message(e);
            match msg.split_once("\nstack traceback:") {
                Some((head, tail)) => {
                    let mut stack = vec!["stack traceback:".to_owned()];
                    stack.extend(tail.lines().filter(|l| !l.is_empty()).map(str::to_owned));
                    lua_error(RUNTIME_ERROR, head.to_owned(), stack)
                }
                None => lua_error(RUNTIME_ERROR, msg, Vec::new()),
            }
        }
    }
}

/// The [`LuaError`] for a Rust panic caught at the engine's boundary.
pub(crate) fn panic_error(payload: &(dyn std::any::Any + Send)) -> LuaError {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    };
    lua_error(
        INTERNAL_ERROR,
        format!("a Rust callback panicked: {msg}"),
        Vec::new(),
    )
}
