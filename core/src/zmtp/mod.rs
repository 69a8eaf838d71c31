//! ZMTP 3.1 (rfc.zeromq.org 23 and 37) over a byte stream, sans-IO.
//! STUB: the API the runtimes program against; to be implemented.

use bytes::{Bytes, BytesMut};

/// ZeroMQ socket types, as named in the READY command's `Socket-Type` property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// REQ
    Req,
    /// REP
    Rep,
    /// DEALER
    Dealer,
    /// ROUTER
    Router,
    /// PUB
    Pub,
    /// SUB
    Sub,
    /// XPUB
    XPub,
    /// XSUB
    XSub,
    /// PUSH
    Push,
    /// PULL
    Pull,
    /// PAIR
    Pair,
}

/// Settings of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Our socket type, sent in READY.
    pub socket_type: SocketType,
    /// Our identity, sent in READY when not empty (DEALER, REQ, ROUTER).
    pub identity: Bytes,
    /// Largest message (sum of frame sizes) accepted; larger ones are skipped unbuffered.
    pub max_message_size: u64,
}

/// Errors, typed by who is at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZmtpError {
    /// The peer sent bytes that are not ZMTP (bad signature, bad flags, truncated command).
    Malformed(String),
    /// The peer broke the protocol (wrong mechanism, incompatible socket type, frame before READY).
    Protocol(String),
    /// The caller misused the API (sending before the handshake on a closed connection, ...).
    Usage(String),
}

/// What a connection reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The handshake finished: the peer's socket type and its `Identity` property, if any.
    Ready {
        /// The peer's socket type.
        socket_type: SocketType,
        /// The peer's identity, if it sent a non-empty one.
        identity: Option<Bytes>,
    },
    /// A complete multipart message.
    Message(Vec<Bytes>),
    /// A subscription (3.1 SUBSCRIBE command or 3.0 `0x01` message), on PUB/XPUB.
    Subscribe(Bytes),
    /// A cancelled subscription (3.1 CANCEL or 3.0 `0x00`), on PUB/XPUB.
    Cancel(Bytes),
    /// A message larger than `max_message_size` was skipped without buffering it.
    Oversize {
        /// The size that the frame header announced.
        size: u64,
    },
}

/// One ZMTP connection, either side.
pub struct Connection {
    _config: Config,
}

impl Connection {
    /// A new connection; our greeting is queued for transmission at once.
    pub fn new(config: Config) -> Self {
        Connection { _config: config }
    }

    /// Consumes every complete unit at the front of `input`, leaving a partial one there.
    pub fn handle_input(&mut self, _input: &mut BytesMut) -> Result<(), ZmtpError> {
        todo!()
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        todo!()
    }

    /// Queues a multipart message; before the handshake ends it waits in the queue.
    pub fn send(&mut self, _frames: &[Bytes]) -> Result<(), ZmtpError> {
        todo!()
    }

    /// Queues a subscription (SUB/XSUB side).
    pub fn subscribe(&mut self, _topic: &[u8]) -> Result<(), ZmtpError> {
        todo!()
    }

    /// The next chunk of bytes to write, if any, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        todo!()
    }

    /// Whether the handshake has finished.
    pub fn is_ready(&self) -> bool {
        todo!()
    }
}

pub mod socket;
