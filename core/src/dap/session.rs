//! The DAP session: every transition, from requests and engine events to responses,
//! events and engine commands.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{json, Value};

use super::args::{normalize_path, Args, SourceBreakpoint};
use super::murmur::murmur2;
use super::{capabilities, Launch, Mode, Output};
use crate::engine::debug::{DebugCommand, Query, StepKind, THREAD_ID};

/// The state of one debug session. See the [module docs](super) for how to drive it.
#[derive(Debug)]
pub struct Session {
    mode: Mode,
    /// The `seq` of the next message we send.
    seq: i64,
    /// A client attached (Jupyter) or launched a program (standalone).
    started: bool,
    /// The engine reported a stop and no resume since.
    pub(super) stopped: bool,
    /// Standalone: the program to run, once launched.
    launch: Option<Launch>,
    /// Standalone: configurationDone arrived.
    configured: bool,
    /// Standalone: the program was told to start.
    running: bool,
    /// The breakpoints by normalized path, as the client gave them, with their ids.
    breakpoints: BTreeMap<String, Vec<(u64, SourceBreakpoint)>>,
    next_breakpoint_id: u64,
    /// The exception filters on.
    exception_filters: Vec<String>,
    /// Queries sent to the engine: token -> (tag, request seq, command).
    pub(super) pending: HashMap<u64, (u64, i64, String)>,
    next_token: u64,
    out: VecDeque<Output>,
}

/// Whether a result is a body or an error message.
type Answer = Result<Value, String>;

impl Session {
    /// A session in `mode`.
    pub fn new(mode: Mode) -> Session {
        Session {
            mode,
            seq: 1,
            started: false,
            stopped: false,
            launch: None,
            configured: false,
            running: false,
            breakpoints: BTreeMap::new(),
            next_breakpoint_id: 1,
            exception_filters: Vec::new(),
            pending: HashMap::new(),
            next_token: 1,
            out: VecDeque::new(),
        }
    }

    /// The next output, if any. Drain after every `handle_*` call.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Whether a client is attached (Jupyter) or a program launched (standalone).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Whether the engine is stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Jupyter mode: the file a cell's code is dumped to, `prefix + murmur2(code) + suffix`.
    pub fn cell_path(&self, code: &str) -> Option<String> {
        match &self.mode {
            Mode::Jupyter(c) => Some(format!(
                "{}{}{}",
                c.tmp_file_prefix,
                murmur2(code.as_bytes(), c.hash_seed),
                c.tmp_file_suffix
            )),
            Mode::Standalone => None,
        }
    }

    /// Jupyter mode, while a client is attached: the chunk name to run a cell under, so
    /// that breakpoints set on its file land.
    pub fn cell_chunk_name(&self, code: &str) -> Option<String> {
        self.started
            .then(|| self.cell_path(code))
            .flatten()
            .map(|p| format!("@{p}"))
    }

    fn next_seq(&mut self) -> i64 {
        let s = self.seq;
        self.seq += 1;
        s
    }

    pub(super) fn respond(&mut self, tag: u64, request_seq: i64, command: &str, answer: Answer) {
        let seq = self.next_seq();
        let mut msg = json!({
            "seq": seq, "type": "response", "request_seq": request_seq,
            "command": command, "success": answer.is_ok(),
        });
        match answer {
            Ok(body) => msg["body"] = body,
            Err(message) => {
                msg["body"] = json!({"error": {"id": 1, "format": message.clone()}});
                msg["message"] = message.into();
            }
        }
        self.out.push_back(Output::Response { tag, message: msg });
    }

    pub(super) fn event(&mut self, event: &str, body: Value) {
        let seq = self.next_seq();
        let msg = json!({"seq": seq, "type": "event", "event": event, "body": body});
        self.out.push_back(Output::Event(msg));
    }

    fn engine(&mut self, cmd: DebugCommand) {
        self.out.push_back(Output::Engine(cmd));
    }

    /// Sends a query to the engine; the response follows its reply.
    fn ask(&mut self, tag: u64, request_seq: i64, command: &str, query: Query) {
        let token = self.next_token;
        self.next_token += 1;
        self.pending
            .insert(token, (tag, request_seq, command.to_owned()));
        self.engine(DebugCommand::Query { token, query });
    }

