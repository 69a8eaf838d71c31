//! The Jupyter wire format: multipart messages, HMAC-SHA256 signatures and a replay window.
//!
//! A message on a ROUTER socket arrives as
//! `[identity..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffer...]`.
//! [`Codec::decode`] checks the frame count, then verifies the signature in constant time over
//! the raw frames, then rejects a signature it has seen before, and only then parses the
//! header's JSON. Frames stay [`Bytes`]: nothing is copied until a JSON parser needs it.
//!
//! [`Codec::encode`] builds the frames of an outgoing message and signs them.

mod header;
pub mod json;
mod scan;
mod sign;

pub use header::{put_decimal, write_header, Header, HeaderTemplate};
pub use sign::{ReplayWindow, Signer};

use bytes::{Bytes, BytesMut};
use std::fmt;

/// The frame that separates routing identities from the message.
pub const DELIMITER: &[u8] = b"<IDS|MSG>";

/// Why a multipart message was rejected. Each names who is at fault: all of these are the
/// peer's, since the codec has no failure of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// No `<IDS|MSG>` delimiter frame.
    NoDelimiter,
    /// Fewer than the five frames that must follow the delimiter.
    TooFewFrames(usize),
    /// The signature frame is not 64 hex digits, or does not match.
    BadSignature,
    /// The signature was seen before: a replay.
    Replayed,
    /// The header is not valid JSON with string `msg_id` and `msg_type`.
    BadHeader(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::NoDelimiter => write!(f, "no <IDS|MSG> delimiter frame"),
            WireError::TooFewFrames(n) => {
                write!(f, "{n} frames after the delimiter, at least 5 expected")
            }
            WireError::BadSignature => write!(f, "bad or missing HMAC signature"),
            WireError::Replayed => write!(f, "duplicate signature (replayed message)"),
            WireError::BadHeader(e) => write!(f, "invalid header: {e}"),
        }
    }
}

impl std::error::Error for WireError {}

/// A verified message, still as raw frames, with its header parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct RawMessage {
    /// Routing identities (frames before the delimiter).
    pub identities: Vec<Bytes>,
    /// The header's JSON, exactly as received: it becomes the `parent_header` of replies.
    pub header_bytes: Bytes,
    /// The parent header's JSON.
    pub parent_header: Bytes,
    /// The metadata's JSON.
    pub metadata: Bytes,
    /// The content's JSON.
    pub content: Bytes,
    /// Binary buffers after the content.
    pub buffers: Vec<Bytes>,
    /// The parsed header.
    pub header: Header,
}

/// Signs and verifies messages for one key, and remembers signatures to reject replays.
#[derive(Clone, Debug)]
pub struct Codec {
    signer: Signer,
    replay: ReplayWindow,
}

impl Codec {
    /// A codec for `key`; an empty key disables signing, as in jupyter_client.
    /// `replay_window` is how many recent signatures are remembered (jupyter_client: 65536).
    pub fn new(key: &[u8], replay_window: usize) -> Self {
        Codec {
            signer: Signer::new(key),
            replay: ReplayWindow::new(replay_window),
        }
    }

    /// The signer, for callers that build frames themselves.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Checks and parses a message: frame count, signature (constant time), replay, then the
    /// header's JSON. A message that fails is not remembered in the replay window.
    pub fn decode(&mut self, mut frames: Vec<Bytes>) -> Result<RawMessage, WireError> {
        let delim = frames
            .iter()
            .position(|f| f.as_ref() == DELIMITER)
            .ok_or(WireError::NoDelimiter)?;
        let after = frames.len() - delim - 1;
        if after < 5 {
            return Err(WireError::TooFewFrames(after));
        }
        // Take the five frames and any buffers out, then keep the identities in the same
        // vector: no new allocation for the common message without buffers.
        let buffers = if after > 5 {
            frames.split_off(delim + 6)
        } else {
            Vec::new()
        };
        let mut take = |i: usize| std::mem::take(&mut frames[delim + 1 + i]);
        let (signature, header, parent, metadata, content) =
            (take(0), take(1), take(2), take(3), take(4));
        frames.truncate(delim);
        let identities = frames;
        if self.signer.is_enabled() {
            let parts = [&header[..], &parent[..], &metadata[..], &content[..]];
            let digest = self
                .signer
                .verify(&signature, &parts)
                .ok_or(WireError::BadSignature)?;
            if !self.replay.insert(digest) {
                return Err(WireError::Replayed);
            }
        }
        let parsed = Header::parse(&header)?;
        Ok(RawMessage {
            identities,
            header_bytes: header,
            parent_header: parent,
            metadata,
            content,
            buffers,
            header: parsed,
        })
    }

    /// [`Codec::encode`] with the signature carved from `arena` instead of allocated: a
    /// caller that sends many messages keeps one arena and reserves in large steps.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_in(
        &self,
        arena: &mut BytesMut,
        identities: &[Bytes],
        header: Bytes,
        parent_header: Bytes,
        metadata: Bytes,
        content: Bytes,
        buffers: &[Bytes],
    ) -> Vec<Bytes> {
        let parts = [&header[..], &parent_header[..], &metadata[..], &content[..]];
        let sig = match self.signer.sign_hex(&parts) {
            Some(hex) => {
                arena.extend_from_slice(&hex);
                arena.split().freeze()
            }
            None => Bytes::new(),
        };
        let body = [sig, header, parent_header, metadata, content];
        assemble(identities, body, buffers)
    }

    /// Builds and signs the frames of a message: identities (or an iopub topic), the
    /// delimiter, the signature, then header, parent header, metadata, content and buffers.
    pub fn encode(
        &self,
        identities: &[Bytes],
        header: Bytes,
        parent_header: Bytes,
        metadata: Bytes,
        content: Bytes,
        buffers: &[Bytes],
    ) -> Vec<Bytes> {
        let sig = self
            .signer
            .sign(&[&header[..], &parent_header[..], &metadata[..], &content[..]]);
        let body = [sig, header, parent_header, metadata, content];
        assemble(identities, body, buffers)
    }
}

/// The frames of a message: identities, the delimiter, then signature, header, parent
/// header, metadata and content (`body`), then the buffers.
fn assemble(identities: &[Bytes], body: [Bytes; 5], buffers: &[Bytes]) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(identities.len() + 6 + buffers.len());
    frames.extend_from_slice(identities);
    frames.push(Bytes::from_static(DELIMITER));
    frames.extend(body);
    frames.extend_from_slice(buffers);
    frames
}

#[cfg(test)]
mod tests;
