//! Jupyter messages as the bench sends and reads them, for both clients: requests built and
//! signed with llmspell-core's [`Codec`], and received messages checked (HMAC over the raw
//! frames) and read for the few fields the scenarios need, borrowing from the frames.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use llmspell_core::connection::Channel;
use llmspell_core::time::Timestamp;
use llmspell_core::wire::{write_header, Codec, DELIMITER};
use sha2::Sha256;

use crate::scan::string_members;

/// The protocol version the bench's headers claim.
const VERSION: &str = "5.4";

/// The time now, as a header date.
fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    Timestamp::from_unix_micros(micros)
}

/// Builds the six signed frames of a request: delimiter, signature, header, `{}` as parent
/// header and metadata, content.
pub fn request_frames(
    codec: &Codec,
    msg_id: &str,
    session: &str,
    msg_type: &str,
    content: Bytes,
) -> Vec<Bytes> {
    let mut header = Vec::with_capacity(192);
    write_header(
        &mut header,
        msg_id,
        msg_type,
        session,
        "bench",
        now(),
        VERSION,
    );
    let empty = Bytes::from_static(b"{}");
    codec.encode(&[], header.into(), empty.clone(), empty, content, &[])
}

/// The content of an `execute_request` for `code`.
pub fn execute_content(code: &str) -> Bytes {
    let content = serde_json::json!({
        "code": code, "silent": false, "store_history": true,
        "user_expressions": {}, "allow_stdin": false, "stop_on_error": true,
    });
    content.to_string().into()
}

/// The tool the tool scenarios invoke: pure, cheap, answered on the kernel's I/O thread.
pub const TOOL_NAME: &str = "calculator";
/// The expression they give it.
pub const TOOL_INPUT: &str = "2+2";

/// The content of a `tool_request` that invokes `name` with `params` (docs/protocol.md).
pub fn tool_invoke_content(name: &str, params: &serde_json::Value) -> Bytes {
    let content = serde_json::json!({"command": "invoke", "name": name, "params": params});
    content.to_string().into()
}

/// The content of the tool scenarios' request: [`TOOL_NAME`] on [`TOOL_INPUT`].
pub fn bench_tool_content() -> Bytes {
    tool_invoke_content(TOOL_NAME, &serde_json::json!({ "input": TOOL_INPUT }))
}

