//! `--metrics-port`: Prometheus text at `http://127.0.0.1:PORT/metrics`, served by one
//! plain thread, whichever runtime serves the kernel. Scrapes are rare (seconds apart) and
//! small, so the thread handles one connection at a time, each bounded in size and time;
//! the request and response bytes come from [`llmspell_core::metrics::http`].

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use llmspell_core::metrics::{http, Metrics};

/// How long one client may take to send its request and read the answer.
const CLIENT_TIME: Duration = Duration::from_secs(2);

/// Binds 127.0.0.1:`port` (0: any free port) and serves the sum of `parts` from a
/// background thread for the life of the process. Returns the bound address; a bind
/// error (port taken) is returned before anything starts.
pub fn serve(port: u16, parts: Vec<Arc<Metrics>>) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(s) => {
                        if let Err(e) = answer(s, &parts) {
                            tracing::debug!(error = %e, "metrics client");
                        }
                    }
                    // Out of descriptors and the like: back off instead of spinning.
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics accept failed");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })?;
    Ok(addr)
}

/// Reads one request (at most [`http::MAX_REQUEST`] bytes, within [`CLIENT_TIME`]) and
/// writes its answer.
fn answer(mut stream: TcpStream, parts: &[Arc<Metrics>]) -> io::Result<()> {
    let deadline = Instant::now() + CLIENT_TIME;
    stream.set_write_timeout(Some(CLIENT_TIME))?;
    let refs: Vec<&Metrics> = parts.iter().map(Arc::as_ref).collect();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let response = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "slow client"));
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(response) = http::response(&buf, &refs) {
            break response;
        }
    };
    stream.write_all(&response)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn serves_scrapes_and_survives_bad_clients() {
        let m = Arc::new(Metrics::new(["calculator"]));
        m.tool_call("calculator", true);
        let addr = serve(0, vec![m.clone()]).expect("bind");
        assert!(addr.ip().is_loopback());
        // A client that connects and says nothing, one that sends garbage, one that hangs
        // up at once: none of them stops the next scrape.
        let _silent = TcpStream::connect(addr).unwrap();
        assert!(get(addr, b"\x00\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        drop(TcpStream::connect(addr).unwrap());
        let text = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.contains("llmspell_tool_invocations_total{tool=\"calculator\"} 1\n"));
        // The port is taken now: a second server says so.
        assert!(serve(addr.port(), vec![m]).is_err());
    }
}
