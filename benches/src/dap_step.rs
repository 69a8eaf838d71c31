//! The step round trip, three ways: `next` sent, to the `stopped` event received. The
//! program loops over two lines forever; each `next` stops on the next line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use crossbeam_channel::{Receiver, Sender};
use llmspell_core::dap::{CellFiles, Codec, Mode, Output, Session};
use llmspell_core::engine::debug::{DebugCommand, DebugEvent, DebugLink};
use llmspell_core::engine::{Engine, EngineConfig, EngineIo, EngineRequest};
use serde_json::{json, Value};

use crate::client::BenchError;
use crate::kernel::{KernelLaunch, KernelSpec, Workdir};
use crate::message::request_frames;
use crate::stats::Summary;

/// The program stepped through; the breakpoint is on line 3.
const PROGRAM: &str = "local n = 0\nwhile true do\n  n = n + 1\n  n = n + 2\nend\n";
const BREAK_LINE: u64 = 3;
/// Any single wait.
const WAIT: Duration = Duration::from_secs(30);

fn timeout(what: &str) -> BenchError {
    BenchError::Timeout(what.to_owned())
}

fn io(e: impl std::fmt::Display) -> BenchError {
    BenchError::Io(e.to_string())
}

fn request(seq: u64, command: &str, arguments: Value) -> Value {
    json!({"seq": seq, "type": "request", "command": command, "arguments": arguments})
}

/// Times `steps` steps after `warmup` untimed ones; `step` sends `next` and returns once
/// the stop it causes is seen.
fn time_steps(
    steps: usize,
    warmup: usize,
    mut step: impl FnMut() -> Result<(), BenchError>,
) -> Result<Summary, BenchError> {
    let mut samples = Vec::with_capacity(steps);
    for i in 0..warmup + steps {
        if crate::sys::interrupted() {
            return Err(BenchError::Interrupted);
        }
        let start = Instant::now();
        step()?;
        if i >= warmup {
            samples.push(start.elapsed().as_nanos() as u64);
        }
    }
    Summary::from_nanos(&samples).ok_or_else(|| BenchError::Usage("no steps".into()))
}

