//! Binding the five channels and serving them until shutdown.

use crate::io::{Listener, Stream};
use bytes::{Bytes, BytesMut};
use llmspell_core::connection::{Channel, ConnectionInfo, Transport};
use llmspell_core::hub::{ConnId, Effect, Hub, Limits, SocketOptions};
use llmspell_core::kernel::{KernelConfig, ToolJob, WorkerEvent};
use llmspell_core::tools::ToolHostRef;
use llmspell_core::zmtp::consume_written;
use llmspell_runtime_common::{
    cell_files, now, remove_cell_files, resource_usage, session_id, spawn_engine,
    spawn_tool_workers, EngineHandle,
};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::LocalSet;
use tracing::{debug, info, warn};

/// Settings of a kernel server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen and the signing key; ports of 0 are chosen at bind time.
    pub connection: ConnectionInfo,
    /// Largest accepted message in bytes (default 100 MiB).
    pub max_message_size: u64,
    /// The tools for `tool_request` and the Lua `Tool` API.
    pub tools: Option<ToolHostRef>,
    /// Where the kernel counts requests, durations, connections and drops (for a
    /// Prometheus endpoint that the caller serves); `None`: not counted.
    pub metrics: Option<std::sync::Arc<llmspell_core::metrics::Metrics>>,
    /// Bounds on clients, queued messages and idle connections.
    pub limits: Limits,
    /// Buffer sizes of accepted streams, and how long replies may delay the exit.
    pub sockets: SocketOptions,
    /// Most shell requests waiting at once (`[transport.zeromq] rcvhwm`); `None`: the
    /// kernel's default.
    pub max_queue: Option<usize>,
}

/// How a server's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// A client sent shutdown_request.
    Shutdown {
        /// Whether the client asked for a restart.
        restart: bool,
    },
    /// SIGTERM (or SIGHUP) asked the process to stop.
    Terminated,
}

/// A bound kernel server, not yet running.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listeners: Vec<(Channel, Listener)>,
    /// Installed at bind time, so a SIGTERM between bind and run is not lost.
    signals: Signals,

    info: ConnectionInfo,
    config: ServerConfig,
}

impl Server {
    /// Binds the five channels. Ports of 0 are replaced by the ports the OS chose (tcp) or
    /// by the first free socket paths `{ip}-1`, `{ip}-2`, ... (ipc).
    pub fn bind(config: ServerConfig) -> io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut info = config.connection.clone();
        let mut listeners = Vec::with_capacity(5);
        let signals;
        {
            let _guard = runtime.enter();
            signals = Signals::install()?;
            let mut next_ipc = 1u16;
            for channel in Channel::ALL {
                let listener = match info.transport {
                    Transport::Tcp => {
                        let addr = format!("{}:{}", info.ip, info.port(channel));
                        let std_listener = std::net::TcpListener::bind(&addr).map_err(|e| {
                            io::Error::new(e.kind(), format!("cannot bind {addr}: {e}"))
                        })?;
                        std_listener.set_nonblocking(true)?;
                        info.set_port(channel, std_listener.local_addr()?.port());
                        Listener::Tcp(tokio::net::TcpListener::from_std(std_listener)?)
                    }
                    Transport::Ipc => {
                        if info.port(channel) == 0 {
                            while std::path::Path::new(&format!("{}-{}", info.ip, next_ipc))
                                .exists()
                            {
                                next_ipc += 1;
                            }
                            info.set_port(channel, next_ipc);
                            next_ipc += 1;
                        }
                        let path =
                            std::path::PathBuf::from(format!("{}-{}", info.ip, info.port(channel)));
                        // A socket file left by a dead kernel would make bind fail.
                        let _ = std::fs::remove_file(&path);
                        let l = tokio::net::UnixListener::bind(&path).map_err(|e| {
                            io::Error::new(e.kind(), format!("cannot bind {}: {e}", path.display()))
                        })?;
                        Listener::Unix(l, path)
                    }
                };
                listeners.push((channel, listener));
            }
        }
        Ok(Server {
            runtime,
            listeners,
            signals,
            info,
            config,
        })
    }

    /// The connection info with the real ports, to write to a connection file.
    pub fn connection_info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Serves until a shutdown request or SIGTERM/SIGHUP. SIGINT interrupts the running cell.
    pub fn run(self) -> io::Result<RunOutcome> {
        let Server {
            runtime,
            listeners,
            signals,
            info,
            config,
        } = self;
        let local = LocalSet::new();
        runtime.block_on(local.run_until(serve(listeners, signals, info, config)))
    }
}

/// A connection's stream and the bytes it could not write yet.
struct ConnIo {
    stream: Rc<Stream>,
    pending: VecDeque<Bytes>,
    /// Wakes the connection's task when `pending` needs a writable socket.
    wake: Rc<Notify>,
}

