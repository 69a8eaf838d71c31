//! The connection state machine: greeting, NULL handshake, traffic. Every transition is here.

use super::command::{self, Command, PROP_IDENTITY, PROP_SOCKET_TYPE};
use super::frame::{self, Outbox};
use super::greeting::{self, GREETING_LEN};
use super::{Config, Event, SocketType, ZmtpError};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;

mod send;

use send::Outgoing;

/// Commands up to this size are always accepted, whatever `max_message_size` says, so that
/// a small message limit never breaks the handshake.
const MIN_COMMAND_LIMIT: u64 = 64 * 1024;
/// Commands are buffered whole, so they never exceed this, however large messages may be.
const MAX_COMMAND_LIMIT: u64 = 1024 * 1024;
/// PONG contexts kept for [`Connection::poll_pong`]; older ones are dropped.
const PONG_QUEUE_MAX: usize = 16;

/// Where the connection stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the peer's 64-byte greeting.
    Greeting,
    /// Greeting done, our READY sent; waiting for the peer's READY.
    Handshake,
    /// Traffic flows.
    Ready,
    /// Dead, with the error that killed it.
    Failed(ZmtpError),
}

/// What we learned about the peer.
#[derive(Clone, Debug)]
struct Peer {
    /// Protocol minor version in use (0 or 1; major is 3).
    minor: u8,
    /// From READY, once it arrived.
    socket_type: Option<SocketType>,
    /// From READY, when present and not empty.
    identity: Option<Bytes>,
}

/// One ZMTP connection, either side.
///
/// Feed bytes with [`handle_input`](Self::handle_input), then drain
/// [`poll_event`](Self::poll_event), then [`poll_transmit`](Self::poll_transmit); see the
/// [module docs](super) for the loop.
pub struct Connection {
    /// Settings.
    config: Config,
    /// Where the handshake stands.
    state: State,
    /// Known once the peer's greeting arrived.
    peer: Option<Peer>,
    /// Events not yet polled.
    events: VecDeque<Event>,
    /// PONG contexts not yet polled.
    pongs: VecDeque<Bytes>,
    /// Frames of the message being received.
    parts: Vec<Bytes>,
    /// Sum of the sizes in `parts`.
    parts_size: u64,
    /// Body bytes of a dropped frame still to skip.
    skip_bytes: u64,
    /// Whether the following frames belong to a dropped message.
    skipping: bool,
    /// What the caller sent before the handshake ended.
    pending: Vec<Outgoing>,
    /// Bytes to write.
    out: Outbox,
    /// Whether the peer sent ERROR (then we send none back).
    peer_sent_error: bool,
}

impl Connection {
    /// A new connection; our greeting is queued for transmission at once.
    pub fn new(config: Config) -> Self {
        let mut out = Outbox::default();
        out.push_raw(&greeting::ours());
        Connection {
            config,
            state: State::Greeting,
            peer: None,
            events: VecDeque::new(),
            pongs: VecDeque::new(),
            parts: Vec::new(),
            parts_size: 0,
            skip_bytes: 0,
            skipping: false,
            pending: Vec::new(),
            out,
            peer_sent_error: false,
        }
    }

    /// Consumes every complete unit at the front of `input`, leaving a partial one there.
    ///
    /// A unit is the greeting, a command or a message frame; frames of a message are kept
    /// inside until the last one arrives. A frame of a message that is too large is skipped
    /// as its bytes arrive (those bytes are consumed). After an error the connection is
    /// dead and this returns the same error again.
    pub fn handle_input(&mut self, input: &mut BytesMut) -> Result<(), ZmtpError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let result = self.process(input);
        if let Err(e) = &result {
            self.fail(e.clone());
        }
        result
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The context of the oldest PONG not yet polled (the last 16 are kept).
    #[must_use]
    pub fn poll_pong(&mut self) -> Option<Bytes> {
        self.pongs.pop_front()
    }