    /// Handles one DAP request (a JSON object). Its response carries `tag` back; it comes
    /// at once, or after the engine answers.
    pub fn handle_request(&mut self, tag: u64, request: &Value) {
        let seq = request.get("seq").and_then(Value::as_i64).unwrap_or(0);
        let Some(command) = request.get("command").and_then(Value::as_str) else {
            return self.respond(tag, seq, "", Err("the request has no `command`".into()));
        };
        let command = command.to_owned();
        if request.get("type").and_then(Value::as_str) != Some("request") {
            let e = format!("{command}: `type` must be \"request\"");
            return self.respond(tag, seq, &command, Err(e));
        }
        let args = match Args::new(&command, request.get("arguments")) {
            Ok(a) => a,
            Err(e) => return self.respond(tag, seq, &command, Err(e)),
        };
        if let Err(e) = self.dispatch(tag, seq, &command, &args) {
            self.respond(tag, seq, &command, Err(e));
        }
    }

    /// Runs one command. An `Err` becomes an error response; otherwise the command
    /// responded itself (or asked the engine, which will).
    fn dispatch(&mut self, tag: u64, seq: i64, command: &str, args: &Args) -> Result<(), String> {
        let jupyter = matches!(self.mode, Mode::Jupyter(_));
        let ok = |s: &mut Session, body: Value| s.respond(tag, seq, command, Ok(body));
        match command {
            "initialize" => {
                ok(self, capabilities(&self.mode));
                self.event("initialized", json!({}));
            }
            "attach" if jupyter => {
                self.started = true;
                self.engine(DebugCommand::Attach);
                let uncaught = self.exception_filters.iter().any(|f| f == "uncaught");
                self.engine(DebugCommand::SetExceptionBreakpoints { uncaught });
                ok(self, json!({}));
            }
            "launch" if !jupyter => self.launch(args, tag, seq)?,
            "configurationDone" => {
                self.configured = true;
                ok(self, json!({}));
                self.start_if_ready();
            }
            "setBreakpoints" => self.set_breakpoints(args, tag, seq)?,
            "setExceptionBreakpoints" => {
                let filters = args.exception_filters()?;
                let known: Vec<Value> = filters
                    .iter()
                    .map(|f| json!({"verified": f == "uncaught"}))
                    .collect();
                let uncaught = filters.iter().any(|f| f == "uncaught");
                self.exception_filters = filters;
                self.engine(DebugCommand::SetExceptionBreakpoints { uncaught });
                ok(self, json!({ "breakpoints": known }));
            }
            "threads" => ok(
                self,
                json!({"threads": [{"id": THREAD_ID, "name": "main"}]}),
            ),
            "stackTrace" => {
                let query = Query::StackTrace {
                    start_frame: args.count("startFrame")?,
                    levels: args.count("levels")?,
                };
                self.ask(tag, seq, command, query);
            }
            "scopes" => {
                let frame_id = args.int("frameId")?;
                self.ask(tag, seq, command, Query::Scopes { frame_id });
            }
            "variables" => {
                let query = Query::Variables {
                    reference: args.int("variablesReference")?,
                    start: args.count("start")?,
                    count: args.count("count")?,
                };
                self.ask(tag, seq, command, query);
            }
            "evaluate" => {
                let query = Query::Evaluate {
                    expression: args.str("expression")?.to_owned(),
                    frame_id: args.opt_int("frameId")?,
                    context: args.opt_str("context")?.unwrap_or("repl").to_owned(),
                };
                self.ask(tag, seq, command, query);
            }
            "setVariable" => {
                let query = Query::SetVariable {
                    reference: args.int("variablesReference")?,
                    name: args.str("name")?.to_owned(),
                    value: args.str("value")?.to_owned(),
                };
                self.ask(tag, seq, command, query);
            }
            "source" => {
                let path = args.source_path()?.to_owned();
                self.ask(tag, seq, command, Query::Source { path });
            }
            "exceptionInfo" => self.ask(tag, seq, command, Query::ExceptionInfo),
            "continue" | "next" | "stepIn" | "stepOut" => {
                let kind = match command {
                    "continue" => StepKind::Continue,
                    "next" => StepKind::Next,
                    "stepIn" => StepKind::StepIn,
                    _ => StepKind::StepOut,
                };
                if kind != StepKind::Continue && !self.stopped {
                    return Err(format!("{command}: the thread is not stopped"));
                }
                self.engine(DebugCommand::Resume(kind));
                let body = if kind == StepKind::Continue {
                    json!({"allThreadsContinued": true})
                } else {
                    json!({})
                };
                ok(self, body);
            }
            "pause" => {
                self.engine(DebugCommand::Pause);
                ok(self, json!({}));
            }
            "disconnect" => {
                self.started = false;
                self.breakpoints.clear();
                self.exception_filters.clear();
                self.engine(DebugCommand::Detach);
                ok(self, json!({}));
                if !jupyter {
                    self.out.push_back(Output::Terminate);
                }
            }
            "terminate" if !jupyter => {
                ok(self, json!({}));
                self.out.push_back(Output::Terminate);
            }
            "debugInfo" if jupyter => {
                let body = self.debug_info();
                ok(self, body);
            }
            "dumpCell" if jupyter => {
                let code = args.str("code")?.to_owned();
                let path = self.cell_path(&code).unwrap_or_default();
                self.ask(tag, seq, command, Query::DumpCell { path, code });
            }
            "inspectVariables" if jupyter => self.ask(tag, seq, command, Query::InspectVariables),
            "richInspectVariables" if jupyter => {
                let query = Query::RichInspectVariables {
                    name: args.str("variableName")?.to_owned(),
                    frame_id: args.opt_int("frameId")?,
                };
                self.ask(tag, seq, command, query);
            }
            "copyToGlobals" if jupyter => {
                let query = Query::CopyToGlobals {
                    src: args.str("srcVariableName")?.to_owned(),
                    dst: args.str("dstVariableName")?.to_owned(),
                    frame_id: args.int("srcFrameId")?,
                };
                self.ask(tag, seq, command, query);
            }
            "modules" => self.ask(tag, seq, command, Query::Modules),
            other => return Err(format!("unknown command {other:?}")),
        }
        Ok(())
    }

