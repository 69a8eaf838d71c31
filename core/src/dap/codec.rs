//! DAP's framing over a byte stream: `Content-Length: N\r\n\r\n` and N bytes of JSON.

use bytes::{Buf, BytesMut};
use serde_json::Value;

/// Messages larger than this are refused by default (16 MiB).
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;
/// The header block may be at most this long.
const MAX_HEADER: usize = 8 * 1024;

/// Why the input could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// The peer sent a header block that is not `Content-Length: N` lines ended by an
    /// empty line. The stream cannot be resynchronised: close it.
    BadHeader(String),
    /// The peer declared a body over the limit. The stream is closed rather than read.
    TooLarge {
        /// The declared length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A well-framed body that is not a JSON object. The frame was consumed: the stream
    /// goes on.
    BadJson(String),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::BadHeader(why) => write!(f, "bad DAP header: {why}"),
            CodecError::TooLarge { length, limit } => {
                write!(
                    f,
                    "DAP message of {length} bytes is over the limit of {limit}"
                )
            }
            CodecError::BadJson(why) => write!(f, "DAP message is not a JSON object: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}

/// Reads and writes framed DAP messages.
#[derive(Clone, Debug)]
pub struct Codec {
    max_message: usize,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::new(DEFAULT_MAX_MESSAGE)
    }
}

impl Codec {
    /// A codec refusing bodies over `max_message` bytes.
    pub fn new(max_message: usize) -> Codec {
        Codec { max_message }
    }

    /// Takes the first complete message from `input`. `Ok(None)` when more bytes are needed;
    /// nothing is consumed until a whole message is there.
    pub fn decode(&self, input: &mut BytesMut) -> Result<Option<Value>, CodecError> {
        let Some(end) = find_blank_line(input) else {
            if input.len() > MAX_HEADER {
                return Err(CodecError::BadHeader(format!(
                    "no end of header in the first {MAX_HEADER} bytes"
                )));
            }
            // A header can only start with a letter: fail early on garbage.
            if let Some(&b) = input.first() {
                if !b.is_ascii_alphabetic() {
                    return Err(CodecError::BadHeader(format!(
                        "a header starts with byte {b:#04x}"
                    )));
                }
            }
            return Ok(None);
        };
        let length = content_length(&input[..end])?;
        if length > self.max_message {
            return Err(CodecError::TooLarge {
                length,
                limit: self.max_message,
            });
        }
        let start = end + 4;
        if input.len() < start + length {
            return Ok(None);
        }
        input.advance(start);
        let body = input.split_to(length);
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v.is_object() => Ok(Some(v)),
            Ok(_) => Err(CodecError::BadJson("not an object".into())),
            Err(e) => Err(CodecError::BadJson(e.to_string())),
        }
    }

    /// Frames one message.
    pub fn encode(message: &Value, out: &mut Vec<u8>) {
        // Serializing a serde_json::Value into a Vec cannot fail.
        let body = serde_json::to_vec(message).expect("json value serializes");
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(&body);
    }
}

fn find_blank_line(input: &[u8]) -> Option<usize> {
    input
        .windows(4)
        .take(MAX_HEADER)
        .position(|w| w == b"\r\n\r\n")
}

/// The value of the `Content-Length` header in a header block (other headers ignored).
fn content_length(header: &[u8]) -> Result<usize, CodecError> {
    let text = std::str::from_utf8(header)
        .map_err(|_| CodecError::BadHeader("the header is not UTF-8".into()))?;
    let mut length = None;
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            return Err(CodecError::BadHeader(format!(
                "{line:?} is not `Name: value`"
            )));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            let n = value
                .parse::<usize>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    CodecError::BadHeader(format!("Content-Length {value:?} is not a number"))
                })?;
            length = Some(n);
        }
    }
    length.ok_or_else(|| CodecError::BadHeader("no Content-Length".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn framed(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        Codec::encode(v, &mut out);
        out
    }

    #[test]
    fn every_prefix_needs_more_and_consumes_nothing() {
        let msg = json!({"seq": 1, "type": "request", "command": "initialize", "x": "é"});
        let bytes = framed(&msg);
        let codec = Codec::default();
        for cut in 0..bytes.len() {
            let mut input = BytesMut::from(&bytes[..cut]);
            assert_eq!(codec.decode(&mut input), Ok(None), "prefix {cut}");
            assert_eq!(input.len(), cut, "nothing consumed at {cut}");
        }
        let mut input = BytesMut::from(&bytes[..]);
        input.extend_from_slice(&bytes);
        assert_eq!(codec.decode(&mut input), Ok(Some(msg.clone())));
        assert_eq!(codec.decode(&mut input), Ok(Some(msg)));
        assert!(input.is_empty());
    }

    #[test]
    fn other_headers_and_case_are_accepted() {
        let body = br#"{"a":1}"#;
        let mut input = BytesMut::from(
            &format!(
                "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
                body.len()
            )
            .into_bytes()[..],
        );
        input.extend_from_slice(body);
        assert_eq!(
            Codec::default().decode(&mut input),
            Ok(Some(json!({"a": 1})))
        );
    }

    #[test]
    fn bad_headers_and_bodies_are_errors() {
        let codec = Codec::new(100);
        let decode = |s: &str| codec.decode(&mut BytesMut::from(s.as_bytes()));
        assert!(matches!(
            decode("Content-Length: x\r\n\r\n{}"),
            Err(CodecError::BadHeader(_))
        ));
        assert!(matches!(
            decode("Content-Length: -1\r\n\r\n{}"),
            Err(CodecError::BadHeader(_))
        ));
        assert!(matches!(
            decode("Content-Type: x\r\n\r\n{}"),
            Err(CodecError::BadHeader(_))
        ));
        assert!(matches!(
            decode("garbage\r\n\r\n"),
            Err(CodecError::BadHeader(_))
        ));
        assert!(matches!(
            decode("{\"seq\":1}"),
            Err(CodecError::BadHeader(_))
        ));
        assert_eq!(
            decode("Content-Length: 101\r\n\r\n"),
            Err(CodecError::TooLarge {
                length: 101,
                limit: 100
            })
        );
        assert_eq!(
            decode("Content-Length: 99999999999999999999999\r\n\r\n"),
            Err(CodecError::BadHeader(
                "Content-Length \"99999999999999999999999\" is not a number".into()
            ))
        );
        let mut input = BytesMut::from("Content-Length: 3\r\n\r\n[1]Content-Length: 2\r\n\r\n{}");
        assert!(matches!(
            codec.decode(&mut input),
            Err(CodecError::BadJson(_))
        ));
        assert_eq!(codec.decode(&mut input), Ok(Some(json!({}))), "in sync");
        let long = "X".repeat(MAX_HEADER + 1);
        assert!(matches!(decode(&long), Err(CodecError::BadHeader(_))));
    }
}
