//! `llmspell dap`: a standalone Debug Adapter Protocol server for Lua scripts, over stdio,
//! or over TCP on loopback with `--port N` (sessions one after another; `--port 0` picks a
//! free port and prints it).
//!
//! The protocol is `llmspell_core::dap::Session`; this file only moves bytes and runs the
//! program. Three threads per session: a reader (bytes to requests), the session loop
//! (this thread: requests and engine reports in, framed messages out), and the program's
//! engine thread, made at `launch` and started at `configurationDone`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use crossbeam_channel::{Receiver, Sender};
use llmspell_core::dap::{Codec, CodecError, Launch, Mode, Output, Session};
use llmspell_core::engine::debug::{DebugCommand, DebugEvent, DebugLink};
use llmspell_core::engine::{
    Engine, EngineConfig, EngineEvent, EngineIo, EngineRequest, ExecuteOutcome, StreamName,
};
use serde_json::Value;

use crate::cli::DapArgs;
use crate::error::CliError;

/// How long a program may take to end after the client leaves.
const END_GRACE: Duration = Duration::from_secs(5);

/// What reaches the session loop.
enum Input {
    /// A DAP request.
    Request(Value),
    /// Bytes that were not a message; `fatal` when the stream cannot go on.
    Bad { why: String, fatal: bool },
    /// The client closed the stream.
    Closed,
    /// The engine's debugger reported.
    Debug(DebugEvent),
    /// The program wrote.
    Output(StreamName, String),
    /// The program ended.
    Exited(i32),
}

