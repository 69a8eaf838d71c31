//! A minimal Jupyter client over the `zmq` crate: a DEALER on shell and a SUB on iopub,
//! messages signed with HMAC-SHA256 (hex over header, parent_header, metadata, content),
//! and a bounded wait that polls both sockets.

use std::fmt;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use llmspell_core::connection::{Channel, ConnectionInfo};
use llmspell_core::time::Timestamp;
use serde::Deserialize;
use sha2::Sha256;

use crate::sys;

/// The frame that separates routing identities from the signed message.
pub const DELIMITER: &[u8] = b"<IDS|MSG>";

/// Why a scenario stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BenchError {
    /// Nothing arrived in time; the text says what was awaited.
    Timeout(String),
    /// The kernel process exited; the text carries its status.
    KernelExited(String),
    /// The user pressed Ctrl-C (or the bench got SIGTERM).
    Interrupted,
    /// A zmq call failed.
    Zmq(String),
    /// A file or process operation failed.
    Io(String),
    /// The command line or a template is wrong.
    Usage(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Timeout(what) => write!(f, "timeout waiting for {what}"),
            BenchError::KernelExited(status) => write!(f, "kernel exited: {status}"),
            BenchError::Interrupted => write!(f, "interrupted"),
            BenchError::Zmq(e) => write!(f, "zmq: {e}"),
            BenchError::Io(e) => write!(f, "io: {e}"),
            BenchError::Usage(e) => write!(f, "usage: {e}"),
        }
    }
}

impl From<zmq::Error> for BenchError {
    fn from(e: zmq::Error) -> Self {
        BenchError::Zmq(e.to_string())
    }
}

/// HMAC-SHA256 signing as Jupyter does it: lowercase hex over the four JSON frames.
#[derive(Clone)]
pub struct Signer {
    keyed: Option<Hmac<Sha256>>,
}

