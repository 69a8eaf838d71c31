//! Running Lua code in a stopped frame: `evaluate`, breakpoint conditions, log points.
//!
//! The code runs with an environment whose `__index` looks up the frame's locals, then its
//! upvalues, then the globals; assignments to a local or an upvalue are written back into
//! the frame once the code has run (the stack is then as it was when the stop began, so the
//! frame's level is valid again).

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{ChunkMode, Function, Lua, MultiValue, Table, Value};

use super::frames::{DebugLib, Frame};
use crate::engine::errors::error_message;
use crate::engine::format::tostring_lossy;

/// The chunk name of evaluated code.
const EVAL_CHUNK: &str = "=eval";

/// A frame's variables as the evaluated code sees them.
struct Snapshot {
    /// `(name, slot, value)`, innermost last.
    locals: Vec<(String, i64, Value)>,
    /// `(name, index, value)`.
    upvalues: Vec<(String, i64, Value)>,
    /// Slots assigned by the code: `(is_local, slot, value)`.
    writes: Vec<(bool, i64, Value)>,
}

impl Snapshot {
    fn lookup(&self, name: &str) -> Option<Value> {
        let local = self.locals.iter().rev().find(|(n, _, _)| n == name);
        let found = local.or_else(|| self.upvalues.iter().find(|(n, _, _)| n == name));
        found.map(|(_, _, v)| v.clone())
    }

    fn assign(&mut self, name: &str, value: &Value) -> bool {
        if let Some(slot) = self.locals.iter_mut().rev().find(|(n, _, _)| n == name) {
            slot.2 = value.clone();
            self.writes.push((true, slot.1, value.clone()));
            return true;
        }
        if let Some(slot) = self.upvalues.iter_mut().find(|(n, _, _)| n == name) {
            slot.2 = value.clone();
            self.writes.push((false, slot.1, value.clone()));
            return true;
        }
        false
    }
}

/// Compiles `code` as `return <code>` if it is an expression, else as a statement.
fn compile(lua: &Lua, code: &str, env: Table) -> Result<Function, String> {
    let load = |src: String| {
        lua.load(src)
            .set_name(EVAL_CHUNK)
            .set_mode(ChunkMode::Text)
            .set_environment(env.clone())
            .into_function()
    };
    load(format!("return {code}"))
        .or_else(|_| load(code.to_owned()))
        .map_err(|e| error_message(&e))
}

/// Evaluates `code` in `frame` (or in the global scope) and returns its values. Errors,
/// from compiling or running, come back as a message.
pub(crate) fn evaluate(
    lua: &Lua,
    lib: &DebugLib,
    frame: Option<&Frame>,
    code: &str,
) -> Result<Vec<Value>, String> {
    let Some(frame) = frame else {
        let f = compile(lua, code, lua.globals())?;
        return f
            .call::<MultiValue>(())
            .map(MultiValue::into_vec)
            .map_err(|e| error_message(&e));
    };
    let snapshot = Rc::new(RefCell::new(Snapshot {
        locals: lib.locals(frame.level).map_err(|e| error_message(&e))?,
        upvalues: match &frame.func {
            Some(f) => lib.upvalues(f).map_err(|e| error_message(&e))?,
            None => Vec::new(),
        },
        writes: Vec::new(),
    }));
    let env = proxy(lua, &snapshot).map_err(|e| error_message(&e))?;
    let f = compile(lua, code, env)?;
    let result = f
        .call::<MultiValue>(())
        .map(MultiValue::into_vec)
        .map_err(|e| error_message(&e));
    let writes = std::mem::take(&mut snapshot.borrow_mut().writes);
    for (is_local, slot, value) in writes {
        let done = if is_local {
            lib.setlocal
                .call::<Value>((frame.level, slot, value))
                .map(|_| ())
        } else {
            match &frame.func {
                Some(func) => lib
                    .setupvalue
                    .call::<Value>((func.clone(), slot, value))
                    .map(|_| ()),
                None => Ok(()),
            }
        };
        done.map_err(|e| error_message(&e))?;
    }
    result
}

/// The environment of code evaluated in a frame.
fn proxy(lua: &Lua, snapshot: &Rc<RefCell<Snapshot>>) -> mlua::Result<Table> {
    let env = lua.create_table()?;
    let mt = lua.create_table()?;
    let (read, write) = (snapshot.clone(), snapshot.clone());
    mt.set(
        "__index",
        lua.create_function(move |lua, (_, key): (Table, Value)| {
            if let Value::String(name) = &key {
                if let Some(v) = read.borrow().lookup(&name.to_string_lossy()) {
                    return Ok(v);
                }
            }
            lua.globals().get::<Value>(key)
        })?,
    )?;
    mt.set(
        "__newindex",
        lua.create_function(move |lua, (_, key, value): (Table, Value, Value)| {
            if let Value::String(name) = &key {
                if write.borrow_mut().assign(&name.to_string_lossy(), &value) {
                    return Ok(());
                }
            }
            lua.globals().set(key, value)
        })?,
    )?;
    env.set_metatable(Some(mt))?;
    Ok(env)
}

/// Whether a breakpoint condition holds. A condition that fails to compile or raises
/// counts as true (the stop shows the user why), and the message is returned.
pub(crate) fn condition_holds(
    lua: &Lua,
    lib: &DebugLib,
    frame: &Frame,
    condition: &str,
) -> (bool, Option<String>) {
    match evaluate(lua, lib, Some(frame), condition) {
        Ok(values) => {
            let truthy = !matches!(
                values.first(),
                None | Some(Value::Nil) | Some(Value::Boolean(false))
            );
            (truthy, None)
        }
        Err(e) => (true, Some(e)),
    }
}

/// A log point's message with every `{expression}` replaced by its value (`{{` and `}}`
/// stand for braces).
pub(crate) fn log_message(lua: &Lua, lib: &DebugLib, frame: &Frame, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            out.push('}');
            rest = after;
            continue;
        }
        let Some(end) = tail.find('}') else {
            out.push_str(tail);
            return out;
        };
        let expr = &tail[1..end];
        match evaluate(lua, lib, Some(frame), expr) {
            Ok(values) => {
                let shown: Vec<String> = values.iter().map(|v| tostring_lossy(lua, v)).collect();
                out.push_str(&if shown.is_empty() {
                    "nil".to_owned()
                } else {
                    shown.join("\t")
                });
            }
            Err(e) => out.push_str(&format!("<error: {e}>")),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}
