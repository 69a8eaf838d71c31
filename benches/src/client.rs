//! A minimal Jupyter client: a DEALER on shell and a SUB on iopub, requests signed with
//! HMAC-SHA256, and a bounded wait on both sockets. Two implementations move the bytes
//! (see [`ClientKind`]); everything above the sockets is shared, so that the two measure
//! the same thing.

use std::fmt::{self, Write};
use std::process::Child;
use std::time::{Duration, Instant};

use bytes::Bytes;
use llmspell_core::connection::{Channel, ConnectionInfo};
use llmspell_core::wire::Codec;
use serde::{Deserialize, Serialize};

use crate::link::{Inbox, NativeLink, Pump, ZmqLink};
use crate::message::{execute_content, request_frames, Message, Verifier};
use crate::sys;

/// How long a wait sleeps at most between checks of Ctrl-C and of the kernel process.
const TICK: Duration = Duration::from_millis(100);

/// Why a scenario stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BenchError {
    /// Nothing arrived in time; the text says what was awaited.
    Timeout(String),
    /// The kernel process exited; the text carries its status.
    KernelExited(String),
    /// The user pressed Ctrl-C (or the bench got SIGTERM).
    Interrupted,
    /// A zmq call failed.
    Zmq(String),
    /// The peer broke ZMTP (native client).
    Zmtp(String),
    /// A file, socket or process operation failed.
    Io(String),
    /// The command line or a template is wrong.
    Usage(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Timeout(what) => write!(f, "timeout waiting for {what}"),
            BenchError::KernelExited(status) => write!(f, "kernel exited: {status}"),
            BenchError::Interrupted => write!(f, "interrupted"),
            BenchError::Zmq(e) => write!(f, "zmq: {e}"),
            BenchError::Zmtp(e) => write!(f, "zmtp: {e}"),
            BenchError::Io(e) => write!(f, "io: {e}"),
            BenchError::Usage(e) => write!(f, "usage: {e}"),
        }
    }
}

impl From<zmq::Error> for BenchError {
    fn from(e: zmq::Error) -> Self {
        BenchError::Zmq(e.to_string())
    }
}

/// Which implementation a client uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// llmspell-core's sans-IO ZMTP over non-blocking TCP, on the bench's own thread.
    #[default]
    Native,
    /// libzmq through the `zmq` crate, with libzmq's I/O thread.
    Zmq,
}

impl ClientKind {
    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Native => "native",
            ClientKind::Zmq => "zmq",
        }
    }
}

/// The sockets of a client.
enum Link {
    Zmq(ZmqLink),
    Native(Box<NativeLink>),
}

/// One client session: its sockets, a codec, a session id and a message counter.
pub struct Client {
    link: Link,
    codec: Codec,
    inbox: Inbox,
    next_id: u64,
    /// Scratch for the msg_id of the request being sent.
    msg_id: String,
    /// The code of the last execute and its content, built once.
    execute: Option<(String, Bytes)>,
}

impl Client {
    /// Connects shell and iopub (iopub subscribed to everything). Until the kernel listens,
    /// both implementations retry every millisecond and queue what is sent meanwhile, so a
    /// cold start is measured to within a millisecond of the moment the kernel binds.
    pub fn connect(
        ctx: &zmq::Context,
        kind: ClientKind,
        info: &ConnectionInfo,
    ) -> Result<Client, BenchError> {
        let link = match kind {
            ClientKind::Zmq => Link::Zmq(ZmqLink::connect(ctx, info)?),
            ClientKind::Native => Link::Native(Box::new(NativeLink::connect(info)?)),
        };
        let codec = Codec::new(info.key.as_bytes(), 0);
        let session = sys::random_hex(16).map_err(|e| BenchError::Io(e.to_string()))?;
        Ok(Client {
            link,
            inbox: Inbox {
                verifier: Verifier::new(info.key.as_bytes()),
                session,
                bad_signatures: 0,
                malformed: 0,
                only_ours: false,
            },
            codec,
            next_id: 0,
            msg_id: String::new(),
            execute: None,
        })
    }

    /// Messages dropped because their signature did not match.
    pub fn bad_signatures(&self) -> u64 {
        self.inbox.bad_signatures
    }

    /// Messages dropped because they could not be parsed.
    pub fn malformed(&self) -> u64 {
        self.inbox.malformed
    }

    /// From now on, drop iopub messages that are not about our own requests before
    /// checking them (see [`Inbox::only_ours`]): for clients that share a kernel.
    pub fn ignore_others(&mut self) {
        self.inbox.only_ours = true;
    }

