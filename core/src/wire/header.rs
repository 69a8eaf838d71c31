//! Message headers: parsed with simd-json on the way in, written by hand on the way out.

use super::WireError;
use crate::time::Timestamp;
use serde::Deserialize;

/// The fields of a header that the kernel reads. Unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Header {
    /// Unique id of the message.
    pub msg_id: String,
    /// `execute_request`, `kernel_info_request`, ...
    pub msg_type: String,
    /// The client's session id.
    #[serde(default)]
    pub session: String,
    /// The client's user name.
    #[serde(default)]
    pub username: String,
    /// Protocol version, e.g. `5.3`.
    #[serde(default)]
    pub version: String,
}

impl Header {
    /// Parses a header frame (with simd-json, see [`super::json`]).
    pub fn parse(frame: &[u8]) -> Result<Header, WireError> {
        super::json::from_slice::<Header>(frame).map_err(WireError::BadHeader)
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
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // serde_json writes any string into a Vec without failing.
        serde_json::to_writer(&mut *out, s).expect("string serialization");
    }
}
