//! The engine: one Lua state with the standard library overrides, serving requests.

use std::borrow::Cow;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::sync::atomic::Ordering;

use mlua::{
    AsChunk, ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value,
};
use serde_json::{json, Map};

use super::chunks::{ChunkCache, Lookup};
use super::complete::{complete, is_complete, Scope};
use super::debug::{DebugCommand, DebugLink, Debugger};
use super::errors::{
    create_message_handler, describe_error_value, from_mlua_error, install_pcall_guards, lua_error,
    panic_error, syntax_error, CapturedSlot, KEYBOARD_INTERRUPT, RUNTIME_ERROR,
};
use super::format::format_values;
use super::inspect::{inspect, pager_payload, pager_request, HelpIndex};
use super::shared::{Shared, HOOK_INSTRUCTIONS};
use super::{
    display, stdio, tools_api, EngineConfig, EngineEvent, EngineIo, EngineRequest, ExecuteOutcome,
    IsCompleteStatus, LuaError, MimeBundle, UserExpressionResult,
};

/// Chunk name of user expressions.
const USER_EXPRESSION_CHUNK: &str = "=[user_expression]";

/// What makes an expression a chunk that returns its values.
const RETURN: &str = "return ";

/// A chunk with its name, loaded without copies: `Lua::load` of a `String` with
/// `set_name` formats a default name (`@file:line` of the caller) and copies the source,
/// then drops both, for every cell.
struct NamedChunk<'a> {
    name: &'a str,
    source: &'a [u8],
    mode: ChunkMode,
}

impl AsChunk for NamedChunk<'_> {
    fn name(&self) -> Option<String> {
        // Room for the NUL that mlua appends when it makes the C string.
        let mut name = String::with_capacity(self.name.len() + 1);
        name.push_str(self.name);
        Some(name)
    }

    fn mode(&self) -> Option<ChunkMode> {
        Some(self.mode)
    }

    fn source<'b>(&self) -> std::io::Result<Cow<'b, [u8]>>
    where
        Self: 'b,
    {
        Ok(Cow::Borrowed(self.source))
    }
}

/// One Lua 5.4 state, with output captured into [`EngineEvent`]s.
pub struct Engine {
    /// The Lua state.
    lua: Lua,
    /// State shared with the callbacks installed in Lua.
    shared: Rc<Shared>,
    /// Where the message handler records the last error.
    captured: CapturedSlot,
    /// The `xpcall` of the fresh state (users may replace the global).
    xpcall: Function,
    /// The message handler passed to `xpcall`.
    msgh: Function,
    /// The string library, for completing `s:method`.
    string_lib: Table,
    /// Help for the standard functions, by address.
    help: HelpIndex,
    /// `script_args[1..]`, passed to each cell as `...`.
    varargs: Vec<String>,
    /// The debugger: inert until [`Engine::enable_debugger`].
    debugger: Rc<Debugger>,
    /// Cells seen before, as binary chunks.
    chunks: RefCell<ChunkCache>,
    /// The binary chunk of the cell being loaded from `chunks`, reused.
    chunk_buf: RefCell<Vec<u8>>,
}

/// How running a function under the message handler failed.
enum RunError {
    /// `os.exit(code)` in script mode.
    Exit(i32),
    /// Any error, interrupts included.
    Error(LuaError),
}

/// Which kind of request is being served, to build its `*Done` event if it fails.
#[derive(Clone, Copy)]
enum Kind {
    Execute,
    Complete(usize),
    Inspect,
    IsComplete,
}

impl Engine {
    /// Creates the Lua state. Call it on the thread that will run the engine.
    pub fn new(config: EngineConfig, io: EngineIo) -> Result<Engine, String> {
        Engine::build(config, io).map_err(|e| format!("cannot set up the Lua state: {e}"))
    }

