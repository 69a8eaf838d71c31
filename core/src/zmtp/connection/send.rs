//! The sending half of [`Connection`]: messages, subscriptions and PINGs, queued until the
//! handshake ends and encoded for the protocol version the peer speaks.

use super::{Connection, State};
use crate::zmtp::command::PING_CONTEXT_MAX;
use crate::zmtp::ZmtpError;
use bytes::Bytes;

/// Something the caller asked to send before the handshake ended.
#[derive(Clone, Debug)]
pub(super) enum Outgoing {
    /// A multipart message.
    Message(Vec<Bytes>),
    /// A subscription to a topic prefix.
    Subscribe(Bytes),
    /// The cancellation of one subscription.
    Cancel(Bytes),
}

impl Connection {
    /// Queues a multipart message; before the handshake ends it waits in the queue.
    pub fn send(&mut self, frames: &[Bytes]) -> Result<(), ZmtpError> {
        self.check_alive()?;
        if frames.is_empty() {
            return Err(ZmtpError::Usage("a message has at least one frame".into()));
        }
        if self.state == State::Ready {
            self.out.push_message(frames);
        } else {
            self.pending.push(Outgoing::Message(frames.to_vec()));
        }
        Ok(())
    }

    /// Queues a subscription (SUB/XSUB side).
    ///
    /// A peer speaking ZMTP 3.1 gets a SUBSCRIBE command, a 3.0 peer the `0x01` message.
    pub fn subscribe(&mut self, topic: &[u8]) -> Result<(), ZmtpError> {
        self.subscription(Outgoing::Subscribe(Bytes::copy_from_slice(topic)))
    }

    /// Queues the cancellation of one subscription (SUB/XSUB side): CANCEL or `0x00`.
    pub fn cancel(&mut self, topic: &[u8]) -> Result<(), ZmtpError> {
        self.subscription(Outgoing::Cancel(Bytes::copy_from_slice(topic)))
    }

    /// Queues a PING (ZMTP 3.1 peers only) with a TTL in tenths of a second and a context of
    /// at most 16 bytes, which the peer echoes in a PONG (see [`Self::poll_pong`]).
    pub fn send_ping(&mut self, ttl_deciseconds: u16, context: &[u8]) -> Result<(), ZmtpError> {
        self.check_alive()?;
        if context.len() > PING_CONTEXT_MAX {
            return Err(ZmtpError::Usage(
                "a PING context has at most 16 bytes".into(),
            ));
        }
        match &self.peer {
            Some(p) if self.state == State::Ready && p.minor >= 1 => {
                self.out
                    .push_command("PING", &[&ttl_deciseconds.to_be_bytes(), context]);
                Ok(())
            }
            Some(_) if self.state == State::Ready => Err(ZmtpError::Usage(
                "the peer speaks ZMTP 3.0, which has no PING".into(),
            )),
            _ => Err(ZmtpError::Usage("PING before the handshake ended".into())),
        }
    }

    fn check_alive(&self) -> Result<(), ZmtpError> {
        match &self.state {
            State::Failed(e) => Err(ZmtpError::Usage(format!("the connection is dead: {e}"))),
            _ => Ok(()),
        }
    }

    fn subscription(&mut self, item: Outgoing) -> Result<(), ZmtpError> {
        self.check_alive()?;
        if !self.config.socket_type.is_subscriber() {
            return Err(ZmtpError::Usage(format!(
                "subscriptions are for SUB and XSUB, not {}",
                self.config.socket_type
            )));
        }
        if self.state == State::Ready {
            self.encode(item);
        } else {
            self.pending.push(item);
        }
        Ok(())
    }

    /// Encodes one outgoing item; only called once the handshake ended.
    pub(super) fn encode(&mut self, item: Outgoing) {
        let v31 = self.peer.as_ref().is_some_and(|p| p.minor >= 1);
        match item {
            Outgoing::Message(frames) => self.out.push_message(&frames),
            Outgoing::Subscribe(t) if v31 => self.out.push_command("SUBSCRIBE", &[&t]),
            Outgoing::Cancel(t) if v31 => self.out.push_command("CANCEL", &[&t]),
            Outgoing::Subscribe(t) => self.out.push_message(&[flagged(0x01, &t)]),
            Outgoing::Cancel(t) => self.out.push_message(&[flagged(0x00, &t)]),
        }
    }
}

/// A one-frame ZMTP 3.0 subscription message: the flag byte, then the topic.
fn flagged(flag: u8, topic: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(1 + topic.len());
    b.push(flag);
    b.extend_from_slice(topic);
    Bytes::from(b)
}
