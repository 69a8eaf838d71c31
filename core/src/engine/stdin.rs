//! Reading stdin: `io.read` formats over lines the client types in answer to input
//! requests. Each answer is buffered with its newline; a read asks for a line only when the
//! buffer is empty. A read ends by an answer, by `InputReply::Eof` (end of input: the
//! read gives `nil`, or `""` for `"a"`, as at the end of a file), by
//! `InputReply::Interrupted` (or a closed channel), or by the interrupt flag, which is
//! polled while waiting.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use mlua::{Error, Lua, MultiValue, Value};

use super::errors::KeyboardInterrupt;
use super::shared::Shared;
use super::{EngineEvent, InputReply};

/// The error `io.read` raises when the client does not accept input.
pub(crate) const NO_STDIN: &str =
    "io.read: stdin is not available (the client does not accept input)";

/// While waiting for input, the interrupt flag is checked this often.
const INPUT_POLL: Duration = Duration::from_millis(50);

/// `io.read(...)` on stdin: each format in turn; stops after the first that fails.
pub(crate) fn read_formats(
    lua: &Lua,
    shared: &Shared,
    formats: Vec<Value>,
) -> mlua::Result<MultiValue> {
    if !shared.allow_stdin.get() || !shared.serving() {
        return Err(Error::runtime(NO_STDIN));
    }
    let formats = if formats.is_empty() {
        vec![Value::String(lua.create_string("l")?)]
    } else {
        formats
    };
    let mut out = Vec::with_capacity(formats.len());
    for (i, format) in formats.iter().enumerate() {
        let value = match format {
            Value::Integer(n) => read_count(lua, shared, *n)?,
            Value::Number(n) if n.fract() == 0.0 => read_count(lua, shared, *n as i64)?,
            Value::String(s) => {
                let s = s.as_bytes();
                let s = s.strip_prefix(b"*").unwrap_or(&s);
                match s.first() {
                    Some(b'l') => read_line(lua, shared, false)?,
                    Some(b'L') => read_line(lua, shared, true)?,
                    Some(b'n') => read_number(lua, shared)?,
                    Some(b'a') => read_all(lua, shared)?,
                    _ => {
                        return Err(Error::runtime(format!(
                            "bad argument #{} to 'read' (invalid format)",
                            i + 1
                        )))
                    }
                }
            }
            _ => {
                return Err(Error::runtime(format!(
                    "bad argument #{} to 'read' (invalid format)",
                    i + 1
                )))
            }
        };
        let failed = value.is_nil();
        out.push(value);
        if failed {
            break;
        }
    }
    Ok(MultiValue::from_vec(out))
}

/// Makes sure some typed input is buffered: if none is, asks the client for a line and
/// blocks until it answers, the request is interrupted, or the interrupt flag is set.
/// `Ok(false)` at the end of input.
fn need_input(shared: &Shared) -> mlua::Result<bool> {
    if !shared.stdin_buf.borrow().is_empty() {
        return Ok(true);
    }
    // Answers left over from an earlier request are stale.
    while shared.input.try_recv().is_ok() {}
    let id = shared.id.get();
    shared.emit(EngineEvent::InputRequest {
        id,
        prompt: String::new(),
        password: false,
    });
    loop {
        match shared.input.recv_timeout(INPUT_POLL) {
            Ok(InputReply::Line(line)) => {
                let mut buf = shared.stdin_buf.borrow_mut();
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
                return Ok(true);
            }
            Ok(InputReply::Eof) => return Ok(false),
            Ok(InputReply::Interrupted) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                if shared.interrupt.swap(false, Ordering::SeqCst) {
                    break;
                }
            }
        }
    }
    shared.interrupting.set(true);
    Err(Error::external(KeyboardInterrupt))
}

/// Removes the first `n` buffered bytes and returns them as a Lua string.
fn take(lua: &Lua, shared: &Shared, n: usize) -> mlua::Result<Value> {
    let mut buf = shared.stdin_buf.borrow_mut();
    let n = n.min(buf.len());
    let bytes: Vec<u8> = buf.drain(..n).collect();
    Ok(Value::String(lua.create_string(bytes)?))
}

/// Formats `l` and `L`: one line, without or with its newline.
fn read_line(lua: &Lua, shared: &Shared, keep_newline: bool) -> mlua::Result<Value> {
    if !need_input(shared)? {
        return Ok(Value::Nil);
    }
    let end = {
        let buf = shared.stdin_buf.borrow();
        buf.iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |i| i + 1)
    };
    let line = take(lua, shared, end)?;
    match (&line, keep_newline) {
        (Value::String(s), false) => {
            let bytes = s.as_bytes();
            Ok(Value::String(lua.create_string(
                bytes.strip_suffix(b"\n").unwrap_or(&bytes),
            )?))
        }
        _ => Ok(line),
    }
}

