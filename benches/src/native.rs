//! The native client's transport: ZMTP over non-blocking TCP on the bench's own thread,
//! driven by llmspell-core's sans-IO [`Connection`]. No libzmq, no I/O thread, and in the
//! steady state no allocation per read: frames are views into one reused read buffer.
//!
//! A [`ZmtpStream`] behaves like one libzmq connect-side socket with a 1 ms reconnect
//! interval: until the peer listens, `connect()` is retried every millisecond, messages
//! sent meanwhile wait in the [`Connection`], and a connection the peer drops is replaced
//! by a fresh one (a SUB subscribes again), as libzmq does.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use llmspell_core::zmtp::{consume_written, Config, Connection, Event, SocketType};

use crate::client::BenchError;

/// How often a refused or lost connection is tried again (libzmq's `ZMQ_RECONNECT_IVL`,
/// as the zmq client sets it).
pub const RETRY: Duration = Duration::from_millis(1);

/// How long one `connect()` may block; on loopback it answers at once.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// Size of the read buffer: what one `read()` may take.
const READ_CHUNK: usize = 64 * 1024;

/// Below this much free room, the read buffer is renewed (reclaimed in place when no frame
/// still points into it, which is the common case, else freshly allocated).
const READ_MIN: usize = 16 * 1024;

/// Chunks handed to one `writev()`.
const IOV_MAX: usize = 16;

/// `writev()` calls per flush, at most; the rest waits for the socket to drain.
const MAX_WRITES: usize = 64;

/// Parses `tcp://127.0.0.1:PORT`: the native client speaks TCP to loopback only.
pub fn loopback_endpoint(endpoint: &str) -> Result<SocketAddr, BenchError> {
    let usage = |why: &str| BenchError::Usage(format!("{endpoint}: {why}"));
    let Some(rest) = endpoint.strip_prefix("tcp://") else {
        return Err(usage(
            "the native client speaks tcp only (use --client zmq for ipc)",
        ));
    };
    let addr: SocketAddr = rest.parse().map_err(|_| usage("not IP:PORT"))?;
    if !addr.ip().is_loopback() {
        return Err(usage("the bench connects to loopback addresses only"));
    }
    Ok(addr)
}

/// One ZMTP connection over TCP: the sans-IO state, the socket, and the bytes in between.
pub struct ZmtpStream {
    /// For messages: `shell`, `iopub`, `floor`.
    name: &'static str,
    addr: SocketAddr,
    config: Config,
    /// Whether to subscribe to everything (SUB) on every new connection.
    subscribe: bool,
    conn: Connection,
    /// `None` until connected, and again after the peer dropped the connection.
    tcp: Option<TcpStream>,
    /// Received bytes not yet consumed by `conn`; frames are split off it, not copied.
    input: BytesMut,
    /// Chunks taken from `conn` and not yet completely written.
    output: VecDeque<Bytes>,
    /// When to try `connect()` again.
    next_try: Instant,
}

impl ZmtpStream {
    /// A stream to `addr` as a `socket_type` peer, not connected yet: the first
    /// [`Self::try_connect`] connects. A SUB subscribes to every topic.
    pub fn new(name: &'static str, addr: SocketAddr, socket_type: SocketType) -> ZmtpStream {
        let config = Config::new(socket_type);
        let subscribe = socket_type == SocketType::Sub;
        ZmtpStream {
            name,
            addr,
            conn: fresh(&config, subscribe),
            config,
            subscribe,
            tcp: None,
            input: BytesMut::with_capacity(READ_CHUNK),
            output: VecDeque::new(),
            next_try: Instant::now(),
        }
    }

    /// Queues a message; it is written by the next [`Self::flush`] after the handshake.
    pub fn send(&mut self, frames: &[Bytes]) -> Result<(), BenchError> {
        self.conn
            .send(frames)
            .map_err(|e| BenchError::Zmtp(format!("{}: {e}", self.name)))
    }

