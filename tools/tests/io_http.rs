//! http-requester against a small HTTP server on 127.0.0.1 written here: methods, headers
//! and bodies, the host allowlist (refused before any connection), redirects not followed,
//! the response size limit and the timeout.

mod common;

use common::{call, kind};
use llmspell_core::tools::{Policy, ToolErrorKind};
use llmspell_tools::io::HttpRequester;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Serves connections one at a time until dropped, for 30 s at most.
struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (count, halt) = (connections.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !halt.load(Ordering::SeqCst) && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    count.fetch_add(1, Ordering::SeqCst);
                    handle(stream, &halt);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Server {
        port,
        connections,
        stop,
        thread: Some(thread),
    }
}

/// Reads one request (head and Content-Length body).
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn handle(mut stream: TcpStream, halt: &AtomicBool) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let Some((head, body)) = read_request(&mut stream) else {
        return;
    };
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.trim().to_owned())
    };
    let (status, extra, reply) = match path {
        "/echo" => {
            let reply = json!({
                "method": method, "body": String::from_utf8_lossy(&body), "x_test": header("x-test")
            });
            (
                "200 OK",
                "Content-Type: application/json\r\n",
                reply.to_string(),
            )
        }
        "/big" => ("200 OK", "", "x".repeat(2000)),
        "/missing" => ("404 Not Found", "", "nope".to_owned()),
        "/redirect" => (
            "302 Found",
            "Location: http://elsewhere.test/\r\n",
            String::new(),
        ),
        "/slow" => {
            // Never answers; waits for the client to give up (or the test to end).
            let deadline = Instant::now() + Duration::from_secs(10);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
            let mut byte = [0u8; 1];
            while !halt.load(Ordering::SeqCst) && Instant::now() < deadline {
                if let Ok(0) = stream.read(&mut byte) {
                    return;
                }
            }
            return;
        }
        _ => ("400 Bad Request", "", String::new()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn allow(hosts: &[&str]) -> Policy {
    Policy {
        http_allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        ..Policy::default()
    }
}

#[test]
fn requests_to_an_allowed_host() {
    let server = serve();
    let tool = HttpRequester::new();
    let policy = allow(&["127.0.0.1"]);
    let url = format!("http://127.0.0.1:{}/echo", server.port);

    let out = call(&tool, &policy, json!({"url": url})).unwrap();
    assert_eq!(out.data["status"], 200);
    let echoed: serde_json::Value = serde_json::from_str(&out.text).unwrap();
    assert_eq!(echoed["method"], "GET");
    assert_eq!(out.data["headers"]["content-type"], "application/json");

    let params = json!({
        "method": "POST", "url": url, "body": "{\"a\":1}", "headers": {"X-Test": "yes"}
    });
    let out = call(&tool, &policy, params).unwrap();
    let echoed: serde_json::Value = serde_json::from_str(&out.text).unwrap();
    assert_eq!(
        echoed,
        json!({"method": "POST", "body": "{\"a\":1}", "x_test": "yes"})
    );

    let missing = format!("http://127.0.0.1:{}/missing", server.port);
    let out = call(&tool, &policy, json!({"url": missing})).unwrap();
    assert_eq!(
        (out.data["status"].as_u64(), out.text.as_str()),
        (Some(404), "nope")
    );

    let redirect = format!("http://127.0.0.1:{}/redirect", server.port);
    let out = call(&tool, &policy, json!({"url": redirect})).unwrap();
    assert_eq!(
        out.data["status"], 302,
        "redirects are returned, not followed"
    );
    assert_eq!(out.data["headers"]["location"], "http://elsewhere.test/");
    assert_eq!(server.connections.load(Ordering::SeqCst), 4);
}

#[test]
fn hosts_off_the_allowlist_are_refused_before_connecting() {
    let server = serve();
    let tool = HttpRequester::new();
    let port = server.port;
    let cases = [
        (allow(&[]), format!("http://127.0.0.1:{port}/echo")),
        (
            allow(&["127.0.0.1"]),
            format!("http://localhost:{port}/echo"),
        ),
        (
            allow(&["127.0.0.1:1"]),
            format!("http://127.0.0.1:{port}/echo"),
        ),
        (allow(&["*.0.0.1"]), format!("http://127.0.0.1:{port}/echo")),
        (
            allow(&["127.0.0.1"]),
            format!("http://127.0.0.1.evil.test:{port}/"),
        ),
        (
            allow(&["127.0.0.1"]),
            format!("http://evil.test@localhost:{port}/"),
        ),
    ];
    for (policy, url) in cases {
        let out = call(&tool, &policy, json!({"url": url}));
        assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "{url}");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
    let out = call(
        &tool,
        &allow(&["127.0.0.1"]),
        json!({"url": "file:///etc/passwd"}),
    );
    assert_eq!(kind(out), ToolErrorKind::InvalidParams);
    // The port-specific entry allows its port.
    let exact = allow(&[&format!("127.0.0.1:{port}")]);
    let url = format!("http://127.0.0.1:{port}/echo");
    assert!(call(&tool, &exact, json!({"url": url})).is_ok());
}

#[test]
fn response_size_limit_and_timeout() {
    let server = serve();
    let tool = HttpRequester::new();
    let policy = allow(&["127.0.0.1"]);
    let big = format!("http://127.0.0.1:{}/big", server.port);
    let out = call(
        &tool,
        &policy,
        json!({"url": big, "max_response_bytes": 1000}),
    );
    assert_eq!(kind(out), ToolErrorKind::TooLarge);
    let out = call(
        &tool,
        &policy,
        json!({"url": big, "max_response_bytes": 2000}),
    );
    assert_eq!(out.unwrap().data["bytes"], 2000);

    let slow = format!("http://127.0.0.1:{}/slow", server.port);
    let out = call(&tool, &policy, json!({"url": slow, "timeout_ms": 200}));
    assert_eq!(kind(out), ToolErrorKind::Timeout);
}