    /// Moves what is ready without waiting: writes what is queued (native) and hands every
    /// message received to `on`. True when anything came in.
    pub fn service(&mut self, mut on: impl FnMut(&Message<'_>)) -> Result<bool, BenchError> {
        let mut on = |m: &Message<'_>| {
            on(m);
            false
        };
        let serviced = match &mut self.link {
            Link::Zmq(link) => link.service(&mut self.inbox, &mut on)?,
            Link::Native(link) => link.service(&mut self.inbox, &mut on)?,
        };
        Ok(serviced.moved)
    }

    /// Adds the client's sockets to a wait over many clients; returns how soon a native
    /// connection wants its next connection attempt, if one is down.
    pub fn poll_items<'a>(
        &'a self,
        items: &mut Vec<zmq::PollItem<'a>>,
        now: Instant,
    ) -> Option<Duration> {
        match &self.link {
            Link::Zmq(link) => {
                link.poll_items(items);
                None
            }
            Link::Native(link) => link.poll_items(items, now),
        }
    }

    /// Sends a shell request and returns its number, which replies carry as
    /// [`Message::parent`].
    pub fn send(&mut self, msg_type: &str, content: Bytes) -> Result<u64, BenchError> {
        self.next_id += 1;
        self.msg_id.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.msg_id, "{}_{}", self.inbox.session, self.next_id);
        let frames = request_frames(
            &self.codec,
            &self.msg_id,
            &self.inbox.session,
            msg_type,
            content,
        );
        match &mut self.link {
            Link::Zmq(link) => link.send(&frames)?,
            Link::Native(link) => link.send(&frames)?,
        }
        Ok(self.next_id)
    }

    /// Sends `kernel_info_request` and returns its number.
    pub fn send_kernel_info(&mut self) -> Result<u64, BenchError> {
        self.send("kernel_info_request", Bytes::from_static(b"{}"))
    }

    /// Sends `execute_request` for `code` and returns its number.
    pub fn send_execute(&mut self, code: &str) -> Result<u64, BenchError> {
        let content = match &self.execute {
            Some((cached, content)) if cached == code => content.clone(),
            _ => {
                let content = execute_content(code);
                self.execute = Some((code.to_string(), content.clone()));
                content
            }
        };
        self.send("execute_request", content)
    }

    /// Receives from shell and iopub until `on` returns true for a message, or until
    /// `deadline` (an error naming `what`). Messages already received when `on` says done
    /// are handed to `on` too, so that a caller can take a batch at a time. On idle ticks
    /// (at most 100 ms) it checks Ctrl-C and, when given, whether the kernel has exited.
    pub fn wait(
        &mut self,
        deadline: Instant,
        what: &str,
        mut kernel: Option<&mut Child>,
        mut on: impl FnMut(&Message<'_>) -> bool,
    ) -> Result<(), BenchError> {
        loop {
            if sys::interrupted() {
                return Err(BenchError::Interrupted);
            }
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now).min(TICK);
            let pumped = match &mut self.link {
                Link::Zmq(link) => link.pump(left, &mut self.inbox, &mut on)?,
                Link::Native(link) => link.pump(left, &mut self.inbox, &mut on)?,
            };
            match pumped {
                Pump::Done => return Ok(()),
                Pump::Progress => {}
                Pump::Idle => {
                    if let Some(child) = kernel.as_deref_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            return Err(BenchError::KernelExited(status.to_string()));
                        }
                    }
                }
            }
            // Checked after the pump, so that what had already arrived is still taken.
            if now >= deadline {
                return Err(BenchError::Timeout(what.to_string()));
            }
        }
    }

    /// Discards whatever arrives for `period`.
    pub fn drain(&mut self, period: Duration) -> Result<(), BenchError> {
        match self.wait(Instant::now() + period, "drain", None, |_| false) {
            Err(BenchError::Timeout(_)) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until iopub delivers anything (a welcome message, or the status of a
    /// kernel_info request sent every 200 ms), so that no iopub message of a timed request
    /// is lost to the subscription handshake.
    pub fn wait_iopub(&mut self, deadline: Instant, kernel: &mut Child) -> Result<(), BenchError> {
        loop {
            self.send_kernel_info()?;
            let tick = (Instant::now() + Duration::from_millis(200)).min(deadline);
            match self.wait(tick, "any iopub message", Some(kernel), |m| {
                m.channel == Channel::Iopub
            }) {
                Ok(()) => return Ok(()),
                Err(BenchError::Timeout(what)) if Instant::now() >= deadline => {
                    return Err(BenchError::Timeout(what))
                }
                Err(BenchError::Timeout(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
