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
//! hold. Data nested deeper than Lua tables are built for (512 levels) is a `too_large`
//! failure.
//!
//! `execute` is the hot path (hundreds of thousands of calls a second from a loop): the
//! tool is resolved once, by `Tool.get`, into a [`crate::tools::ToolId`]; `execute` is a Lua
//! C function (the `execute` module) that reads its parameters off the Lua stack and builds
//! its result there, converting directly between Lua tables and `serde_json` values (the
//! `convert` module), and the host runs the call without a name lookup
//! ([`ToolHost::invoke_id`]).

mod convert;
mod execute;

use std::sync::Arc;

use mlua::{Error, IntoLuaMulti, Lua, Table, Value};
use serde_json::{Map, Value as Json};

use crate::tools::{
    SecurityLevel, ToolError, ToolErrorKind, ToolHost, ToolHostRef, ToolId, ToolResult, ToolSpec,
};
use convert::push_json;

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
            let found = host
                .resolve(&name)
                .and_then(|id| Ok((id, host.registry().info(id.name())?)));
            match found {
                Ok((id, spec)) => {
                    tool_object(lua, host, id, spec, &object_meta)?.into_lua_multi(lua)
                }
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
    id: ToolId,
    spec: &ToolSpec,
    meta: &Table,
) -> mlua::Result<Table> {
    let object = lua.create_table_with_capacity(0, 4)?;
    object.raw_set("name", spec.name)?;
    object.raw_set("category", spec.category)?;
    object.raw_set("description", spec.description)?;
    object.raw_set(
        "execute",
        execute::function(lua, host, id, meta.to_pointer())?,
    )?;
    object.set_metatable(Some(meta.clone()))?;
    Ok(object)
}

/// The error for parameters that are not JSON.
pub(super) fn unconvertible(why: &str) -> ToolError {
    ToolError::invalid(format!("the parameters cannot be converted to JSON: {why}"))
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
            params => convert::to_json(lua, &params),
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

/// The table `execute` returns, for `Tool.batch`.
fn result_table(lua: &Lua, result: &ToolResult) -> mlua::Result<Table> {
    // SAFETY: this pushes one value within the room `build` checked.
    convert::build(lua, |state| {
        unsafe { execute::push_result_or_failure(state, result) };
        Ok(())
    })
}

/// `json` as a Lua value (`null` is nil).
fn from_json(lua: &Lua, json: &Json) -> mlua::Result<Value> {
    // SAFETY: `push_json` pushes one value and keeps within the room `build` checked.
    convert::build(lua, |state| unsafe { push_json(state, json, false) })
}

/// The table `Tool.info` returns.
fn info_table(lua: &Lua, spec: &ToolSpec) -> mlua::Result<Table> {
    let info = lua.create_table_with_capacity(0, 7)?;
    info.raw_set("name", spec.name)?;
    info.raw_set("category", spec.category)?;
    info.raw_set("description", spec.description)?;
    info.raw_set("parameters", from_json(lua, &spec.parameters)?)?;
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
        lua.create_function(|lua, (value, options): (Value, Option<Table>)| {
            let pretty = match &options {
                Some(o) => o.raw_get::<Option<bool>>("pretty")?.unwrap_or(false),
                None => false,
            };
            let json = convert::to_json(lua, &value)
                .map_err(|e| Error::runtime(format!("JSON.encode: {e}")))?;
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
