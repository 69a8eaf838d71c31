//! The standard library overrides that talk to the client: `print`, `io.write`,
//! `io.stdout`/`io.stderr` (stream events), `io.read`/`io.stdin`/`io.lines()` (input
//! requests) and `os.exit`. Nothing here touches the process's real stdio.

use std::rc::Rc;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use mlua::{AnyUserData, Error, Lua, MetaMethod, MultiValue, UserData, UserDataMethods, Value};

use super::errors::{ExitRequest, KeyboardInterrupt};
use super::format::tostring_bytes;
use super::shared::Shared;
use super::{EngineEvent, InputReply, StreamName};

/// The error `io.read` raises when the client does not accept input.
pub(crate) const NO_STDIN: &str =
    "io.read: stdin is not available (the client does not accept input)";

/// The error `os.exit` raises in kernel mode.
pub(crate) const EXIT_DISABLED: &str =
    "os.exit is disabled in the kernel; use the kernel's shutdown instead";

/// While waiting for input, the interrupt flag is checked this often.
const INPUT_POLL: Duration = Duration::from_millis(50);

/// Wires `io` to the captured streams (after [`install`] has put the file objects in place).
const IO_PRELUDE: &str = r#"
local stdin, stdout, stderr = ...
local io, type, error = io, type, error
local open, real_lines, real_type = io.open, io.lines, io.type
local real_input, real_output = io.input, io.output
local std = { [stdin] = true, [stdout] = true, [stderr] = true }
local cur_in, cur_out = stdin, stdout
io.stdin, io.stdout, io.stderr = stdin, stdout, stderr
local function select_file(f, mode, current, real)
  if f == nil then return current end
  if std[f] then return f end
  if type(f) == "string" then
    local file, err = open(f, mode)
    if not file then error(err, 3) end
    return file
  end
  return real(f)
end
function io.input(f) cur_in = select_file(f, "r", cur_in, real_input) return cur_in end
function io.output(f) cur_out = select_file(f, "w", cur_out, real_output) return cur_out end
function io.write(...) return cur_out:write(...) end
function io.read(...) return cur_in:read(...) end
function io.flush() return cur_out:flush() end
function io.close(f) if f == nil then f = cur_out end return f:close() end
function io.lines(name, ...)
  if name == nil then return cur_in:lines(...) end
  return real_lines(name, ...)
end
function io.type(f) if std[f] then return "file" end return real_type(f) end
"#;

/// Installs `print`, the `io` overrides and `os.exit`.
pub(crate) fn install(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    let sh = shared.clone();
    let print = lua.create_function(move |lua, args: MultiValue| {
        let mut line = Vec::new();
        for (i, v) in args.iter().enumerate() {
            if i > 0 {
                line.push(b'\t');
            }
            line.extend(tostring_bytes(lua, v)?);
        }
        line.push(b'\n');
        sh.write(StreamName::Stdout, &line)
    })?;
    lua.globals().set("print", print)?;

    let stream = |kind| {
        lua.create_userdata(StdStream {
            kind,
            shared: shared.clone(),
        })
    };
    let files = (
        stream(Kind::Stdin)?,
        stream(Kind::Stdout)?,
        stream(Kind::Stderr)?,
    );
    lua.load(IO_PRELUDE)
        .set_name("=[llmspell io]")
        .call::<()>(files)?;

    let sh = shared.clone();
    let exit = lua.create_function(move |_, args: MultiValue| -> mlua::Result<()> {
        if sh.kernel_mode {
            return Err(Error::runtime(EXIT_DISABLED));
        }
        let code = exit_code(args.front())?;
        sh.exit_code.set(Some(code));
        Err(Error::external(ExitRequest(code)))
    })?;
    lua.globals().get::<mlua::Table>("os")?.set("exit", exit)?;
    Ok(())
}

/// The exit status for `os.exit([code])`: none or `true` is 0, `false` is 1, else the number.
fn exit_code(arg: Option<&Value>) -> mlua::Result<i32> {
    let parsed = match arg {
        None | Some(Value::Nil) | Some(Value::Boolean(true)) => Some(0),
        Some(Value::Boolean(false)) => Some(1),
        Some(Value::Integer(n)) => Some(*n as i32),
        Some(Value::Number(n)) if n.fract() == 0.0 => Some(*n as i32),
        Some(Value::String(s)) => s.to_str().ok().and_then(|s| s.trim().parse::<i32>().ok()),
        Some(_) => None,
    };
    parsed.ok_or_else(|| {
        let got = arg.map_or("no value", Value::type_name);
        Error::runtime(format!(
            "bad argument #1 to 'exit' (number expected, got {got})"
        ))
    })
}

/// Which standard file a [`StdStream`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Stdin,
    Stdout,
    Stderr,
}

/// `io.stdin`, `io.stdout` and `io.stderr`: file-like userdata backed by the engine.
struct StdStream {
    kind: Kind,
    shared: Rc<Shared>,
}

/// `nil, message, errno`, as file methods fail.
fn fail(lua: &Lua, message: &str, errno: i64) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(message)?),
        Value::Integer(errno),
    ]))
}