/// `llmspell dap [--port N]`.
pub fn run(args: &DapArgs, config_path: Option<&std::path::Path>) -> Result<i32, CliError> {
    let config = crate::config::Config::load_from_process(config_path)?;
    let tools = llmspell_core::tools::ToolHostRef(crate::host::embedded_host(config.host_config()));
    let Some(port) = args.port else {
        let stdout = std::io::stdout();
        serve(std::io::stdin(), stdout.lock(), &tools)?;
        return Ok(0);
    };
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| CliError::io(format!("cannot listen on 127.0.0.1:{port}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::io("cannot read the listening address", e))?;
    println!("llmspell dap: listening on {addr}");
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let reader = stream
            .try_clone()
            .map_err(|e| CliError::io("cannot share the connection", e))?;
        if let Err(e) = serve(reader, &stream, &tools) {
            tracing::warn!(error = %e.message, "debug session ended with an error");
        }
    }
    Ok(0)
}

/// Serves one session over a byte stream, until the client disconnects or goes away.
fn serve(
    reader: impl Read + Send + 'static,
    mut writer: impl Write,
    tools: &llmspell_core::tools::ToolHostRef,
) -> Result<(), CliError> {
    let (tx, inputs) = crossbeam_channel::unbounded::<Input>();
    let reader_tx = tx.clone();
    std::thread::Builder::new()
        .name("llmspell-dap-reader".into())
        .spawn(move || read_requests(reader, &reader_tx))
        .map_err(|e| CliError::io("cannot start the reader thread", e))?;
    let mut session = Session::new(Mode::Standalone);
    let (debug_tx, debug_rx) = crossbeam_channel::unbounded::<DebugCommand>();
    let mut program: Option<Program> = None;
    let mut ending = false;
    let mut out = Vec::new();
    loop {
        let next = if ending {
            inputs.recv_timeout(END_GRACE).ok()
        } else {
            inputs.recv().ok()
        };
        let Some(input) = next else { break };
        match input {
            Input::Request(req) => session.handle_request(0, &req),
            Input::Bad { why, fatal } => {
                tracing::warn!(%why, "bad DAP input");
                session.handle_bad_message(&why);
                if fatal {
                    ending = true;
                }
            }
            Input::Closed => {
                ending = true;
                let _ = debug_tx.send(DebugCommand::Detach);
                program = program.filter(Program::stop);
            }
            Input::Debug(ev) => session.handle_engine_event(ev),
            Input::Output(name, text) => session.handle_program_output(name.as_str(), &text),
            Input::Exited(code) => {
                session.handle_program_exit(code);
                program = None;
            }
        }
        while let Some(output) = session.poll_output() {
            match output {
                Output::Response { message, .. } | Output::Event(message) => {
                    Codec::encode(&message, &mut out);
                }
                Output::Engine(cmd) => {
                    let _ = debug_tx.send(cmd);
                }
                Output::Launch(launch) => match Program::launch(launch, &debug_rx, &tx, tools) {
                    Ok(p) => program = Some(p),
                    Err(why) => {
                        session.handle_program_output("stderr", &format!("{why}\n"));
                        session.handle_program_exit(1);
                    }
                },
                Output::Start => {
                    if let Some(p) = &mut program {
                        p.start();
                    }
                }
                Output::Terminate => {
                    ending = true;
                    program = program.filter(Program::stop);
                }
            }
        }
        if !out.is_empty() {
            if writer
                .write_all(&out)
                .and_then(|()| writer.flush())
                .is_err()
            {
                break;
            }
            out.clear();
        }
        if ending && program.is_none() {
            break;
        }
    }
    if let Some(p) = &program {
        p.stop();
    }
    Ok(())
}

/// Reads framed requests until the stream ends or cannot be read.
fn read_requests(mut reader: impl Read, tx: &Sender<Input>) {
    let codec = Codec::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(req)) => {
                    if tx.send(Input::Request(req)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e @ CodecError::BadJson(_)) => {
                    let _ = tx.send(Input::Bad {
                        why: e.to_string(),
                        fatal: false,
                    });
                }
                Err(e) => {
                    let _ = tx.send(Input::Bad {
                        why: e.to_string(),
                        fatal: true,
                    });
                    let _ = tx.send(Input::Closed);
                    return;
                }
            }
        }
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => {
                let _ = tx.send(Input::Closed);
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The launched program: its engine thread, told when to start and how to stop.
struct Program {
    start: Sender<()>,
    interrupt: Arc<AtomicBool>,
    /// Whether it was told to start (and so will report its end).
    started: bool,
}

impl Program {
    /// Reads the program and makes its engine on a thread of its own; it runs on
    /// [`Program::start`].
    fn launch(
        launch: Launch,
        commands: &Receiver<DebugCommand>,
        tx: &Sender<Input>,
        tools: &llmspell_core::tools::ToolHostRef,
    ) -> Result<Program, String> {
        if let Some(cwd) = &launch.cwd {
            std::env::set_current_dir(cwd).map_err(|e| format!("cannot enter {cwd}: {e}"))?;
        }
        let path = std::path::absolute(&launch.program)
            .map_err(|e| format!("bad program path {}: {e}", launch.program))?;
        let code = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the program {}: {e}", path.display()))?;
        let chunk_name = format!("@{}", path.display());
        let mut script_args = vec![launch.program.clone()];
        script_args.extend(launch.args.iter().cloned());
        let config = EngineConfig {
            kernel_mode: false,
            script_args,
            tools: Some(tools.clone()),
        };
        let interrupt = Arc::new(AtomicBool::new(false));
        let (_input_tx, input_rx) = crossbeam_channel::unbounded();
        let io = EngineIo {
            interrupt: interrupt.clone(),
            input: input_rx,
        };
        let (start_tx, start_rx) = crossbeam_channel::bounded::<()>(1);
        let (commands, tx) = (commands.clone(), tx.clone());
        std::thread::Builder::new()
            .name("llmspell-dap-engine".into())
            .spawn(move || {
                let debug_tx = tx.clone();
                let link = DebugLink {
                    commands,
                    events: Box::new(move |ev| {
                        let _ = debug_tx.send(Input::Debug(ev));
                    }),
                };
                let engine = Engine::new(config, io).and_then(|mut e| {
                    e.enable_debugger(link)?;
                    Ok(e)
                });
                match engine {
                    Ok(engine) => run_program(engine, &start_rx, &code, &chunk_name, &tx),
                    Err(e) => {
                        let _ = tx.send(Input::Output(StreamName::Stderr, format!("{e}\n")));
                        let _ = tx.send(Input::Exited(1));
                    }
                }
            })
            .map_err(|e| format!("cannot start the engine thread: {e}"))?;
        Ok(Program {
            start: start_tx,
            interrupt,
            started: false,
        })
    }

    fn start(&mut self) {
        self.started = self.start.try_send(()).is_ok() || self.started;
    }

    /// Interrupts the program (a stopped one too: the stop ends on the flag). Returns
    /// whether it runs and will report its end; one that never started just goes.
    fn stop(&self) -> bool {
        self.interrupt.store(true, Ordering::SeqCst);
        self.started
    }
}

/// The engine thread: serves debugger commands until told to start, runs the program,
/// reports how it ended, and serves commands until the session drops the channel.
fn run_program(
    mut engine: Engine,
    start: &Receiver<()>,
    code: &str,
    chunk_name: &str,
    tx: &Sender<Input>,
) {
    let Some(commands) = engine.debug_commands() else {
        return;
    };
    let mut started = false;
    loop {
        crossbeam_channel::select! {
            recv(start) -> go => {
                if go.is_err() || started {
                    return;
                }
                started = true;
                let code = execute(&mut engine, code, chunk_name, tx);
                if tx.send(Input::Exited(code)).is_err() {
                    return;
                }
            },
            recv(commands) -> cmd => match cmd {
                Ok(cmd) => engine.handle_debug(cmd),
                Err(_) => return,
            },
        }
    }
}

/// Runs the program; returns its exit code.
fn execute(engine: &mut Engine, code: &str, chunk_name: &str, tx: &Sender<Input>) -> i32 {
    let request = EngineRequest::Execute {
        id: 1,
        code: code.to_owned(),
        chunk_name: chunk_name.to_owned(),
        silent: true,
        allow_stdin: false,
        user_expressions: Vec::new(),
    };
    let mut exit = 0;
    engine.handle(request, &mut |ev| match ev {
        EngineEvent::Stream { name, text, .. } => {
            let _ = tx.send(Input::Output(name, text));
        }
        EngineEvent::ExecuteDone { outcome, .. } => {
            exit = match outcome {
                ExecuteOutcome::Ok { .. } => 0,
                ExecuteOutcome::Exit(code) => code,
                ExecuteOutcome::Error(e) => {
                    let mut text = e.traceback.join("\n");
                    text.push('\n');
                    let _ = tx.send(Input::Output(StreamName::Stderr, text));
                    if e.ename == "KeyboardInterrupt" {
                        130
                    } else {
                        1
                    }
                }
            }
        }
        _ => {}
    });
    exit
}
