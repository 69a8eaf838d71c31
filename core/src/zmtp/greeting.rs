//! The 64-byte ZMTP 3.x greeting: signature, version, mechanism, as-server, filler.

use super::ZmtpError;

/// Length of a ZMTP 3.x greeting.
pub(crate) const GREETING_LEN: usize = 64;

/// Our major version.
pub(crate) const MAJOR: u8 = 3;
/// Our minor version.
pub(crate) const MINOR: u8 = 1;

/// Offsets inside the greeting.
const SIGNATURE_END: usize = 9;
const MAJOR_AT: usize = 10;
const MINOR_AT: usize = 11;
const MECHANISM_AT: usize = 12;
const MECHANISM_LEN: usize = 20;

/// The NULL mechanism name, padded with zeros to 20 bytes.
const NULL_MECHANISM: [u8; MECHANISM_LEN] = *b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// Our greeting: signature `FF 00*8 7F`, version 3.1, mechanism NULL, as-server 0, and
/// 31 zero bytes of filler.
pub(crate) fn ours() -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[0] = 0xFF;
    g[SIGNATURE_END] = 0x7F;
    g[MAJOR_AT] = MAJOR;
    g[MINOR_AT] = MINOR;
    g[MECHANISM_AT..MECHANISM_AT + MECHANISM_LEN].copy_from_slice(&NULL_MECHANISM);
    g
}

/// Checks whatever part of the peer's greeting has arrived, so that a peer speaking
/// something else (HTTP, ZMTP 1.0/2.0, which wait for us after a few bytes) fails at once
/// instead of stalling until 64 bytes arrive.
pub(crate) fn check_prefix(prefix: &[u8]) -> Result<(), ZmtpError> {
    if let Some(&b) = prefix.first() {
        if b != 0xFF {
            return Err(ZmtpError::Malformed(format!(
                "greeting signature starts with {b:#04x}, not 0xff"
            )));
        }
    }
    if let Some(&b) = prefix.get(SIGNATURE_END) {
        if b != 0x7F {
            return Err(ZmtpError::Malformed(format!(
                "greeting signature ends with {b:#04x}, not 0x7f (ZMTP 1.0 peer?)"
            )));
        }
    }
    if let Some(&major) = prefix.get(MAJOR_AT) {
        if major < MAJOR {
            return Err(ZmtpError::Protocol(format!(
                "peer speaks ZMTP major version {major}; 3 or later is required"
            )));
        }
    }
    let end = prefix.len().min(MECHANISM_AT + MECHANISM_LEN);
    if end > MECHANISM_AT {
        let got = &prefix[MECHANISM_AT..end];
        if got != &NULL_MECHANISM[..got.len()] {
            // The message names no mechanism: it must not depend on how much arrived.
            return Err(ZmtpError::Protocol(
                "peer asks for a security mechanism other than NULL".into(),
            ));
        }
    }
    Ok(())
}

/// Validates a complete peer greeting and returns the version the two sides speak: the
/// lower of ours (3.1) and the peer's. A later major version speaks 3.1 with us.
pub(crate) fn parse(greeting: &[u8]) -> Result<(u8, u8), ZmtpError> {
    if greeting.len() < GREETING_LEN {
        return Err(ZmtpError::Malformed(
            "greeting shorter than 64 bytes".into(),
        ));
    }
    check_prefix(&greeting[..GREETING_LEN])?;
    let (major, minor) = (greeting[MAJOR_AT], greeting[MINOR_AT]);
    if major > MAJOR {
        return Ok((MAJOR, MINOR));
    }
    Ok((MAJOR, minor.min(MINOR)))
}
