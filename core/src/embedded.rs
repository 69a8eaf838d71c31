//! The kernel and the engine driven in-process, with no sockets: `llmspell exec` and
//! `llmspell run`.
//!
//! It is the same path as a served kernel: each run is an `execute_request` fed to
//! [`Kernel`], whose engine jobs run on the caller's thread and whose iopub messages are
//! decoded back into [`Output`]s. Messages are unsigned and never leave the process.
//! Header dates are not read by anyone here, so the driver passes a counter as the time.

use crate::connection::Channel;
use crate::engine::{
    Engine, EngineConfig, EngineEvent, EngineIo, EngineRequest, ExecuteOutcome, InputReply,
    LuaError, MimeBundle, StreamName,
};
use crate::kernel::{worker, Action, Kernel, KernelConfig, WorkerEvent};
use crate::time::Timestamp;
use crate::wire::{write_header, Codec};
use bytes::Bytes;
use serde_json::Value;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One output of a cell, as the embedded kernel hands it to the caller.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Text on stdout or stderr.
    Stream(StreamName, String),
    /// An execute result or display: the MIME bundle.
    Data(MimeBundle),
    /// An error.
    Error(LuaError),
}

/// How an embedded run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Finished normally.
    Ok,
    /// Raised an error (already passed to the output sink).
    Error,
    /// The script called `os.exit(code)`.
    Exit(i32),
}

/// Reads a line for `io.read`; `None` at end of input.
pub type LineReader = Box<dyn FnMut(&str) -> Option<String>>;

/// A kernel with its engine on the caller's thread.
pub struct EmbeddedKernel {
    kernel: Kernel,
    engine: Engine,
    codec: Codec,
    input: crossbeam_channel::Sender<InputReply>,
    interrupt: Arc<AtomicBool>,
    read_line: LineReader,
    clock: u64,
    tools: Option<crate::tools::ToolHostRef>,
}

impl EmbeddedKernel {
    /// A new embedded kernel. `io.read` reads from the process's stdin.
    pub fn new(config: EngineConfig) -> Result<Self, String> {
        let stdin_reader: LineReader = Box::new(|_prompt| {
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => None,
                Ok(_) => {
                    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
                    Some(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string())
                }
            }
        });
        Self::with_reader(config, stdin_reader)
    }

    /// A new embedded kernel whose `io.read` calls `read_line` with the prompt.
    pub fn with_reader(config: EngineConfig, read_line: LineReader) -> Result<Self, String> {
        let interrupt = Arc::new(AtomicBool::new(false));
        let tools = config.tools.clone();
        let (input, input_rx) = crossbeam_channel::unbounded();
        let engine = Engine::new(
            config,
            EngineIo {
                interrupt: interrupt.clone(),
                input: input_rx,
            },
        )?;
        let kernel = Kernel::new(KernelConfig {
            session: "embedded".into(),
            tools: tools.clone(),
            ..KernelConfig::default()
        });
        Ok(EmbeddedKernel {
            kernel,
            engine,
            codec: Codec::new(b"", 0),
            input,
            interrupt,
            read_line,
            clock: 0,
            tools,
        })
    }

    /// The flag that interrupts the running code when set (for a SIGINT handler).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// Runs `code` under `chunk_name`, passing every output to `out` as it happens.
    pub fn execute(&mut self, code: &str, chunk_name: &str, out: &mut dyn FnMut(Output)) -> Status {
        let content = serde_json::json!({
            "code": code, "silent": false, "store_history": true,
            "user_expressions": {}, "allow_stdin": true, "stop_on_error": true,
        });
        let mut driver = Driver {
            kernel: &mut self.kernel,
            codec: &mut self.codec,
            input: &self.input,
            read_line: &mut self.read_line,
            clock: &mut self.clock,
            tools: self.tools.clone(),
            out,
            status: None,
            jobs: Vec::new(),
        };
        let frames = driver.request(Channel::Shell, "execute_request", content.to_string());
        let now = driver.tick();
        driver.kernel.handle_message(now, Channel::Shell, frames);
        driver.drain();
        let gate = driver.kernel.abort_gate();
        while !driver.jobs.is_empty() {
            let mut job = driver.jobs.remove(0);
            if let EngineRequest::Execute {
                chunk_name: name, ..
            } = &mut job.request
            {
                *name = chunk_name.to_string();
            }
            worker::run_one(&mut self.engine, &gate, job, &mut |ev| {
                driver.on_worker_event(ev)
            });
        }
        driver.status.unwrap_or(Status::Error)
    }
}

