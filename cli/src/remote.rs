//! A Jupyter client for one kernel, on the `zmq` crate: a DEALER on shell and a SUB on
//! iopub, every message signed with the connection file's key and every reply verified.
//!
//! A request is sent on shell and answered by the reply whose parent header carries its
//! msg_id; replies to other requests (late answers to requests we gave up on) are skipped.
//! Iopub is drained as replies are awaited. If the kernel goes idle on our request without
//! replying (a kernel that does not know `tool_request` does that), the wait ends after a
//! short grace instead of at the deadline.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use llmspell_core::connection::{Channel, ConnectionInfo};
use llmspell_core::time::Timestamp;
use llmspell_core::wire::{write_header, Codec, RawMessage};
use serde::Deserialize;
use serde_json::Value;

use crate::config::ZeromqConfig;
use crate::error::{CliError, ErrorKind};
use crate::fsutil;
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

/// One connection to a kernel.
pub struct Client {
    shell: zmq::Socket,
    iopub: zmq::Socket,
    codec: Codec,
    session: String,
    username: String,
    next_id: u64,
    /// Whether iopub has delivered a message (or we stopped waiting for one).
    iopub_ready: bool,
    /// The shell endpoint, for messages.
    endpoint: String,
}

/// The parts of a parent header we read.
#[derive(Deserialize)]
struct ParentHeader {
    #[serde(default)]
    msg_id: String,
}

fn zmq_error(what: &str, endpoint: &str, e: zmq::Error) -> CliError {
    CliError::new(ErrorKind::Runtime, format!("{what} {endpoint}: {e}"))
}

fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    Timestamp::from_unix_micros(micros)
}

impl Client {
    /// Connects shell and iopub to the kernel of `info`, with the socket options of
    /// `options` (linger defaults to 0, so that a process never hangs on exit).
    pub fn connect(info: &ConnectionInfo, options: &ZeromqConfig) -> Result<Client, CliError> {
        let ctx = zmq::Context::new();
        let shell_endpoint = info.endpoint(Channel::Shell);
        let iopub_endpoint = info.endpoint(Channel::Iopub);
        let shell = socket(&ctx, zmq::DEALER, options, &shell_endpoint)?;
        let iopub = socket(&ctx, zmq::SUB, options, &iopub_endpoint)?;
        iopub
            .set_subscribe(b"")
            .map_err(|e| zmq_error("cannot subscribe to", &iopub_endpoint, e))?;
        shell
            .connect(&shell_endpoint)
            .map_err(|e| zmq_error("cannot connect to", &shell_endpoint, e))?;
        iopub
            .connect(&iopub_endpoint)
            .map_err(|e| zmq_error("cannot connect to", &iopub_endpoint, e))?;
        let session = fsutil::random_hex(16).map_err(|e| {
            CliError::new(ErrorKind::Runtime, format!("cannot make a session id: {e}"))
        })?;
        let username = std::env::var("USER").unwrap_or_else(|_| "llmspell".to_string());
        Ok(Client {
            shell,
            iopub,
            codec: Codec::new(info.key.as_bytes(), REPLAY_WINDOW),
            session,
            username,
            next_id: 0,
            iopub_ready: false,
            endpoint: shell_endpoint,
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
        self.await_iopub(deadline.min(Instant::now() + WELCOME_WAIT))?;
        let msg_id = self.send(msg_type, content)?;
        let mut idle_deadline: Option<Instant> = None;
        loop {
            while let Some(msg) = self.recv(Channel::Shell)? {
                if msg.header.msg_type == reply_type && parent_id(&msg) == msg_id {
                    return serde_json::from_slice(&msg.content).map_err(|e| {
                        CliError::new(
                            ErrorKind::InvalidData,
                            format!("the kernel's {reply_type} is not JSON: {e}"),
                        )
                    });
                }
                tracing::debug!(msg_type = %msg.header.msg_type, "skipping shell message");
            }
            while let Some(msg) = self.recv(Channel::Iopub)? {
                if idle_deadline.is_none() && is_idle_on(&msg, &msg_id) {
                    idle_deadline = Some(Instant::now() + AFTER_IDLE_GRACE);
                }
            }
            let now = Instant::now();
            if idle_deadline.is_some_and(|d| now >= d) {
                return Err(CliError::new(
                    ErrorKind::Runtime,
                    format!(
                        "the kernel at {} went idle without answering {msg_type}: \
                         it does not support this request",
                        self.endpoint
                    ),
                ));
            }
            if now >= deadline {
                return Err(CliError::new(
                    ErrorKind::Timeout,
                    format!(
                        "no {reply_type} from the kernel at {} within {} s \
                         (is it running? see `llmspell kernel status`)",
                        self.endpoint,
                        timeout.as_secs_f64().ceil()
                    ),
                ));
            }
            let until = idle_deadline.map_or(deadline, |d| d.min(deadline));
            let wait = (until - now).min(Duration::from_millis(500));
            let wait_ms = i64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(500);
            let mut items = [
                self.shell.as_poll_item(zmq::POLLIN),
                self.iopub.as_poll_item(zmq::POLLIN),
            ];
            match zmq::poll(&mut items, wait_ms) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(zmq_error("cannot poll", &self.endpoint, e)),
            }
        }
    }

    /// Before the first request: waits until `until` for a first iopub message (an
    /// llmspell kernel greets each subscriber with `iopub_welcome`), so that the
    /// subscription is in place before the kernel publishes our request's status.
    fn await_iopub(&mut self, until: Instant) -> Result<(), CliError> {
        while !self.iopub_ready {
            if self.recv(Channel::Iopub)?.is_some() {
                break;
            }
            let now = Instant::now();
            if now >= until {
                tracing::debug!("no iopub message yet; sending anyway");
                break;
            }
            let wait_ms = i64::try_from((until - now).as_micros().div_ceil(1000)).unwrap_or(1);
            match self.iopub.poll(zmq::POLLIN, wait_ms) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(zmq_error("cannot poll", &self.endpoint, e)),
            }
        }
        self.iopub_ready = true;
        Ok(())
    }