/// The request number in a parent `msg_id` of the form `{session}_{n}` (the ids this bench
/// sends), or `None` for anybody else's id.
pub fn parent_seq(session: &str, msg_id: &str) -> Option<u64> {
    let digits = msg_id.strip_prefix(session)?.strip_prefix('_')?;
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether the raw parent header of a message (the third frame after the delimiter)
/// contains `{session}_`, as the ids of our requests do. Unverified: a cheap filter that
/// only decides which messages are worth checking. False for a message without a parent
/// header frame.
pub fn mentions_session<F: AsRef<[u8]>>(frames: &[F], session: &str) -> bool {
    let Some(at) = frames.iter().position(|f| f.as_ref() == DELIMITER) else {
        return false;
    };
    let Some(parent) = frames.get(at + 3) else {
        return false;
    };
    let (parent, session) = (parent.as_ref(), session.as_bytes());
    parent
        .windows(session.len() + 1)
        .any(|w| w[session.len()] == b'_' && &w[..session.len()] == session)
}

/// Checks signatures as Jupyter does: our HMAC-SHA256 of the four frames, as lowercase hex,
/// must equal the signature frame. Comparing hex (cheap, table-driven) rather than decoding
/// the received hex (a data-dependent branch per digit) halves the cost of a check.
#[derive(Clone)]
pub struct Verifier {
    /// The keyed MAC, cloned per message; `None` when the key is empty (no checking).
    keyed: Option<Hmac<Sha256>>,
}

impl Verifier {
    /// A verifier for `key`; an empty key accepts everything, as jupyter_client does.
    pub fn new(key: &[u8]) -> Verifier {
        // HMAC accepts keys of any length, so new_from_slice cannot fail.
        let keyed = (!key.is_empty())
            .then(|| Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length"));
        Verifier { keyed }
    }

    /// Whether `signature` is the signature of `parts` (compared without early exit).
    pub fn verify(&self, signature: &[u8], parts: [&[u8]; 4]) -> bool {
        let Some(keyed) = &self.keyed else {
            return true;
        };
        if signature.len() != 64 {
            return false;
        }
        let mut mac = keyed.clone();
        for part in parts {
            mac.update(part);
        }
        let mut ours = [0u8; 64];
        // 32 bytes of digest always fill 64 hex digits.
        hex::encode_to_slice(mac.finalize().into_bytes(), &mut ours)
            .expect("64 digits for 32 bytes");
        ours.iter()
            .zip(signature)
            .fold(0, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

/// The parts of a received message the scenarios look at, borrowed from its frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// Shell or iopub.
    pub channel: Channel,
    /// `header.msg_type`.
    pub msg_type: Cow<'a, str>,
    /// The number of the request in `parent_header.msg_id`, when it is one of ours.
    pub parent: Option<u64>,
    /// `content.execution_state` of a status message.
    pub execution_state: Option<Cow<'a, str>>,
    /// `content.status` of a reply.
    pub status: Option<Cow<'a, str>>,
}

/// What went wrong with a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// No delimiter, too few frames, or JSON that does not parse.
    Malformed,
    /// The HMAC does not match.
    BadSignature,
}

/// Checks a received multipart message (identities or an iopub topic first) and reads it:
/// frame count, then the HMAC over the raw frames ([`Verifier`]; anything goes when the
/// key is empty), and only then the JSON (see [`crate::scan`]) of the header (which must
/// carry a string `msg_type`), the parent header and, for status messages and replies, the
/// content. `session` recognizes our own request ids.
pub fn decode<'a, F: AsRef<[u8]>>(
    channel: Channel,
    verifier: &Verifier,
    session: &str,
    frames: &'a [F],
) -> Result<Message<'a>, Rejected> {
    let at = frames
        .iter()
        .position(|f| f.as_ref() == DELIMITER)
        .ok_or(Rejected::Malformed)?;
    let [signature, header, parent, metadata, content] = match frames.get(at + 1..at + 6) {
        Some([s, h, p, m, c]) => [s, h, p, m, c].map(AsRef::as_ref),
        _ => return Err(Rejected::Malformed),
    };
    if !verifier.verify(signature, [header, parent, metadata, content]) {
        return Err(Rejected::BadSignature);
    }
    let malformed = |_| Rejected::Malformed;
    let [msg_type] = string_members(header, ["msg_type"]).map_err(malformed)?;
    let msg_type = msg_type.ok_or(Rejected::Malformed)?;
    let [parent_id] = string_members(parent, ["msg_id"]).map_err(malformed)?;
    let (mut execution_state, mut status) = (None, None);
    if msg_type == "status" {
        [execution_state] = string_members(content, ["execution_state"]).map_err(malformed)?;
    } else if msg_type.ends_with("_reply") {
        [status] = string_members(content, ["status"]).map_err(malformed)?;
    }
    Ok(Message {
        channel,
        msg_type,
        parent: parent_id.and_then(|id| parent_seq(session, &id)),
        execution_state,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An iopub message as a kernel sends it: topic, delimiter, signature, four JSON frames.
    fn iopub(codec: &Codec, msg_type: &str, parent_id: &str, content: &str) -> Vec<Bytes> {
        let header = format!(r#"{{"msg_id":"k1","msg_type":"{msg_type}","session":"k"}}"#);
        let parent = format!(r#"{{"msg_id":"{parent_id}","msg_type":"execute_request"}}"#);
        codec.encode(
            &[Bytes::from_static(b"kernel.x.status")],
            header.into(),
            parent.into(),
            Bytes::from_static(b"{}"),
            content.to_string().into(),
            &[],
        )
    }

    #[test]
    fn verifier_accepts_core_signatures_only() {
        let codec = Codec::new(b"secret", 0);
        let parts: [&[u8]; 4] = [b"{\"msg_id\":\"a\"}", b"{}", b"{}", b"{\"x\":1}"];
        let signature = codec.signer().sign(&parts);
        let verifier = Verifier::new(b"secret");
        assert!(verifier.verify(&signature, parts));
        assert!(!Verifier::new(b"other").verify(&signature, parts));
        assert!(!verifier.verify(&signature[..63], parts));
        assert!(!verifier.verify(b"", parts));
        let upper = signature.to_ascii_uppercase();
        // jupyter_client compares lowercase hex digests too.
        assert!(upper == signature || !verifier.verify(&upper, parts));
        let mut flipped = signature.to_vec();
        flipped[10] ^= 1;
        assert!(!verifier.verify(&flipped, parts));
        assert!(!verifier.verify(&signature, [b"{}", b"{}", b"{}", b"{}"]));
        assert!(Verifier::new(b"").verify(b"anything", parts));
    }

    #[test]
    fn mentions_session_looks_at_the_parent_only() {
        let codec = Codec::new(b"k", 0);
        let ours = iopub(&codec, "status", "abc_3", r#"{"execution_state":"idle"}"#);
        assert!(mentions_session(&ours, "abc"));
        assert!(!mentions_session(&ours, "abd"));
        // Without the underscore it is not one of our ids.
        assert!(!mentions_session(&ours, "abc_3"));
        let theirs = iopub(&codec, "status", "xyz_3", r#"{"x":"abc_1"}"#);
        assert!(!mentions_session(&theirs, "abc"));
        assert!(!mentions_session(&ours[..3], "abc"));
        let empty: [&[u8]; 0] = [];
        assert!(!mentions_session(&empty, "abc"));
    }

    #[test]
    fn parent_seq_takes_only_our_ids() {
        assert_eq!(parent_seq("abc", "abc_17"), Some(17));
        assert_eq!(parent_seq("abc", "abc_0"), Some(0));
        assert_eq!(parent_seq("abc", "abc_"), None);
        assert_eq!(parent_seq("abc", "abc_+5"), None);
        assert_eq!(parent_seq("abc", "abc_5x"), None);
        assert_eq!(parent_seq("abc", "abd_5"), None);
        assert_eq!(parent_seq("abc", "abc5"), None);
        assert_eq!(parent_seq("abc", ""), None);
        assert_eq!(parent_seq("abc", "abc_99999999999999999999"), None);
        assert_eq!(parent_seq("", "_3"), Some(3));
    }

    #[test]
    fn decodes_status_and_checks_the_signature() {
        let codec = Codec::new(b"k", 0);
        let frames = iopub(&codec, "status", "s_42", r#"{"execution_state":"idle"}"#);
        let m = decode(Channel::Iopub, &Verifier::new(b"k"), "s", &frames).unwrap();
        assert_eq!(m.msg_type, "status");
        assert_eq!(m.parent, Some(42));
        assert_eq!(m.execution_state.as_deref(), Some("idle"));
        assert_eq!(m.status, None);
        // Borrowed, not copied, when nothing needs unescaping.
        assert!(matches!(m.msg_type, Cow::Borrowed(_)));
        let other = Verifier::new(b"other");
        assert_eq!(
            decode(Channel::Iopub, &other, "s", &frames),
            Err(Rejected::BadSignature)
        );
        // An empty key accepts any signature, as jupyter_client does.
        assert!(decode(Channel::Iopub, &Verifier::new(b""), "s", &frames).is_ok());
        let mut tampered = frames.clone();
        tampered[6] = Bytes::from_static(br#"{"execution_state":"busy"}"#);
        assert_eq!(
            decode(Channel::Iopub, &Verifier::new(b"k"), "s", &tampered),
            Err(Rejected::BadSignature)
        );
    }

    #[test]
    fn reads_reply_status_and_skips_other_content() {
        let codec = Codec::new(b"k", 0);
        let frames = iopub(
            &codec,
            "execute_reply",
            "s_1",
            r#"{"status":"error","x":[1,{"status":"ok"}]}"#,
        );
        let m = decode(Channel::Shell, &Verifier::new(b"k"), "s", &frames).unwrap();
        assert_eq!(m.status.as_deref(), Some("error"));
        // execute_result content is not parsed: a broken one still decodes.
        let frames = iopub(&codec, "execute_result", "s_1", "not json");
        let m = decode(Channel::Iopub, &Verifier::new(b"k"), "s", &frames).unwrap();
        assert_eq!((m.msg_type.as_ref(), m.status), ("execute_result", None));
        // A reply's content must parse.
        let frames = iopub(&codec, "execute_reply", "s_1", "not json");
        assert_eq!(
            decode(Channel::Shell, &Verifier::new(b"k"), "s", &frames),
            Err(Rejected::Malformed)
        );
        // Escaped strings are read too.
        let frames = iopub(
            &codec,
            r"status\u0021",
            "other",
            r#"{"execution_state":"\u0069dle"}"#,
        );
        let m = decode(Channel::Iopub, &Verifier::new(b"k"), "s", &frames).unwrap();
        assert_eq!(m.msg_type, "status!");
        assert_eq!(m.parent, None);
    }

    #[test]
    fn rejects_short_or_broken_messages() {
        let codec = Codec::new(b"k", 0);
        let frames = iopub(&codec, "status", "s_1", "{}");
        for cut in 0..frames.len() {
            assert_eq!(
                decode(Channel::Iopub, &Verifier::new(b"k"), "s", &frames[..cut]),
                Err(Rejected::Malformed),
                "{cut} frames"
            );
        }
        // Without the delimiter.
        assert_eq!(
            decode(Channel::Iopub, &Verifier::new(b"k"), "s", &frames[2..]),
            Err(Rejected::Malformed)
        );
        let empty: [&[u8]; 0] = [];
        assert_eq!(
            decode(Channel::Iopub, &Verifier::new(b"k"), "s", &empty),
            Err(Rejected::Malformed)
        );
        // A header that is not JSON, correctly signed.
        let bad = codec.encode(
            &[],
            Bytes::from_static(b"{"),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            &[],
        );
        assert_eq!(
            decode(Channel::Shell, &Verifier::new(b"k"), "s", &bad),
            Err(Rejected::Malformed)
        );
    }

    #[test]
    fn requests_verify_and_carry_our_id() {
        let codec = Codec::new(b"k", 0);
        let frames = request_frames(
            &codec,
            "sess_7",
            "sess",
            "execute_request",
            execute_content("1+1"),
        );
        assert_eq!(frames.len(), 6);
        assert_eq!(&frames[0][..], DELIMITER);
        let header: serde_json::Value = serde_json::from_slice(&frames[2]).unwrap();
        assert_eq!(header["msg_id"], "sess_7");
        assert_eq!(header["msg_type"], "execute_request");
        assert_eq!(header["version"], VERSION);
        let content: serde_json::Value = serde_json::from_slice(&frames[5]).unwrap();
        assert_eq!(content["code"], "1+1");
        let m = decode(Channel::Shell, &Verifier::new(b"k"), "sess", &frames).unwrap();
        assert_eq!(m.msg_type, "execute_request");
        assert_eq!(m.parent, None);
    }

    #[test]
    fn tool_requests_invoke_the_calculator() {
        let content: serde_json::Value = serde_json::from_slice(&bench_tool_content()).unwrap();
        assert_eq!(
            content,
            serde_json::json!({"command": "invoke", "name": "calculator", "params": {"input": "2+2"}})
        );
        // Names and parameters are escaped, not pasted.
        let odd = tool_invoke_content("a\"b", &serde_json::json!({"x": [1, "\n"]}));
        let content: serde_json::Value = serde_json::from_slice(&odd).unwrap();
        assert_eq!(content["name"], "a\"b");
        assert_eq!(content["params"]["x"][1], "\n");
        let codec = Codec::new(b"k", 0);
        let frames = request_frames(&codec, "s_3", "s", "tool_request", bench_tool_content());
        let m = decode(Channel::Shell, &Verifier::new(b"k"), "s", &frames).unwrap();
        assert_eq!(m.msg_type, "tool_request");
    }

    #[test]
    fn reads_tool_reply_status() {
        let codec = Codec::new(b"k", 0);
        let reply = r#"{"status":"ok","command":"invoke","text":"4","data":{"result":4}}"#;
        let frames = iopub(&codec, "tool_reply", "s_9", reply);
        let m = decode(Channel::Shell, &Verifier::new(b"k"), "s", &frames).unwrap();
        assert_eq!((m.msg_type.as_ref(), m.parent), ("tool_reply", Some(9)));
        assert_eq!(m.status.as_deref(), Some("ok"));
        let error = r#"{"status":"error","command":"invoke","ename":"ToolError","evalue":"x","traceback":[],"error":{"kind":"unknown_tool","message":"x","suggestions":[]}}"#;
        let frames = iopub(&codec, "tool_reply", "s_9", error);
        let m = decode(Channel::Shell, &Verifier::new(b"k"), "s", &frames).unwrap();
        assert_eq!(m.status.as_deref(), Some("error"));
    }
}