impl UserData for StdStream {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_function("write", |lua, (ud, args): (AnyUserData, MultiValue)| {
            let this = ud.borrow::<StdStream>()?;
            let name = match this.kind {
                Kind::Stdout => StreamName::Stdout,
                Kind::Stderr => StreamName::Stderr,
                Kind::Stdin => return fail(lua, "Bad file descriptor", 9),
            };
            let mut bytes = Vec::new();
            for (i, v) in args.iter().enumerate() {
                match v {
                    Value::String(_) | Value::Integer(_) => bytes.extend(tostring_bytes(lua, v)?),
                    Value::Number(_) => {
                        // io.write uses "%.14g": tostring without the ".0" it adds.
                        let s = tostring_bytes(lua, v)?;
                        bytes.extend(s.strip_suffix(b".0").unwrap_or(&s));
                    }
                    other => {
                        return Err(Error::runtime(format!(
                            "bad argument #{} to 'write' (string expected, got {})",
                            i + 1,
                            other.type_name()
                        )))
                    }
                }
            }
            this.shared.write(name, &bytes)?;
            drop(this);
            Ok(MultiValue::from_vec(vec![Value::UserData(ud)]))
        });
        methods.add_function("read", |lua, (ud, formats): (AnyUserData, MultiValue)| {
            let this = ud.borrow::<StdStream>()?;
            if this.kind != Kind::Stdin {
                return fail(lua, "Bad file descriptor", 9);
            }
            read_formats(lua, &this.shared, formats.into_vec())
        });
        methods.add_function("lines", |lua, (ud, formats): (AnyUserData, MultiValue)| {
            let this = ud.borrow::<StdStream>()?;
            if this.kind != Kind::Stdin {
                return Err(Error::runtime("lines: file is not readable"));
            }
            let shared = this.shared.clone();
            let formats = formats.into_vec();
            lua.create_function(move |lua, ()| read_formats(lua, &shared, formats.clone()))
        });
        methods.add_function("flush", |_, ud: AnyUserData| {
            ud.borrow::<StdStream>()?.shared.flush();
            Ok(ud)
        });
        methods.add_method("close", |lua, _, ()| {
            fail(lua, "cannot close standard file", 0)
        });
        methods.add_method("setvbuf", |_, _, _: MultiValue| Ok(true));
        methods.add_method("seek", |lua, _, _: MultiValue| {
            fail(lua, "Illegal seek", 29)
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(match this.kind {
                Kind::Stdin => "file (stdin)",
                Kind::Stdout => "file (stdout)",
                Kind::Stderr => "file (stderr)",
            })
        });
    }
}

/// `io.read(...)` on stdin: each format in turn; stops after the first that fails.
fn read_formats(lua: &Lua, shared: &Shared, formats: Vec<Value>) -> mlua::Result<MultiValue> {
    if !shared.allow_stdin.get() || shared.sink_fn.borrow().is_none() {
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
fn need_input(shared: &Shared) -> mlua::Result<()> {
    if !shared.stdin_buf.borrow().is_empty() {
        return Ok(());
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
                return Ok(());
            }
            Ok(InputReply::Interrupted) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                if shared
                    .interrupt
                    .swap(false, std::sync::atomic::Ordering::SeqCst)
                {
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
    need_input(shared)?;
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
    need_input(shared)?;
    let n = shared.stdin_buf.borrow().len();
    take(lua, shared, n)
}

/// A count: up to `n` bytes; `0` gives an empty string without asking.
fn read_count(lua: &Lua, shared: &Shared, n: i64) -> mlua::Result<Value> {
    if n <= 0 {
        return Ok(Value::String(lua.create_string("")?));
    }
    need_input(shared)?;
    take(lua, shared, usize::try_from(n).unwrap_or(usize::MAX))
}

/// Format `n`: skips whitespace (asking for more lines as needed), then reads a numeral;
/// `nil` if there is none.
fn read_number(lua: &Lua, shared: &Shared) -> mlua::Result<Value> {
    loop {
        need_input(shared)?;
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

/// Converts a numeral as Lua does: integers stay integers, the rest are floats.
fn parse_number(lua: &Lua, text: &str) -> Value {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            // Lua wraps hexadecimal integers around modulo 2^64.
            let n = hex.bytes().fold(0u64, |acc, c| {
                acc.wrapping_mul(16)
                    .wrapping_add(u64::from((c as char).to_digit(16).unwrap_or(0)))
            }) as i64;
            return Value::Integer(if neg { n.wrapping_neg() } else { n });
        }
        return match lua.coerce_number(Value::String(match lua.create_string(text) {
            Ok(s) => s,
            Err(_) => return Value::Nil,
        })) {
            Ok(Some(n)) => Value::Number(n),
            _ => Value::Nil,
        };
    }
    if body.bytes().all(|c| c.is_ascii_digit()) && !body.is_empty() {
        if let Ok(n) = text.parse::<i64>() {
            return Value::Integer(n);
        }
    }
    match text.parse::<f64>() {
        Ok(n)
            if !body.is_empty()
                && body
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == b'.') =>
        {
            Value::Number(n)
        }
        _ => Value::Nil,
    }
}
