//! Frame headers (flags and size) and the outgoing byte queue.

use super::ZmtpError;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;

/// Flag bit 0: more frames of this message follow.
pub(crate) const MORE: u8 = 0x01;
/// Flag bit 1: the size is 8 bytes, big-endian.
pub(crate) const LONG: u8 = 0x02;
/// Flag bit 2: this frame is a command.
pub(crate) const COMMAND: u8 = 0x04;

/// Frames larger than this are handed to the writer as their own `Bytes`, not copied.
pub(crate) const ZERO_COPY_THRESHOLD: usize = 16 * 1024;
/// Small frames are coalesced into one chunk up to about this size.
const COALESCE_LIMIT: usize = 64 * 1024;

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The flags byte.
    pub flags: u8,
    /// The body size the header announces (untrusted).
    pub size: u64,
    /// Bytes the header itself takes: 2 or 9.
    pub len: usize,
}

impl Header {
    /// Whether this is a command frame.
    pub fn is_command(&self) -> bool {
        self.flags & COMMAND != 0
    }
    /// Whether more frames of the message follow.
    pub fn more(&self) -> bool {
        self.flags & MORE != 0
    }
}

/// Parses the frame header at the front of `buf`; `Ok(None)` means more bytes are needed.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<Header>, ZmtpError> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    if flags & !(MORE | LONG | COMMAND) != 0 {
        return Err(ZmtpError::Malformed(format!(
            "frame flags {flags:#04x} set reserved bits"
        )));
    }
    if flags & COMMAND != 0 && flags & MORE != 0 {
        return Err(ZmtpError::Malformed(
            "command frame with the MORE flag".into(),
        ));
    }
    if flags & LONG != 0 {
        let Some(size) = buf.get(1..9) else {
            return Ok(None);
        };
        let mut be = [0u8; 8];
        be.copy_from_slice(size);
        Ok(Some(Header {
            flags,
            size: u64::from_be_bytes(be),
            len: 9,
        }))
    } else {
        let Some(&size) = buf.get(1) else {
            return Ok(None);
        };
        Ok(Some(Header {
            flags,
            size: u64::from(size),
            len: 2,
        }))
    }
}

/// Writes a frame header: the short form up to 255 bytes, the long form above.
pub(crate) fn put_header(buf: &mut BytesMut, flags: u8, size: usize) {
    if size > usize::from(u8::MAX) {
        buf.put_u8(flags | LONG);
        buf.put_u64(size as u64);
    } else {
        buf.put_u8(flags);
        // The branch above guarantees that the size fits a byte.
        buf.put_u8(size as u8);
    }
}

/// Outgoing bytes, in order: small frames coalesced with their headers into one buffer,
/// large frames queued as their own `Bytes`.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Chunks ready to write, oldest first.
    chunks: VecDeque<Bytes>,
    /// Bytes after the last chunk, still being coalesced.
    buf: BytesMut,
}

impl Outbox {
    /// Appends raw bytes (the greeting).
    pub fn push_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.maybe_seal();
    }

    /// Appends one message frame; `more` sets the MORE flag.
    pub fn push_frame(&mut self, body: &Bytes, more: bool) {
        let flags = if more { MORE } else { 0 };
        put_header(&mut self.buf, flags, body.len());
        if body.len() > ZERO_COPY_THRESHOLD {
            self.seal();
            self.chunks.push_back(body.clone());
        } else {
            self.buf.extend_from_slice(body);
            self.maybe_seal();
        }
    }

    /// Appends a multipart message.
    pub fn push_message(&mut self, frames: &[Bytes]) {
        let last = frames.len().saturating_sub(1);
        for (i, f) in frames.iter().enumerate() {
            self.push_frame(f, i < last);
        }
    }

    /// Appends a command: name, then the data pieces concatenated.
    pub fn push_command(&mut self, name: &str, data: &[&[u8]]) {
        let size = 1 + name.len() + data.iter().map(|d| d.len()).sum::<usize>();
        put_header(&mut self.buf, COMMAND, size);
        // Command names are constants of this module, all shorter than 256 bytes.
        self.buf.put_u8(name.len() as u8);
        self.buf.extend_from_slice(name.as_bytes());
        for d in data {
            self.buf.extend_from_slice(d);
        }
        self.maybe_seal();
    }

    /// The next chunk to write.
    pub fn poll(&mut self) -> Option<Bytes> {
        if let Some(c) = self.chunks.pop_front() {
            return Some(c);
        }
        if self.buf.is_empty() {
            None
        } else {
            Some(self.buf.split().freeze())
        }
    }

    /// Whether nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.buf.is_empty()
    }

    /// Moves the coalescing buffer to the chunk queue.
    fn seal(&mut self) {
        if !self.buf.is_empty() {
            self.chunks.push_back(self.buf.split().freeze());
        }
    }

    /// Seals the coalescing buffer once it is big enough to be written on its own.
    fn maybe_seal(&mut self) {
        if self.buf.len() >= COALESCE_LIMIT {
            self.seal();
        }
    }
}