/// Everything the tasks share, on one thread.
struct State {
    hub: Hub,
    /// Streams by the hub's connection ids (Fx-hashed: no peer chooses them).
    conns: FxHashMap<ConnId, ConnIo>,
    engine: EngineHandle,
    /// Tool calls for the tool workers.
    tools: crossbeam_channel::Sender<ToolJob>,
    outcome: Option<RunOutcome>,
    stop: Rc<Notify>,
}

type Shared = Rc<RefCell<State>>;

impl State {
    /// Carries out the hub's effects and writes every dirty connection's bytes.
    fn process(&mut self) {
        while let Some(effect) = self.hub.poll_effect() {
            match effect {
                Effect::Engine(job) => {
                    if self.engine.jobs.send(job).is_err() {
                        warn!("the engine thread is gone");
                    }
                }
                Effect::Tool(job) => {
                    if self.tools.send(job).is_err() {
                        warn!("the tool workers are gone");
                    }
                }
                Effect::Input(reply) => {
                    let _ = self.engine.input.send(reply);
                }
                Effect::Debug(cmd) => {
                    if self.engine.debug.send(cmd).is_err() {
                        warn!("the engine thread is gone");
                    }
                }
                Effect::Interrupt => self.engine.interrupt(),
                Effect::Shutdown { restart } => {
                    self.outcome = Some(RunOutcome::Shutdown { restart });
                    self.stop.notify_one();
                }
            }
        }
        while let Some(id) = self.hub.poll_dirty() {
            let Some(conn) = self.conns.get_mut(&id) else {
                while self.hub.poll_transmit(id).is_some() {}
                continue;
            };
            while let Some(b) = self.hub.poll_transmit(id) {
                conn.pending.push_back(b);
            }
            match write_pending(conn) {
                Ok(true) => self.hub.handle_flushed(now(), id),
                Ok(false) => conn.wake.notify_one(),
                Err(e) => {
                    debug!(conn = id.0, error = %e, "write failed");
                    conn.wake.notify_one();
                }
            }
        }
    }
}

/// Writes what the socket takes now. Ok(true) when nothing is left.
fn write_pending(conn: &mut ConnIo) -> io::Result<bool> {
    while !conn.pending.is_empty() {
        let slices: Vec<io::IoSlice<'_>> = conn
            .pending
            .iter()
            .take(64)
            .map(|b| io::IoSlice::new(b))
            .collect();
        let n = match conn.stream.try_write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        };
        consume_written(&mut conn.pending, n);
    }
    Ok(true)
}

async fn serve(
    listeners: Vec<(Channel, Listener)>,
    signals: Signals,
    info: ConnectionInfo,
    config: ServerConfig,
) -> io::Result<RunOutcome> {
    let kernel_config = KernelConfig {
        key: info.key.as_bytes().to_vec(),
        session: session_id(),
        tools: config.tools.clone(),
        metrics: config.metrics.clone(),
        max_queue: config
            .max_queue
            .unwrap_or(KernelConfig::default().max_queue),
        debugger: Some(cell_files()),
        ..KernelConfig::default()
    };
    let mut hub = Hub::new(kernel_config, config.max_message_size);
    hub.set_limits(config.limits);
    let (events_tx, events_rx) = mpsc::unbounded_channel::<WorkerEvent>();
    let emit = move |ev| events_tx.send(ev).is_ok();
    let tools = spawn_tool_workers(config.tools.clone(), emit.clone())?;
    let engine = spawn_engine(hub.kernel().abort_gate(), config.tools.clone(), emit)?;
    let stop = Rc::new(Notify::new());
    let state: Shared = Rc::new(RefCell::new(State {
        hub,
        conns: FxHashMap::default(),
        engine,
        tools,
        outcome: None,
        stop: stop.clone(),
    }));
    info!(shell = info.shell_port, iopub = info.iopub_port, transport = ?info.transport, "kernel serving");

    for (channel, listener) in listeners {
        let sockets = config.sockets;
        tokio::task::spawn_local(accept_loop(state.clone(), channel, listener, sockets));
    }
    if let Some(micros) = config.limits.idle_timeout_micros {
        tokio::task::spawn_local(expire_idle(state.clone(), micros));
    }
    tokio::task::spawn_local(engine_events(state.clone(), events_rx));
    tokio::task::spawn_local(watch_signals(state.clone(), signals));

    stop.notified().await;
    let outcome = state.borrow().outcome.unwrap_or(RunOutcome::Terminated);
    flush_before_exit(&state, config.sockets.linger()).await;
    let st = state.borrow();
    remove_cell_files();
    // A cell still running must not keep the process alive: interrupt it. The engine
    // thread ends when its job channel closes with the state.
    st.engine.interrupt();
    let (user_ms, sys_ms, voluntary_switches, involuntary_switches) = resource_usage();
    let drops = st.hub.drops();
    info!(
        ?outcome,
        user_ms,
        sys_ms,
        voluntary_switches,
        involuntary_switches,
        ?drops,
        "kernel stopping"
    );
    Ok(outcome)
}

