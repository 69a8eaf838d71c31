//! The standard library overrides that talk to the client: `print`, `io.write`,
//! `io.stdout`/`io.stderr` (stream events), `io.read`/`io.stdin`/`io.lines()` (input
//! requests, see [`super::stdin`]), `warn`, and `os.exit`. Nothing here touches the
//! process's real stdio (child processes started with `os.execute` or `io.popen` still
//! inherit it).

use std::cell::Cell;
use std::rc::Rc;

use mlua::{AnyUserData, Error, Lua, MetaMethod, MultiValue, UserData, UserDataMethods, Value};

use super::errors::ExitRequest;
use super::format::tostring_bytes;
use super::shared::Shared;
use super::stdin::read_formats;
use super::StreamName;

/// The error `os.exit` raises in kernel mode.
pub(crate) const EXIT_DISABLED: &str =
    "os.exit is disabled in the kernel; use the kernel's shutdown instead";

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
-- Without a file name these would read the process's own stdin.
local real_dofile, real_loadfile = dofile, loadfile
function dofile(name, ...)
  if name == nil then error("dofile: give a file name (stdin is not available)", 2) end
  return real_dofile(name, ...)
end
function loadfile(name, ...)
  if name == nil then return nil, "loadfile: give a file name (stdin is not available)" end
  return real_loadfile(name, ...)
end
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

    // Warnings (off until `warn("@on")`, as in Lua) go to the stderr stream.
    let sh = shared.clone();
    let state = Cell::new((false, false)); // (warnings on, in a message split in pieces)
    lua.set_warning_function(move |_, msg, to_be_continued| {
        let (on, continuing) = state.get();
        if !continuing && msg.starts_with('@') {
            state.set((msg == "@on" || (on && msg != "@off"), false));
            return Ok(());
        }
        state.set((on, to_be_continued));
        if on {
            let prefix = if continuing { "" } else { "Lua warning: " };
            let end = if to_be_continued { "" } else { "\n" };
            sh.write(StreamName::Stderr, format!("{prefix}{msg}{end}").as_bytes())?;
        }
        Ok(())
    });

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