/// Format `a`: everything buffered (asking for a line if nothing is).
fn read_all(lua: &Lua, shared: &Shared) -> mlua::Result<Value> {
    if !need_input(shared)? {
        return Ok(Value::String(lua.create_string("")?));
    }
    let n = shared.stdin_buf.borrow().len();
    take(lua, shared, n)
}

/// A count: up to `n` bytes; `0` gives an empty string without asking.
fn read_count(lua: &Lua, shared: &Shared, n: i64) -> mlua::Result<Value> {
    if n <= 0 {
        return Ok(Value::String(lua.create_string("")?));
    }
    if !need_input(shared)? {
        return Ok(Value::Nil);
    }
    take(lua, shared, usize::try_from(n).unwrap_or(usize::MAX))
}

/// Format `n`: skips whitespace (asking for more lines as needed), then reads a numeral;
/// `nil` if there is none.
fn read_number(lua: &Lua, shared: &Shared) -> mlua::Result<Value> {
    loop {
        if !need_input(shared)? {
            return Ok(Value::Nil);
        }
        let mut buf = shared.stdin_buf.borrow_mut();
        let skip = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        buf.drain(..skip);
        if !buf.is_empty() {
            break;
        }
    }
    let len = numeral_len(&shared.stdin_buf.borrow());
    let Value::String(s) = take(lua, shared, len)? else {
        return Ok(Value::Nil);
    };
    let text = s.to_string_lossy();
    Ok(parse_number(lua, &text))
}

/// The length of the numeral at the start of `b` (sign, hex prefix, digits, point,
/// exponent), as Lua's `read("n")` scans it.
fn numeral_len(b: &[u8]) -> usize {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let hex = b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X");
    if hex {
        i += 2;
    }
    let digit = |c: u8| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    };
    while i < b.len() && digit(b[i]) {
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && digit(b[i]) {
            i += 1;
        }
    }
    let exp: &[u8] = if hex { b"pP" } else { b"eE" };
    if i > 0 && b.get(i).is_some_and(|c| exp.contains(c)) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

/// Converts a numeral as Lua does: integers stay integers (hexadecimal ones wrap around),
/// the rest are floats; `nil` if it is not a numeral.
fn parse_number(lua: &Lua, text: &str) -> Value {
    let neg = text.starts_with('-');
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            let n = hex.chars().fold(0u64, |acc, c| {
                acc.wrapping_mul(16)
                    .wrapping_add(u64::from(c.to_digit(16).unwrap_or(0)))
            }) as i64;
            return Value::Integer(if neg { n.wrapping_neg() } else { n });
        }
        // A hexadecimal float: Lua's own conversion.
        let s = lua.create_string(text).ok();
        let n = s.and_then(|s| lua.coerce_number(Value::String(s)).ok().flatten());
        return n.map_or(Value::Nil, Value::Number);
    }
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return Value::Nil;
    }
    if body.bytes().all(|c| c.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return Value::Integer(n);
        }
    }
    text.parse::<f64>().map_or(Value::Nil, Value::Number)
}

#[cfg(test)]
mod tests {
    use mlua::{Lua, Value};

    use super::{numeral_len, parse_number};

    #[test]
    fn numerals_are_scanned_and_converted_as_lua_does() {
        let lua = Lua::new();
        let read = |s: &str| {
            let n = numeral_len(s.as_bytes());
            (n, parse_number(&lua, &s[..n]))
        };
        assert_eq!(read("42 rest"), (2, Value::Integer(42)));
        assert_eq!(read("-7\n"), (2, Value::Integer(-7)));
        assert_eq!(read("0x10,"), (4, Value::Integer(16)));
        assert_eq!(read("0xffffffffffffffff"), (18, Value::Integer(-1)));
        assert_eq!(read("1.5e3x"), (5, Value::Number(1500.0)));
        assert_eq!(read(".5"), (2, Value::Number(0.5)));
        assert_eq!(read("0x1p4"), (5, Value::Number(16.0)));
        assert_eq!(
            read("9223372036854775808"),
            (19, Value::Number(9223372036854775808.0))
        );
        assert_eq!(read("abc"), (0, Value::Nil));
        assert_eq!(read("-x"), (1, Value::Nil));
        assert_eq!(read("1e"), (2, Value::Nil));
    }
}
