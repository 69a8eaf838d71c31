//! One connect-side ZMTP link for the remote client: llmspell-core's sans-IO
//! [`Connection`] over a non-blocking TCP or Unix-domain socket, without libzmq.
//!
//! A [`ZmtpStream`] behaves like one libzmq connect-side socket as far as the client needs:
//! until the peer listens, connecting is retried every [`RETRY`] (libzmq's default
//! reconnect interval), and messages sent meanwhile wait in the [`Connection`]. Unlike
//! libzmq, a link the peer closes, or one that breaks ZMTP, is an error rather than a
//! silent reconnection: the client has one request in flight, which a new connection would
//! not deliver, so it reports the loss at once instead of at its deadline.
//!
//! The owner drives it with [`ZmtpStream::try_connect`], [`ZmtpStream::flush`], `poll(2)`
//! on [`ZmtpStream::poll_fd`], [`ZmtpStream::read`] and [`ZmtpStream::poll_event`]; see
//! [`crate::remote`] for the loop. Nothing here blocks longer than one bounded `connect()`.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use llmspell_core::connection::{Channel, ConnectionInfo, Transport};
use llmspell_core::zmtp::{consume_written, Config, Connection, Event, SocketType, ZmtpError};

/// How often a refused connection is tried again (libzmq's `ZMQ_RECONNECT_IVL` default).
pub const RETRY: Duration = Duration::from_millis(100);

/// How long one TCP `connect()` may block, at most (less when the caller's deadline is
/// nearer); an unanswered attempt is retried like a refused one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Bytes one `read()` may take.
const READ_CHUNK: usize = 64 * 1024;

/// Chunks handed to one `writev()`.
const IOV_MAX: usize = 16;

/// Where a stream connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp://host:port`; the host is an address or a name.
    Tcp {
        /// The address or host name.
        host: String,
        /// The port.
        port: u16,
    },
    /// `ipc://path`: a Unix-domain socket.
    Ipc(PathBuf),
}

impl Endpoint {
    /// The endpoint of `channel` in a connection file, as libzmq would read it.
    pub fn of(info: &ConnectionInfo, channel: Channel) -> Endpoint {
        match info.transport {
            Transport::Tcp => Endpoint::Tcp {
                host: info.ip.clone(),
                port: info.port(channel),
            },
            Transport::Ipc => {
                Endpoint::Ipc(PathBuf::from(format!("{}-{}", info.ip, info.port(channel))))
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Ipc(path) => write!(f, "ipc://{}", path.display()),
        }
    }
}

/// Kernel-side socket buffer sizes (`SO_SNDBUF`, `SO_RCVBUF`); `None` keeps the system's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferSizes {
    /// `SO_SNDBUF`, bytes.
    pub send: Option<i32>,
    /// `SO_RCVBUF`, bytes.
    pub receive: Option<i32>,
}

/// Why a stream stopped working, typed by fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The peer closed the connection.
    Closed,
    /// The peer's bytes are not ZMTP, or it broke the protocol.
    Zmtp(ZmtpError),
    /// The operating system failed a read or a write.
    Io(String),
    /// The host name does not resolve.
    Resolve(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Closed => f.write_str("the peer closed the connection"),
            StreamError::Zmtp(e) => write!(f, "{e}"),
            StreamError::Io(e) => f.write_str(e),
            StreamError::Resolve(e) => write!(f, "cannot resolve the host: {e}"),
        }
    }
}

/// A connected socket of either transport.
enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).read(buf),
            Socket::Unix(s) => (&*s).read(buf),
        }
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).write_vectored(bufs),
            Socket::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Socket::Tcp(s) => s.as_raw_fd(),
            Socket::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// One ZMTP link: the sans-IO state, the socket, and the bytes in between.
pub struct ZmtpStream {
    endpoint: Endpoint,
    buffers: BufferSizes,
    conn: Connection,
    /// `None` until connected.
    socket: Option<Socket>,
    /// The TCP addresses of the endpoint, resolved on the first attempt.
    addrs: Option<Vec<SocketAddr>>,
    /// Received bytes not yet consumed by `conn`; frames are split off it, not copied.
    input: BytesMut,
    /// Chunks taken from `conn` and not yet completely written.
    output: VecDeque<Bytes>,
    /// When to try `connect()` again.
    next_try: Instant,
    /// Why the last connection attempt failed, for the caller's timeout message.
    last_refusal: Option<String>,
}