    /// The next event of the connection, if one is queued.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.conn.poll_event()
    }

    /// Connects if not connected and the retry time has come; a refusal is retried after
    /// [`RETRY`].
    pub fn try_connect(&mut self, now: Instant) {
        if self.tcp.is_some() || now < self.next_try {
            return;
        }
        let tcp = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT).and_then(|tcp| {
            tcp.set_nodelay(true)?;
            tcp.set_nonblocking(true)?;
            Ok(tcp)
        });
        match tcp {
            Ok(tcp) => self.tcp = Some(tcp),
            Err(_) => self.next_try = now + RETRY,
        }
    }

    /// How long until the next connection attempt; `None` when connected.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.tcp
            .is_none()
            .then(|| self.next_try.saturating_duration_since(now))
    }

    /// The socket's descriptor and the poll events wanted (`POLLOUT` while bytes wait).
    pub fn poll_interest(&self) -> Option<libc::pollfd> {
        let tcp = self.tcp.as_ref()?;
        let mut events = libc::POLLIN;
        if !self.output.is_empty() || self.conn.has_transmit() {
            events |= libc::POLLOUT;
        }
        Some(libc::pollfd {
            fd: tcp.as_raw_fd(),
            events,
            revents: 0,
        })
    }

    /// Writes what the connection has to send, as far as the socket takes it.
    pub fn flush(&mut self) {
        let Some(tcp) = &self.tcp else { return };
        while let Some(chunk) = self.conn.poll_transmit() {
            self.output.push_back(chunk);
        }
        let mut lost = None;
        for _ in 0..MAX_WRITES {
            if self.output.is_empty() {
                break;
            }
            let mut slices = [IoSlice::new(&[]); IOV_MAX];
            let n = self.output.len().min(IOV_MAX);
            for (slice, chunk) in slices.iter_mut().zip(&self.output) {
                *slice = IoSlice::new(chunk);
            }
            match (&mut &*tcp).write_vectored(&slices[..n]) {
                Ok(0) => lost = Some("write returned 0".to_string()),
                Ok(written) => consume_written(&mut self.output, written),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => lost = Some(e.to_string()),
            }
            if lost.is_some() {
                break;
            }
        }
        if let Some(why) = lost {
            self.lose(&why);
        }
    }

    /// Reads once (at most 64 KiB) and feeds the connection; returns the bytes read, 0 when
    /// nothing was there. A peer that breaks ZMTP is an error; one that closes the
    /// connection is reconnected.
    pub fn read(&mut self) -> Result<usize, BenchError> {
        let Some(tcp) = &self.tcp else { return Ok(0) };
        if self.input.capacity() - self.input.len() < READ_MIN {
            self.input.reserve(READ_CHUNK);
        }
        let spare = self.input.spare_capacity_mut();
        // SAFETY: read() writes at most `spare.len()` bytes into the buffer's spare capacity,
        // which `spare` borrows exclusively.
        let n = unsafe { libc::read(tcp.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        match usize::try_from(n) {
            Ok(0) => {
                self.lose("closed by the peer");
                Ok(0)
            }
            Ok(n) => {
                // SAFETY: read() initialized these `n` bytes right after the current length.
                unsafe { self.input.set_len(self.input.len() + n) };
                self.conn
                    .handle_input(&mut self.input)
                    .map_err(|e| BenchError::Zmtp(format!("{}: {e}", self.name)))?;
                Ok(n)
            }
            Err(_) => {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
                    _ => self.lose(&e.to_string()),
                }
                Ok(0)
            }
        }
    }

    /// Drops a connection the peer ended; the next one starts from scratch after [`RETRY`].
    fn lose(&mut self, why: &str) {
        eprintln!("  {}: connection lost ({why}); reconnecting", self.name);
        self.tcp = None;
        self.conn = fresh(&self.config, self.subscribe);
        self.input.clear();
        self.output.clear();
        self.next_try = Instant::now() + RETRY;
    }
}

/// A new connection, subscribed to everything when `subscribe`.
fn fresh(config: &Config, subscribe: bool) -> Connection {
    let mut conn = Connection::new(config.clone());
    if subscribe {
        // A fresh connection is alive and a SUB may subscribe, so this cannot fail.
        conn.subscribe(b"")
            .expect("a new SUB connection subscribes");
    }
    conn
}

/// Waits until one of `streams` can read or write, at most `timeout` (rounded up to
/// milliseconds), and no longer than until a disconnected stream's next connection attempt.
/// True when something is ready (or a signal came), false when the time ran out.
pub fn wait_ready(streams: &[&ZmtpStream], timeout: Duration) -> Result<bool, BenchError> {
    let now = Instant::now();
    let mut timeout = timeout;
    let mut fds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 2];
    let mut n = 0;
    for stream in streams.iter().take(fds.len()) {
        if let Some(fd) = stream.poll_interest() {
            fds[n] = fd;
            n += 1;
        }
        if let Some(retry) = stream.retry_in(now) {
            timeout = timeout.min(retry);
        }
    }
    let ms = libc::c_int::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(100);
    // SAFETY: `fds` holds `n` initialized pollfd entries (n <= 2).
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, ms) };
    match rc {
        0 => Ok(false),
        rc if rc > 0 => Ok(true),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(true)
            } else {
                Err(BenchError::Io(format!("poll: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests;
