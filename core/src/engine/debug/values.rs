//! Lua values as the debugger shows them: one-line previews, type names, and the names and
//! expressions of table entries.

use mlua::{Lua, Table, Value};

use crate::engine::format::{is_identifier, key_order, quote, tostring_lossy, via_tostring};

/// A preview longer than this is cut with `…`.
const PREVIEW_CHARS: usize = 120;
/// A table preview shows at most this many entries.
const PREVIEW_ENTRIES: usize = 8;
/// At most this many entries of one table are listed.
pub(crate) const MAX_CHILDREN: usize = 10_000;

/// A one-line preview of a value: strings quoted, tables as `{ 1, 2, x = 3, … }`.
pub(crate) fn preview(lua: &Lua, value: &Value) -> String {
    let text = match value {
        Value::String(s) => quote(&s.as_bytes()),
        Value::Table(t) => table_preview(lua, t),
        other => tostring_lossy(lua, other),
    };
    cut(text, PREVIEW_CHARS)
}

fn cut(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

fn table_preview(lua: &Lua, t: &Table) -> String {
    if let Some(s) = via_tostring(t) {
        return s;
    }
    let entries = sorted_entries(t, PREVIEW_ENTRIES + 1);
    if entries.is_empty() {
        return "{}".to_owned();
    }
    let len = t.raw_len();
    let mut items = Vec::new();
    for (k, v) in entries.iter().take(PREVIEW_ENTRIES) {
        let v = match v {
            Value::Table(_) => "{…}".to_owned(),
            Value::String(s) => cut(quote(&s.as_bytes()), 24),
            other => tostring_lossy(lua, other),
        };
        match k {
            Value::Integer(i) if *i >= 1 && (*i as usize) <= len => items.push(v),
            _ => items.push(format!("{} = {v}", key_name(lua, k))),
        }
    }
    if entries.len() > PREVIEW_ENTRIES {
        items.push("…".to_owned());
    }
    format!("{{ {} }}", items.join(", "))
}

/// The Lua type of a value, as `type()` says.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        Value::UserData(_) | Value::LightUserData(_) => "userdata",
        _ => "other",
    }
}

/// How a table key is shown: `name` for identifiers, `[1]`, `["a b"]`, `[true]`.
pub(crate) fn key_name(lua: &Lua, key: &Value) -> String {
    match key {
        Value::String(s) => match s.to_str() {
            Ok(name) if is_identifier(&name) => name.to_string(),
            _ => format!("[{}]", quote(&s.as_bytes())),
        },
        other => format!("[{}]", tostring_lossy(lua, other)),
    }
}

/// The expression for entry `name` (as [`key_name`] shows it) of the table that `parent`
/// evaluates to.
pub(crate) fn child_expression(parent: &str, name: &str) -> String {
    if name.starts_with('[') {
        format!("{parent}{name}")
    } else {
        format!("{parent}.{name}")
    }
}

/// The key that [`key_name`] showed as `name`, for keys that can be written back:
/// identifiers, integers, and quoted strings without escapes.
pub(crate) fn parse_key(lua: &Lua, name: &str) -> Option<Value> {
    let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) else {
        return lua.create_string(name).ok().map(Value::String);
    };
    if let Ok(i) = inner.parse::<i64>() {
        return Some(Value::Integer(i));
    }
    if let Ok(n) = inner.parse::<f64>() {
        return Some(Value::Number(n));
    }
    match inner {
        "true" => return Some(Value::Boolean(true)),
        "false" => return Some(Value::Boolean(false)),
        _ => {}
    }
    let s = inner.strip_prefix('"')?.strip_suffix('"')?;
    if s.contains('\\') {
        return None;
    }
    lua.create_string(s).ok().map(Value::String)
}

/// The entries of a table (raw, no metamethods), sorted as the formatter sorts them:
/// numbers, then strings, then the rest. At most `max`.
pub(crate) fn sorted_entries(t: &Table, max: usize) -> Vec<(Value, Value)> {
    let mut entries: Vec<(Value, Value)> = Vec::new();
    for pair in t.clone().pairs::<Value, Value>() {
        let Ok(kv) = pair else { continue };
        if entries.len() >= max.min(MAX_CHILDREN) {
            break;
        }
        entries.push(kv);
    }
    entries.sort_by(|(a, _), (b, _)| {
        let (a, b) = (key_order(a), key_order(b));
        a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2))
    });
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_and_keys() {
        let lua = Lua::new();
        let t: Table = lua
            .load(r#"return {10, 20, x = "a", ["b c"] = {}, [true] = 1}"#)
            .eval()
            .unwrap();
        assert_eq!(
            preview(&lua, &Value::Table(t.clone())),
            r#"{ 10, 20, ["b c"] = {…}, x = "a", [true] = 1 }"#
        );
        let empty = lua.create_table().unwrap();
        assert_eq!(preview(&lua, &Value::Table(empty)), "{}");
        let long = lua.create_string("x".repeat(500)).unwrap();
        assert!(preview(&lua, &Value::String(long)).ends_with('…'));
        assert_eq!(preview(&lua, &Value::Integer(3)), "3");
        assert_eq!(type_name(&Value::Number(1.5)), "number");
        for (name, expr) in [("x", "t.x"), ("[1]", "t[1]"), (r#"["b c"]"#, r#"t["b c"]"#)] {
            assert_eq!(child_expression("t", name), expr);
            let key = parse_key(&lua, name).expect("parses");
            assert_eq!(key_name(&lua, &key), name);
        }
        assert_eq!(parse_key(&lua, "[true]"), Some(Value::Boolean(true)));
        assert_eq!(parse_key(&lua, r#"["a\n"]"#), None);
        let entries = sorted_entries(&t, 100);
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[0].0, Value::Integer(1));
        assert_eq!(sorted_entries(&t, 2).len(), 2);
    }
}
