//! The Lua Tool API and `JSON`, over the engine's [`ToolHost`].
//!
//! - `Tool.get(name)`: a tool object `{name, category, description}` whose
//!   `tool:execute(params)` runs the tool and returns `{success = true, text = ..., data = ...}`
//!   or `{success = false, error = {kind = ..., message = ...}}`; a failed call never raises.
//!   An unknown name gives `nil` and a message naming the closest tools.
//! - `Tool.list([category])`: `{ {name, category, description}, ... }`, sorted by name.
//! - `Tool.search(query [, limit])`: `{ {name, score, description}, ... }`, best first.
//! - `Tool.info(name)`: `{name, category, description, parameters, security, cacheable,
//!   blocking}` (`parameters` is the JSON Schema as tables), or `nil` and a message.
//! - `Tool.batch{ {name, params}, {name = ..., params = ...}, ... }`: runs the calls in
//!   parallel on the host; the results, as `execute` gives them, in the order of the calls.
//! - `JSON.encode(value [, {pretty = true}])`, `JSON.decode(text)` (errors raise, with the
//!   position), and `JSON.null`.
//!
//! Without a host, `Tool.list()` and `Tool.search()` are empty, and `Tool.get` and
//! `Tool.info` give `nil, "no tools are available"`.
//!
//! Conversions: a table whose keys are exactly `1..n` (n > 0) is a JSON array, any other
//! table an object (so `{}` is `{}`); integers stay integers and floats floats. Back from
//! JSON, `null` is `nil`, except inside arrays, where it is `JSON.null` so that positions
//! hold. `execute` is the hot path (thousands of calls a second from a loop): the tool's
//! name is resolved once, by `Tool.get`, and parameters and results are converted directly
//! between Lua tables and `serde_json` values.

use std::sync::Arc;

use mlua::{Error, IntoLua, IntoLuaMulti, Lua, Table, Value};
use serde_json::{Map, Number, Value as Json};

use crate::tools::{
    SecurityLevel, ToolError, ToolErrorKind, ToolHost, ToolHostRef, ToolResult, ToolSpec,
};

/// Tables nested deeper than this cannot be converted to JSON (this also stops cycles).
const MAX_DEPTH: usize = 64;

/// What `Tool.get` and `Tool.info` say when the engine has no tool host.
const NO_TOOLS: &str = "no tools are available";

/// Installs the globals `Tool` and `JSON`.
pub(super) fn install(lua: &Lua, tools: Option<&ToolHostRef>) -> mlua::Result<()> {
    let host = tools.map(|t| t.0.clone());
    let tool = lua.create_table_with_capacity(0, 5)?;
    let object_meta = lua.create_table_with_capacity(0, 2)?;
    object_meta.raw_set(
        "__tostring",
        lua.create_function(|_, this: Table| {
            Ok(format!("Tool({})", this.raw_get::<String>("name")?))
        })?,
    )?;
    object_meta.raw_set("__name", "Tool")?;

    let h = host.clone();
    tool.raw_set(
        "get",
        lua.create_function(move |lua, name: String| {
            let Some(host) = &h else {
                return (Value::Nil, NO_TOOLS).into_lua_multi(lua);
            };
            match host.registry().info(&name) {
                Ok(spec) => tool_object(lua, host, spec, &object_meta)?.into_lua_multi(lua),
                Err(e) => (Value::Nil, e.message).into_lua_multi(lua),
            }
        })?,
    )?;

    let h = host.clone();
    tool.raw_set(
        "list",
        lua.create_function(move |lua, category: Option<String>| {
            let list = lua.create_table()?;
            if let Some(host) = &h {
                for (i, spec) in host.registry().list(category.as_deref()).iter().enumerate() {
                    let entry = lua.create_table_with_capacity(0, 3)?;
                    entry.raw_set("name", spec.name)?;
                    entry.raw_set("category", spec.category)?;
                    entry.raw_set("description", spec.description)?;
                    list.raw_set(i + 1, entry)?;
                }
            }
            Ok(list)
        })?,
    )?;

    let h = host.clone();
    tool.raw_set(
        "search",
        lua.create_function(move |lua, (query, limit): (String, Option<usize>)| {
            let list = lua.create_table()?;
            if let Some(host) = &h {
                let hits = host.registry().search(&query, limit.unwrap_or(usize::MAX));
                for (i, (score, spec)) in hits.iter().enumerate() {
                    let entry = lua.create_table_with_capacity(0, 3)?;
                    entry.raw_set("name", spec.name)?;
                    // f32 to the nearest short decimal: 0.8, not 0.800000011920929.
                    entry.raw_set("score", (f64::from(*score) * 1e4).round() / 1e4)?;
                    entry.raw_set("description", spec.description)?;
                    list.raw_set(i + 1, entry)?;
                }
            }
            Ok(list)
        })?,
    )?;

    let h = host.clone();
    tool.raw_set(
        "info",
        lua.create_function(move |lua, name: String| {
            let Some(host) = &h else {
                return (Value::Nil, NO_TOOLS).into_lua_multi(lua);
            };
            match host.registry().info(&name) {
                Ok(spec) => info_table(lua, spec)?.into_lua_multi(lua),
                Err(e) => (Value::Nil, e.message).into_lua_multi(lua),
            }
        })?,
    )?;

    tool.raw_set(
        "batch",
        lua.create_function(move |lua, calls: Table| batch(lua, host.as_ref(), &calls))?,
    )?;
    lua.globals().set("Tool", tool)?;
    lua.globals().set("JSON", json_table(lua)?)?;
    Ok(())
}