    /// Signs and sends one shell message; returns its msg_id.
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
            .send_multipart(frames.iter().map(|f| f.as_ref()), 0)
            .map_err(|e| zmq_error("cannot send to", &self.endpoint, e))?;
        Ok(msg_id)
    }

    /// One verified message from `channel`, if one is queued. Messages that fail the
    /// signature or the frame checks are dropped with a warning.
    fn recv(&mut self, channel: Channel) -> Result<Option<RawMessage>, CliError> {
        let socket = match channel {
            Channel::Iopub => &self.iopub,
            _ => &self.shell,
        };
        loop {
            let frames = match socket.recv_multipart(zmq::DONTWAIT) {
                Ok(frames) => frames,
                Err(zmq::Error::EAGAIN) => return Ok(None),
                Err(zmq::Error::EINTR) => continue,
                Err(e) => return Err(zmq_error("cannot receive from", &self.endpoint, e)),
            };
            let frames: Vec<Bytes> = frames.into_iter().map(Bytes::from).collect();
            match self.codec.decode(frames) {
                Ok(msg) => return Ok(Some(msg)),
                Err(e) => {
                    tracing::warn!(channel = channel.name(), error = %e, "dropped message")
                }
            }
        }
    }
}

/// A socket of `kind` with the configured options.
fn socket(
    ctx: &zmq::Context,
    kind: zmq::SocketType,
    options: &ZeromqConfig,
    endpoint: &str,
) -> Result<zmq::Socket, CliError> {
    let err = |e| zmq_error("cannot set up a socket for", endpoint, e);
    let socket = ctx.socket(kind).map_err(err)?;
    socket
        .set_linger(options.linger.unwrap_or(0))
        .map_err(err)?;
    if let Some(v) = options.sndbuf {
        socket.set_sndbuf(v).map_err(err)?;
    }
    if let Some(v) = options.rcvbuf {
        socket.set_rcvbuf(v).map_err(err)?;
    }
    if let Some(v) = options.sndhwm {
        socket.set_sndhwm(v).map_err(err)?;
    }
    if let Some(v) = options.rcvhwm {
        socket.set_rcvhwm(v).map_err(err)?;
    }
    Ok(socket)
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
    msg.header.msg_type == "status"
        && serde_json::from_slice::<Status>(&msg.content).is_ok_and(|s| s.execution_state == "idle")
        && parent_id(msg) == msg_id
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
