//! Tests of the ZMTP connection: golden bytes, split points, pairs, fuzzing.

use super::{Config, Connection, Event, SocketType, ZmtpError};
use bytes::{Bytes, BytesMut};

mod errors;
mod fuzz;
mod golden;
mod pair;
mod split;

/// A peer greeting written out by hand: signature, version 3.`minor`, NULL, filler.
pub(super) fn peer_greeting(minor: u8) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, minor];
    g.extend_from_slice(b"NULL");
    g.extend_from_slice(&[0u8; 16]);
    g.push(0); // as-server
    g.extend_from_slice(&[0u8; 31]);
    assert_eq!(g.len(), 64);
    g
}

/// A short command frame written out by hand.
pub(super) fn command(name: &str, data: &[u8]) -> Vec<u8> {
    let size = 1 + name.len() + data.len();
    let mut c = vec![0x04, u8::try_from(size).expect("short command")];
    c.push(u8::try_from(name.len()).expect("short name"));
    c.extend_from_slice(name.as_bytes());
    c.extend_from_slice(data);
    c
}

/// One READY property written out by hand.
pub(super) fn prop(name: &str, value: &[u8]) -> Vec<u8> {
    let mut p = vec![u8::try_from(name.len()).expect("short name")];
    p.extend_from_slice(name.as_bytes());
    p.extend_from_slice(&u32::try_from(value.len()).expect("small").to_be_bytes());
    p.extend_from_slice(value);
    p
}

/// A READY command for a peer of this type and identity.
pub(super) fn ready(socket_type: &str, identity: &[u8]) -> Vec<u8> {
    let mut data = prop("Socket-Type", socket_type.as_bytes());
    if !identity.is_empty() {
        data.extend(prop("Identity", identity));
    }
    command("READY", &data)
}

/// A message frame written out by hand (short or long form by size).
pub(super) fn frame(body: &[u8], more: bool) -> Vec<u8> {
    let flag = u8::from(more);
    let mut f = if body.len() > 255 {
        let mut h = vec![flag | 0x02];
        h.extend_from_slice(&(body.len() as u64).to_be_bytes());
        h
    } else {
        vec![flag, body.len() as u8]
    };
    f.extend_from_slice(body);
    f
}

/// A multipart message written out by hand.
pub(super) fn message(frames: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        m.extend(frame(f, i + 1 < frames.len()));
    }
    m
}

/// A connection with these settings.
pub(super) fn conn(socket_type: SocketType, identity: &'static [u8], max: u64) -> Connection {
    Connection::new(Config {
        socket_type,
        identity: Bytes::from_static(identity),
        max_message_size: max,
    })
}

/// Every event queued.
pub(super) fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Every byte queued for transmission, concatenated.
pub(super) fn transmit(c: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = c.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

/// Feeds `stream` in pieces cut at `cuts` (ascending offsets), appending to one buffer as a
/// runtime does; returns the events and the first error.
pub(super) fn feed_cut(
    c: &mut Connection,
    stream: &[u8],
    cuts: &[usize],
) -> (Vec<Event>, Option<ZmtpError>) {
    let mut buf = BytesMut::new();
    let mut evs = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        buf.extend_from_slice(&stream[at..cut]);
        at = cut;
        let r = c.handle_input(&mut buf);
        evs.extend(events(c));
        if let Err(e) = r {
            return (evs, Some(e));
        }
    }
    (evs, None)
}

/// Two connections wired together in memory.
pub(super) struct Pair {
    pub a: Connection,
    pub b: Connection,
    a_in: BytesMut,
    b_in: BytesMut,
}

impl Pair {
    pub fn new(a: Connection, b: Connection) -> Self {
        Pair {
            a,
            b,
            a_in: BytesMut::new(),
            b_in: BytesMut::new(),
        }
    }

    /// Moves bytes both ways until both are quiet; returns the events of a and of b.
    pub fn pump(&mut self) -> (Vec<Event>, Vec<Event>) {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        for _ in 0..100 {
            let mut moved = false;
            while let Some(c) = self.a.poll_transmit() {
                self.b_in.extend_from_slice(&c);
                moved = true;
            }
            while let Some(c) = self.b.poll_transmit() {
                self.a_in.extend_from_slice(&c);
                moved = true;
            }
            if !moved {
                return (ea, eb);
            }
            self.a
                .handle_input(&mut self.a_in)
                .expect("a accepts b's bytes");
            self.b
                .handle_input(&mut self.b_in)
                .expect("b accepts a's bytes");
            ea.extend(events(&mut self.a));
            eb.extend(events(&mut self.b));
        }
        panic!("the pair never went quiet");
    }
}

/// Bytes from a static string.
pub(super) fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

#[test]
fn connection_and_tables_are_send() {
    fn send<T: Send>() {}
    send::<Connection>();
    send::<super::socket::RouterTable<u64>>();
    send::<super::socket::Subscriptions<u64>>();
}

#[test]
fn consume_written_takes_whole_and_partial_chunks() {
    let chunk = |s: &'static [u8]| bytes::Bytes::from_static(s);
    let mut q: std::collections::VecDeque<bytes::Bytes> =
        [chunk(b"abc"), chunk(b"de"), chunk(b"fgh")].into();
    super::consume_written(&mut q, 4);
    assert_eq!(q, [chunk(b"e"), chunk(b"fgh")]);
    super::consume_written(&mut q, 1);
    assert_eq!(q, [chunk(b"fgh")]);
    super::consume_written(&mut q, 10);
    assert!(q.is_empty());
}