impl Signer {
    /// A signer for `key`; an empty key disables signing (the signature frame is empty).
    pub fn new(key: &[u8]) -> Signer {
        // HMAC accepts keys of any length, so new_from_slice cannot fail.
        let keyed = (!key.is_empty())
            .then(|| Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length"));
        Signer { keyed }
    }

    /// The hex signature of header, parent_header, metadata and content, in that order.
    pub fn sign(&self, parts: [&[u8]; 4]) -> String {
        match &self.keyed {
            None => String::new(),
            Some(keyed) => {
                let mut mac = keyed.clone();
                for part in parts {
                    mac.update(part);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    /// Whether `signature` matches the four frames (compared in constant time, without
    /// formatting our own signature as hex).
    pub fn verify(&self, signature: &[u8], parts: [&[u8]; 4]) -> bool {
        let Some(keyed) = &self.keyed else {
            return true;
        };
        let mut claimed = [0u8; 32];
        if hex::decode_to_slice(signature, &mut claimed).is_err() {
            return false;
        }
        let mut mac = keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(&claimed).is_ok()
    }
}

/// Builds the six frames of a signed request: delimiter, signature, header, parent
/// header, metadata, content.
pub fn build_frames(
    signer: &Signer,
    msg_id: &str,
    session: &str,
    msg_type: &str,
    content: &str,
) -> Vec<Vec<u8>> {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let date = Timestamp::from_unix_micros(micros).to_iso8601();
    let header = format!(
        r#"{{"msg_id":"{msg_id}","session":"{session}","username":"bench","date":"{date}","msg_type":"{msg_type}","version":"5.4"}}"#
    );
    let signature = signer.sign([header.as_bytes(), b"{}", b"{}", content.as_bytes()]);
    vec![
        DELIMITER.to_vec(),
        signature.into_bytes(),
        header.into_bytes(),
        b"{}".to_vec(),
        b"{}".to_vec(),
        content.as_bytes().to_vec(),
    ]
}

/// The parts of a received message the scenarios look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    /// Shell or iopub.
    pub channel: Channel,
    /// `header.msg_type`.
    pub msg_type: String,
    /// `parent_header.msg_id`, empty when there is none.
    pub parent_id: String,
    /// `content.execution_state` of a status message.
    pub execution_state: Option<String>,
    /// `content.status` of a reply.
    pub status: Option<String>,
}

#[derive(Deserialize)]
struct HeaderIn {
    #[serde(default)]
    msg_type: String,
}

#[derive(Deserialize)]
struct ParentIn {
    #[serde(default)]
    msg_id: String,
}

#[derive(Deserialize)]
struct ContentIn {
    #[serde(default)]
    execution_state: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// What went wrong with a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// No delimiter, too few frames, or JSON that does not parse.
    Malformed,
    /// The HMAC does not match.
    BadSignature,
}

/// Checks and parses a received multipart message (identities or topic first).
pub fn parse(channel: Channel, signer: &Signer, frames: &[Vec<u8>]) -> Result<Incoming, Rejected> {
    let at = frames
        .iter()
        .position(|f| f == DELIMITER)
        .ok_or(Rejected::Malformed)?;
    let rest = &frames[at + 1..];
    if rest.len() < 5 {
        return Err(Rejected::Malformed);
    }
    let parts = [&rest[1][..], &rest[2][..], &rest[3][..], &rest[4][..]];
    if !signer.verify(&rest[0], parts) {
        return Err(Rejected::BadSignature);
    }
    let header: HeaderIn = serde_json::from_slice(parts[0]).map_err(|_| Rejected::Malformed)?;
    let parent: ParentIn = serde_json::from_slice(parts[1]).map_err(|_| Rejected::Malformed)?;
    let wanted = header.msg_type == "status" || header.msg_type.ends_with("_reply");
    let content = if wanted {
        serde_json::from_slice(parts[3]).map_err(|_| Rejected::Malformed)?
    } else {
        ContentIn {
            execution_state: None,
            status: None,
        }
    };
    Ok(Incoming {
        channel,
        msg_type: header.msg_type,
        parent_id: parent.msg_id,
        execution_state: content.execution_state,
        status: content.status,
    })
}

/// One client session: shell DEALER, iopub SUB, a signer and a message counter.
pub struct Client {
    shell: zmq::Socket,
    iopub: zmq::Socket,
    signer: Signer,
    session: String,
    next_id: u64,
    /// Messages dropped because their signature did not match.
    pub bad_signatures: u64,
    /// Messages dropped because they could not be parsed.
    pub malformed: u64,
}

impl Client {
    /// Connects shell and iopub (subscribed to everything). libzmq keeps reconnecting until
    /// the kernel binds, and queues what is sent meanwhile. The reconnect interval is 1 ms
    /// (libzmq's default is 100 ms), so a cold start is measured to within a millisecond of
    /// the moment the kernel listens, not rounded up to the next 100 ms retry.
    pub fn connect(ctx: &zmq::Context, info: &ConnectionInfo) -> Result<Client, BenchError> {
        let shell = ctx.socket(zmq::DEALER)?;
        shell.set_linger(0)?;
        shell.set_reconnect_ivl(1)?;
        shell.set_rcvhwm(0)?;
        shell.connect(&info.endpoint(Channel::Shell))?;
        let iopub = ctx.socket(zmq::SUB)?;
        iopub.set_linger(0)?;
        iopub.set_reconnect_ivl(1)?;
        iopub.set_rcvhwm(0)?;
        iopub.set_subscribe(b"")?;
        iopub.connect(&info.endpoint(Channel::Iopub))?;
        let session = sys::random_hex(16).map_err(|e| BenchError::Io(e.to_string()))?;
        Ok(Client {
            shell,
            iopub,
            signer: Signer::new(info.key.as_bytes()),
            session,
            next_id: 0,
            bad_signatures: 0,
            malformed: 0,
        })
    }

    /// Sends a shell request and returns its msg_id.
    pub fn send(&mut self, msg_type: &str, content: &str) -> Result<String, BenchError> {
        self.next_id += 1;
        let msg_id = format!("{}_{}", self.session, self.next_id);
        let frames = build_frames(&self.signer, &msg_id, &self.session, msg_type, content);
        self.shell.send_multipart(frames, 0)?;
        Ok(msg_id)
    }

    /// Sends `execute_request` for `code` and returns its msg_id.
    pub fn send_execute(&mut self, code: &str) -> Result<String, BenchError> {
        let content = serde_json::json!({
            "code": code, "silent": false, "store_history": true,
            "user_expressions": {}, "allow_stdin": false, "stop_on_error": true,
        });
        self.send("execute_request", &content.to_string())
    }

    /// Receives from shell and iopub until `on` returns true for a message, or until
    /// `deadline` (an error naming `what`). On idle ticks (100 ms) it checks Ctrl-C and,
    /// when given, whether the kernel process has exited.
    pub fn wait(
        &mut self,
        deadline: Instant,
        what: &str,
        mut kernel: Option<&mut Child>,
        mut on: impl FnMut(&Incoming) -> bool,
    ) -> Result<(), BenchError> {
        loop {
            if sys::interrupted() {
                return Err(BenchError::Interrupted);
            }
            // Take what is already queued before asking the OS: under load the sockets are
            // rarely empty, and a poll per message would cost the client more than the kernel.
            if self.drain_one(Channel::Shell, &mut on)?
                || self.drain_one(Channel::Iopub, &mut on)?
            {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(BenchError::Timeout(what.to_string()));
            }
            let left = (deadline - now).min(Duration::from_millis(100));
            let timeout_ms = i64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(100);
            let mut items = [
                self.shell.as_poll_item(zmq::POLLIN),
                self.iopub.as_poll_item(zmq::POLLIN),
            ];
            match zmq::poll(&mut items, timeout_ms) {
                Ok(0) => {
                    if let Some(child) = kernel.as_deref_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            return Err(BenchError::KernelExited(status.to_string()));
                        }
                    }
                    continue;
                }
                Ok(_) => {}
                Err(zmq::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let readable = [items[0].is_readable(), items[1].is_readable()];
            for (channel, ready) in [(Channel::Shell, readable[0]), (Channel::Iopub, readable[1])] {
                if ready && self.drain_one(channel, &mut on)? {
                    return Ok(());
                }
            }
        }
    }

    /// Receives every queued message of one socket; true as soon as `on` says done.
    fn drain_one(
        &mut self,
        channel: Channel,
        on: &mut impl FnMut(&Incoming) -> bool,
    ) -> Result<bool, BenchError> {
        loop {
            let socket = if channel == Channel::Shell {
                &self.shell
            } else {
                &self.iopub
            };
            let frames = match socket.recv_multipart(zmq::DONTWAIT) {
                Ok(frames) => frames,
                Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            match parse(channel, &self.signer, &frames) {
                Ok(message) => {
                    if on(&message) {
                        return Ok(true);
                    }
                }
                Err(Rejected::BadSignature) => self.bad_signatures += 1,
                Err(Rejected::Malformed) => self.malformed += 1,
            }
        }
    }

    /// Discards whatever arrives for `period`.
    pub fn drain(&mut self, period: Duration) -> Result<(), BenchError> {
        match self.wait(Instant::now() + period, "drain", None, |_| false) {
            Err(BenchError::Timeout(_)) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until iopub delivers anything (a welcome message, or the status of a
    /// kernel_info request sent every 200 ms), so that no iopub message of a timed request
    /// is lost to the subscription handshake.
    pub fn wait_iopub(&mut self, deadline: Instant, kernel: &mut Child) -> Result<(), BenchError> {
        loop {
            self.send("kernel_info_request", "{}")?;
            let tick = (Instant::now() + Duration::from_millis(200)).min(deadline);
            match self.wait(tick, "any iopub message", Some(kernel), |m| {
                m.channel == Channel::Iopub
            }) {
                Ok(()) => return Ok(()),
                Err(BenchError::Timeout(what)) if Instant::now() >= deadline => {
                    return Err(BenchError::Timeout(what))
                }
                Err(BenchError::Timeout(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"msg_id":"a","msg_type":"kernel_info_request"}"#;

    #[test]
    fn signature_matches_python_hmac() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"secret-key",
        //   b"{\"msg_id\":\"a\",\"msg_type\":\"kernel_info_request\"}" + b"{}" + b"{}" + b"{}",
        //   hashlib.sha256).hexdigest())'
        let signer = Signer::new(b"secret-key");
        assert_eq!(
            signer.sign([HEADER.as_bytes(), b"{}", b"{}", b"{}"]),
            "e8daa688bf116b5407d8b00b4f8b7b759f68e988c8649d4f731f14236f8b7d7e"
        );
        assert_eq!(
            Signer::new(b"").sign([HEADER.as_bytes(), b"{}", b"{}", b"{}"]),
            ""
        );
    }

    #[test]
    fn parse_checks_signature_and_reads_fields() {
        let signer = Signer::new(b"k");
        let header = r#"{"msg_id":"r","msg_type":"status"}"#;
        let parent = r#"{"msg_id":"req-1","msg_type":"execute_request"}"#;
        let content = r#"{"execution_state":"idle"}"#;
        let sig = signer.sign([
            header.as_bytes(),
            parent.as_bytes(),
            b"{}",
            content.as_bytes(),
        ]);
        let mut frames: Vec<Vec<u8>> = [b"kernel.x.status" as &[u8], DELIMITER, sig.as_bytes()]
            .iter()
            .map(|f| f.to_vec())
            .collect();
        for part in [header, parent, "{}", content] {
            frames.push(part.as_bytes().to_vec());
        }
        let message = parse(Channel::Iopub, &signer, &frames).unwrap();
        assert_eq!(message.msg_type, "status");
        assert_eq!(message.parent_id, "req-1");
        assert_eq!(message.execution_state.as_deref(), Some("idle"));
        assert_eq!(
            parse(Channel::Iopub, &Signer::new(b"other"), &frames),
            Err(Rejected::BadSignature)
        );
        assert_eq!(
            parse(Channel::Iopub, &signer, &frames[..6]),
            Err(Rejected::Malformed)
        );
        assert_eq!(
            parse(Channel::Iopub, &signer, &frames[2..]),
            Err(Rejected::Malformed)
        );
    }

    #[test]
    fn built_frames_verify() {
        let signer = Signer::new(b"key");
        let frames = build_frames(&signer, "m1", "s", "execute_request", r#"{"code":"1+1"}"#);
        assert_eq!(frames.len(), 6);
        assert_eq!(frames[0], DELIMITER);
        let message = parse(Channel::Shell, &signer, &frames).unwrap();
        assert_eq!(message.msg_type, "execute_request");
        assert_eq!(message.parent_id, "");
    }
}
