//! ZMTP commands: parsing a command frame's body, and the READY metadata.

use super::{SocketType, ZmtpError};
use bytes::Bytes;

/// The `Socket-Type` property name.
pub(crate) const PROP_SOCKET_TYPE: &str = "Socket-Type";
/// The `Identity` property name.
pub(crate) const PROP_IDENTITY: &str = "Identity";
/// Longest PING context a PONG echoes (spec 37; libzmq truncates to the same).
pub(crate) const PING_CONTEXT_MAX: usize = 16;

/// A command received from the peer. Payloads are `Bytes` views into the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// READY with its metadata.
    Ready(Metadata),
    /// ERROR with its reason.
    Error(String),
    /// PING: the context to echo (already truncated to 16 bytes).
    Ping(Bytes),
    /// PONG: the echoed context.
    Pong(Bytes),
    /// SUBSCRIBE: the topic prefix.
    Subscribe(Bytes),
    /// CANCEL: the topic prefix.
    Cancel(Bytes),
    /// A command this implementation does not know; ignored after the handshake.
    Unknown(String),
}

impl Command {
    /// The command's name, for error messages.
    pub fn name(&self) -> &str {
        match self {
            Command::Ready(_) => "READY",
            Command::Error(_) => "ERROR",
            Command::Ping(_) => "PING",
            Command::Pong(_) => "PONG",
            Command::Subscribe(_) => "SUBSCRIBE",
            Command::Cancel(_) => "CANCEL",
            Command::Unknown(n) => n,
        }
    }
}

/// The properties of a READY command that ZMTP itself uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// `Socket-Type`.
    pub socket_type: SocketType,
    /// `Identity`, when present and not empty.
    pub identity: Option<Bytes>,
}

/// Parses the body of a command frame.
pub(crate) fn parse(body: Bytes) -> Result<Command, ZmtpError> {
    let Some(&name_len) = body.first() else {
        return Err(ZmtpError::Malformed("empty command frame".into()));
    };
    let name_end = 1 + usize::from(name_len);
    if name_len == 0 || body.len() < name_end {
        return Err(ZmtpError::Malformed(format!(
            "command name of {name_len} bytes in a {}-byte command",
            body.len()
        )));
    }
    let data = body.slice(name_end..);
    Ok(match &body[1..name_end] {
        b"READY" => Command::Ready(parse_metadata(&data)?),
        b"ERROR" => Command::Error(parse_error(&data)?),
        b"PING" => {
            if data.len() < 2 {
                return Err(ZmtpError::Malformed("PING without its TTL".into()));
            }
            let end = data.len().min(2 + PING_CONTEXT_MAX);
            Command::Ping(data.slice(2..end))
        }
        b"PONG" => Command::Pong(data),
        b"SUBSCRIBE" => Command::Subscribe(data),
        b"CANCEL" => Command::Cancel(data),
        other => Command::Unknown(String::from_utf8_lossy(other).into_owned()),
    })
}

/// Parses ERROR's reason: a 1-byte length and that many bytes.
fn parse_error(data: &[u8]) -> Result<String, ZmtpError> {
    let Some((&len, rest)) = data.split_first() else {
        return Err(ZmtpError::Malformed("ERROR without a reason".into()));
    };
    let Some(reason) = rest.get(..usize::from(len)) else {
        return Err(ZmtpError::Malformed("ERROR reason is truncated".into()));
    };
    Ok(String::from_utf8_lossy(reason).into_owned())
}

/// Parses READY's properties: each a 1-byte name length, the name, a 4-byte big-endian
/// value length and the value. Names compare without regard to case; unknown ones are
/// skipped.
pub(crate) fn parse_metadata(data: &Bytes) -> Result<Metadata, ZmtpError> {
    let mut socket_type = None;
    let mut identity = None;
    let mut at = 0usize;
    while at < data.len() {
        let truncated = || ZmtpError::Malformed("READY property is truncated".into());
        let name_len = usize::from(data[at]);
        let name_end = at + 1 + name_len;
        let name = data.get(at + 1..name_end).ok_or_else(truncated)?;
        if name.is_empty() {
            return Err(ZmtpError::Malformed(
                "READY property with an empty name".into(),
            ));
        }
        let len_bytes = data.get(name_end..name_end + 4).ok_or_else(truncated)?;
        let mut be = [0u8; 4];
        be.copy_from_slice(len_bytes);
        let value_len = u32::from_be_bytes(be) as usize;
        let value_start = name_end + 4;
        let value_end = value_start.checked_add(value_len).ok_or_else(truncated)?;
        if value_end > data.len() {
            return Err(truncated());
        }
        let value = data.slice(value_start..value_end);
        if name.eq_ignore_ascii_case(PROP_SOCKET_TYPE.as_bytes()) {
            let t = SocketType::from_name(&value).ok_or_else(|| {
                ZmtpError::Protocol(format!(
                    "unknown Socket-Type {:?}",
                    String::from_utf8_lossy(&value)
                ))
            })?;
            socket_type = Some(t);
        } else if name.eq_ignore_ascii_case(PROP_IDENTITY.as_bytes()) {
            identity = (!value.is_empty()).then_some(value);
        }
        at = value_end;
    }
    let socket_type = socket_type
        .ok_or_else(|| ZmtpError::Protocol("READY without a Socket-Type property".into()))?;
    Ok(Metadata {
        socket_type,
        identity,
    })
}

/// Encodes one property (name, value) for READY.
pub(crate) fn property(name: &str, value: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + name.len() + 4 + value.len());
    // Property names are constants of this module, all shorter than 256 bytes.
    p.push(name.len() as u8);
    p.extend_from_slice(name.as_bytes());
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&value[..len as usize]);
    p
}
