//! The answers to [`Query`]s: DAP response bodies built from the stopped stack, the
//! globals, and the files of cells.

use mlua::{Lua, Value};
use serde_json::{json, Value as Json};

use super::frames::{self, Target};
use super::state::{Debugger, Mode};
use super::values::{parse_key, preview, type_name};
use super::{eval, Query};
use crate::engine::format::format_value;

/// Why a query that needs a stop cannot be answered.
const NOT_STOPPED: &str = "the thread is not stopped";
/// Why code cannot be evaluated now.
const RUNNING: &str = "the program is running: pause it, or wait for a breakpoint";

impl Debugger {
    /// Answers a query: the response body, or why there is none.
    pub(super) fn answer(&self, lua: &Lua, query: Query, mode: Mode) -> Result<Json, String> {
        let linked = self.linked().ok_or("the debugger is not enabled")?;
        let lib = &linked.lib;
        let stopped = mode == Mode::Stopped;
        match query {
            Query::StackTrace {
                start_frame,
                levels,
            } => {
                if !stopped {
                    return Err(NOT_STOPPED.into());
                }
                let frames = self.frames.borrow();
                let take = if levels == 0 { usize::MAX } else { levels };
                let list: Vec<Json> = frames
                    .iter()
                    .enumerate()
                    .skip(start_frame)
                    .take(take)
                    .map(|(i, f)| {
                        let mut frame = json!({
                            "id": self.frame_id(i), "name": f.name, "line": f.line, "column": 1,
                        });
                        let source = f.source.as_deref();
                        if let Some(s) =
                            source.and_then(|s| frames::dap_source(s, self.cwd.as_deref()))
                        {
                            frame["source"] = s;
                        } else if let Some(name) = source.and_then(|s| s.strip_prefix('=')) {
                            frame["source"] = json!({"name": name});
                        } else {
                            frame["presentationHint"] = json!("subtle");
                        }
                        frame
                    })
                    .collect();
                Ok(json!({"stackFrames": list, "totalFrames": frames.len()}))
            }
            Query::Scopes { frame_id } => {
                if !stopped {
                    return Err(NOT_STOPPED.into());
                }
                let index = self
                    .frame_index(frame_id)
                    .ok_or_else(|| format!("no frame {frame_id}"))?;
                let mut refs = self.refs.borrow_mut();
                let scopes = json!([
                    {"name": "Locals", "presentationHint": "locals", "expensive": false,
                     "variablesReference": refs.add(Target::Locals(index))},
                    {"name": "Upvalues", "expensive": false,
                     "variablesReference": refs.add(Target::Upvalues(index))},
                    {"name": "Globals", "expensive": false,
                     "variablesReference": refs.add(Target::Globals)},
                ]);
                Ok(json!({ "scopes": scopes }))
            }
            Query::Variables {
                reference,
                start,
                count,
            } => {
                let target = self
                    .refs
                    .borrow()
                    .get(reference)
                    .ok_or_else(|| format!("no variables with reference {reference}"))?;
                let pairs: Vec<(String, Value)> = match &target {
                    Target::Table(t, expr) => {
                        let mut refs = self.refs.borrow_mut();
                        let vars = frames::table_children(lua, &mut refs, t, expr, start, count);
                        return Ok(json!({ "variables": vars }));
                    }
                    Target::Globals => frames::user_globals(lua, &linked.builtins),
                    Target::Locals(i) => {
                        let level = self.frame_level(*i)?;
                        let locals = lib.locals(level).map_err(|e| e.to_string())?;
                        locals.into_iter().map(|(n, _, v)| (n, v)).collect()
                    }
                    Target::Upvalues(i) => match self.frame_func(*i)? {
                        Some(f) => lib
                            .upvalues(&f)
                            .map_err(|e| e.to_string())?
                            .into_iter()
                            .map(|(n, _, v)| (n, v))
                            .collect(),
                        None => Vec::new(),
                    },
                };
                let take = if count == 0 { usize::MAX } else { count };
                let mut refs = self.refs.borrow_mut();
                let vars: Vec<Json> = pairs
                    .iter()
                    .skip(start)
                    .take(take)
                    .map(|(n, v)| frames::variable(lua, &mut refs, n, v, Some(n.to_string())))
                    .collect();
                Ok(json!({ "variables": vars }))
            }
            Query::Evaluate {
                expression,
                frame_id,
                context: _,
            } => {
                if mode == Mode::Running {
                    return Err(RUNNING.into());
                }
                let frame = match frame_id {
                    Some(id) if stopped => {
                        let i = self
                            .frame_index(id)
                            .ok_or_else(|| format!("no frame {id}"))?;
                        Some(self.frames.borrow()[i].clone())
                    }
                    _ => None,
                };
                let values = eval::evaluate(lua, lib, frame.as_ref(), &expression)?;
                let shown: Vec<String> = values.iter().map(|v| preview(lua, v)).collect();
                let first = values.first().cloned().unwrap_or(Value::Nil);
                let mut refs = self.refs.borrow_mut();
                let var = frames::variable(lua, &mut refs, "", &first, Some(expression.clone()));
                Ok(json!({
                    "result": shown.join(", "),
                    "type": type_name(&first),
                    "variablesReference": var["variablesReference"],
                }))
            }
            Query::SetVariable {
                reference,
                name,
                value,
            } => self.set_variable(lua, reference, &name, &value, mode),
            Query::Source { path } => {
                let chunk = if path.starts_with('@') || path.starts_with('=') {
                    path.clone()
                } else {
                    format!("@{path}")
                };
                if let Some(code) = self.sources.borrow().get(&chunk) {
                    return Ok(json!({"content": code, "mimeType": "text/x-lua"}));
                }
                let file = chunk.strip_prefix('@').unwrap_or(&path);
                std::fs::read_to_string(file)
                    .map(|content| json!({"content": content, "mimeType": "text/x-lua"}))
                    .map_err(|e| format!("cannot read {file}: {e}"))
            }
            Query::ExceptionInfo => {
                let message = self
                    .exception
                    .borrow()
                    .clone()
                    .ok_or("the thread is not stopped on an error")?;
                Ok(json!({
                    "exceptionId": "RuntimeError", "description": message,
                    "breakMode": "unhandled",
                    "details": {"message": message, "typeName": "RuntimeError"},
                }))
            }
            Query::InspectVariables => {
                let mut refs = self.refs.borrow_mut();
                let vars: Vec<Json> = frames::user_globals(lua, &linked.builtins)
                    .iter()
                    .map(|(n, v)| frames::variable(lua, &mut refs, n, v, Some(n.clone())))
                    .collect();
                Ok(json!({ "variables": vars }))
            }
            Query::RichInspectVariables { name, frame_id } => {
                let value = match frame_id {
                    Some(id) if stopped => {
                        let i = self
                            .frame_index(id)
                            .ok_or_else(|| format!("no frame {id}"))?;
                        let frame = self.frames.borrow()[i].clone();
                        eval::evaluate(lua, lib, Some(&frame), &name)?
                            .into_iter()
                            .next()
                            .unwrap_or(Value::Nil)
                    }
                    _ => lua
                        .globals()
                        .raw_get::<Value>(name.as_str())
                        .unwrap_or(Value::Nil),
                };
                Ok(json!({
                    "data": {"text/plain": format_value(lua, &value)},
                    "metadata": {},
                }))
            }
            Query::CopyToGlobals { src, dst, frame_id } => {
                if !stopped {
                    return Err(NOT_STOPPED.into());
                }
                let i = self
                    .frame_index(frame_id)
                    .ok_or_else(|| format!("no frame {frame_id}"))?;
                let frame = self.frames.borrow()[i].clone();
                let value = eval::evaluate(lua, lib, Some(&frame), &src)?
                    .into_iter()
                    .next()
                    .unwrap_or(Value::Nil);
                lua.globals()
                    .set(dst.as_str(), value)
                    .map_err(|e| e.to_string())?;
                Ok(json!({}))
            }
            Query::DumpCell { path, code } => {
                let file = std::path::Path::new(&path);
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                std::fs::write(file, &code).map_err(|e| format!("cannot write {path}: {e}"))?;
                self.record_source(&format!("@{path}"), &code);
                Ok(json!({ "sourcePath": path }))
            }
            Query::Modules => {
                let loaded: mlua::Table = lua
                    .globals()
                    .get::<mlua::Table>("package")
                    .and_then(|p| p.get("loaded"))
                    .map_err(|e| e.to_string())?;
                let mut names: Vec<String> = loaded
                    .pairs::<String, Value>()
                    .filter_map(Result::ok)
                    .map(|(k, _)| k)
                    .filter(|k| !linked.builtins.contains(k))
                    .collect();
                names.sort();
                let modules: Vec<Json> =
                    names.iter().map(|n| json!({"id": n, "name": n})).collect();
                Ok(json!({"modules": modules, "totalModules": names.len()}))
            }
        }
    }

