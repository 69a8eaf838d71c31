//! Inspection (`inspect_request`) and the `?name` / `name?` pager: a short description of
//! the value a dotted name refers to, with one-line help for the standard library.

use std::collections::HashMap;

use mlua::Value;
use serde_json::{json, Map};

use super::complete::{is_name_char, name_start, Scope};
use super::format::{format_value, is_identifier};
use super::help::{lookup, HELP};
use super::MimeBundle;

/// Maps the address of each standard function, as installed at start-up, to its entry in
/// [`HELP`], so that help follows a function however it is reached (`local f = print`).
pub(crate) struct HelpIndex(HashMap<usize, usize>);

impl HelpIndex {
    /// Builds the index from the functions the names in [`HELP`] refer to now.
    pub fn new(scope: &Scope<'_>) -> HelpIndex {
        let mut map = HashMap::new();
        for (i, (name, _, _)) in HELP.iter().enumerate() {
            if let Some(v @ Value::Function(_)) = scope.resolve(name) {
                map.insert(v.to_pointer() as usize, i);
            }
        }
        HelpIndex(map)
    }

    fn get(&self, value: &Value) -> Option<&'static (&'static str, &'static str, &'static str)> {
        self.0
            .get(&(value.to_pointer() as usize))
            // Indices come from enumerating HELP in `new`, so they are in bounds.
            .map(|&i| &HELP[i])
    }
}

/// Describes the value `name` refers to: `<name>: <type>` then help, the function's
/// definition, or the formatted value. `None` if the name refers to nothing.
pub(crate) fn describe(scope: &Scope<'_>, index: &HelpIndex, name: &str) -> Option<String> {
    let value = scope.resolve(name)?;
    let help = match &value {
        Value::Function(_) => index.get(&value),
        // Constants such as math.pi: help by name, but only for entries that are not calls.
        _ => lookup(name).filter(|(_, sig, _)| !sig.contains('(')),
    };
    let mut text = format!("{name}: {}\n", value.type_name());
    match (help, &value) {
        (Some((_, sig, desc)), Value::Function(_)) => text.push_str(&format!("{sig}\n{desc}")),
        (Some((_, _, desc)), other) => {
            text.push_str(&format!("{}\n{desc}", format_value(scope.lua, other)));
        }
        (None, Value::Function(f)) => {
            let info = f.info();
            if info.what == "C" {
                text.push_str(&format!(
                    "built-in function ({})",
                    format_value(scope.lua, &value)
                ));
            } else {
                let src = info.short_src.unwrap_or_else(|| "?".to_owned());
                let line = info
                    .line_defined
                    .map_or_else(|| "?".to_owned(), |l| l.to_string());
                text.push_str(&format!("function defined at {src}:{line}"));
            }
        }
        (None, other) => text.push_str(&format_value(scope.lua, other)),
    }
    Some(text)
}

/// The dotted name at or before `cursor_pos` (or before the `(` the cursor follows),
/// described.
pub(crate) fn inspect(
    scope: &Scope<'_>,
    index: &HelpIndex,
    code: &str,
    cursor_pos: usize,
) -> (bool, MimeBundle) {
    let chars: Vec<char> = code.chars().collect();
    let cursor = cursor_pos.min(chars.len());
    // The whole dotted name the cursor is in: `str|ing.format` is `string.format`.
    let mut end = cursor;
    loop {
        while end < chars.len() && is_name_char(chars[end]) {
            end += 1;
        }
        let continues = matches!(chars.get(end), Some('.' | ':'))
            && chars
                .get(end + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_');
        if !continues {
            break;
        }
        end += 1;
    }
    let mut start = name_start(&chars, end);
    if start == end {
        let mut j = cursor;
        while j > 0 && chars[j - 1].is_whitespace() {
            j -= 1;
        }
        if j > 0 && chars[j - 1] == '(' {
            j -= 1;
            while j > 0 && chars[j - 1].is_whitespace() {
                j -= 1;
            }
        }
        end = j;
        start = name_start(&chars, end);
    }
    let name: String = chars[start..end].iter().collect();
    let name = name.trim_end_matches(['.', ':']);
    let mut data = Map::new();
    if name.is_empty() {
        return (false, data);
    }
    match describe(scope, index, name) {
        Some(text) => {
            data.insert("text/plain".to_owned(), json!(text));
            (true, data)
        }
        None => (false, data),
    }
}

/// If the cell is `?name`, `??name`, `name?` or `name??`, the name.
pub(crate) fn pager_request(code: &str) -> Option<&str> {
    let t = code.trim();
    let name = if let Some(rest) = t.strip_prefix('?') {
        rest.trim_start_matches('?')
    } else if let Some(rest) = t.strip_suffix('?') {
        rest.trim_end_matches('?')
    } else {
        return None;
    };
    let name = name.trim();
    let valid = !name.is_empty()
        && name.split(['.', ':']).all(is_identifier)
        && name.matches(':').count() <= 1;
    valid.then_some(name)
}

/// The execute-reply payload that shows `name`'s description in the pager.
pub(crate) fn pager_payload(scope: &Scope<'_>, index: &HelpIndex, name: &str) -> serde_json::Value {
    let text =
        describe(scope, index, name).unwrap_or_else(|| format!("Object `{name}` not found."));
    json!({ "source": "page", "data": { "text/plain": text }, "start": 0 })
}
