//! `text/plain` formatting of Lua values, as the execute result shows them: numbers as Lua's
//! `tostring`, strings quoted, tables pretty-printed (bounded in depth and size, cycles
//! marked), `__tostring` honoured.

use std::ffi::c_void;

use mlua::{Lua, Table, Value};

/// Tables nested deeper than this are shown as `{...}`.
pub(crate) const MAX_DEPTH: usize = 3;
/// At most this many entries of one table are shown, then `...`.
pub(crate) const MAX_ENTRIES: usize = 100;
/// At most this many entries are shown in all, over every nested table.
const MAX_TOTAL: usize = 1_000;
/// A table whose entries fit in this width is shown on one line.
const LINE_WIDTH: usize = 72;

/// Lua's reserved words, which cannot be used as bare keys.
pub(crate) const KEYWORDS: [&str; 22] = [
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// Formats a value for `text/plain`.
pub(crate) fn format_value(lua: &Lua, value: &Value) -> String {
    Formatter {
        lua,
        path: Vec::new(),
        budget: MAX_TOTAL,
    }
    .value(value, 0)
}

/// Formats several values as the Lua REPL prints them: separated by tabs.
pub(crate) fn format_values(lua: &Lua, values: &[Value]) -> String {
    match values {
        // The usual case: one value, with no list to join.
        [value] => format_value(lua, value),
        _ => values
            .iter()
            .map(|v| format_value(lua, v))
            .collect::<Vec<_>>()
            .join("\t"),
    }
}

/// Lua's `tostring` of a value as bytes, the way `print` converts its arguments
/// (`__tostring` and `__name` honoured; errors from `__tostring` propagate).
pub(crate) fn tostring_bytes(lua: &Lua, value: &Value) -> mlua::Result<Vec<u8>> {
    Ok(match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Number(n) => number_to_string(lua, *n).into_bytes(),
        other => other.to_string()?.into_bytes(),
    })
}

/// `tostring` that never fails: on error, `<type>: <address>`.
pub(crate) fn tostring_lossy(lua: &Lua, value: &Value) -> String {
    match tostring_bytes(lua, value) {
        Ok(bytes) => String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(_) => format!("{}: {:p}", value.type_name(), value.to_pointer()),
    }
}

/// A float as Lua prints it (`%.14g`, with `.0` on integral values).
fn number_to_string(lua: &Lua, n: f64) -> String {
    match lua.coerce_string(Value::Number(n)) {
        Ok(Some(s)) => s.to_string_lossy(),
        _ => format!("{n}"),
    }
}

/// Quotes a Lua string like `%q`, but with `\n`, `\r`, `\t` escapes and invalid UTF-8
/// bytes as `\ddd`.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_ascii_control() => {
                    let digit_next = chars.peek().is_some_and(|n| n.is_ascii_digit());
                    if digit_next {
                        out.push_str(&format!("\\{:03}", c as u32));
                    } else {
                        out.push_str(&format!("\\{}", c as u32));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out.push('"');
    out
}

/// Whether `s` can be written as a bare table key (`a = 1` rather than `["a"] = 1`).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

/// One formatting pass: the tables on the current path (for cycles) and the entry budget.
struct Formatter<'a> {
    lua: &'a Lua,
    path: Vec<*const c_void>,
    budget: usize,
}

impl Formatter<'_> {
    fn value(&mut self, value: &Value, depth: usize) -> String {
        match value {
            Value::String(s) => quote(&s.as_bytes()),
            Value::Table(t) => self.table(t, depth),
            other => tostring_lossy(self.lua, other),
        }
    }

    fn table(&mut self, t: &Table, depth: usize) -> String {
        if let Some(s) = via_tostring(t) {
            return s;
        }
        let ptr = t.to_pointer();
        if self.path.contains(&ptr) {
            return "<cycle>".to_owned();
        }
        if t.pairs::<Value, Value>().next().is_none() {
            return "{}".to_owned();
        }
        if depth >= MAX_DEPTH {
            return "{...}".to_owned();
        }
        self.path.push(ptr);
        let items = self.items(t, depth);
        self.path.pop();
        layout(items)
    }

    /// The entries of a table: the array part in order, then the other keys sorted.
    fn items(&mut self, t: &Table, depth: usize) -> Vec<String> {
        let len = t.raw_len();
        let mut items = Vec::new();
        for i in 1..=len.min(MAX_ENTRIES) {
            if self.budget == 0 {
                items.push("...".to_owned());
                return items;
            }
            self.budget -= 1;
            let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
            items.push(self.value(&v, depth + 1));
        }
        if len > MAX_ENTRIES {
            items.push("...".to_owned());
            return items;
        }
        let room = MAX_ENTRIES - items.len();
        let mut entries = Vec::new();
        let mut more = false;
        for pair in t.pairs::<Value, Value>() {
            let Ok((k, v)) = pair else { continue };
            if let Value::Integer(i) = k {
                if i >= 1 && (i as u64) <= len as u64 {
                    continue;
                }
            }
            if entries.len() >= room {
                more = true;
                break;
            }
            entries.push((k, v));
        }
        entries.sort_by(|(a, _), (b, _)| {
            let (a, b) = (key_order(a), key_order(b));
            a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2))
        });
        for (k, v) in entries {
            if self.budget == 0 {
                more = true;
                break;
            }
            self.budget -= 1;
            let key = self.key(&k);
            let value = self.value(&v, depth + 1);
            items.push(format!("{key} = {value}"));
        }
        if more {
            items.push("...".to_owned());
        }
        items
    }

    fn key(&mut self, k: &Value) -> String {
        match k {
            Value::String(s) => match s.to_str() {
                Ok(name) if is_identifier(&name) => name.to_string(),
                _ => format!("[{}]", quote(&s.as_bytes())),
            },
            other => format!("[{}]", tostring_lossy(self.lua, other)),
        }
    }
}

/// The result of `__tostring`, if the table's metatable has one and it succeeds.
pub(crate) fn via_tostring(t: &Table) -> Option<String> {
    let mt = t.metatable()?;
    if mt.raw_get::<Value>("__tostring").ok()?.is_nil() {
        return None;
    }
    Value::Table(t.clone()).to_string().ok()
}

/// Sort order of table keys: numbers, then strings, then booleans, then the rest.
pub(crate) fn key_order(k: &Value) -> (u8, f64, Vec<u8>) {
    match k {
        Value::Integer(i) => (0, *i as f64, Vec::new()),
        Value::Number(n) => (0, *n, Vec::new()),
        Value::String(s) => (1, 0.0, s.as_bytes().to_vec()),
        Value::Boolean(b) => (2, f64::from(u8::from(*b)), Vec::new()),
        other => (3, 0.0, other.type_name().as_bytes().to_vec()),
    }
}

/// Puts entries on one line if they fit, else one per line, indented.
fn layout(items: Vec<String>) -> String {
    if items.is_empty() {
        return "{}".to_owned();
    }
    let width: usize = items.iter().map(|s| s.len() + 2).sum();
    if width + 2 <= LINE_WIDTH && !items.iter().any(|s| s.contains('\n')) {
        return format!("{{ {} }}", items.join(", "));
    }
    let mut out = String::from("{\n");
    for item in items {
        for line in item.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        out.pop();
        out.push_str(",\n");
    }
    out.push('}');
    out
}