    fn build(config: EngineConfig, io: EngineIo) -> mlua::Result<Engine> {
        // A panic in a Rust callback is a bug of the engine: it must not be caught by a
        // `pcall` in user code, and it ends the cell with an InternalError (see `handle`).
        let options = LuaOptions::new().catch_rust_panics(false);
        let lua = Lua::new_with(StdLib::ALL_SAFE, options)?;
        let shared = Rc::new(Shared::new(config.kernel_mode, io.input, io.interrupt));
        let globals = lua.globals();
        let xpcall: Function = globals.get("xpcall")?;
        let string_lib: Table = globals.get("string")?;

        stdio::install(&lua, &shared)?;
        display::install(&lua, &shared)?;
        tools_api::install(&lua, config.tools.as_ref())?;
        install_pcall_guards(&lua, &shared)?;

        let arg = lua.create_table()?;
        for (i, a) in config.script_args.iter().enumerate() {
            arg.raw_set(i, a.as_str())?;
        }
        globals.set("arg", arg)?;

        let debugger = Rc::new(Debugger::new(shared.clone()));
        // The callbacks hold the debugger weakly: it holds Lua functions, and a strong
        // reference from inside the state would keep the state alive forever.
        let weak = Rc::downgrade(&debugger);
        let on_uncaught: super::errors::OnUncaught = Rc::new(move |lua, message| {
            if let Some(d) = weak.upgrade() {
                d.on_uncaught_error(lua, message);
            }
        });
        let captured: CapturedSlot = Rc::new(RefCell::new(None));
        let msgh = create_message_handler(&lua, captured.clone(), Some(on_uncaught))?;
        let hook_debugger: Weak<Debugger> = Rc::downgrade(&debugger);
        let hook_shared = shared.clone();
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS),
            move |lua, debug| match hook_debugger.upgrade() {
                Some(d) => d.on_hook(lua, debug),
                None => hook_shared.on_tick(),
            },
        )?;
        let help = HelpIndex::new(&Scope {
            lua: &lua,
            string_lib: &string_lib,
        });
        let varargs = config.script_args.iter().skip(1).cloned().collect();
        Ok(Engine {
            lua,
            shared,
            captured,
            xpcall,
            msgh,
            string_lib,
            help,
            varargs,
            debugger,
            chunks: RefCell::new(ChunkCache::default()),
            chunk_buf: RefCell::new(Vec::new()),
        })
    }

    /// Connects the debugger (see [`super::debug`]). Call once, while idle.
    pub fn enable_debugger(&mut self, link: DebugLink) -> Result<(), String> {
        self.debugger
            .enable(&self.lua, link)
            .map_err(|e| format!("cannot start the debugger: {e}"))
    }

    /// The debugger's command channel, for a worker that waits on jobs and commands at
    /// once; `None` without a debugger.
    pub fn debug_commands(&self) -> Option<crossbeam_channel::Receiver<DebugCommand>> {
        self.debugger.commands()
    }

    /// Serves a debugger command while no request runs.
    pub fn handle_debug(&mut self, command: DebugCommand) {
        let _active = self.debugger.core.activate();
        let served = catch_unwind(AssertUnwindSafe(|| {
            self.debugger.handle_idle(&self.lua, command);
        }));
        if served.is_err() {
            tracing::error!("a debugger command panicked");
        }
    }

    /// Runs one request to completion, passing its events to `sink` in order. The last
    /// event is the request's `*Done` event.
    pub fn handle(&mut self, request: EngineRequest, sink: &mut dyn FnMut(EngineEvent)) {
        let id = request.id();
        let kind = match &request {
            EngineRequest::Execute { .. } => Kind::Execute,
            EngineRequest::Complete { cursor_pos, .. } => Kind::Complete(*cursor_pos),
            EngineRequest::Inspect { .. } => Kind::Inspect,
            EngineRequest::IsComplete { .. } => Kind::IsComplete,
        };
        self.shared.id.set(id);
        let _active = self.debugger.core.activate();
        if matches!(request, EngineRequest::Execute { .. }) {
            self.debugger.before_request(&self.lua);
        }
        let this = &*self;
        let served = catch_unwind(AssertUnwindSafe(|| {
            this.shared.serve_with(&mut *sink, || this.serve(request))
        }));
        self.shared.reset_cell_flags();
        let done = match served {
            Ok(done) => done,
            Err(panic) => failed(kind, id, panic_error(&*panic)),
        };
        self.shared.stage_pending();
        while let Some(event) = self.shared.pop_event() {
            sink(event);
        }
        sink(done);
    }

    /// The debugger, for tests that look at its hook state.
    #[cfg(test)]
    pub(crate) fn debugger(&self) -> &Debugger {
        &self.debugger
    }

    /// The Lua state, for tests that install their own callbacks.
    #[cfg(test)]
    pub(crate) fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Serves a request; returns its `*Done` event.
    fn serve(&self, request: EngineRequest) -> EngineEvent {
        let scope = Scope {
            lua: &self.lua,
            string_lib: &self.string_lib,
        };
        match request {
            EngineRequest::Execute {
                id,
                code,
                chunk_name,
                silent,
                allow_stdin,
                user_expressions,
            } => {
                self.shared.allow_stdin.set(allow_stdin);
                self.shared.stdin_buf.borrow_mut().clear();
                // An interrupt that arrived while no cell ran is not for this cell.
                self.shared.interrupt.store(false, Ordering::SeqCst);
                let outcome = match pager_request(&code) {
                    Some(name) => ExecuteOutcome::Ok {
                        result: None,
                        payload: vec![pager_payload(&scope, &self.help, name)],
                    },
                    None => self.execute(&code, &chunk_name, silent),
                };
                let user_expressions = match outcome {
                    ExecuteOutcome::Ok { .. } => user_expressions
                        .into_iter()
                        .map(|(name, expr)| (name, self.user_expression(&expr)))
                        .collect(),
                    _ => Vec::new(),
                };
                EngineEvent::ExecuteDone {
                    id,
                    outcome,
                    user_expressions,
                }
            }
            EngineRequest::Complete {
                id,
                code,
                cursor_pos,
            } => {
                let (matches, cursor_start, cursor_end) = complete(&scope, &code, cursor_pos);
                EngineEvent::CompleteDone {
                    id,
                    matches,
                    cursor_start,
                    cursor_end,
                }
            }
            EngineRequest::Inspect {
                id,
                code,
                cursor_pos,
                detail_level: _,
            } => {
                let (found, data) = inspect(&scope, &self.help, &code, cursor_pos);
                EngineEvent::InspectDone { id, found, data }
            }
            EngineRequest::IsComplete { id, code } => EngineEvent::IsCompleteDone {
                id,
                status: is_complete(&self.lua, &code),
            },
        }
    }

    /// Runs a cell: as `return <code>` if that compiles, else as a chunk.
    fn execute(&self, code: &str, chunk_name: &str, silent: bool) -> ExecuteOutcome {
        self.shared.reset_cell_flags();
        let (function, _is_expression) = match self.compile(code, chunk_name) {
            Ok(compiled) => compiled,
            Err(e) => return ExecuteOutcome::Error(e),
        };
        let args = self
            .varargs
            .iter()
            .map(|a| self.lua.create_string(a).map(Value::String));
        let args: mlua::Result<Vec<Value>> = args.collect();
        let run = args
            .map_err(|e| RunError::Error(from_mlua_error(&e)))
            .and_then(|args| self.run(function, args));
        match run {
            Ok(values) => {
                // Like the Lua REPL, a chunk's own `return` values are shown too.
                let result = (!values.is_empty() && !silent).then(|| self.bundle(&values));
                ExecuteOutcome::Ok {
                    result,
                    payload: Vec::new(),
                }
            }
            Err(RunError::Exit(code)) => ExecuteOutcome::Exit(code),
            Err(RunError::Error(e)) => ExecuteOutcome::Error(e),
        }
    }

    /// Compiles `return <code>` if it compiles (an expression), else `code` (a chunk);
    /// a cell seen before is loaded from its binary chunk instead (see [`ChunkCache`]).
    fn compile(&self, code: &str, chunk_name: &str) -> Result<(Function, bool), LuaError> {
        self.debugger.record_source(chunk_name, code);
        let mut chunk = std::mem::take(&mut *self.chunk_buf.borrow_mut());
        let lookup = self
            .chunks
            .borrow_mut()
            .lookup(code, chunk_name, &mut chunk);
        let hit = match lookup {
            Lookup::Hit { expression } => self
                .load(&chunk, chunk_name, ChunkMode::Binary)
                .ok()
                .map(|f| (f, expression)),
            _ => None,
        };
        *self.chunk_buf.borrow_mut() = chunk;
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let compiled = self.compile_text(code, chunk_name);
        if let (Lookup::Store, Ok((f, expression))) = (lookup, &compiled) {
            let dump = f.dump(false);
            self.chunks
                .borrow_mut()
                .store(code, chunk_name, *expression, dump);
        }
        compiled
    }

    /// Compiles `return <code>` if it compiles (an expression), else `code` (a chunk).
    fn compile_text(&self, code: &str, chunk_name: &str) -> Result<(Function, bool), LuaError> {
        let mut expression = String::with_capacity(RETURN.len() + code.len());
        expression.push_str(RETURN);
        expression.push_str(code);
        if let Ok(f) = self.load(expression.as_bytes(), chunk_name, ChunkMode::Text) {
            return Ok((f, true));
        }
        self.load(code.as_bytes(), chunk_name, ChunkMode::Text)
            .map(|f| (f, false))
            .map_err(|e| syntax_error(&e))
    }

    /// Loads `source` as a chunk named `chunk_name` (see [`NamedChunk`]).
    fn load(&self, source: &[u8], chunk_name: &str, mode: ChunkMode) -> mlua::Result<Function> {
        self.lua
            .load(NamedChunk {
                name: chunk_name,
                source,
                mode,
            })
            .into_function()
    }

    /// Evaluates one user expression after a successful cell.
    fn user_expression(&self, expr: &str) -> UserExpressionResult {
        self.shared.reset_cell_flags();
        let f = self
            .load(
                format!("{RETURN}{expr}").as_bytes(),
                USER_EXPRESSION_CHUNK,
                ChunkMode::Text,
            )
            .map_err(|e| syntax_error(&e))?;
        match self.run(f, Vec::new()) {
            Ok(values) => Ok(self.bundle(&values)),
            Err(RunError::Exit(_)) => Err(lua_error(
                RUNTIME_ERROR,
                "os.exit called in a user expression".to_owned(),
                Vec::new(),
            )),
            Err(RunError::Error(e)) => Err(e),
        }
    }

    /// The `text/plain` bundle of some values, tab-separated.
    fn bundle(&self, values: &[Value]) -> MimeBundle {
        let mut bundle = Map::new();
        bundle.insert(
            "text/plain".to_owned(),
            json!(format_values(&self.lua, values)),
        );
        bundle
    }

    /// Calls `f(args...)` under `xpcall` with the message handler; sorts out exits,
    /// interrupts and errors.
    fn run(&self, f: Function, args: Vec<Value>) -> Result<Vec<Value>, RunError> {
        *self.captured.borrow_mut() = None;
        let mut call = Vec::with_capacity(args.len() + 2);
        call.push(Value::Function(f));
        call.push(Value::Function(self.msgh.clone()));
        call.extend(args);
        let result = self.xpcall.call::<MultiValue>(MultiValue::from_vec(call));
        if let Some(code) = self.shared.exit_code.get() {
            return Err(RunError::Exit(code));
        }
        let mut values = match result {
            Ok(values) => values.into_vec(),
            Err(e) => return Err(RunError::Error(from_mlua_error(&e))),
        };
        if matches!(values.first(), Some(Value::Boolean(true))) {
            values.remove(0);
            return Ok(values);
        }
        let captured = self.captured.borrow_mut().take();
        let stack = captured
            .as_ref()
            .map(|c| c.stack.clone())
            .unwrap_or_default();
        if self.shared.interrupting.get() {
            return Err(RunError::Error(lua_error(
                KEYBOARD_INTERRUPT,
                "interrupted".to_owned(),
                stack,
            )));
        }
        let evalue = match captured {
            Some(c) => c.evalue,
            None => describe_error_value(&self.lua, values.get(1).unwrap_or(&Value::Nil)),
        };
        Err(RunError::Error(lua_error(RUNTIME_ERROR, evalue, stack)))
    }
}

/// The `*Done` event of a request that failed inside the engine.
fn failed(kind: Kind, id: u64, error: LuaError) -> EngineEvent {
    match kind {
        Kind::Execute => EngineEvent::ExecuteDone {
            id,
            outcome: ExecuteOutcome::Error(error),
            user_expressions: Vec::new(),
        },
        Kind::Complete(cursor) => EngineEvent::CompleteDone {
            id,
            matches: Vec::new(),
            cursor_start: cursor,
            cursor_end: cursor,
        },
        Kind::Inspect => EngineEvent::InspectDone {
            id,
            found: false,
            data: Map::new(),
        },
        Kind::IsComplete => EngineEvent::IsCompleteDone {
            id,
            status: IsCompleteStatus::Invalid,
        },
    }
}
