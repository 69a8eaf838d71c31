//! A cheap reader of a JSON object's top-level string members, for the few fields the
//! bench reads from every received message (`msg_type`, the parent's `msg_id`, `status`,
//! `execution_state`). It walks the object once without building anything: nested values
//! are skipped by counting brackets outside strings, and only the strings asked for are
//! returned, borrowed from the input unless they hold escapes.
//!
//! It stops as soon as every key asked for was found (the messages it reads were
//! authenticated by their HMAC first, and what comes after is not needed). Up to there it
//! checks structure (braces, quotes, colons, commas, and nothing after the object when it
//! reads to the end), but it is not a validator: a bad number or literal inside a skipped
//! value goes unnoticed. Keys are compared as raw bytes, so a key spelled with escapes is
//! not recognized. Untrusted input never makes it panic, and every loop advances through
//! the input.

use std::borrow::Cow;

/// The input is not a JSON object as far as this reader can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotAnObject;

/// The values of the top-level members named in `keys` whose values are strings, in the
/// order of `keys` (`None` for a key that is absent or whose value is not a string; the
/// first occurrence wins). Reading stops once every key has a value.
pub fn string_members<'a, const N: usize>(
    json: &'a [u8],
    keys: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N], NotAnObject> {
    let mut out: [Option<Cow<'a, str>>; N] = std::array::from_fn(|_| None);
    let mut missing = N;
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return Err(NotAnObject);
    }
    i = skip_ws(json, i + 1);
    if json.get(i) == Some(&b'}') {
        return end(json, i + 1).map(|()| out);
    }
    loop {
        let (key, _, next) = string_at(json, i)?;
        i = skip_ws(json, next);
        if json.get(i) != Some(&b':') {
            return Err(NotAnObject);
        }
        i = skip_ws(json, i + 1);
        if json.get(i) == Some(&b'"') {
            let (raw, escaped, next) = string_at(json, i)?;
            if let Some(k) = keys.iter().position(|k| k.as_bytes() == key) {
                if out[k].is_none() {
                    out[k] = Some(text(&json[i..next], raw, escaped)?);
                    missing -= 1;
                    if missing == 0 {
                        return Ok(out);
                    }
                }
            }
            i = next;
        } else {
            i = skip_value(json, i)?;
        }
        i = skip_ws(json, i);
        match json.get(i) {
            Some(b',') => i = skip_ws(json, i + 1),
            Some(b'}') => return end(json, i + 1).map(|()| out),
            _ => return Err(NotAnObject),
        }
    }
}

/// Only whitespace may follow the object.
fn end(json: &[u8], i: usize) -> Result<(), NotAnObject> {
    if skip_ws(json, i) == json.len() {
        Ok(())
    } else {
        Err(NotAnObject)
    }
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The string starting at `json[i] == '"'`: its raw bytes between the quotes, whether it
/// holds escapes, and the index after the closing quote.
fn string_at(json: &[u8], i: usize) -> Result<(&[u8], bool, usize), NotAnObject> {
    if json.get(i) != Some(&b'"') {
        return Err(NotAnObject);
    }
    let start = i + 1;
    let mut j = start;
    let mut escaped = false;
    loop {
        match json.get(j) {
            Some(b'"') => return Ok((&json[start..j], escaped, j + 1)),
            Some(b'\\') => {
                escaped = true;
                // The escaped character, whatever it is, cannot close the string.
                j += 2;
            }
            Some(_) => j += 1,
            None => return Err(NotAnObject),
        }
    }
}

/// The text of a string: borrowed when it has no escapes, else decoded from `quoted` (the
/// string with its quotes).
fn text<'a>(quoted: &'a [u8], raw: &'a [u8], escaped: bool) -> Result<Cow<'a, str>, NotAnObject> {
    if escaped {
        serde_json::from_slice::<String>(quoted)
            .map(Cow::Owned)
            .map_err(|_| NotAnObject)
    } else {
        std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| NotAnObject)
    }
}

