//! Building outgoing messages: ids, headers, topics, signatures.

use super::{Action, Ctx};
use crate::connection::Channel;
use crate::metrics::Metrics;
use crate::time::Timestamp;
use crate::wire::{Codec, HeaderTemplate};
use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// The protocol version we speak and put in every header.
pub const PROTOCOL_VERSION: &str = "5.5";

/// How many bytes the outbox's arena takes from the allocator at a time.
const ARENA: usize = 16 * 1024;

/// Makes and signs the messages the kernel sends, and queues them as actions.
pub struct Outbox {
    /// Signs outgoing messages.
    pub codec: Codec,
    /// Our session id, for iopub topics.
    session: String,
    /// Our headers, message ids `{session}_{seq}`.
    template: HeaderTemplate,
    /// Outgoing headers and signatures are carved from this buffer, which is refilled in
    /// [`ARENA`]-sized steps: no allocation per message for them.
    arena: BytesMut,
    /// The number of the last message.
    seq: u64,
    /// iopub topics by message type, `kernel.{session}.{msg_type}`, made once each.
    topics: FxHashMap<&'static str, Bytes>,
    /// The actions the kernel has produced and the driver has not yet taken.
    pub actions: VecDeque<Action>,
    /// Where reply durations are recorded.
    pub metrics: Option<Arc<Metrics>>,
}

impl Outbox {
    /// An outbox signing with `codec`.
    pub fn new(codec: Codec, session: String, username: String) -> Self {
        Outbox {
            codec,
            template: HeaderTemplate::new(&session, &username, PROTOCOL_VERSION),
            session,
            arena: BytesMut::new(),
            seq: 0,
            topics: FxHashMap::default(),
            actions: VecDeque::new(),
            metrics: None,
        }
    }

    fn header(&mut self, now: Timestamp, msg_type: &str) -> Bytes {
        self.seq += 1;
        // Room for the header and its signature, so that both come from one buffer.
        let need = self.template.max_len(msg_type.len()) + 64;
        if self.arena.capacity() < need {
            self.arena.reserve(ARENA.max(need));
        }
        self.template
            .write(&mut self.arena, self.seq, msg_type, now);
        self.arena.split().freeze()
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
        let frames = self.codec.encode_in(
            &mut self.arena,
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
        let frames = self.codec.encode_in(
            &mut self.arena,
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
