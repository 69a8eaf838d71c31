//! The libzmq floor: a ROUTER echo server in a child process of this binary, and a DEALER
//! in the bench sending a Jupyter-shaped 6-frame message (delimiter, 64-byte hex HMAC,
//! ~150-byte header, `{}`, `{}`, 42-byte content). No JSON, no signing per message: what
//! is left is the transport, the cost every kernel pays at least. The DEALER is either
//! client (libzmq or native), so that each kernel column has a floor measured by the same
//! client.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use llmspell_core::wire::Codec;
use llmspell_core::zmtp::{Event, SocketType};

use crate::client::{BenchError, ClientKind};
use crate::kernel::free_ports;
use crate::link::stream_poll_item;
use crate::message::request_frames;
use crate::native::{loopback_endpoint, wait_ready, ZmtpStream};
use crate::stats::Throughput;
use crate::sys;

/// The 42-byte content of the floor message.
pub const FLOOR_CONTENT: &str = r#"{"code":"1+1","silent":false,"allow":true}"#;

/// Echoes taken from a libzmq socket per [`FloorClient::service`], at most.
const MAX_BATCH: usize = 1024;

/// The floor message's msg_id and session, short enough for a ~150-byte header.
const FLOOR_ID: &str = "ffffffff";
const FLOOR_SESSION: &str = "ssssssss";

