//! The stack of a stopped engine, its scopes and variables, through Lua's `debug` library.
//!
//! The library is opened into a table that only Rust holds (user code still has no
//! `debug`). Its functions count stack levels from their caller, and the engine calls them
//! only from the context of the stop (the hook, or the message handler), so a level taken
//! when the stop began stays valid until it ends.

use std::collections::HashSet;

use mlua::{ffi, Function, Lua, MultiValue, Table, Value};
use serde_json::{json, Value as Json};

use super::values::{child_expression, key_name, preview, sorted_entries, type_name};
use crate::engine::errors::INTERNAL_CHUNK_PREFIX;

/// Frames deeper than this are not listed.
const MAX_FRAMES: i64 = 200;
/// Locals or upvalues beyond this index are not looked at.
const MAX_SLOTS: i64 = 255;

/// The functions of Lua's `debug` library the debugger uses.
pub(crate) struct DebugLib {
    /// `debug.getinfo`.
    pub getinfo: Function,
    /// `debug.getlocal`.
    pub getlocal: Function,
    /// `debug.setlocal`.
    pub setlocal: Function,
    /// `debug.getupvalue`.
    pub getupvalue: Function,
    /// `debug.setupvalue`.
    pub setupvalue: Function,
}

impl DebugLib {
    /// Opens the library into a table of its own, not a global.
    pub fn open(lua: &Lua) -> mlua::Result<DebugLib> {
        // SAFETY: `luaopen_debug` is a plain `lua_CFunction` that builds the library table
        // and returns it. The table never reaches Lua code: only these five functions are
        // kept, in Rust, and called on frames of user code.
        let open = unsafe { lua.create_c_function(ffi::luaopen_debug)? };
        let lib: Table = open.call(())?;
        Ok(DebugLib {
            getinfo: lib.get("getinfo")?,
            getlocal: lib.get("getlocal")?,
            setlocal: lib.get("setlocal")?,
            getupvalue: lib.get("getupvalue")?,
            setupvalue: lib.get("setupvalue")?,
        })
    }

    /// The locals active at `level`, innermost last, without temporaries: `(name, slot,
    /// value)`. A name declared twice keeps only its innermost slot.
    pub fn locals(&self, level: i64) -> mlua::Result<Vec<(String, i64, Value)>> {
        let mut out: Vec<(String, i64, Value)> = Vec::new();
        for n in 1..=MAX_SLOTS {
            let found: MultiValue = self.getlocal.call((level, n))?;
            let mut found = found.into_iter();
            let Some(Value::String(name)) = found.next() else {
                break;
            };
            let name = name.to_string_lossy();
            if name.starts_with('(') {
                continue;
            }
            let value = found.next().unwrap_or(Value::Nil);
            out.retain(|(n, _, _)| *n != name);
            out.push((name, n, value));
        }
        Ok(out)
    }

    /// The upvalues of `func`, without `_ENV`: `(name, index, value)`.
    pub fn upvalues(&self, func: &Function) -> mlua::Result<Vec<(String, i64, Value)>> {
        let mut out = Vec::new();
        for n in 1..=MAX_SLOTS {
            let found: MultiValue = self.getupvalue.call((func.clone(), n))?;
            let mut found = found.into_iter();
            let Some(Value::String(name)) = found.next() else {
                break;
            };
            let name = name.to_string_lossy();
            if name.is_empty() || name == "_ENV" {
                continue;
            }
            out.push((name, n, found.next().unwrap_or(Value::Nil)));
        }
        Ok(out)
    }
}

/// One frame of a stopped stack.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    /// Its level for the `debug` functions, counted from the stop's context.
    pub level: i64,
    /// The function's name, or `main chunk`.
    pub name: String,
    /// The chunk source (`@/path/x.lua`, `=In[3]`); `None` for C functions.
    pub source: Option<String>,
    /// The current line (0 if unknown).
    pub line: i64,
    /// The function, for its upvalues.
    pub func: Option<Function>,
}

/// One level of the stack: its frame, and whether it is a C function. `None` past the
/// bottom; `Some(None)` for the engine's own chunks.
fn level_info(lib: &DebugLib, level: i64) -> mlua::Result<Option<Option<(Frame, bool)>>> {
    let info: Value = lib.getinfo.call((level, "nSlf"))?;
    let Value::Table(info) = info else {
        return Ok(None);
    };
    let what: String = info.get("what").unwrap_or_default();
    let source: String = info.get("source").unwrap_or_default();
    if source
        .strip_prefix('=')
        .is_some_and(|s| s.starts_with(INTERNAL_CHUNK_PREFIX))
    {
        return Ok(Some(None));
    }
    let is_c = what == "C";
    let name: Option<String> = info.get("name").ok().flatten();
    let name = match (name, what.as_str()) {
        (Some(n), _) if is_c => format!("[C] {n}"),
        (Some(n), _) => n,
        (None, "main") => "main chunk".to_owned(),
        (None, _) if is_c => "[C]".to_owned(),
        (None, _) => "?".to_owned(),
    };
    let line: i64 = info.get::<Option<i64>>("currentline")?.unwrap_or(0);
    let frame = Frame {
        level,
        name,
        source: (!is_c).then_some(source),
        line: line.max(0),
        func: info.get("func").ok(),
    };
    Ok(Some(Some((frame, is_c))))
}

/// The frame at `level` (1 is the function the hook fired in).
pub(crate) fn frame_at(lib: &DebugLib, level: i64) -> mlua::Result<Option<Frame>> {
    Ok(level_info(lib, level)?.flatten().map(|(f, _)| f))
}