/// Skips the value at `json[i]` (not a string: those are read by the caller) and returns
/// the index after it.
fn skip_value(json: &[u8], i: usize) -> Result<usize, NotAnObject> {
    match json.get(i) {
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match json.get(j) {
                    Some(b'{' | b'[') => {
                        depth += 1;
                        j += 1;
                    }
                    Some(b'}' | b']') => {
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            return Ok(j);
                        }
                    }
                    Some(b'"') => j = string_at(json, j)?.2,
                    Some(_) => j += 1,
                    None => return Err(NotAnObject),
                }
            }
        }
        Some(b'"') => Ok(string_at(json, i)?.2),
        Some(_) => {
            // A number or a literal: up to the next delimiter.
            let len = json[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(json.len() - i);
            if len == 0 {
                Err(NotAnObject)
            } else {
                Ok(i + len)
            }
        }
        None => Err(NotAnObject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<const N: usize>(
        json: &str,
        keys: [&str; N],
    ) -> Result<[Option<String>; N], NotAnObject> {
        string_members(json.as_bytes(), keys).map(|v| v.map(|s| s.map(Cow::into_owned)))
    }

    #[test]
    fn reads_top_level_strings_only() {
        let json = r#"{"data": {"status": "nested", "x": [1, "status", {"a": "]"}]},
            "n": -1.5e3, "t": true, "z": null, "status" : "ok", "e": {}, "l": []}"#;
        assert_eq!(
            read(json, ["status", "n", "missing"]).unwrap(),
            [Some("ok".into()), None, None]
        );
        let header = r#"{"msg_id":"a_1","msg_type":"execute_reply","session":"s","date":"2026-01-01T00:00:00Z"}"#;
        assert_eq!(
            read(header, ["msg_type", "msg_id"]).unwrap(),
            [Some("execute_reply".into()), Some("a_1".into())]
        );
        assert_eq!(read("{}", ["msg_id"]).unwrap(), [None]);
        assert_eq!(read(" \n{ } \n", ["msg_id"]).unwrap(), [None]);
        // The first occurrence wins, and reading stops there.
        assert_eq!(
            read(r#"{"a":"1","a":"2"}"#, ["a"]).unwrap(),
            [Some("1".into())]
        );
        assert_eq!(
            read(r#"{"a":"1", garbage"#, ["a"]).unwrap(),
            [Some("1".into())]
        );
        assert_eq!(read(r#"{"a":"1", garbage"#, ["a", "b"]), Err(NotAnObject));
    }

    #[test]
    fn borrows_plain_strings_and_decodes_escaped_ones() {
        let json = br#"{"plain":"idle","esc":"a\"b\\c\u00e9","k\"":"v"}"#;
        let [plain, esc, quoted] = string_members(json, ["plain", "esc", "k\""]).unwrap();
        assert!(matches!(plain, Some(Cow::Borrowed("idle"))));
        assert_eq!(esc.as_deref(), Some("a\"b\\cé"));
        // Keys are raw: the escaped key does not match its unescaped spelling.
        assert_eq!(quoted, None);
        assert_eq!(read(r#"{"s":"\"}"#, ["s"]), Err(NotAnObject));
        assert_eq!(read(r#"{"s":"\x"}"#, ["s"]), Err(NotAnObject));
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        for bad in [
            "",
            " ",
            "[]",
            "\"s\"",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":\"b\"",
            "{\"a\":\"b\",}",
            "{\"a\":\"b\"} x",
            "{\"a\" \"b\"}",
            "{a:\"b\"}",
            "{\"a\":{\"b\":1}",
            "{\"a\":[1,2}",
            "{\"a\":\"b\\",
            "{\"a\":1 2}",
        ] {
            // "zz" is never found, so the whole input is read.
            assert_eq!(read(bad, ["a", "zz"]), Err(NotAnObject), "{bad:?}");
        }
        // Invalid UTF-8 in a string that is read.
        assert_eq!(string_members(b"{\"a\":\"\xff\"}", ["a"]), Err(NotAnObject));
        // ...but not in one that is only skipped.
        assert!(string_members(b"{\"b\":\"\xff\",\"a\":\"x\"}", ["a"]).is_ok());
    }

    #[test]
    fn never_panics_on_prefixes_or_noise() {
        let json = br#"{"a":{"b":[1,"\"]",{"c":null}]},"status":"ok\n","d":-0.5}"#;
        for cut in 0..json.len() {
            assert_eq!(
                string_members(&json[..cut], ["status", "x"]),
                Err(NotAnObject),
                "{cut}"
            );
        }
        let [status, x] = string_members(json, ["status", "x"]).unwrap();
        assert_eq!((status.as_deref(), x), (Some("ok\n"), None));
        // Every byte value at every position, once.
        let mut noisy = json.to_vec();
        for i in 0..noisy.len() {
            for b in 0..=255u8 {
                let old = noisy[i];
                noisy[i] = b;
                let _ = string_members(&noisy, ["status", "a"]);
                noisy[i] = old;
            }
        }
    }
}