    /// The next chunk of bytes to write, if any, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll()
    }

    /// Whether bytes wait in [`Self::poll_transmit`].
    pub fn has_transmit(&self) -> bool {
        !self.out.is_empty()
    }

    /// Whether the handshake has finished.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// The error that killed the connection, if one did.
    pub fn error(&self) -> Option<&ZmtpError> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// This connection's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The peer's socket type, once its READY arrived.
    pub fn peer_socket_type(&self) -> Option<SocketType> {
        self.peer.as_ref().and_then(|p| p.socket_type)
    }

    /// The peer's non-empty `Identity`, once its READY arrived.
    pub fn peer_identity(&self) -> Option<&Bytes> {
        self.peer.as_ref().and_then(|p| p.identity.as_ref())
    }

    /// The protocol version in use, `(3, 0)` or `(3, 1)`, once the peer's greeting arrived.
    pub fn version(&self) -> Option<(u8, u8)> {
        self.peer.as_ref().map(|p| (greeting::MAJOR, p.minor))
    }

    /// Marks the connection dead. A failed handshake tells the peer why with ERROR.
    fn fail(&mut self, e: ZmtpError) {
        if self.state == State::Handshake && !self.peer_sent_error {
            let reason = e.to_string();
            let reason = &reason.as_bytes()[..reason.len().min(255)];
            // The reason was cut to 255 bytes just above.
            self.out
                .push_command("ERROR", &[&[reason.len() as u8], reason]);
        }
        self.pending.clear();
        self.parts.clear();
        self.state = State::Failed(e);
    }

    fn process(&mut self, input: &mut BytesMut) -> Result<(), ZmtpError> {
        if self.state == State::Greeting {
            greeting::check_prefix(&input[..input.len().min(GREETING_LEN)])?;
            if input.len() < GREETING_LEN {
                return Ok(());
            }
            let (_, minor) = greeting::parse(&input[..GREETING_LEN])?;
            input.advance(GREETING_LEN);
            self.peer = Some(Peer {
                minor,
                socket_type: None,
                identity: None,
            });
            self.send_ready();
            self.state = State::Handshake;
        }
        loop {
            if self.skip_bytes > 0 {
                let n = self.skip_bytes.min(input.len() as u64);
                // `n` is at most `input.len()`, a usize.
                input.advance(n as usize);
                self.skip_bytes -= n;
                if self.skip_bytes > 0 {
                    return Ok(());
                }
            }
            let Some(h) = frame::parse_header(input)? else {
                return Ok(());
            };
            if h.is_command() {
                if !self.parts.is_empty() || self.skipping {
                    return Err(ZmtpError::Malformed(
                        "command frame inside a multipart message".into(),
                    ));
                }
                let limit = self
                    .config
                    .max_message_size
                    .clamp(MIN_COMMAND_LIMIT, MAX_COMMAND_LIMIT);
                if h.size > limit {
                    return Err(ZmtpError::Protocol(format!(
                        "command of {} bytes exceeds the limit of {limit}",
                        h.size
                    )));
                }
                // `parse_header` saw the whole header, so `input.len() >= h.len`.
                if ((input.len() - h.len) as u64) < h.size {
                    return Ok(());
                }
                input.advance(h.len);
                // The whole body is in `input` (checked above), so its size fits a usize.
                let body = input.split_to(h.size as usize).freeze();
                self.on_command(command::parse(body)?)?;
                continue;
            }
            if self.state != State::Ready {
                return Err(ZmtpError::Protocol("message frame before READY".into()));
            }
            if self.skipping {
                input.advance(h.len);
                self.skip_bytes = h.size;
                self.skipping = h.more();
                continue;
            }
            let total = self.parts_size.saturating_add(h.size);
            if total > self.config.max_message_size {
                self.events.push_back(Event::Oversize { size: h.size });
                self.parts.clear();
                self.parts_size = 0;
                input.advance(h.len);
                self.skip_bytes = h.size;
                self.skipping = h.more();
                continue;
            }
            // `parse_header` saw the whole header, so `input.len() >= h.len`.
            if ((input.len() - h.len) as u64) < h.size {
                return Ok(());
            }
            input.advance(h.len);
            // The whole body is in `input` (checked above), so its size fits a usize.
            let body = input.split_to(h.size as usize).freeze();
            if self.parts.capacity() == 0 {
                // A Jupyter message has 6-8 frames: one allocation, no regrowth.
                self.parts.reserve(8);
            }
            self.parts.push(body);
            self.parts_size = total;
            if !h.more() {
                self.deliver();
            }
        }
    }

    /// Hands a complete message to the event queue; on PUB/XPUB a single frame starting with
    /// `0x01` or `0x00` is a ZMTP 3.0 subscription or cancellation.
    fn deliver(&mut self) {
        let parts = std::mem::take(&mut self.parts);
        self.parts_size = 0;
        if self.config.socket_type.is_publisher() && parts.len() == 1 {
            match parts[0].first() {
                Some(0x01) => return self.events.push_back(Event::Subscribe(parts[0].slice(1..))),
                Some(0x00) => return self.events.push_back(Event::Cancel(parts[0].slice(1..))),
                _ => {}
            }
        }
        self.events.push_back(Event::Message(parts));
    }

    fn on_command(&mut self, cmd: Command) -> Result<(), ZmtpError> {
        match (&self.state, cmd) {
            (_, Command::Error(reason)) => {
                self.peer_sent_error = true;
                Err(ZmtpError::Protocol(format!("peer sent ERROR: {reason}")))
            }
            (State::Handshake, Command::Ready(meta)) => {
                let ours = self.config.socket_type;
                if !ours.is_compatible(meta.socket_type) {
                    return Err(ZmtpError::Protocol(format!(
                        "a {ours} socket cannot talk to a {} peer",
                        meta.socket_type
                    )));
                }
                if let Some(p) = self.peer.as_mut() {
                    p.socket_type = Some(meta.socket_type);
                    p.identity = meta.identity.clone();
                }
                self.state = State::Ready;
                self.events.push_back(Event::Ready {
                    socket_type: meta.socket_type,
                    identity: meta.identity,
                });
                for item in std::mem::take(&mut self.pending) {
                    self.encode(item);
                }
                Ok(())
            }
            (State::Handshake, other) => Err(ZmtpError::Protocol(format!(
                "expected READY, got {}",
                other.name()
            ))),
            (_, Command::Ready(_)) => Err(ZmtpError::Protocol("second READY".into())),
            (_, Command::Ping(context)) => {
                self.out.push_command("PONG", &[&context]);
                Ok(())
            }
            (_, Command::Pong(context)) => {
                if self.pongs.len() == PONG_QUEUE_MAX {
                    self.pongs.pop_front();
                }
                self.pongs.push_back(context);
                Ok(())
            }
            (_, Command::Subscribe(topic)) => {
                if self.config.socket_type.is_publisher() {
                    self.events.push_back(Event::Subscribe(topic));
                }
                Ok(())
            }
            (_, Command::Cancel(topic)) => {
                if self.config.socket_type.is_publisher() {
                    self.events.push_back(Event::Cancel(topic));
                }
                Ok(())
            }
            (_, Command::Unknown(_)) => Ok(()),
        }
    }

    /// Queues our READY: `Socket-Type`, and `Identity` when we have one.
    fn send_ready(&mut self) {
        let st = command::property(
            PROP_SOCKET_TYPE,
            self.config.socket_type.as_str().as_bytes(),
        );
        if self.config.identity.is_empty() {
            self.out.push_command("READY", &[&st]);
        } else {
            let id = command::property(PROP_IDENTITY, &self.config.identity);
            self.out.push_command("READY", &[&st, &id]);
        }
    }
}
