//! The display API, named as in xeus-lua: a global `ilua` table with
//!
//! - `ilua.display.display(...)`: shows each value (`text/plain`, pretty-printed), or, for a
//!   table whose keys are all MIME types, that bundle;
//! - `ilua.display.display_data(data [, metadata [, transient]])` and
//!   `ilua.display.update_display_data(data [, metadata], transient)`: the raw messages;
//!   `transient` is a table (`{display_id = "x"}`) or a display id string;
//! - `ilua.display.update(display_id, data [, metadata])`;
//! - `ilua.display.clear_output([wait])`;
//! - helpers `plain_text`, `html`, `markdown`, `latex`, `json`, `svg`, `png`, `jpeg`
//!   (base64 text) and `mimetype(mime, data)`, each taking an optional display id string
//!   or `{display_id = ..., metadata = ...}` as their last argument;
//! - `ilua.json.encode(value)` and `ilua.json.decode(text)`.
//!
//! Each call flushes buffered stream output first, then emits its event.

use std::rc::Rc;

use mlua::{Error, Lua, Table, Value};
use serde_json::{Map, Number};

use super::format::{format_value, tostring_lossy};
use super::shared::Shared;
use super::{EngineEvent, MimeBundle};

/// Tables nested deeper than this cannot be converted to JSON (this also stops cycles).
const MAX_JSON_DEPTH: usize = 64;

/// The helpers written in Lua on top of the Rust primitives.
const DISPLAY_PRELUDE: &str = r##"
local d = ...
local type, select, error = type, select, error
local function options(o)
  if o == nil then return nil, nil end
  if type(o) == "string" then return nil, { display_id = o } end
  if type(o) == "table" then
    return o.metadata, o.display_id and { display_id = o.display_id } or nil
  end
  error("expected a display_id string or an options table", 3)
end
function d.display(...)
  for i = 1, select("#", ...) do d.display_data((select(i, ...))) end
end
function d.mimetype(mime, data, o)
  local metadata, transient = options(o)
  return d.display_data({ [mime] = data }, metadata, transient)
end
local helpers = {
  plain_text = "text/plain", html = "text/html", markdown = "text/markdown",
  latex = "text/latex", json = "application/json", svg = "image/svg+xml",
  png = "image/png", jpeg = "image/jpeg",
}
for name, mime in pairs(helpers) do
  d[name] = function(data, o) return d.mimetype(mime, data, o) end
end
function d.update(display_id, data, metadata)
  return d.update_display_data(data, metadata, { display_id = display_id })
end
"##;

/// Installs the global `ilua` table.
pub(crate) fn install(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    let ilua = lua.create_table()?;
    let display = lua.create_table()?;

    let sh = shared.clone();
    let display_data = lua.create_function(
        move |lua, (data, metadata, transient): (Value, Value, Value)| {
            let event = EngineEvent::DisplayData {
                id: sh.id.get(),
                data: to_bundle(lua, &data)?,
                metadata: to_object(lua, &metadata, "metadata")?,
                transient: to_transient(lua, &transient)?,
            };
            sh.emit(event);
            Ok(())
        },
    )?;
    display.set("display_data", display_data)?;

    let sh = shared.clone();
    let update = lua.create_function(
        move |lua, (data, metadata, transient): (Value, Value, Value)| {
            let transient = to_transient(lua, &transient)?;
            if !transient
                .get("display_id")
                .is_some_and(serde_json::Value::is_string)
            {
                return Err(Error::runtime(
                    "update_display_data: transient.display_id is required",
                ));
            }
            let event = EngineEvent::UpdateDisplayData {
                id: sh.id.get(),
                data: to_bundle(lua, &data)?,
                metadata: to_object(lua, &metadata, "metadata")?,
                transient,
            };
            sh.emit(event);
            Ok(())
        },
    )?;
    display.set("update_display_data", update)?;

    let sh = shared.clone();
    let clear = lua.create_function(move |_, wait: Option<bool>| {
        sh.emit(EngineEvent::ClearOutput {
            id: sh.id.get(),
            wait: wait.unwrap_or(false),
        });
        Ok(())
    })?;
    display.set("clear_output", clear)?;

    lua.load(DISPLAY_PRELUDE)
        .set_name("=[llmspell display]")
        .call::<()>(display.clone())?;
    ilua.set("display", display)?;

    let json = lua.create_table()?;
    json.set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let j = to_json(lua, &v, 0)?;
            serde_json::to_string(&j).map_err(Error::external)
        })?,
    )?;
    json.set(
        "decode",
        lua.create_function(|lua, text: mlua::String| {
            let j: serde_json::Value =
                serde_json::from_slice(&text.as_bytes()).map_err(Error::external)?;
            from_json(lua, &j)
        })?,
    )?;
    ilua.set("json", json)?;
    lua.globals().set("ilua", ilua)?;
    Ok(())
}