/// The object `Tool.get` returns: the spec's fields, and `execute` bound to the tool.
fn tool_object(
    lua: &Lua,
    host: &Arc<dyn ToolHost>,
    spec: &ToolSpec,
    meta: &Table,
) -> mlua::Result<Table> {
    let object = lua.create_table_with_capacity(0, 4)?;
    object.raw_set("name", spec.name)?;
    object.raw_set("category", spec.category)?;
    object.raw_set("description", spec.description)?;
    let host = host.clone();
    let name: &'static str = spec.name;
    let execute = lua.create_function(move |lua, (this, params): (Value, Value)| {
        let params = match params {
            // `tool.execute(params)` passes the parameters as `this`.
            Value::Nil if !is_tool_object(&this) => {
                return Err(Error::runtime(
                    "call execute with a colon: tool:execute(params)",
                ))
            }
            Value::Nil => Ok(Json::Object(Map::new())),
            params => to_json(&params, 0),
        };
        let result = match params {
            Ok(params) => host.invoke(name, &params, None),
            Err(why) => Err(unconvertible(&why)),
        };
        result_table(lua, &result)
    })?;
    object.raw_set("execute", execute)?;
    object.set_metatable(Some(meta.clone()))?;
    Ok(object)
}

/// Whether `value` looks like a tool object (a table with an `execute` field).
fn is_tool_object(value: &Value) -> bool {
    match value {
        Value::Table(t) => matches!(t.raw_get::<Value>("execute"), Ok(Value::Function(_))),
        _ => false,
    }
}

/// The error for parameters that are not JSON.
fn unconvertible(why: &Error) -> ToolError {
    ToolError::invalid(format!(
        "the parameters cannot be converted to JSON: {}",
        message(why)
    ))
}