    fn launch(&mut self, args: &Args, tag: u64, seq: i64) -> Result<(), String> {
        if self.launch.is_some() {
            return Err("launch: a program is already launched".into());
        }
        let launch = Launch {
            program: normalize_path(args.str("program")?),
            args: args.strings("args")?,
            stop_on_entry: args.flag("stopOnEntry")?,
            no_debug: args.flag("noDebug")?,
            cwd: args.opt_str("cwd")?.map(str::to_owned),
        };
        self.started = true;
        if !launch.no_debug {
            self.engine(DebugCommand::Attach);
            if launch.stop_on_entry {
                self.engine(DebugCommand::StopOnEntry);
            }
        }
        self.out.push_back(Output::Launch(launch.clone()));
        self.launch = Some(launch);
        self.respond(tag, seq, "launch", Ok(json!({})));
        self.start_if_ready();
        Ok(())
    }

    fn start_if_ready(&mut self) {
        if self.launch.is_some() && self.configured && !self.running {
            self.running = true;
            self.out.push_back(Output::Start);
        }
    }

    fn set_breakpoints(&mut self, args: &Args, tag: u64, seq: i64) -> Result<(), String> {
        let path = normalize_path(args.source_path()?);
        let parsed = args.breakpoints()?;
        let mut kept = Vec::new();
        let mut answer = Vec::new();
        for bp in parsed {
            let id = self.next_breakpoint_id;
            self.next_breakpoint_id += 1;
            match bp {
                Ok(bp) => {
                    answer.push(json!({"id": id, "verified": true, "line": bp.line,
                        "source": {"path": path}}));
                    kept.push((id, bp));
                }
                Err((line, message)) => answer.push(json!({"id": id, "verified": false,
                    "line": line, "source": {"path": path}, "message": message})),
            }
        }
        let specs = kept.iter().map(|(id, b)| b.spec(*id)).collect();
        self.engine(DebugCommand::SetBreakpoints {
            source: format!("@{path}"),
            breakpoints: specs,
        });
        if kept.is_empty() {
            self.breakpoints.remove(&path);
        } else {
            self.breakpoints.insert(path, kept);
        }
        self.respond(
            tag,
            seq,
            "setBreakpoints",
            Ok(json!({ "breakpoints": answer })),
        );
        Ok(())
    }

    fn debug_info(&self) -> Value {
        let breakpoints: Vec<Value> = self
            .breakpoints
            .iter()
            .map(|(path, bps)| {
                let list: Vec<Value> = bps.iter().map(|(_, b)| b.to_json()).collect();
                json!({"source": path, "breakpoints": list})
            })
            .collect();
        let (prefix, suffix, seed) = match &self.mode {
            Mode::Jupyter(c) => (
                c.tmp_file_prefix.as_str(),
                c.tmp_file_suffix.as_str(),
                c.hash_seed,
            ),
            Mode::Standalone => ("", "", 0),
        };
        let stopped: Vec<i64> = if self.stopped {
            vec![THREAD_ID]
        } else {
            vec![]
        };
        json!({
            "isStarted": self.started, "hashMethod": "Murmur2", "hashSeed": seed,
            "tmpFilePrefix": prefix, "tmpFileSuffix": suffix, "breakpoints": breakpoints,
            "stoppedThreads": stopped, "richRendering": true, "exceptionPaths": [],
            "copyToGlobals": true,
        })
    }
}