/// Whether a table is a MIME bundle: non-empty, every key a string with a `/`.
fn is_bundle(t: &Table) -> bool {
    let mut any = false;
    for pair in t.pairs::<Value, Value>() {
        match pair {
            Ok((Value::String(k), _)) if k.as_bytes().contains(&b'/') => any = true,
            _ => return false,
        }
    }
    any
}

/// A MIME bundle from a bundle table or, for any other value, its `text/plain` form.
pub(crate) fn to_bundle(lua: &Lua, value: &Value) -> mlua::Result<MimeBundle> {
    let mut bundle = Map::new();
    match value {
        Value::Table(t) if is_bundle(t) => {
            for pair in t.pairs::<mlua::String, Value>() {
                let (mime, data) = pair?;
                let mime = mime.to_string_lossy();
                let data = match &data {
                    Value::String(s) => serde_json::Value::String(s.to_string_lossy()),
                    other if mime.ends_with("json") => to_json(lua, other, 0)?,
                    other => serde_json::Value::String(tostring_lossy(lua, other)),
                };
                bundle.insert(mime, data);
            }
        }
        other => {
            bundle.insert(
                "text/plain".to_owned(),
                serde_json::Value::String(format_value(lua, other)),
            );
        }
    }
    Ok(bundle)
}

/// A JSON object from `nil` (empty) or a table with string keys.
fn to_object(lua: &Lua, value: &Value, what: &str) -> mlua::Result<Map<String, serde_json::Value>> {
    match value {
        Value::Nil => Ok(Map::new()),
        Value::Table(t) if t.raw_len() == 0 => match to_json(lua, value, 0)? {
            serde_json::Value::Object(m) => Ok(m),
            _ => Err(Error::runtime(format!(
                "{what} must be a table with string keys"
            ))),
        },
        _ => Err(Error::runtime(format!(
            "{what} must be a table with string keys"
        ))),
    }
}

/// `transient` from `nil`, a display id string, or a table.
fn to_transient(lua: &Lua, value: &Value) -> mlua::Result<Map<String, serde_json::Value>> {
    match value {
        Value::String(s) => {
            let mut m = Map::new();
            m.insert(
                "display_id".to_owned(),
                serde_json::Value::String(s.to_string_lossy()),
            );
            Ok(m)
        }
        other => to_object(lua, other, "transient"),
    }
}

/// Converts a Lua value to JSON: sequences become arrays, other tables objects (number keys
/// as strings), `nil` null; functions, userdata and non-finite numbers are refused.
pub(crate) fn to_json(lua: &Lua, value: &Value, depth: usize) -> mlua::Result<serde_json::Value> {
    use serde_json::Value as J;
    Ok(match value {
        Value::Nil => J::Null,
        Value::LightUserData(p) if p.0.is_null() => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => J::Number(Number::from(*i)),
        Value::Number(n) => match Number::from_f64(*n) {
            Some(n) => J::Number(n),
            None => return Err(Error::runtime(format!("cannot encode {n} as JSON"))),
        },
        Value::String(s) => J::String(s.to_string_lossy()),
        Value::Table(t) => {
            if depth >= MAX_JSON_DEPTH {
                return Err(Error::runtime(
                    "cannot encode as JSON: tables nested too deeply (or a cycle)",
                ));
            }
            let len = t.raw_len();
            let count = t.pairs::<Value, Value>().count();
            if len > 0 && count == len {
                let mut items = Vec::with_capacity(len);
                for i in 1..=len {
                    items.push(to_json(lua, &t.raw_get::<Value>(i)?, depth + 1)?);
                }
                J::Array(items)
            } else {
                let mut map = Map::new();
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(_) | Value::Number(_) => tostring_lossy(lua, &k),
                        other => {
                            return Err(Error::runtime(format!(
                                "cannot encode a table key of type {} as JSON",
                                other.type_name()
                            )))
                        }
                    };
                    map.insert(key, to_json(lua, &v, depth + 1)?);
                }
                J::Object(map)
            }
        }
        other => {
            return Err(Error::runtime(format!(
                "cannot encode a {} as JSON",
                other.type_name()
            )))
        }
    })
}

/// Converts JSON to a Lua value (`null` becomes `nil`).
fn from_json(lua: &Lua, j: &serde_json::Value) -> mlua::Result<Value> {
    use serde_json::Value as J;
    Ok(match j {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, from_json(lua, item)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(k.as_str(), from_json(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}