/// `Tool.batch`: converts the calls, runs the convertible ones on the host, and returns
/// every result in the order of the calls.
fn batch(lua: &Lua, host: Option<&Arc<dyn ToolHost>>, calls: &Table) -> mlua::Result<Table> {
    // One slot per call: None if it goes to the host, else why it cannot.
    let mut slots: Vec<Option<ToolError>> = Vec::new();
    let mut runnable: Vec<(String, Json)> = Vec::new();
    for i in 1..=calls.raw_len() {
        let call: Table = calls
            .raw_get(i)
            .map_err(|_| Error::runtime(format!("Tool.batch: call {i} is not a table")))?;
        let name = match call.raw_get::<Value>("name")? {
            Value::Nil => call.raw_get::<Value>(1)?,
            name => name,
        };
        let Value::String(name) = name else {
            return Err(Error::runtime(format!(
                "Tool.batch: call {i} has no tool name"
            )));
        };
        let params = match call.raw_get::<Value>("params")? {
            Value::Nil => call.raw_get::<Value>(2)?,
            params => params,
        };
        let params = match params {
            Value::Nil => Ok(Json::Object(Map::new())),
            params => to_json(&params, 0),
        };
        match params {
            Ok(params) => {
                runnable.push((name.to_string_lossy(), params));
                slots.push(None);
            }
            Err(why) => slots.push(Some(unconvertible(&why))),
        }
    }
    let mut ran = match host {
        Some(host) if !runnable.is_empty() => host.batch(&runnable),
        _ => Vec::new(),
    }
    .into_iter();
    let results = lua.create_table_with_capacity(slots.len(), 0)?;
    for (i, slot) in slots.into_iter().enumerate() {
        let result = match slot {
            Some(e) => Err(e),
            None => ran.next().unwrap_or_else(|| {
                Err(ToolError::new(
                    ToolErrorKind::Internal,
                    match host {
                        Some(_) => "the tool host returned too few results".to_owned(),
                        None => NO_TOOLS.to_owned(),
                    },
                ))
            }),
        };
        results.raw_set(i + 1, result_table(lua, &result)?)?;
    }
    Ok(results)
}

/// The table `execute` returns.
fn result_table(lua: &Lua, result: &ToolResult) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(0, 4)?;
    match result {
        Ok(output) => {
            table.raw_set("success", true)?;
            table.raw_set("text", output.text.as_str())?;
            set_json(lua, &table, "data", &output.data, false)?;
        }
        Err(e) => {
            table.raw_set("success", false)?;
            let error = lua.create_table_with_capacity(0, 2)?;
            error.raw_set("kind", e.kind.as_str())?;
            error.raw_set("message", e.message.as_str())?;
            table.raw_set("error", error)?;
        }
    }
    Ok(table)
}

/// The table `Tool.info` returns.
fn info_table(lua: &Lua, spec: &ToolSpec) -> mlua::Result<Table> {
    let info = lua.create_table_with_capacity(0, 7)?;
    info.raw_set("name", spec.name)?;
    info.raw_set("category", spec.category)?;
    info.raw_set("description", spec.description)?;
    set_json(lua, &info, "parameters", &spec.parameters, false)?;
    let security = match spec.security {
        SecurityLevel::Safe => "safe",
        SecurityLevel::Restricted => "restricted",
        SecurityLevel::Privileged => "privileged",
    };
    info.raw_set("security", security)?;
    info.raw_set("cacheable", spec.cacheable)?;
    info.raw_set("blocking", spec.blocking)?;
    Ok(info)
}

/// The global `JSON`.
fn json_table(lua: &Lua) -> mlua::Result<Table> {
    let json = lua.create_table_with_capacity(0, 3)?;
    json.raw_set(
        "encode",
        lua.create_function(|_, (value, options): (Value, Option<Table>)| {
            let pretty = match &options {
                Some(o) => o.raw_get::<Option<bool>>("pretty")?.unwrap_or(false),
                None => false,
            };
            let json = to_json(&value, 0)
                .map_err(|e| Error::runtime(format!("JSON.encode: {}", message(&e))))?;
            let text = if pretty {
                serde_json::to_string_pretty(&json)
            } else {
                serde_json::to_string(&json)
            };
            text.map_err(|e| Error::runtime(format!("JSON.encode: {e}")))
        })?,
    )?;
    json.raw_set(
        "decode",
        lua.create_function(|lua, text: mlua::String| {
            let json: Json = serde_json::from_slice(&text.as_bytes())
                .map_err(|e| Error::runtime(format!("JSON.decode: {e}")))?;
            from_json(lua, &json)
        })?,
    )?;
    json.raw_set("null", Value::NULL)?;
    Ok(json)
}

