//! A Jupyter client for one kernel, without libzmq: a DEALER on shell and a SUB on iopub,
//! each a [`ZmtpStream`] (llmspell-core's ZMTP over a non-blocking socket, driven here
//! with `poll(2)`), every message signed with the connection file's key and every reply
//! verified.
//!
//! A request is sent on shell and answered by the reply whose parent header carries its
//! msg_id; replies to other requests (late answers to requests we gave up on) are skipped.
//! Iopub is drained as replies are awaited. If the kernel goes idle on our request without
//! replying (a kernel that does not know `tool_request` does that), the wait ends after a
//! short grace instead of at the deadline.
//!
//! Every wait is bounded by the request's deadline. Until then a kernel that does not
//! listen yet is tried again every 100 ms, as libzmq does; a kernel that closes the
//! connection, or a peer whose bytes are not ZMTP, ends the request at once with an error
//! that names the endpoint.
//!
//! The loop of one request: queue the message ([`Client::send`]), then until the reply:
//! connect what is not connected, write what is queued, `poll(2)` both sockets, read
//! what came and decode the messages that completed ([`Client::pump`]).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use llmspell_core::connection::{Channel, ConnectionInfo};
use llmspell_core::time::Timestamp;
use llmspell_core::wire::{write_header, Codec, RawMessage};
use llmspell_core::zmtp::{Event, SocketType};
use serde::Deserialize;
use serde_json::Value;

use crate::config::ZeromqConfig;
use crate::error::{CliError, ErrorKind};
use crate::fsutil;
use crate::zmtp_stream::{self, BufferSizes, Endpoint, StreamError, ZmtpStream};
use llmspell_core::tools::protocol::ToolRequest;

/// How long a reply may take beyond the tool's own timeout.
pub const REPLY_GRACE: Duration = Duration::from_secs(30);
/// How long to wait for a reply once the kernel has gone idle on our request.
const AFTER_IDLE_GRACE: Duration = Duration::from_secs(1);
/// The protocol version in our headers.
const PROTOCOL_VERSION: &str = "5.3";
/// Signatures remembered to reject replays.
const REPLAY_WINDOW: usize = 4096;
/// How long the first request waits for the iopub subscription to take (the kernel's
/// `iopub_welcome`), so that the kernel's idle status on it is seen.
const WELCOME_WAIT: Duration = Duration::from_millis(250);
/// Largest message accepted from the kernel; a larger one ends the request with an error.
const MAX_MESSAGE_SIZE: u64 = 1 << 30;
/// Longest single `poll(2)`, so that deadlines are checked often.
const MAX_POLL: Duration = Duration::from_millis(500);

/// One connection to a kernel.
pub struct Client {
    shell: ZmtpStream,
    iopub: ZmtpStream,
    codec: Codec,
    session: String,
    username: String,
    next_id: u64,
    /// Whether iopub has delivered a message (or we stopped waiting for one).
    iopub_ready: bool,
    /// The first failure of a stream, reported once the messages that arrived before it
    /// have been read.
    broken: Option<CliError>,
}

/// The parts of a parent header we read.
#[derive(Deserialize)]
struct ParentHeader {
    #[serde(default)]
    msg_id: String,
}

fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    Timestamp::from_unix_micros(micros)
}

impl Client {
    /// A client of the kernel of `info`, with the socket buffer sizes of `options`
    /// (`linger` and the high-water marks are libzmq queue settings: this client queues
    /// one request and writes it before it waits, so they do not apply). Nothing is
    /// connected yet: the first request connects, within its own deadline.
    pub fn connect(info: &ConnectionInfo, options: &ZeromqConfig) -> Result<Client, CliError> {
        let buffers = BufferSizes {
            send: options.sndbuf,
            receive: options.rcvbuf,
        };
        let start = Instant::now();
        let stream = |channel, kind| {
            let endpoint = Endpoint::of(info, channel);
            ZmtpStream::new(endpoint, kind, buffers, MAX_MESSAGE_SIZE, start)
        };
        let session = fsutil::random_hex(16).map_err(|e| {
            CliError::new(ErrorKind::Runtime, format!("cannot make a session id: {e}"))
        })?;
        let username = std::env::var("USER").unwrap_or_else(|_| "llmspell".to_string());
        Ok(Client {
            shell: stream(Channel::Shell, SocketType::Dealer),
            iopub: stream(Channel::Iopub, SocketType::Sub),
            codec: Codec::new(info.key.as_bytes(), REPLAY_WINDOW),
            session,
            username,
            next_id: 0,
            iopub_ready: false,
            broken: None,
        })
    }