    fn frame_level(&self, index: usize) -> Result<i64, String> {
        self.frames
            .borrow()
            .get(index)
            .map(|f| f.level)
            .ok_or_else(|| NOT_STOPPED.to_owned())
    }

    fn frame_func(&self, index: usize) -> Result<Option<mlua::Function>, String> {
        self.frames
            .borrow()
            .get(index)
            .map(|f| f.func.clone())
            .ok_or_else(|| NOT_STOPPED.to_owned())
    }

    /// `setVariable`: evaluates `value` (in the scope's frame, or the top frame) and stores
    /// it.
    fn set_variable(
        &self,
        lua: &Lua,
        reference: i64,
        name: &str,
        value: &str,
        mode: Mode,
    ) -> Result<Json, String> {
        if mode == Mode::Running {
            return Err(RUNNING.into());
        }
        let linked = self.linked().ok_or("the debugger is not enabled")?;
        let lib = &linked.lib;
        let target = self
            .refs
            .borrow()
            .get(reference)
            .ok_or_else(|| format!("no variables with reference {reference}"))?;
        let frame_index = match target {
            Target::Locals(i) | Target::Upvalues(i) => Some(i),
            _ if self.is_stopped() && !self.frames.borrow().is_empty() => Some(0),
            _ => None,
        };
        let frame = frame_index.and_then(|i| self.frames.borrow().get(i).cloned());
        let new = eval::evaluate(lua, lib, frame.as_ref(), value)?
            .into_iter()
            .next()
            .unwrap_or(Value::Nil);
        let err = |e: mlua::Error| e.to_string();
        match &target {
            Target::Locals(_) => {
                let frame = frame.ok_or(NOT_STOPPED)?;
                let locals = lib.locals(frame.level).map_err(err)?;
                let (_, slot, _) = locals
                    .iter()
                    .find(|(n, _, _)| n == name)
                    .ok_or_else(|| format!("no local {name}"))?;
                lib.setlocal
                    .call::<Value>((frame.level, *slot, new.clone()))
                    .map_err(err)?;
            }
            Target::Upvalues(_) => {
                let func = frame.and_then(|f| f.func).ok_or(NOT_STOPPED)?;
                let ups = lib.upvalues(&func).map_err(err)?;
                let (_, index, _) = ups
                    .iter()
                    .find(|(n, _, _)| n == name)
                    .ok_or_else(|| format!("no upvalue {name}"))?;
                lib.setupvalue
                    .call::<Value>((func.clone(), *index, new.clone()))
                    .map_err(err)?;
            }
            Target::Globals => lua.globals().set(name, new.clone()).map_err(err)?,
            Target::Table(t, _) => {
                let key = parse_key(lua, name)
                    .ok_or_else(|| format!("cannot assign to the entry {name}"))?;
                t.raw_set(key, new.clone()).map_err(err)?;
            }
        }
        let mut refs = self.refs.borrow_mut();
        let var = frames::variable(lua, &mut refs, name, &new, None);
        Ok(json!({
            "value": var["value"], "type": var["type"],
            "variablesReference": var["variablesReference"],
        }))
    }
}
