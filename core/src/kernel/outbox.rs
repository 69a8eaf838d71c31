//! Building outgoing messages: ids, headers, topics, signatures.

use super::{Action, Ctx};
use crate::connection::Channel;
use crate::metrics::Metrics;
use crate::time::Timestamp;
use crate::wire::{write_header, Codec};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// The protocol version we speak and put in every header.
pub const PROTOCOL_VERSION: &str = "5.5";

/// Makes and signs the messages the kernel sends, and queues them as actions.
pub struct Outbox {
    /// Signs outgoing messages.
    pub codec: Codec,
    /// Our session id; message ids are `{session}_{seq}`.
    session: String,
    /// Our user name in headers.
    username: String,
    /// The number of the next message.
    seq: u64,
    /// iopub topics by message type, `kernel.{session}.{msg_type}`, made once each.
    topics: HashMap<&'static str, Bytes>,
    /// The actions the kernel has produced and the driver has not yet taken.
    pub actions: VecDeque<Action>,
    /// Scratch space for message ids, reused.
    id_buf: String,
    /// Where reply durations are recorded.
    pub metrics: Option<Arc<Metrics>>,
}

impl Outbox {
    /// An outbox signing with `codec`.
    pub fn new(codec: Codec, session: String, username: String) -> Self {
        Outbox {
            codec,
            session,
            username,
            seq: 0,
            topics: HashMap::new(),
            actions: VecDeque::new(),
            id_buf: String::new(),
            metrics: None,
        }
    }

    fn header(&mut self, now: Timestamp, msg_type: &str) -> Bytes {
        self.seq += 1;
        let mut id = std::mem::take(&mut self.id_buf);
        id.clear();
        id.push_str(&self.session);
        id.push('_');
        push_u64(&mut id, self.seq);
        let mut out = Vec::with_capacity(160 + self.session.len() * 2);
        write_header(
            &mut out,
            &id,
            msg_type,
            &self.session,
            &self.username,
            now,
            PROTOCOL_VERSION,
        );
        self.id_buf = id;
        Bytes::from(out)
    }

    fn topic(&mut self, msg_type: &'static str) -> Bytes {
        let session = &self.session;
        self.topics
            .entry(msg_type)
            .or_insert_with(|| Bytes::from(format!("kernel.{session}.{msg_type}")))
            .clone()
    }

    /// Sends a reply or request to the peer of `ctx` on `channel`, with `ctx`'s request as parent.
    pub fn send_to(
        &mut self,
        now: Timestamp,
        channel: Channel,
        ctx: &Ctx,
        msg_type: &'static str,
        content: impl Into<Bytes>,
    ) {
        if let Some(m) = &self.metrics {
            if msg_type.ends_with("_reply") {
                m.replied(msg_type, now.micros_since(ctx.received));
            }
        }
        let header = self.header(now, msg_type);
        let frames = self.codec.encode(
            &ctx.identities,
            header,
            ctx.header.clone(),
            Bytes::from_static(b"{}"),
            content.into(),
            &[],
        );
        self.actions.push_back(Action::Send { channel, frames });
    }

    /// Publishes on iopub with `parent` as parent header (`{}` for none).
    pub fn publish(
        &mut self,
        now: Timestamp,
        parent: &Bytes,
        msg_type: &'static str,
        content: Bytes,
    ) {
        let header = self.header(now, msg_type);
        let topic = self.topic(msg_type);
        let frames = self.codec.encode(
            &[topic],
            header,
            parent.clone(),
            Bytes::from_static(b"{}"),
            content,
            &[],
        );
        self.actions.push_back(Action::Send {
            channel: Channel::Iopub,
            frames,
        });
    }

    /// Publishes `status` busy or idle.
    pub fn status(&mut self, now: Timestamp, parent: &Bytes, busy: bool) {
        let content: &'static [u8] = if busy {
            br#"{"execution_state":"busy"}"#
        } else {
            br#"{"execution_state":"idle"}"#
        };
        self.publish(now, parent, "status", Bytes::from_static(content));
    }
}

/// Appends the decimal digits of `n` without going through `fmt`.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

#[cfg(test)]
mod tests {
    fn itoa(n: u64) -> String {
        let mut s = String::new();
        super::push_u64(&mut s, n);
        s
    }

    #[test]
    fn digits() {
        assert_eq!(itoa(0), "0");
        assert_eq!(itoa(1234567890123), "1234567890123");
        assert_eq!(itoa(u64::MAX), u64::MAX.to_string());
    }
}