    /// Sends a `tool_request` and returns its `tool_reply` content. The wait is bounded
    /// by [`REPLY_GRACE`] plus the request's timeout.
    pub fn tool_request(&mut self, request: &ToolRequest) -> Result<Value, CliError> {
        let timeout = REPLY_GRACE + Duration::from_millis(request.timeout_ms().unwrap_or(0));
        self.request("tool_request", &request.to_json(), "tool_reply", timeout)
    }

    /// Sends `msg_type` with `content` on shell and waits at most `timeout` for the
    /// `reply_type` message whose parent is ours; returns its content.
    pub fn request(
        &mut self,
        msg_type: &str,
        content: &str,
        reply_type: &str,
        timeout: Duration,
    ) -> Result<Value, CliError> {
        let deadline = Instant::now() + timeout;
        self.await_iopub(deadline.min(Instant::now() + WELCOME_WAIT), deadline)?;
        let msg_id = self.send(msg_type, content)?;
        let mut idle_deadline: Option<Instant> = None;
        loop {
            while let Some(msg) = self.recv(Channel::Shell)? {
                if msg.header.msg_type() == reply_type && parent_id(&msg) == msg_id {
                    return serde_json::from_slice(&msg.content).map_err(|e| {
                        CliError::new(
                            ErrorKind::InvalidData,
                            format!("the kernel's {reply_type} is not JSON: {e}"),
                        )
                    });
                }
                tracing::debug!(msg_type = %msg.header.msg_type(), "skipping shell message");
            }
            while let Some(msg) = self.recv(Channel::Iopub)? {
                if idle_deadline.is_none() && is_idle_on(&msg, &msg_id) {
                    idle_deadline = Some(Instant::now() + AFTER_IDLE_GRACE);
                }
            }
            if let Some(e) = self.broken.take() {
                return Err(e);
            }
            let now = Instant::now();
            if idle_deadline.is_some_and(|d| now >= d) {
                return Err(CliError::new(
                    ErrorKind::Runtime,
                    format!(
                        "the kernel at {} went idle without answering {msg_type}: \
                         it does not support this request",
                        self.shell.endpoint()
                    ),
                ));
            }
            if now >= deadline {
                return Err(self.timeout_error(reply_type, timeout));
            }
            let until = idle_deadline.map_or(deadline, |d| d.min(deadline));
            self.pump(until.min(now + MAX_POLL), deadline)?;
        }
    }

    /// Before the first request: waits until `until` for a first iopub message (an
    /// llmspell kernel greets each subscriber with `iopub_welcome`), so that the
    /// subscription is in place before the kernel publishes our request's status.
    fn await_iopub(&mut self, until: Instant, deadline: Instant) -> Result<(), CliError> {
        while !self.iopub_ready {
            if self.recv(Channel::Iopub)?.is_some() {
                break;
            }
            if let Some(e) = self.broken.take() {
                return Err(e);
            }
            if Instant::now() >= until {
                tracing::debug!("no iopub message yet; sending anyway");
                break;
            }
            self.pump(until, deadline)?;
        }
        self.iopub_ready = true;
        Ok(())
    }