/// The borrowed pieces of one run, so the engine's sink can feed the kernel.
struct Driver<'a> {
    kernel: &'a mut Kernel,
    codec: &'a mut Codec,
    input: &'a crossbeam_channel::Sender<InputReply>,
    read_line: &'a mut LineReader,
    clock: &'a mut u64,
    tools: Option<crate::tools::ToolHostRef>,
    out: &'a mut dyn FnMut(Output),
    status: Option<Status>,
    jobs: Vec<crate::kernel::EngineJob>,
}

impl Driver<'_> {
    fn tick(&mut self) -> Timestamp {
        *self.clock += 1;
        Timestamp::from_unix_micros(*self.clock)
    }

    fn request(&mut self, channel: Channel, msg_type: &str, content: String) -> Vec<Bytes> {
        let _ = channel;
        let mut header = Vec::with_capacity(160);
        let id = format!("embedded-{}", self.clock);
        write_header(
            &mut header,
            &id,
            msg_type,
            "embedded",
            "user",
            Timestamp::default(),
            "5.5",
        );
        self.codec.encode(
            &[Bytes::from_static(b"embedded")],
            Bytes::from(header),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::from(content),
            &[],
        )
    }

    fn on_worker_event(&mut self, ev: WorkerEvent) {
        let ev = match ev {
            WorkerEvent::Engine(EngineEvent::ExecuteDone {
                id,
                outcome: ExecuteOutcome::Exit(code),
                user_expressions,
            }) => {
                // The kernel never exits by itself; the embedded run ends with the code.
                self.status = Some(Status::Exit(code));
                let outcome = ExecuteOutcome::Ok {
                    result: None,
                    payload: vec![],
                };
                WorkerEvent::Engine(EngineEvent::ExecuteDone {
                    id,
                    outcome,
                    user_expressions,
                })
            }
            other => other,
        };
        let now = self.tick();
        self.kernel.handle_worker_event(now, ev);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(action) = self.kernel.poll_action() {
            match action {
                Action::Send { channel, frames } => self.on_message(channel, frames),
                Action::Engine(job) => self.jobs.push(job),
                Action::Tool(job) => {
                    // In-process, tool calls run on the caller's thread.
                    let done = match &self.tools {
                        Some(host) => job.run(host.0.as_ref()),
                        None => continue,
                    };
                    let now = self.tick();
                    self.kernel.handle_tool_done(now, job.id, done);
                }
                Action::Input(reply) => {
                    // The engine waits for exactly this answer.
                    let _ = self.input.send(reply);
                }
                Action::Interrupt | Action::Shutdown { .. } | Action::Debug(_) => {}
            }
        }
    }

    fn on_message(&mut self, channel: Channel, frames: Vec<Bytes>) {
        let Ok(msg) = self.codec.decode(frames) else {
            return;
        };
        let Ok(content) = serde_json::from_slice::<Value>(&msg.content) else {
            return;
        };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        match (channel, msg.header.msg_type()) {
            (Channel::Iopub, "stream") => {
                let name = if content["name"] == "stderr" {
                    StreamName::Stderr
                } else {
                    StreamName::Stdout
                };
                (self.out)(Output::Stream(name, text(&content["text"])));
            }
            (Channel::Iopub, "execute_result" | "display_data" | "update_display_data") => {
                if let Value::Object(data) = &content["data"] {
                    (self.out)(Output::Data(data.clone()));
                }
            }
            (Channel::Iopub, "error") => {
                let traceback = content["traceback"]
                    .as_array()
                    .map_or_else(Vec::new, |a| a.iter().map(text).collect());
                let e = LuaError {
                    ename: text(&content["ename"]),
                    evalue: text(&content["evalue"]),
                    traceback,
                };
                (self.out)(Output::Error(e));
            }
            (Channel::Shell, "execute_reply") if self.status.is_none() => {
                let ok = content["status"] == "ok";
                self.status = Some(if ok { Status::Ok } else { Status::Error });
            }
            (Channel::Stdin, "input_request") => {
                let prompt = text(&content["prompt"]);
                let reply = match (self.read_line)(&prompt) {
                    Some(line) => serde_json::json!({ "value": line }).to_string(),
                    None => {
                        // End of input: io.read gives nil, as at the end of a file.
                        let _ = self.input.send(InputReply::Eof);
                        return;
                    }
                };
                let frames = self.request(Channel::Stdin, "input_reply", reply);
                let now = self.tick();
                self.kernel.handle_message(now, Channel::Stdin, frames);
                self.drain();
            }
            _ => {}
        }
    }
}
