//! Raw TCP checks shared by both editions' limits tests: has the server closed a stream,
//! and has it greeted one.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Reads until the peer closes or `within` passes; true if it closed.
pub fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Reads the first bytes the server sends: its ZMTP greeting starts with 0xFF.
pub fn greeted(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut first = [0u8; 1];
    matches!(s.read(&mut first), Ok(1)) && first[0] == 0xFF
}