impl ZmtpStream {
    /// A link to `endpoint` as a `socket_type` peer, not connected yet; a SUB subscribes
    /// to every topic. `max_message_size` bounds what one received message may hold.
    pub fn new(
        endpoint: Endpoint,
        socket_type: SocketType,
        buffers: BufferSizes,
        max_message_size: u64,
        now: Instant,
    ) -> ZmtpStream {
        let mut config = Config::new(socket_type);
        config.max_message_size = max_message_size;
        let mut conn = Connection::new(config);
        if socket_type.is_subscriber() {
            // A fresh connection is alive and a SUB may subscribe, so this cannot fail.
            conn.subscribe(b"")
                .expect("a new SUB connection subscribes");
        }
        ZmtpStream {
            endpoint,
            buffers,
            conn,
            socket: None,
            addrs: None,
            input: BytesMut::new(),
            output: VecDeque::new(),
            next_try: now,
            last_refusal: None,
        }
    }

    /// The endpoint, for messages.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
    }

    /// Whether the ZMTP handshake has finished.
    pub fn is_ready(&self) -> bool {
        self.conn.is_ready()
    }

    /// Why the last connection attempt failed, if it did and none succeeded since.
    pub fn last_refusal(&self) -> Option<&str> {
        self.last_refusal.as_deref()
    }

    /// Queues a message; it is written by [`Self::flush`] once the handshake is done.
    pub fn send(&mut self, frames: &[Bytes]) -> Result<(), StreamError> {
        self.conn.send(frames).map_err(StreamError::Zmtp)
    }

    /// The next event of the connection, if one is queued.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.conn.poll_event()
    }

    /// Connects if not connected and the retry time has come, blocking at most until
    /// `deadline` (and at most [`CONNECT_TIMEOUT`]). A refused or unanswered attempt is
    /// retried after [`RETRY`]; only a host name that does not resolve is an error.
    pub fn try_connect(&mut self, now: Instant, deadline: Instant) -> Result<(), StreamError> {
        if self.socket.is_some() || now < self.next_try {
            return Ok(());
        }
        let attempt = match &self.endpoint {
            Endpoint::Tcp { host, port } => {
                if self.addrs.is_none() {
                    let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                        .to_socket_addrs()
                        .map_err(|e| StreamError::Resolve(format!("{host}: {e}")))?
                        .collect();
                    if addrs.is_empty() {
                        return Err(StreamError::Resolve(format!("{host}: no address")));
                    }
                    self.addrs = Some(addrs);
                }
                let wait = deadline
                    .saturating_duration_since(now)
                    .clamp(Duration::from_millis(1), CONNECT_TIMEOUT);
                connect_tcp(
                    self.addrs.as_deref().unwrap_or_default(),
                    wait,
                    self.buffers,
                )
            }
            Endpoint::Ipc(path) => UnixStream::connect(path).and_then(|s| {
                s.set_nonblocking(true)?;
                set_buffers(s.as_raw_fd(), self.buffers)?;
                Ok(Socket::Unix(s))
            }),
        };
        match attempt {
            Ok(socket) => {
                self.socket = Some(socket);
                self.last_refusal = None;
            }
            Err(e) => {
                tracing::debug!(endpoint = %self.endpoint, error = %e, "connect failed; retrying");
                self.last_refusal = Some(e.to_string());
                self.next_try = Instant::now() + RETRY;
            }
        }
        Ok(())
    }

    /// When the next connection attempt is due; `None` when connected.
    pub fn next_try(&self) -> Option<Instant> {
        self.socket.is_none().then_some(self.next_try)
    }

    /// The descriptor and the `poll(2)` events wanted (`POLLOUT` while bytes wait).
    pub fn poll_fd(&self) -> Option<libc::pollfd> {
        let socket = self.socket.as_ref()?;
        let mut events = libc::POLLIN;
        if !self.output.is_empty() || self.conn.has_transmit() {
            events |= libc::POLLOUT;
        }
        Some(libc::pollfd {
            fd: socket.fd(),
            events,
            revents: 0,
        })
    }

    /// Writes what the connection has to send, as far as the socket takes it now.
    pub fn flush(&mut self) -> Result<(), StreamError> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        while let Some(chunk) = self.conn.poll_transmit() {
            self.output.push_back(chunk);
        }
        while !self.output.is_empty() {
            let mut slices = [IoSlice::new(&[]); IOV_MAX];
            let n = self.output.len().min(IOV_MAX);
            for (slice, chunk) in slices.iter_mut().zip(&self.output) {
                *slice = IoSlice::new(chunk);
            }
            match socket.write_vectored(&slices[..n]) {
                Ok(0) => return Err(StreamError::Closed),
                Ok(written) => consume_written(&mut self.output, written),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if is_disconnect(&e) => return Err(StreamError::Closed),
                Err(e) => return Err(StreamError::Io(e.to_string())),
            }
        }
        Ok(())
    }

    /// Reads what the socket has (at most 64 KiB) and feeds the connection; returns the
    /// bytes read, 0 when nothing was there. End of stream is [`StreamError::Closed`];
    /// bytes that break ZMTP are [`StreamError::Zmtp`] (the ERROR command for the peer is
    /// still written, best effort).
    pub fn read(&mut self) -> Result<usize, StreamError> {
        let Some(socket) = &self.socket else {
            return Ok(0);
        };
        let len = self.input.len();
        self.input.resize(len + READ_CHUNK, 0);
        let result = socket.read(&mut self.input[len..]);
        let n = match result {
            Ok(n) => n,
            Err(_) => 0,
        };
        self.input.truncate(len + n);
        match result {
            Ok(0) => Err(StreamError::Closed),
            Ok(n) => match self.conn.handle_input(&mut self.input) {
                Ok(()) => Ok(n),
                Err(e) => {
                    let _ = self.flush();
                    self.socket = None;
                    Err(StreamError::Zmtp(e))
                }
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) if is_disconnect(&e) => Err(StreamError::Closed),
            Err(e) => Err(StreamError::Io(e.to_string())),
        }
    }
}