/// Gives the last replies (shutdown_reply above all) up to `linger` to leave.
async fn flush_before_exit(state: &Shared, linger: Duration) {
    let deadline = tokio::time::Instant::now() + linger;
    loop {
        let left = {
            let mut st = state.borrow_mut();
            st.process();
            let mut left = false;
            for conn in st.conns.values_mut() {
                if matches!(write_pending(conn), Ok(false)) {
                    left = true;
                }
            }
            left
        };
        if !left || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Closes connections idle for longer than `micros`, checking a few times per timeout.
async fn expire_idle(state: Shared, micros: u64) {
    let every =
        Duration::from_micros(micros / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let mut st = state.borrow_mut();
        for id in st.hub.expire_idle(now()) {
            // The connection's task sees it gone, ends, and drops the stream.
            if let Some(conn) = st.conns.remove(&id) {
                conn.wake.notify_one();
            }
        }
    }
}

async fn accept_loop(state: Shared, channel: Channel, listener: Listener, sockets: SocketOptions) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => Rc::new(s),
            Err(e) => {
                warn!(channel = channel.name(), error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_buffers(sockets.sndbuf, sockets.rcvbuf) {
            warn!(channel = channel.name(), error = %e, "cannot set socket buffer sizes");
        }
        let wake = Rc::new(Notify::new());
        let id = {
            let mut st = state.borrow_mut();
            // Over max_concurrent_clients: dropping the stream closes it.
            let Some(id) = st.hub.try_accept(now(), channel) else {
                continue;
            };
            st.conns.insert(
                id,
                ConnIo {
                    stream: stream.clone(),
                    pending: VecDeque::new(),
                    wake: wake.clone(),
                },
            );
            st.process();
            id
        };
        debug!(channel = channel.name(), conn = id.0, "accepted");
        tokio::task::spawn_local(conn_task(state.clone(), id, stream, wake));
    }
}

const READ_CHUNK: usize = 64 * 1024;

/// Most bytes read and handled before the replies they caused are written. A client that
/// keeps many requests in flight then gets its first replies while the kernel is still
/// working through the rest (about twenty kernel_info requests per turn), instead of all
/// at the end: client and kernel overlap, and with both pinned to their own CPUs a
/// pipelined client gets about 1.3× the throughput of whole 64 KiB turns (docs/performance.md).
/// The rest of a message larger than this is read in whole chunks.
const READ_TURN: usize = 8 * 1024;

async fn conn_task(state: Shared, id: ConnId, stream: Rc<Stream>, wake: Rc<Notify>) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    'outer: loop {
        let want_write = state
            .borrow()
            .conns
            .get(&id)
            .is_some_and(|c| !c.pending.is_empty());
        tokio::select! {
            r = stream.readable() => {
                if r.is_err() {
                    break;
                }
                loop {
                    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                        buf.reserve(READ_CHUNK);
                    }
                    // Mid-message (a large one), read all there is.
                    let turn = if buf.is_empty() { READ_TURN } else { usize::MAX };
                    match stream.try_read_buf(&mut bytes::BufMut::limit(&mut buf, turn)) {
                        Ok(0) => break 'outer,
                        Ok(_) => {
                            let mut st = state.borrow_mut();
                            let failed = st.hub.handle_input(now(), id, &mut buf).is_err();
                            st.process();
                            if failed {
                                break 'outer;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break 'outer,
                    }
                }
            }
            r = stream.writable(), if want_write => {
                if r.is_err() {
                    break;
                }
                let mut st = state.borrow_mut();
                let Some(conn) = st.conns.get_mut(&id) else { break };
                match write_pending(conn) {
                    Ok(true) => st.hub.handle_flushed(now(), id),
                    Ok(false) => {}
                    Err(_) => break,
                }
            }
            _ = wake.notified() => {
                // Woken after the hub expired the connection: end, closing the stream.
                if !state.borrow().conns.contains_key(&id) {
                    break;
                }
            }
        }
    }
    let mut st = state.borrow_mut();
    st.hub.handle_close(id);
    st.conns.remove(&id);
}

async fn engine_events(state: Shared, mut rx: mpsc::UnboundedReceiver<WorkerEvent>) {
    while let Some(ev) = rx.recv().await {
        let mut st = state.borrow_mut();
        st.hub.handle_worker_event(now(), ev);
        // Take what else arrived meanwhile before writing, to write it in fewer calls.
        while let Ok(ev) = rx.try_recv() {
            st.hub.handle_worker_event(now(), ev);
        }
        st.process();
    }
}

/// SIGTERM and SIGHUP stop the kernel; SIGINT interrupts the running cell.
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers; needs the runtime entered.
    fn install() -> io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

async fn watch_signals(state: Shared, mut signals: Signals) {
    loop {
        tokio::select! {
            _ = signals.term.recv() => break,
            _ = signals.hup.recv() => break,
            _ = signals.int.recv() => {
                let mut st = state.borrow_mut();
                st.hub.handle_interrupt_signal();
                st.process();
            }
        }
    }
    let st = state.borrow();
    st.stop.notify_one();
}