/// In-process: the DAP session on this thread, the engine on its own, channels between;
/// every message serialized and framed as an adapter would.
pub fn in_process(steps: usize, warmup: usize) -> Result<Summary, BenchError> {
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded::<DebugCommand>();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded::<DebugEvent>();
    let interrupt = Arc::new(AtomicBool::new(false));
    let mut session = Session::new(Mode::Jupyter(CellFiles::in_dir("/bench")));
    let mut wire = Vec::new();
    let pump = |session: &mut Session, wire: &mut Vec<u8>, tx: &Sender<DebugCommand>| {
        let mut stopped = false;
        while let Some(o) = session.poll_output() {
            match o {
                Output::Engine(cmd) => {
                    let _ = tx.send(cmd);
                }
                Output::Response { message, .. } | Output::Event(message) => {
                    stopped |= message["event"] == "stopped";
                    Codec::encode(&message, wire);
                }
                _ => {}
            }
        }
        stopped
    };
    for (i, (command, args)) in [
        ("initialize", json!({})),
        ("attach", json!({})),
        (
            "setBreakpoints",
            json!({"source": {"path": "/bench/step.lua"}, "breakpoints": [{"line": BREAK_LINE}]}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        session.handle_request(0, &request(i as u64 + 1, command, args));
        pump(&mut session, &mut wire, &cmd_tx);
    }
    let flag = interrupt.clone();
    let engine = std::thread::spawn(move || -> Result<(), String> {
        let (_in_tx, input) = crossbeam_channel::unbounded();
        let mut engine = Engine::new(
            EngineConfig::default(),
            EngineIo {
                interrupt: flag,
                input,
            },
        )?;
        engine.enable_debugger(DebugLink {
            commands: cmd_rx,
            events: Box::new(move |ev| {
                let _ = ev_tx.send(ev);
            }),
        })?;
        let request = EngineRequest::Execute {
            id: 1,
            code: PROGRAM.to_owned(),
            chunk_name: "@/bench/step.lua".to_owned(),
            silent: true,
            allow_stdin: false,
            user_expressions: Vec::new(),
        };
        engine.handle(request, &mut |_| {});
        Ok(())
    });
    let wait_stop = |session: &mut Session, wire: &mut Vec<u8>, rx: &Receiver<DebugEvent>| {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = rx.recv_timeout(left).map_err(|_| timeout("a stop"))?;
            session.handle_engine_event(ev);
            if pump(session, wire, &cmd_tx) {
                return Ok::<(), BenchError>(());
            }
        }
    };
    let result = wait_stop(&mut session, &mut wire, &ev_rx).and_then(|()| {
        let mut seq = 10;
        time_steps(steps, warmup, || {
            seq += 1;
            session.handle_request(0, &request(seq, "next", json!({"threadId": 1})));
            wire.clear();
            pump(&mut session, &mut wire, &cmd_tx);
            wait_stop(&mut session, &mut wire, &ev_rx)
        })
    });
    interrupt.store(true, Ordering::SeqCst);
    let _ = cmd_tx.send(DebugCommand::Detach);
    let _ = engine.join();
    result
}

/// A DAP client over a byte stream.
struct DapStream {
    stream: TcpStream,
    buf: BytesMut,
    codec: Codec,
    seq: u64,
}

impl DapStream {
    fn send(&mut self, command: &str, arguments: Value) -> Result<(), BenchError> {
        self.seq += 1;
        let mut out = Vec::new();
        Codec::encode(&request(self.seq, command, arguments), &mut out);
        self.stream.write_all(&out).map_err(io)
    }

    /// Reads messages until one satisfies `done`.
    fn until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Result<Value, BenchError> {
        let deadline = Instant::now() + WAIT;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            while let Some(msg) = self.codec.decode(&mut self.buf).map_err(io)? {
                if done(&msg) {
                    return Ok(msg);
                }
            }
            if Instant::now() >= deadline {
                return Err(timeout(what));
            }
            let n = self.stream.read(&mut chunk).map_err(io)?;
            if n == 0 {
                return Err(BenchError::Io(format!("the adapter closed before {what}")));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn is_event(name: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["type"] == "event" && m["event"] == name
}

/// `llmspell dap --port 0` over TCP on loopback.
pub fn over_tcp(bin: &str, steps: usize, warmup: usize) -> Result<Summary, BenchError> {
    let dir = Workdir::create().map_err(io)?;
    let program = dir.path.join("step.lua");
    std::fs::write(&program, PROGRAM).map_err(io)?;
    let mut command = Command::new(bin);
    command
        .args(["dap", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    crate::sys::configure_child(&mut command, None).map_err(io)?;
    let mut child = command.spawn().map_err(io)?;
    let result = (|| {
        let stdout = child.stdout.take().ok_or_else(|| io("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(io)?;
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| io(format!("no port in {line:?}")))?;
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(WAIT)).map_err(io)?;
        let mut dap = DapStream {
            stream,
            buf: BytesMut::new(),
            codec: Codec::default(),
            seq: 0,
        };
        let path = program.to_string_lossy().into_owned();
        dap.send("initialize", json!({"adapterID": "bench"}))?;
        dap.send("launch", json!({ "program": path }))?;
        dap.send(
            "setBreakpoints",
            json!({"source": {"path": path}, "breakpoints": [{"line": BREAK_LINE}]}),
        )?;
        dap.send("configurationDone", json!({}))?;
        dap.until("the breakpoint", is_event("stopped"))?;
        let summary = time_steps(steps, warmup, || {
            dap.send("next", json!({"threadId": 1}))?;
            dap.until("a step", is_event("stopped")).map(|_| ())
        });
        let _ = dap.send("disconnect", json!({}));
        summary
    })();
    crate::sys::terminate(&mut child, Duration::from_secs(2));
    result
}

/// A signed Jupyter message's type and content, from the frames after the identities.
fn read_message(frames: &[Vec<u8>]) -> Option<(String, Value)> {
    let delim = frames.iter().position(|f| f == b"<IDS|MSG>")?;
    let header: Value = serde_json::from_slice(frames.get(delim + 2)?).ok()?;
    let content: Value = serde_json::from_slice(frames.get(delim + 5)?).ok()?;
    Some((header["msg_type"].as_str()?.to_owned(), content))
}

/// The bench's client of a kernel's debugger: control, shell and iopub over libzmq.
struct KernelClient {
    control: zmq::Socket,
    shell: zmq::Socket,
    iopub: zmq::Socket,
    codec: llmspell_core::wire::Codec,
    session: String,
    /// Messages sent.
    n: u64,
    /// DAP requests sent.
    seq: u64,
}

impl KernelClient {
    fn send(&mut self, on_control: bool, msg_type: &str, content: Value) -> Result<(), BenchError> {
        self.n += 1;
        let frames = request_frames(
            &self.codec,
            &format!("{}_{}", self.session, self.n),
            &self.session,
            msg_type,
            Bytes::from(content.to_string()),
        );
        let sock = if on_control {
            &self.control
        } else {
            &self.shell
        };
        sock.send_multipart(frames.iter().map(|f| &f[..]), 0)?;
        Ok(())
    }

    /// The next message on `sock` before `deadline`.
    fn recv(sock: &zmq::Socket, deadline: Instant) -> Result<Option<(String, Value)>, BenchError> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i64;
        if sock.poll(zmq::POLLIN, left.max(1))? == 0 {
            return Ok(None);
        }
        Ok(read_message(&sock.recv_multipart(0)?))
    }

    /// A debug_request, and its reply's content.
    fn debug(&mut self, command: &str, arguments: Value) -> Result<Value, BenchError> {
        self.seq += 1;
        let seq = self.seq;
        self.send(true, "debug_request", request(seq, command, arguments))?;
        let deadline = Instant::now() + WAIT;
        while let Some((msg_type, content)) = Self::recv(&self.control, deadline)? {
            if msg_type == "debug_reply" && content["request_seq"] == seq {
                return Ok(content);
            }
        }
        Err(timeout(command))
    }

    fn wait_stopped(&self, what: &str) -> Result<(), BenchError> {
        let deadline = Instant::now() + WAIT;
        while let Some((msg_type, content)) = Self::recv(&self.iopub, deadline)? {
            if msg_type == "debug_event" && content["event"] == "stopped" {
                return Ok(());
            }
        }
        Err(timeout(what))
    }
}

/// A kernel over ZeroMQ: debug_request on control, debug_event on iopub.
pub fn over_kernel(bin: &str, steps: usize, warmup: usize) -> Result<Summary, BenchError> {
    let dir = Workdir::create().map_err(io)?;
    let spec = KernelSpec::parse(&format!(
        "llmspell={bin} kernel start -f {{connection_file}}"
    ))?;
    let mut kernel = KernelLaunch::prepare(&spec, &dir.path, 0, None)?.spawn()?;
    let info = kernel.info.clone();
    let ctx = zmq::Context::new();
    let socket = |kind, port: u16| -> Result<zmq::Socket, BenchError> {
        let s = ctx.socket(kind)?;
        s.set_linger(0)?;
        s.connect(&format!("tcp://127.0.0.1:{port}"))?;
        Ok(s)
    };
    let mut c = KernelClient {
        control: socket(zmq::DEALER, info.control_port)?,
        shell: socket(zmq::DEALER, info.shell_port)?,
        iopub: socket(zmq::SUB, info.iopub_port)?,
        codec: llmspell_core::wire::Codec::new(info.key.as_bytes(), 0),
        session: crate::sys::random_hex(8).map_err(io)?,
        n: 0,
        seq: 0,
    };
    c.iopub.set_subscribe(b"")?;
    // Started and subscribed: iopub delivers the status of a kernel_info on shell.
    let deadline = Instant::now() + WAIT;
    loop {
        c.send(false, "kernel_info_request", json!({}))?;
        let tick = (Instant::now() + Duration::from_millis(200)).min(deadline);
        if KernelClient::recv(&c.iopub, tick)?.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(timeout("the kernel's iopub"));
        }
    }
    c.debug("initialize", json!({}))?;
    c.debug("attach", json!({}))?;
    let dumped = c.debug("dumpCell", json!({ "code": PROGRAM }))?;
    let path = dumped["body"]["sourcePath"].clone();
    c.debug(
        "setBreakpoints",
        json!({"source": {"path": path}, "breakpoints": [{"line": BREAK_LINE}]}),
    )?;
    let content = json!({"code": PROGRAM, "silent": false, "store_history": true,
        "user_expressions": {}, "allow_stdin": false, "stop_on_error": true});
    c.send(false, "execute_request", content)?;
    c.wait_stopped("the breakpoint")?;
    let summary = time_steps(steps, warmup, || {
        c.seq += 1;
        c.send(
            true,
            "debug_request",
            request(c.seq, "next", json!({"threadId": 1})),
        )?;
        c.wait_stopped("a step")?;
        // The replies to `next` pile up on control otherwise.
        while c.control.poll(zmq::POLLIN, 0)? > 0 {
            c.control.recv_multipart(0)?;
        }
        Ok(())
    });
    let _ = c.send(true, "interrupt_request", json!({}));
    let _ = c.send(true, "shutdown_request", json!({"restart": false}));
    kernel.stop();
    summary
}
