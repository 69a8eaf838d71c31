//! Message headers: scanned on the way in, written from a template on the way out.

use super::WireError;
use crate::time::Timestamp;
use bytes::Bytes;

/// The fields of a header that the kernel reads, kept as places in the header frame (no
/// copy, no allocation) unless they had escapes to decode. Unknown fields are ignored.
#[derive(Clone, Default)]
pub struct Header {
    /// The header frame, checked to be UTF-8 and one JSON object.
    frame: Bytes,
    /// msg_id, msg_type, session, username, version.
    fields: [Field; 5],
}

/// One string field of a header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Field {
    /// Bytes `start..end` of the frame (a string without escapes; empty when absent).
    Span(u32, u32),
    /// A string whose escapes were decoded.
    Owned(Box<str>),
}

impl Default for Field {
    fn default() -> Self {
        Field::Span(0, 0)
    }
}

impl Header {
    /// Parses a header frame: one pass that checks the whole frame is a JSON object and
    /// finds the fields below (see `wire::scan`), sharing the frame's bytes.
    pub fn parse(frame: &Bytes) -> Result<Header, WireError> {
        let fields = super::scan::header(frame).map_err(WireError::BadHeader)?;
        Ok(Header {
            frame: frame.clone(),
            fields,
        })
    }

    fn field(&self, n: usize) -> &str {
        match &self.fields[n] {
            Field::Span(start, end) => {
                let bytes = &self.frame[*start as usize..*end as usize];
                // SAFETY: `parse` checked that the whole frame is UTF-8 and took spans
                // between ASCII quotes (char boundaries); the frame is immutable `Bytes`.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }
            Field::Owned(s) => s,
        }
    }

    /// Unique id of the message.
    pub fn msg_id(&self) -> &str {
        self.field(0)
    }

    /// `execute_request`, `kernel_info_request`, ...
    pub fn msg_type(&self) -> &str {
        self.field(1)
    }

    /// The client's session id (empty if absent).
    pub fn session(&self) -> &str {
        self.field(2)
    }

    /// The client's user name (empty if absent).
    pub fn username(&self) -> &str {
        self.field(3)
    }

    /// Protocol version, e.g. `5.3` (empty if absent).
    pub fn version(&self) -> &str {
        self.field(4)
    }
}

impl PartialEq for Header {
    fn eq(&self, other: &Header) -> bool {
        (0..5).all(|n| self.field(n) == other.field(n))
    }
}

impl Eq for Header {}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("msg_id", &self.msg_id())
            .field("msg_type", &self.msg_type())
            .field("session", &self.session())
            .field("username", &self.username())
            .field("version", &self.version())
            .finish()
    }
}

/// Writes an outgoing header's JSON. `msg_id`, `session` and `username` are ours and never
/// need escaping; `msg_type` is one of the protocol's names. They are escaped anyway if they
/// hold a quote or backslash, so a caller's mistake cannot produce invalid JSON.
pub fn write_header(
    out: &mut Vec<u8>,
    msg_id: &str,
    msg_type: &str,
    session: &str,
    username: &str,
    date: Timestamp,
    version: &str,
) {
    out.extend_from_slice(b"{\"msg_id\":");
    push_str(out, msg_id);
    out.extend_from_slice(b",\"msg_type\":");
    push_str(out, msg_type);
    out.extend_from_slice(b",\"session\":");
    push_str(out, session);
    out.extend_from_slice(b",\"username\":");
    push_str(out, username);
    out.extend_from_slice(b",\"date\":\"");
    date.write_iso8601_bytes(out);
    out.extend_from_slice(b"\",\"version\":");
    push_str(out, version);
    out.push(b'}');
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // serde_json writes any string into a Vec without failing.
        serde_json::to_writer(&mut *out, s).expect("string serialization");
    }
}

/// Writes our own outgoing headers from a template: everything but the message number,
/// the type and the date is the same in every header a kernel sends, so it is escaped
/// once, and the date's seconds (`2026-11-27T02:22:03.`) are formatted once per second.
/// The output is byte for byte what [`write_header`] writes with `msg_id` =
/// `{session}_{seq}`.
#[derive(Clone, Debug)]
pub struct HeaderTemplate {
    /// `{"msg_id":"` and the escaped session, then `_`.
    prefix: Vec<u8>,
    /// `,"session":"…","username":"…","date":"`.
    middle: Vec<u8>,
    /// `","version":"…"}`.
    suffix: Vec<u8>,
    /// The second whose text `date` holds, `u64::MAX` for none yet.
    second: u64,
    /// `YYYY-MM-DDTHH:MM:SS.` of `second`.
    date: Vec<u8>,
}

impl HeaderTemplate {
    /// A template for headers with our `session`, `username` and protocol `version`.
    pub fn new(session: &str, username: &str, version: &str) -> Self {
        let mut prefix = b"{\"msg_id\":".to_vec();
        push_str(&mut prefix, session);
        // Drop the closing quote: the message number follows the session.
        prefix.pop();
        prefix.push(b'_');
        let mut middle = b",\"session\":".to_vec();
        push_str(&mut middle, session);
        middle.extend_from_slice(b",\"username\":");
        push_str(&mut middle, username);
        middle.extend_from_slice(b",\"date\":\"");
        let mut suffix = b"\",\"version\":".to_vec();
        push_str(&mut suffix, version);
        suffix.push(b'}');
        HeaderTemplate {
            prefix,
            middle,
            suffix,
            second: u64::MAX,
            date: Vec::with_capacity(20),
        }
    }

    /// An upper bound of the header's length for a `msg_type` of `type_len` bytes that
    /// needs no escaping.
    pub fn max_len(&self, type_len: usize) -> usize {
        self.prefix.len() + 20 + 14 + type_len + self.middle.len() + 27 + self.suffix.len()
    }

    /// Appends the header of message number `seq` of type `msg_type`, sent at `date`.
    pub fn write(
        &mut self,
        out: &mut impl bytes::BufMut,
        seq: u64,
        msg_type: &str,
        date: Timestamp,
    ) {
        let second = date.unix_micros / 1_000_000;
        if second != self.second {
            self.second = second;
            self.date.clear();
            Timestamp::from_unix_micros(second * 1_000_000).write_iso8601_bytes(&mut self.date);
            // Keep `YYYY-MM-DDTHH:MM:SS.`: the microseconds and `Z` are written per header.
            self.date.truncate(20);
        }
        out.put_slice(&self.prefix);
        put_decimal(out, seq);
        out.put_slice(b"\",\"msg_type\":");
        if needs_escape(msg_type) {
            let mut escaped = Vec::with_capacity(msg_type.len() + 8);
            push_str(&mut escaped, msg_type);
            out.put_slice(&escaped);
        } else {
            out.put_u8(b'"');
            out.put_slice(msg_type.as_bytes());
            out.put_u8(b'"');
        }
        out.put_slice(&self.middle);
        out.put_slice(&self.date);
        let mut micros = [0u8; 7];
        let mut n = date.unix_micros % 1_000_000;
        for slot in micros[..6].iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        micros[6] = b'Z';
        out.put_slice(&micros);
        out.put_slice(&self.suffix);
    }
}

/// Appends the decimal digits of `n`, without going through `fmt`.
pub fn put_decimal(out: &mut impl bytes::BufMut, mut n: u64) {
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
    out.put_slice(&buf[i..]);
}

fn needs_escape(s: &str) -> bool {
    !s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}