/// The frames of the stack seen from the stop's context: leading C frames (the message
/// handler, `error`) and the engine's own chunks are left out, and so are the C frames at
/// the bottom (the `xpcall` a cell runs under).
pub(crate) fn stack(lib: &DebugLib) -> mlua::Result<Vec<Frame>> {
    let mut frames: Vec<Frame> = Vec::new();
    for level in 1..=MAX_FRAMES {
        match level_info(lib, level)? {
            None => break,
            Some(None) => continue,
            Some(Some((_, true))) if frames.is_empty() => continue,
            Some(Some((frame, _))) => frames.push(frame),
        }
    }
    while frames.last().is_some_and(|f| f.source.is_none()) {
        frames.pop();
    }
    Ok(frames)
}

/// What a `variablesReference` points at while the engine is stopped (or idle).
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// The locals of frame `n` (an index into the stop's frames).
    Locals(usize),
    /// The upvalues of frame `n`.
    Upvalues(usize),
    /// The user's globals.
    Globals,
    /// A table, with the expression that reaches it.
    Table(Table, String),
}

/// The references handed out since the last stop. Ids keep growing across stops, so a
/// stale reference is an error rather than another variable.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    first: i64,
    targets: Vec<Target>,
}

impl Refs {
    /// A new reference to `target`.
    pub fn add(&mut self, target: Target) -> i64 {
        if self.first == 0 {
            self.first = 1;
        }
        self.targets.push(target);
        self.first + self.targets.len() as i64 - 1
    }

    /// What `reference` points at.
    pub fn get(&self, reference: i64) -> Option<Target> {
        let i = reference.checked_sub(self.first.max(1))?;
        usize::try_from(i)
            .ok()
            .and_then(|i| self.targets.get(i))
            .cloned()
    }

    /// Forgets every reference.
    pub fn clear(&mut self) {
        self.first = self.first.max(1) + self.targets.len() as i64;
        self.targets.clear();
    }
}

/// One DAP `Variable`; a table gets a reference for its children.
pub(crate) fn variable(
    lua: &Lua,
    refs: &mut Refs,
    name: &str,
    value: &Value,
    evaluate_name: Option<String>,
) -> Json {
    let reference = match (value, &evaluate_name) {
        (Value::Table(t), expr) if sorted_entries(t, 1).len() == 1 => refs.add(Target::Table(
            t.clone(),
            expr.clone().unwrap_or_else(|| name.to_owned()),
        )),
        _ => 0,
    };
    let mut v = json!({
        "name": name,
        "value": preview(lua, value),
        "type": type_name(value),
        "variablesReference": reference,
    });
    if let Some(expr) = evaluate_name {
        v["evaluateName"] = json!(expr);
    }
    v
}

/// The children of a table as DAP variables, sorted, from `start`, at most `count` (0: all).
pub(crate) fn table_children(
    lua: &Lua,
    refs: &mut Refs,
    table: &Table,
    expr: &str,
    start: usize,
    count: usize,
) -> Vec<Json> {
    let entries = sorted_entries(table, usize::MAX);
    let take = if count == 0 { usize::MAX } else { count };
    entries
        .iter()
        .skip(start)
        .take(take)
        .map(|(k, v)| {
            let name = key_name(lua, k);
            let child = child_expression(expr, &name);
            variable(lua, refs, &name, v, Some(child))
        })
        .collect()
}

/// The globals that user code defined: those not present when the debugger started.
pub(crate) fn user_globals(lua: &Lua, builtins: &HashSet<String>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = lua
        .globals()
        .pairs::<Value, Value>()
        .filter_map(Result::ok)
        .filter_map(|(k, v)| match k {
            Value::String(s) => Some((s.to_string_lossy(), v)),
            _ => None,
        })
        .filter(|(k, _)| !builtins.contains(k))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The DAP `Source` of a chunk source, relative paths resolved against `cwd`.
pub(crate) fn dap_source(source: &str, cwd: Option<&std::path::Path>) -> Option<Json> {
    let path = source.strip_prefix('@')?;
    let full = match cwd {
        Some(cwd) if !path.starts_with('/') => cwd.join(path.trim_start_matches("./")),
        _ => std::path::PathBuf::from(path),
    };
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned());
    Some(json!({"name": name, "path": full.to_string_lossy()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_grow_across_clears() {
        let mut refs = Refs::default();
        let a = refs.add(Target::Globals);
        let b = refs.add(Target::Locals(0));
        assert_eq!((a, b), (1, 2));
        assert!(matches!(refs.get(2), Some(Target::Locals(0))));
        assert!(refs.get(0).is_none() && refs.get(3).is_none() && refs.get(-5).is_none());
        refs.clear();
        assert!(refs.get(1).is_none(), "stale");
        let c = refs.add(Target::Globals);
        assert_eq!(c, 3);
        assert!(matches!(refs.get(3), Some(Target::Globals)));
    }

    #[test]
    fn sources_of_chunks() {
        let cwd = std::path::Path::new("/w");
        assert_eq!(
            dap_source("@/t/a.lua", Some(cwd)),
            Some(json!({"name": "a.lua", "path": "/t/a.lua"}))
        );
        assert_eq!(
            dap_source("@./m.lua", Some(cwd)),
            Some(json!({"name": "m.lua", "path": "/w/m.lua"}))
        );
        assert_eq!(dap_source("=In[3]", Some(cwd)), None);
    }
}