    /// One round of I/O on both streams: connects what is not connected (blocking no
    /// later than `deadline`), writes what is queued, waits until one can go on (or
    /// `until`), and reads what came. A stream that fails is remembered in `broken`, so
    /// that what it delivered before is still read; only a failing `poll(2)` is an error.
    fn pump(&mut self, until: Instant, deadline: Instant) -> Result<(), CliError> {
        let mut failures = Vec::new();
        for stream in [&mut self.shell, &mut self.iopub] {
            let result = stream
                .try_connect(Instant::now(), deadline)
                .and_then(|()| stream.flush());
            if let Err(e) = result {
                failures.push(stream_error(stream, e));
            }
        }
        if failures.is_empty() {
            let ready =
                zmtp_stream::wait_ready(&[&self.shell, &self.iopub], until).map_err(|e| {
                    CliError::new(
                        ErrorKind::Runtime,
                        format!(
                            "cannot wait for the kernel at {}: {e}",
                            self.shell.endpoint()
                        ),
                    )
                })?;
            for (stream, revents) in [&mut self.shell, &mut self.iopub].into_iter().zip(ready) {
                let result = if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    stream.read().and_then(|_| stream.flush())
                } else if revents & libc::POLLOUT != 0 {
                    stream.flush()
                } else {
                    Ok(())
                };
                if let Err(e) = result {
                    failures.push(stream_error(stream, e));
                }
            }
        }
        if self.broken.is_none() {
            self.broken = failures.into_iter().next();
        }
        Ok(())
    }

    /// The error for a request that got no reply in time, with what is known of why.
    fn timeout_error(&self, reply_type: &str, timeout: Duration) -> CliError {
        let why = match self.shell.last_refusal() {
            Some(refusal) if !self.shell.is_connected() => {
                format!("cannot connect: {refusal}; is it running? see `llmspell kernel status`")
            }
            _ if self.shell.is_connected() && !self.shell.is_ready() => {
                "connected, but no ZMTP handshake: is it a Jupyter kernel?".to_string()
            }
            _ => "is it running? see `llmspell kernel status`".to_string(),
        };
        CliError::new(
            ErrorKind::Timeout,
            format!(
                "no {reply_type} from the kernel at {} within {} s ({why})",
                self.shell.endpoint(),
                timeout.as_secs_f64().ceil()
            ),
        )
    }

    /// Signs and queues one shell message; returns its msg_id.
    fn send(&mut self, msg_type: &str, content: &str) -> Result<String, CliError> {
        self.next_id += 1;
        let msg_id = format!("{}-{}", self.session, self.next_id);
        let mut header = Vec::with_capacity(200);
        write_header(
            &mut header,
            &msg_id,
            msg_type,
            &self.session,
            &self.username,
            now(),
            PROTOCOL_VERSION,
        );
        let frames = self.codec.encode(
            &[],
            Bytes::from(header),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::copy_from_slice(content.as_bytes()),
            &[],
        );
        self.shell
            .send(&frames)
            .map_err(|e| stream_error(&self.shell, e))?;
        Ok(msg_id)
    }

    /// One verified message from `channel`, if one has arrived. Messages that fail the
    /// signature or the frame checks are dropped with a warning.
    fn recv(&mut self, channel: Channel) -> Result<Option<RawMessage>, CliError> {
        let stream = match channel {
            Channel::Iopub => &mut self.iopub,
            _ => &mut self.shell,
        };
        while let Some(event) = stream.poll_event() {
            let frames = match event {
                Event::Message(frames) => frames,
                Event::Oversize { size } => {
                    return Err(CliError::new(
                        ErrorKind::InvalidData,
                        format!(
                            "the kernel at {} sent a {size}-byte message on {}, more than the \
                             {MAX_MESSAGE_SIZE} bytes accepted",
                            stream.endpoint(),
                            channel.name()
                        ),
                    ))
                }
                Event::Ready { .. } | Event::Subscribe(_) | Event::Cancel(_) => continue,
            };
            match self.codec.decode(frames) {
                Ok(msg) => return Ok(Some(msg)),
                Err(e) => {
                    tracing::warn!(channel = channel.name(), error = %e, "dropped message")
                }
            }
        }
        Ok(None)
    }
}

/// The CLI's error for a stream that stopped working.
fn stream_error(stream: &ZmtpStream, e: StreamError) -> CliError {
    let endpoint = stream.endpoint();
    match e {
        StreamError::Closed => CliError::new(
            ErrorKind::Runtime,
            format!("the kernel at {endpoint} closed the connection before replying"),
        ),
        StreamError::Zmtp(e) => CliError::new(
            ErrorKind::InvalidData,
            format!("the peer at {endpoint} is not a working Jupyter kernel: {e}"),
        ),
        StreamError::Io(e) => CliError::new(
            ErrorKind::Runtime,
            format!("cannot talk to the kernel at {endpoint}: {e}"),
        ),
        StreamError::Resolve(e) => CliError::new(
            ErrorKind::NotFound,
            format!("cannot connect to {endpoint}: {e}"),
        ),
    }
}

/// The msg_id of a message's parent ("" if it has none).
fn parent_id(msg: &RawMessage) -> String {
    serde_json::from_slice::<ParentHeader>(&msg.parent_header)
        .map(|p| p.msg_id)
        .unwrap_or_default()
}

/// Whether `msg` is iopub `status: idle` for the request `msg_id`.
fn is_idle_on(msg: &RawMessage, msg_id: &str) -> bool {
    #[derive(Deserialize)]
    struct Status {
        #[serde(default)]
        execution_state: String,
    }
    msg.header.msg_type() == "status"
        && serde_json::from_slice::<Status>(&msg.content).is_ok_and(|s| s.execution_state == "idle")
        && parent_id(msg) == msg_id
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
