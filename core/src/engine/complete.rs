//! Completion, `is_complete`, and the name resolution they share with inspection. None of
//! this runs user code: tables are read raw, and `__index` is followed only through tables.

use mlua::{Lua, Table, Value};

use super::format::{is_identifier, KEYWORDS};
use super::IsCompleteStatus;

/// `__index` chains are followed at most this deep.
const MAX_INDEX_CHAIN: usize = 8;
/// At most this many keys of one table are looked at.
const MAX_KEYS: usize = 10_000;

/// Whether `c` can be part of a Lua name.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The start of the dotted name (`a.b:c`) that ends at `end` in `chars`. A `..`
/// (concatenation) ends the name.
pub(crate) fn name_start(chars: &[char], end: usize) -> usize {
    let mut start = end;
    while start > 0 {
        let c = chars[start - 1];
        if is_name_char(c) || c == ':' {
            start -= 1;
        } else if c == '.' {
            if start >= 2 && chars[start - 2] == '.' {
                break;
            }
            start -= 1;
        } else {
            break;
        }
    }
    // A name cannot start with a separator or a digit.
    while start < end && !(chars[start].is_ascii_alphabetic() || chars[start] == '_') {
        start += 1;
    }
    start
}

/// Where values are looked up: the globals and the string library (for `s:method`).
pub(crate) struct Scope<'a> {
    /// The Lua state.
    pub lua: &'a Lua,
    /// The string library, the `__index` of the string metatable.
    pub string_lib: &'a Table,
}

impl Scope<'_> {
    /// The value a dotted name (`a.b.c` or `a.b:c`) refers to, or `None`.
    pub fn resolve(&self, path: &str) -> Option<Value> {
        let mut current = Value::Table(self.lua.globals());
        for segment in path.split(['.', ':']) {
            if !is_identifier(segment) {
                return None;
            }
            current = self.index(&current, segment)?;
        }
        (!current.is_nil()).then_some(current)
    }

    /// `value[key]` without running metamethods other than `__index` tables.
    fn index(&self, value: &Value, key: &str) -> Option<Value> {
        let mut table = self.index_table(value)?;
        for _ in 0..MAX_INDEX_CHAIN {
            let v: Value = table.raw_get(key).ok()?;
            if !v.is_nil() {
                return Some(v);
            }
            table = match table.metatable()?.raw_get::<Value>("__index").ok()? {
                Value::Table(t) => t,
                _ => return None,
            };
        }
        None
    }

    /// The table that indexing `value` reads first: the table itself, the string library
    /// for strings, the `__index` table of a userdata's metatable.
    fn index_table(&self, value: &Value) -> Option<Table> {
        match value {
            Value::Table(t) => Some(t.clone()),
            Value::String(_) => Some(self.string_lib.clone()),
            Value::UserData(ud) => match ud.metatable().ok()?.get::<Value>("__index").ok()? {
                Value::Table(t) => Some(t),
                _ => None,
            },
            _ => None,
        }
    }

    /// The names reachable by indexing `value` (its keys and those of its `__index`
    /// tables); with `methods`, only those whose value is a function.
    fn fields(&self, value: &Value, methods: bool, out: &mut Vec<String>) {
        let mut next = self.index_table(value);
        for _ in 0..MAX_INDEX_CHAIN {
            let Some(table) = next else { return };
            for pair in table.pairs::<Value, Value>().take(MAX_KEYS) {
                let Ok((Value::String(k), v)) = pair else {
                    continue;
                };
                let Ok(k) = k.to_str() else { continue };
                if is_identifier(&k) && (!methods || matches!(v, Value::Function(_))) {
                    out.push(k.to_string());
                }
            }
            next = match table
                .metatable()
                .and_then(|mt| mt.raw_get::<Value>("__index").ok())
            {
                Some(Value::Table(t)) => Some(t),
                _ => None,
            };
        }
    }
}

/// Completes the name before `cursor_pos` (in code points): returns the matches (whole
/// dotted names, sorted, deduplicated) and the code-point range they replace.
pub(crate) fn complete(
    scope: &Scope<'_>,
    code: &str,
    cursor_pos: usize,
) -> (Vec<String>, usize, usize) {
    let chars: Vec<char> = code.chars().collect();
    let cursor = cursor_pos.min(chars.len());
    let start = name_start(&chars, cursor);
    let token: String = chars[start..cursor].iter().collect();
    let (base, sep, partial) = match token.rfind(['.', ':']) {
        Some(i) => (&token[..i], &token[i..=i], &token[i + 1..]),
        None => ("", "", token.as_str()),
    };
    let mut names = Vec::new();
    if sep.is_empty() {
        names.extend(KEYWORDS.iter().map(|k| (*k).to_owned()));
        scope.fields(&Value::Table(scope.lua.globals()), false, &mut names);
    } else if base.contains(':') {
        return (Vec::new(), cursor, cursor);
    } else if let Some(value) = scope.resolve(base) {
        scope.fields(&value, sep == ":", &mut names);
    }
    let mut matches: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(partial))
        .map(|n| format!("{base}{sep}{n}"))
        .collect();
    matches.sort();
    matches.dedup();
    (matches, start, cursor)
}

/// Whether `code` is ready to run, from the Lua parser: complete if it compiles as a chunk
/// or as `return <code>`, incomplete if a parse stopped at the end of the input.
pub(crate) fn is_complete(lua: &Lua, code: &str) -> IsCompleteStatus {
    if code.trim().is_empty() {
        return IsCompleteStatus::Complete;
    }
    let compile = |src: String| {
        lua.load(src)
            .set_mode(mlua::ChunkMode::Text)
            .into_function()
    };
    let as_chunk = compile(code.to_owned());
    let as_expr = compile(format!("return {code}"));
    if as_chunk.is_ok() || as_expr.is_ok() {
        return IsCompleteStatus::Complete;
    }
    let at_eof = |r: &mlua::Result<mlua::Function>| {
        matches!(
            r,
            Err(mlua::Error::SyntaxError {
                incomplete_input: true,
                ..
            })
        )
    };
    if at_eof(&as_chunk) || at_eof(&as_expr) {
        IsCompleteStatus::Incomplete {
            indent: "  ".to_owned(),
        }
    } else {
        IsCompleteStatus::Invalid
    }
}