/// Runs a ROUTER echo server on `endpoint` (loopback or ipc only) for at most `lifetime`,
/// sending every message back unchanged, identity frame included.
pub fn echo_server(endpoint: &str, lifetime: Duration) -> Result<(), BenchError> {
    if !(endpoint.starts_with("tcp://127.0.0.1:") || endpoint.starts_with("ipc://")) {
        return Err(BenchError::Usage(format!(
            "{endpoint}: only tcp://127.0.0.1 or ipc://"
        )));
    }
    sys::install_interrupt_handler();
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER)?;
    router.set_linger(0)?;
    router.set_rcvhwm(0)?;
    router.set_sndhwm(0)?;
    router.bind(endpoint)?;
    let end = Instant::now() + lifetime;
    while Instant::now() < end && !sys::interrupted() {
        match router.poll(zmq::POLLIN, 100) {
            Ok(0) | Err(zmq::Error::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        'messages: loop {
            let mut flags = zmq::DONTWAIT;
            loop {
                let mut part = zmq::Message::new();
                match router.recv(&mut part, flags) {
                    Ok(()) => {}
                    Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => break 'messages,
                    Err(e) => return Err(e.into()),
                }
                // Later parts of a message are already here: zmq delivers messages whole.
                flags = 0;
                let more = part.get_more();
                router.send(part, if more { zmq::SNDMORE } else { 0 })?;
                if !more {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// The echo server child, stopped by pid on drop.
pub struct EchoProcess {
    child: Child,
    /// Where it listens.
    pub endpoint: String,
}

impl EchoProcess {
    /// The echo server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `<this binary> echo-server --endpoint tcp://127.0.0.1:PORT`.
    pub fn spawn(pin: Option<usize>) -> Result<EchoProcess, BenchError> {
        let io = |e: std::io::Error| BenchError::Io(e.to_string());
        let port = free_ports(1).map_err(io)?[0];
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let exe = std::env::current_exe().map_err(io)?;
        let mut command = Command::new(exe);
        command
            .args(["echo-server", "--endpoint", &endpoint])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        sys::configure_child(&mut command, pin).map_err(io)?;
        let child = command.spawn().map_err(io)?;
        Ok(EchoProcess { child, endpoint })
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        sys::terminate(&mut self.child, Duration::from_secs(2));
    }
}

/// How the floor client reaches the echo server.
enum FloorLink {
    /// A libzmq DEALER, and the part being received.
    Zmq {
        socket: zmq::Socket,
        part: zmq::Message,
    },
    /// A sans-IO DEALER over TCP.
    Native(Box<ZmtpStream>),
}

/// The floor's DEALER and the message it sends.
pub struct FloorClient {
    link: FloorLink,
    frames: Vec<Bytes>,
}

impl FloorClient {
    /// Connects with the `kind` client and waits (until `deadline`) for the first echo.
    pub fn connect(
        ctx: &zmq::Context,
        kind: ClientKind,
        endpoint: &str,
        deadline: Instant,
    ) -> Result<FloorClient, BenchError> {
        let link = match kind {
            ClientKind::Zmq => {
                let socket = ctx.socket(zmq::DEALER)?;
                socket.set_linger(0)?;
                socket.set_rcvhwm(0)?;
                socket.set_sndhwm(0)?;
                socket.connect(endpoint)?;
                FloorLink::Zmq {
                    socket,
                    part: zmq::Message::new(),
                }
            }
            ClientKind::Native => {
                let addr = loopback_endpoint(endpoint)?;
                FloorLink::Native(Box::new(ZmtpStream::new("floor", addr, SocketType::Dealer)))
            }
        };
        let mut client = FloorClient {
            link,
            frames: floor_frames(),
        };
        client.send()?;
        client.recv(deadline)?;
        Ok(client)
    }

    /// The frames sent, for the report.
    pub fn frame_sizes(&self) -> Vec<usize> {
        self.frames.iter().map(Bytes::len).collect()
    }

    /// Sends the message (the native client queues it; `recv` or `service` writes it).
    pub fn send(&mut self) -> Result<(), BenchError> {
        match &mut self.link {
            FloorLink::Zmq { socket, .. } => {
                socket.send_multipart(self.frames.iter().map(|f| &f[..]), 0)?;
                Ok(())
            }
            FloorLink::Native(stream) => stream.send(&self.frames),
        }
    }

    /// Receives one whole message, waiting until `deadline`.
    fn recv(&mut self, deadline: Instant) -> Result<(), BenchError> {
        match &mut self.link {
            FloorLink::Zmq { socket, part } => recv_zmq(socket, part, deadline),
            FloorLink::Native(stream) => recv_native(stream, deadline),
        }
    }

    /// Takes the echoes that are ready without waiting (the native client first writes
    /// what is queued and reads once). Returns the echoes taken and whether anything moved.
    pub fn service(&mut self) -> Result<(usize, bool), BenchError> {
        let mut echoes = 0;
        match &mut self.link {
            FloorLink::Zmq { socket, part } => {
                for _ in 0..MAX_BATCH {
                    match socket.recv(part, zmq::DONTWAIT) {
                        Ok(()) => {}
                        Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => break,
                        Err(e) => return Err(e.into()),
                    }
                    // The rest of a message arrives with its first part.
                    while part.get_more() {
                        socket.recv(part, 0)?;
                    }
                    echoes += 1;
                }
                Ok((echoes, echoes > 0))
            }
            FloorLink::Native(stream) => {
                stream.try_connect(Instant::now());
                stream.flush();
                let read = stream.read()?;
                // The queue only grows in read(), so this ends.
                while let Some(event) = stream.poll_event() {
                    echoes += usize::from(matches!(event, Event::Message(_)));
                }
                Ok((echoes, read > 0))
            }
        }
    }

    /// Adds the client's socket to a wait over many clients; returns how soon a native
    /// connection wants its next connection attempt, if it is down.
    pub fn poll_items<'a>(
        &'a self,
        items: &mut Vec<zmq::PollItem<'a>>,
        now: Instant,
    ) -> Option<Duration> {
        match &self.link {
            FloorLink::Zmq { socket, .. } => {
                items.push(socket.as_poll_item(zmq::POLLIN));
                None
            }
            FloorLink::Native(stream) => {
                stream_poll_item(stream, items);
                stream.retry_in(now)
            }
        }
    }

    /// Times up to `n` round trips, stopping at `budget`; each waits at most `timeout`.
    pub fn round_trips(
        &mut self,
        n: usize,
        budget: Duration,
        timeout: Duration,
    ) -> Result<Vec<u64>, BenchError> {
        let end = Instant::now() + budget;
        let mut samples = Vec::with_capacity(n);
        while samples.len() < n && Instant::now() < end {
            let t0 = Instant::now();
            self.send()?;
            self.recv(t0 + timeout)?;
            samples.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        Ok(samples)
    }

    /// Keeps `depth` messages in flight until `total` are echoed or `budget` runs out.
    pub fn pipelined(
        &mut self,
        depth: usize,
        total: usize,
        budget: Duration,
        timeout: Duration,
    ) -> Result<Throughput, BenchError> {
        let t0 = Instant::now();
        let end = t0 + budget;
        let (mut sent, mut done) = (0, 0);
        while sent < depth.min(total) {
            self.send()?;
            sent += 1;
        }
        let mut last = t0;
        while done < sent {
            match self.recv(Instant::now() + timeout) {
                Ok(()) => {}
                Err(BenchError::Timeout(_)) => break,
                Err(e) => return Err(e),
            }
            done += 1;
            last = Instant::now();
            if sent < total && last < end {
                self.send()?;
                sent += 1;
            }
        }
        Ok(Throughput::new(total, sent, done, depth, last - t0))
    }
}

/// The floor message: a signed Jupyter-shaped execute request, built once.
fn floor_frames() -> Vec<Bytes> {
    let codec = Codec::new(b"floor-key", 0);
    request_frames(
        &codec,
        FLOOR_ID,
        FLOOR_SESSION,
        "execute_request",
        Bytes::from_static(FLOOR_CONTENT.as_bytes()),
    )
}

/// How long to sleep until `deadline`, at most 100 ms; an error once it has passed or
/// Ctrl-C was pressed.
fn tick(deadline: Instant) -> Result<Duration, BenchError> {
    if sys::interrupted() {
        return Err(BenchError::Interrupted);
    }
    let now = Instant::now();
    if now >= deadline {
        return Err(BenchError::Timeout("the floor echo".to_string()));
    }
    Ok((deadline - now).min(Duration::from_millis(100)))
}

/// Receives one whole message from a libzmq socket.
fn recv_zmq(
    socket: &zmq::Socket,
    part: &mut zmq::Message,
    deadline: Instant,
) -> Result<(), BenchError> {
    loop {
        match socket.recv(part, zmq::DONTWAIT) {
            Ok(()) => break,
            Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let left = tick(deadline)?;
        let ms = i64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(100);
        match socket.poll(zmq::POLLIN, ms) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The rest of a message arrives with its first part.
    while part.get_more() {
        socket.recv(part, 0)?;
    }
    Ok(())
}

/// Receives one whole message on a native stream: one already decoded returns at once (so
/// that sends in between are written together); otherwise it writes, reads and waits.
fn recv_native(stream: &mut ZmtpStream, deadline: Instant) -> Result<(), BenchError> {
    loop {
        // The queue only grows in read(), so this ends.
        while let Some(event) = stream.poll_event() {
            if matches!(event, Event::Message(_)) {
                return Ok(());
            }
        }
        let left = tick(deadline)?;
        stream.try_connect(Instant::now());
        stream.flush();
        if stream.read()? == 0 {
            wait_ready(&[&*stream], left)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_message_is_jupyter_shaped() {
        assert_eq!(FLOOR_CONTENT.len(), 42);
        let frames = floor_frames();
        let sizes: Vec<usize> = frames.iter().map(Bytes::len).collect();
        assert_eq!(sizes[..2], [9, 64]);
        assert!(
            (140..=170).contains(&sizes[2]),
            "header is {} bytes",
            sizes[2]
        );
        assert_eq!(sizes[3..], [2, 2, 42]);
    }

    #[test]
    fn echo_server_refuses_public_endpoints() {
        let err = echo_server("tcp://0.0.0.0:1", Duration::from_millis(1)).unwrap_err();
        assert!(matches!(err, BenchError::Usage(_)));
    }
}
