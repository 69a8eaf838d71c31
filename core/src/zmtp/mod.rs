//! ZMTP 3.1 (rfc.zeromq.org specs 23 and 37) over a byte stream, sans-IO.
//!
//! A [`Connection`] is one ZMTP peer relationship, either side, with the NULL security
//! mechanism. It opens no socket and reads no clock: bytes go in through
//! [`Connection::handle_input`], and events and bytes to write come out through
//! [`Connection::poll_event`] and [`Connection::poll_transmit`]. The socket patterns that span
//! many connections (ROUTER routing ids, XPUB subscriptions, REQ/REP envelopes) live in
//! [`socket`].
//!
//! # Driving a connection
//!
//! For every connected byte stream (accepted or connected, it does not matter which):
//!
//! 1. Create the connection with [`Connection::new`]. Our greeting is queued at once, so
//!    drain [`Connection::poll_transmit`] and write every chunk, in order, before waiting
//!    for the first read.
//! 2. Read whatever the socket has into a `BytesMut` (append; keep the bytes the previous
//!    call left there) and call [`Connection::handle_input`]. It takes every complete unit
//!    off the front of the buffer and leaves a partial one in place; read more and call
//!    again. Keep one buffer per connection for its whole life. Frames of received
//!    messages are `Bytes` views into that buffer, never copies.
//! 3. Drain [`Connection::poll_event`] until it returns `None`: [`Event::Ready`] once the
//!    handshake ends (attach the peer to a [`socket::RouterTable`] here), then
//!    [`Event::Message`], [`Event::Subscribe`], [`Event::Cancel`] and [`Event::Oversize`]
//!    in arrival order. Events queued before an error are still delivered.
//! 4. Call [`Connection::send`] (and, on SUB/XSUB, [`Connection::subscribe`]) for what the
//!    application wants to send. Before the handshake ends they wait in a queue and flow
//!    right after the peer's READY.
//! 5. Drain [`Connection::poll_transmit`] until it returns `None`, writing every chunk
//!    completely and in order (the handshake, PONG replies and messages all come out here).
//!    Go back to step 2.
//!
//! If [`Connection::handle_input`] returns an error, the connection is dead: every later
//! call returns the same error. Drain [`Connection::poll_transmit`] once more (a handshake
//! failure queues an ERROR command for the peer) and close the socket. End of stream from
//! the peer simply means the connection is gone; the core needs no call for it.
//!
//! # Panics
//!
//! Nothing a peer sends makes this module panic; lengths from the wire are never trusted
//! for allocation: a frame is buffered only as its bytes arrive, and a message over
//! [`Config::max_message_size`] is skipped without being buffered at all.

use bytes::Bytes;
use std::fmt;

mod command;
mod connection;
mod frame;
mod greeting;
pub mod socket;

#[cfg(test)]
mod tests;

pub use connection::Connection;

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

impl SocketType {
    /// Every socket type, for tables and tests.
    pub const ALL: [SocketType; 11] = [
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::XPub,
        SocketType::XSub,
        SocketType::Push,
        SocketType::Pull,
        SocketType::Pair,
    ];

    /// The name sent in the `Socket-Type` property (`"ROUTER"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Push => "PUSH",
            SocketType::Pull => "PULL",
            SocketType::Pair => "PAIR",
        }
    }

    /// The socket type with this `Socket-Type` name; names are matched exactly, as libzmq does.
    pub fn from_name(name: &[u8]) -> Option<SocketType> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == name)
    }

    /// Whether a socket of this type may talk to a peer of type `peer` (spec 23, "Socket
    /// types"; the relation is symmetric).
    pub fn is_compatible(self, peer: SocketType) -> bool {
        use SocketType::*;
        match self {
            Req => matches!(peer, Rep | Router),
            Rep => matches!(peer, Req | Dealer),
            Dealer => matches!(peer, Rep | Dealer | Router),
            Router => matches!(peer, Req | Dealer | Router),
            Pub | XPub => matches!(peer, Sub | XSub),
            Sub | XSub => matches!(peer, Pub | XPub),
            Push => matches!(peer, Pull),
            Pull => matches!(peer, Push),
            Pair => matches!(peer, Pair),
        }
    }

    /// Whether this side receives subscriptions (PUB, XPUB).
    pub fn is_publisher(self) -> bool {
        matches!(self, SocketType::Pub | SocketType::XPub)
    }

    /// Whether this side sends subscriptions (SUB, XSUB).
    pub fn is_subscriber(self) -> bool {
        matches!(self, SocketType::Sub | SocketType::XSub)
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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

impl Config {
    /// A configuration with no identity and no practical size limit.
    pub fn new(socket_type: SocketType) -> Self {
        Config {
            socket_type,
            identity: Bytes::new(),
            max_message_size: u64::MAX,
        }
    }
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

impl fmt::Display for ZmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZmtpError::Malformed(m) => write!(f, "malformed ZMTP input: {m}"),
            ZmtpError::Protocol(m) => write!(f, "ZMTP protocol violation by the peer: {m}"),
            ZmtpError::Usage(m) => write!(f, "ZMTP API misuse: {m}"),
        }
    }
}

impl std::error::Error for ZmtpError {}

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

/// Removes the first `written` bytes from a queue of chunks waiting to be written (what a
/// vectored write of the queue's front took), splitting the chunk it ends in.
pub fn consume_written(chunks: &mut std::collections::VecDeque<Bytes>, mut written: usize) {
    use bytes::Buf;
    while written > 0 {
        let Some(front) = chunks.front_mut() else {
            return;
        };
        if front.len() > written {
            front.advance(written);
            return;
        }
        written -= front.len();
        chunks.pop_front();
    }
}