/// The message of a conversion error, without mlua's "runtime error: " prefix.
fn message(error: &Error) -> String {
    match error {
        Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Converts a Lua value to JSON (see the module docs for the rules); functions, userdata
/// other than `JSON.null`, non-finite numbers and tables nested too deeply are refused.
fn to_json(value: &Value, depth: usize) -> mlua::Result<Json> {
    Ok(match value {
        Value::Nil => Json::Null,
        Value::LightUserData(p) if p.0.is_null() => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::Number(Number::from(*i)),
        Value::Number(n) => match Number::from_f64(*n) {
            Some(n) => Json::Number(n),
            None => return Err(Error::runtime(format!("cannot encode {n} as JSON"))),
        },
        Value::String(s) => Json::String(s.to_string_lossy()),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(Error::runtime(
                    "tables nested too deeply to encode as JSON (or a cycle)",
                ));
            }
            match array(t, depth)? {
                Some(items) => Json::Array(items),
                None => Json::Object(object(t, depth)?),
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

/// The items of `t` if its keys are exactly `1..n` with n > 0.
fn array(t: &Table, depth: usize) -> mlua::Result<Option<Vec<Json>>> {
    let len = t.raw_len();
    if len == 0 {
        return Ok(None);
    }
    let mut items = vec![Json::Null; len];
    let mut count = 0;
    let mut is_array = true;
    t.for_each(|k: Value, v: Value| {
        match k {
            Value::Integer(i) if i >= 1 && (i as usize) <= len => {
                items[i as usize - 1] = to_json(&v, depth + 1)?;
                count += 1;
            }
            _ => is_array = false,
        }
        Ok(())
    })?;
    Ok((is_array && count == len).then_some(items))
}

/// The entries of `t` as a JSON object; number keys become strings.
fn object(t: &Table, depth: usize) -> mlua::Result<Map<String, Json>> {
    let mut map = Map::new();
    t.for_each(|k: Value, v: Value| {
        let key = match &k {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(Error::runtime(format!(
                    "cannot encode a table key of type {} as JSON",
                    other.type_name()
                )))
            }
        };
        map.insert(key, to_json(&v, depth + 1)?);
        Ok(())
    })?;
    Ok(map)
}

/// Converts JSON to a Lua value: `null` is `nil`.
fn from_json(lua: &Lua, json: &Json) -> mlua::Result<Value> {
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => number(n),
        Json::String(s) => Value::String(lua.create_string(s)?),
        Json::Array(_) | Json::Object(_) => Value::Table(table_from_json(lua, json)?),
    })
}

/// A JSON number as a Lua integer if it is one that fits, else a float.
fn number(n: &Number) -> Value {
    match n.as_i64() {
        Some(i) => Value::Integer(i),
        None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// `table[key] = json`, converting without intermediate Lua values for scalars. A `null`
/// is left out, or set to `JSON.null` in an array.
fn set_json<K: IntoLua>(
    lua: &Lua,
    table: &Table,
    key: K,
    json: &Json,
    in_array: bool,
) -> mlua::Result<()> {
    match json {
        Json::Null if in_array => table.raw_set(key, Value::NULL),
        Json::Null => Ok(()),
        Json::Bool(b) => table.raw_set(key, *b),
        Json::Number(n) => table.raw_set(key, number(n)),
        Json::String(s) => table.raw_set(key, s.as_str()),
        Json::Array(_) | Json::Object(_) => table.raw_set(key, table_from_json(lua, json)?),
    }
}

/// A new table holding a JSON array or object (anything else gives an empty table).
fn table_from_json(lua: &Lua, json: &Json) -> mlua::Result<Table> {
    match json {
        Json::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                set_json(lua, &table, i + 1, item, true)?;
            }
            Ok(table)
        }
        Json::Object(map) => {
            let table = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                set_json(lua, &table, k.as_str(), v, false)?;
            }
            Ok(table)
        }
        _ => lua.create_table(),
    }
}