/// Connects to the first of `addrs` that answers within `wait` (split evenly), then makes
/// the socket non-blocking, without Nagle, with the buffer sizes asked for.
fn connect_tcp(addrs: &[SocketAddr], wait: Duration, buffers: BufferSizes) -> io::Result<Socket> {
    let count = u32::try_from(addrs.len()).unwrap_or(u32::MAX).max(1);
    let each = (wait / count).max(Duration::from_millis(1));
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(addr, each) {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                tcp.set_nonblocking(true)?;
                set_buffers(tcp.as_raw_fd(), buffers)?;
                return Ok(Socket::Tcp(tcp));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sets `SO_SNDBUF` and `SO_RCVBUF` where asked.
fn set_buffers(fd: RawFd, buffers: BufferSizes) -> io::Result<()> {
    for (option, value) in [
        (libc::SO_SNDBUF, buffers.send),
        (libc::SO_RCVBUF, buffers.receive),
    ] {
        let Some(value) = value else { continue };
        let value: libc::c_int = value;
        // SAFETY: `fd` is an open socket owned by the caller, and the option value is a
        // c_int that lives through the call, with its size passed alongside.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether `e` means the peer is gone (reset, broken pipe).
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// Waits until one of `streams` can read or write, until `until` at the latest (rounded up
/// to milliseconds), and no longer than until a disconnected stream's next attempt.
/// Returns the streams' `revents`, in order (0 for one not connected).
pub fn wait_ready(streams: &[&ZmtpStream], until: Instant) -> io::Result<Vec<i16>> {
    let now = Instant::now();
    let mut until = until;
    let mut fds = Vec::with_capacity(streams.len());
    let mut slots = Vec::with_capacity(streams.len());
    for stream in streams {
        match stream.poll_fd() {
            Some(fd) => {
                slots.push(Some(fds.len()));
                fds.push(fd);
            }
            None => slots.push(None),
        }
        if let Some(next) = stream.next_try() {
            until = until.min(next);
        }
    }
    let wait = until.saturating_duration_since(now);
    let ms = libc::c_int::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` holds `fds.len()` initialized pollfd entries, exclusively borrowed.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(slots
        .into_iter()
        .map(|slot| slot.map_or(0, |i| fds[i].revents))
        .collect())
}

#[cfg(test)]
#[path = "zmtp_stream_tests.rs"]
mod tests;
