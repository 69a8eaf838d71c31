//! The client against scripted peers: a fake kernel on real libzmq (a ROUTER on shell and
//! an XPUB on iopub, in a thread, signing with its own codec), and raw TCP peers that are
//! no kernel at all (garbage, silence, a closed or cut connection).

use super::*;
use crate::testutil::TempDir;
use llmspell_core::connection::Transport;
use llmspell_core::zmtp::{Config, Connection};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

const KEY: &str = "0123456789abcdef";

/// A deadline long enough that an error before it was not the deadline's.
const LONG: Duration = Duration::from_secs(20);

/// The kernel's side of one test.
struct Fake {
    shell: zmq::Socket,
    iopub: zmq::Socket,
    codec: Codec,
}

impl Fake {
    /// The next verified shell request, with its routing identities.
    fn recv(&mut self) -> RawMessage {
        let frames = self.shell.recv_multipart(0).expect("recv");
        let frames = frames.into_iter().map(Bytes::from).collect();
        self.codec.decode(frames).expect("a signed request")
    }

    fn header(msg_type: &str) -> Bytes {
        let mut h = Vec::new();
        write_header(&mut h, "k-1", msg_type, "ks", "kernel", now(), "5.3");
        Bytes::from(h)
    }

    /// Replies to `to` with `msg_type`, signed with `codec` (normally our own).
    fn reply_with(&self, codec: &Codec, to: &RawMessage, msg_type: &str, content: &Value) {
        let frames = codec.encode(
            &to.identities,
            Self::header(msg_type),
            to.header_bytes.clone(),
            Bytes::from_static(b"{}"),
            Bytes::from(content.to_string()),
            &[],
        );
        self.shell
            .send_multipart(frames.iter().map(|f| f.as_ref()), 0)
            .expect("send");
    }

    fn reply(&self, to: &RawMessage, msg_type: &str, content: &Value) {
        self.reply_with(&self.codec, to, msg_type, content);
    }

    fn publish(&self, parent: Bytes, msg_type: &str, content: &Value) {
        let frames = self.codec.encode(
            &[Bytes::from_static(b"kernel.status")],
            Self::header(msg_type),
            parent,
            Bytes::from_static(b"{}"),
            Bytes::from(content.to_string()),
            &[],
        );
        self.iopub
            .send_multipart(frames.iter().map(|f| f.as_ref()), 0)
            .expect("publish");
    }

    /// Waits for the client's iopub subscription, so that what we publish reaches it.
    fn await_subscriber(&self) {
        let sub = self.iopub.recv_bytes(0).expect("subscription");
        assert_eq!(sub.first(), Some(&1u8), "a subscribe message");
    }
}

/// A fake kernel's thread. Its sockets stay open until [`Kernel::finish`] (or 10 s), as a
/// real kernel's do: a closed connection is an error of its own.
struct Kernel<T> {
    thread: JoinHandle<T>,
    done: mpsc::Sender<()>,
}

impl<T> Kernel<T> {
    /// Lets the fake kernel close its sockets; returns what its script returned.
    fn finish(self) -> T {
        let _ = self.done.send(());
        self.thread.join().expect("the fake kernel's script passed")
    }
}

fn port_of(socket: &zmq::Socket) -> u16 {
    let endpoint = socket.get_last_endpoint().unwrap().unwrap();
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

fn info_for(ip: &str, transport: Transport, shell_port: u16, iopub_port: u16) -> ConnectionInfo {
    ConnectionInfo {
        shell_port,
        iopub_port,
        stdin_port: 1,
        control_port: 1,
        hb_port: 1,
        ip: ip.into(),
        key: KEY.into(),
        transport,
        signature_scheme: "hmac-sha256".into(),
        kernel_name: "fake".into(),
    }
}

/// Starts a fake kernel on loopback TCP running `script`.
fn fake_kernel<T: Send + 'static>(
    script: impl FnOnce(&mut Fake) -> T + Send + 'static,
) -> (ConnectionInfo, Kernel<T>) {
    fake_kernel_at(None, script)
}

/// Starts a fake kernel running `script`, on loopback TCP, or on Unix sockets under
/// `ipc_dir` when given.
fn fake_kernel_at<T: Send + 'static>(
    ipc_dir: Option<&std::path::Path>,
    script: impl FnOnce(&mut Fake) -> T + Send + 'static,
) -> (ConnectionInfo, Kernel<T>) {
    let ctx = zmq::Context::new();
    let shell = ctx.socket(zmq::ROUTER).unwrap();
    let iopub = ctx.socket(zmq::XPUB).unwrap();
    for s in [&shell, &iopub] {
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(10_000).unwrap();
    }
    let info = match ipc_dir {
        None => {
            shell.bind("tcp://127.0.0.1:*").unwrap();
            iopub.bind("tcp://127.0.0.1:*").unwrap();
            info_for(
                "127.0.0.1",
                Transport::Tcp,
                port_of(&shell),
                port_of(&iopub),
            )
        }
        Some(dir) => {
            let prefix = dir.join("kernel").display().to_string();
            shell.bind(&format!("ipc://{prefix}-1")).unwrap();
            iopub.bind(&format!("ipc://{prefix}-2")).unwrap();
            info_for(&prefix, Transport::Ipc, 1, 2)
        }
    };
    let mut fake = Fake {
        shell,
        iopub,
        codec: Codec::new(KEY.as_bytes(), 64),
    };
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let out = script(&mut fake);
        let _ = finished.recv_timeout(Duration::from_secs(10));
        out
    });
    (info, Kernel { thread, done })
}

#[test]
fn tool_request_gets_the_reply_to_its_own_message() {
    let (info, kernel) = fake_kernel(|k| {
        let req = k.recv();
        assert_eq!(req.header.msg_type(), "tool_request");
        let content: Value = serde_json::from_slice(&req.content).unwrap();
        // First a reply to some other request, which the client must skip.
        let mut other = req.clone();
        other.header_bytes = Bytes::from_static(br#"{"msg_id":"someone-else"}"#);
        k.reply(
            &other,
            "tool_reply",
            &json!({"status": "ok", "command": "stale"}),
        );
        k.reply(
            &req,
            "tool_reply",
            &json!({"status": "ok", "command": "invoke", "text": "4"}),
        );
        content
    });
    let mut client = Client::connect(&info, &ZeromqConfig::default()).unwrap();
    let request = ToolRequest::Invoke {
        name: "calculator".into(),
        params: json!({"input": "2+2"}),
        timeout_ms: Some(100),
    };
    let reply = client.tool_request(&request).unwrap();
    assert_eq!(reply["text"], "4");
    assert_eq!(reply["command"], "invoke");
    let sent = kernel.finish();
    assert_eq!(
        sent,
        json!({"command": "invoke", "name": "calculator", "params": {"input": "2+2"}, "timeout_ms": 100})
    );
}

#[test]
fn requests_in_a_row_and_iopub_traffic_on_ipc_with_buffer_options() {
    let dir = TempDir::new("remote-ipc");
    let (info, kernel) = fake_kernel_at(Some(dir.path()), |k| {
        k.await_subscriber();
        k.publish(
            Bytes::from_static(b"{}"),
            "iopub_welcome",
            &json!({"subscription": ""}),
        );
        for n in 0..3 {
            let req = k.recv();
            k.publish(
                req.header_bytes.clone(),
                "status",
                &json!({"execution_state": "busy"}),
            );
            k.reply(&req, "kernel_info_reply", &json!({"n": n}));
        }
    });
    let options = ZeromqConfig {
        sndbuf: Some(256 * 1024),
        rcvbuf: Some(256 * 1024),
        ..ZeromqConfig::default()
    };
    let mut client = Client::connect(&info, &options).unwrap();
    for n in 0..3 {
        let reply = client
            .request("kernel_info_request", "{}", "kernel_info_reply", LONG)
            .unwrap();
        assert_eq!(reply["n"], n);
    }
    kernel.finish();
}

#[test]
fn replies_with_a_bad_signature_are_dropped() {
    let (info, kernel) = fake_kernel(|k| {
        let req = k.recv();
        let forger = Codec::new(b"not the key", 64);
        k.reply_with(&forger, &req, "kernel_info_reply", &json!({"status": "ok"}));
    });
    let mut client = Client::connect(&info, &ZeromqConfig::default()).unwrap();
    let started = Instant::now();
    let err = client
        .request(
            "kernel_info_request",
            "{}",
            "kernel_info_reply",
            Duration::from_millis(300),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(err.message.contains("kernel_info_reply"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    kernel.finish();
}

#[test]
fn a_kernel_that_goes_idle_without_replying_is_reported_quickly() {
    let (info, kernel) = fake_kernel(|k| {
        k.await_subscriber();
        k.publish(
            Bytes::from_static(b"{}"),
            "iopub_welcome",
            &json!({"subscription": ""}),
        );
        let req = k.recv();
        k.publish(
            req.header_bytes.clone(),
            "status",
            &json!({"execution_state": "busy"}),
        );
        k.publish(
            req.header_bytes.clone(),
            "status",
            &json!({"execution_state": "idle"}),
        );
    });
    let mut client = Client::connect(&info, &ZeromqConfig::default()).unwrap();
    let started = Instant::now();
    let err = client
        .tool_request(&ToolRequest::List { category: None })
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime, "{err}");
    assert!(err.message.contains("does not support"), "{err}");
    assert!(started.elapsed() < REPLY_GRACE);
    kernel.finish();
}

#[test]
fn a_kernel_that_closes_the_connection_is_an_error_before_the_deadline() {
    let (info, kernel) = fake_kernel(|k| {
        let _ = k.recv();
    });
    // The script ends without replying; its sockets close once we finish it.
    let mut client = Client::connect(&info, &ZeromqConfig::default()).unwrap();
    let closer = std::thread::spawn(move || {
        kernel.finish();
    });
    let err = client
        .request("kernel_info_request", "{}", "kernel_info_reply", LONG)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime, "{err}");
    assert!(err.message.contains("closed the connection"), "{err}");
    assert!(err.message.contains("tcp://127.0.0.1:"), "{err}");
    closer.join().unwrap();
}

#[test]
fn no_kernel_is_a_bounded_timeout_that_says_why() {
    // A port nothing listens on: we retry, as libzmq does, and give up at the deadline.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let info = info_for("127.0.0.1", Transport::Tcp, port, port);
    let mut client = Client::connect(&info, &ZeromqConfig::default()).unwrap();
    let err = client
        .request(
            "kernel_info_request",
            "{}",
            "kernel_info_reply",
            Duration::from_millis(200),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(err.message.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.message.contains("cannot connect"), "{err}");
}

#[test]
fn a_kernel_that_starts_listening_late_is_reached() {
    let (shell_port, iopub_port) = (free_port(), free_port());
    let info = info_for("127.0.0.1", Transport::Tcp, shell_port, iopub_port);
    let mut client = Client::connect(&info, &ZeromqConfig::default()).unwrap();
    // The "kernel" binds after the client's first attempts were refused: raw peers on
    // core's ZMTP, an XPUB that says nothing and a ROUTER that answers one request.
    let peer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(250));
        let iopub = TcpListener::bind(("127.0.0.1", iopub_port)).unwrap();
        let shell = TcpListener::bind(("127.0.0.1", shell_port)).unwrap();
        let (mut sub, _) = iopub.accept().unwrap();
        sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(handshake_as(&mut sub, SocketType::XPub).is_some());
        serve_one_reply(&shell);
    });
    let reply = client
        .request("kernel_info_request", "{}", "kernel_info_reply", LONG)
        .unwrap();
    assert_eq!(reply["late"], true);
    peer.join().unwrap();
}

#[test]
fn an_unknown_host_is_an_error_at_once() {
    let info = info_for("no-such-host.invalid", Transport::Tcp, 5555, 5556);
    let mut client = Client::connect(&info, &ZeromqConfig::default()).unwrap();
    let err = client
        .request("kernel_info_request", "{}", "kernel_info_reply", LONG)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no-such-host.invalid"), "{err}");
}

#[test]
fn garbage_from_the_peer_is_an_error_not_a_hang() {
    let peer = RawPeer::start(|s| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let mut client = Client::connect(&peer.info, &ZeromqConfig::default()).unwrap();
    let err = client
        .request("kernel_info_request", "{}", "kernel_info_reply", LONG)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidData, "{err}");
    assert!(
        err.message.contains("not a working Jupyter kernel"),
        "{err}"
    );
}

#[test]
fn a_peer_that_never_speaks_times_out() {
    let peer = RawPeer::start(|_| {});
    let mut client = Client::connect(&peer.info, &ZeromqConfig::default()).unwrap();
    let err = client
        .request(
            "kernel_info_request",
            "{}",
            "kernel_info_reply",
            Duration::from_millis(300),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(err.message.contains("no ZMTP handshake"), "{err}");
}

#[test]
fn a_peer_that_cuts_a_message_short_is_an_error() {
    let peer = RawPeer::start_each(
        Box::new(|s| {
            if handshake_as(s, SocketType::Router).is_some() {
                // A frame that announces 16 bytes, then only 3 of them, then the end.
                let _ = s.write_all(&[0x00, 16, b'a', b'b', b'c']);
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }),
        Box::new(|s| {
            let _ = handshake_as(s, SocketType::XPub);
        }),
    );
    let mut client = Client::connect(&peer.info, &ZeromqConfig::default()).unwrap();
    let err = client
        .request("kernel_info_request", "{}", "kernel_info_reply", LONG)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime, "{err}");
    assert!(err.message.contains("closed the connection"), "{err}");
}

/// What a raw peer does with each connection it accepts.
type Behaviour = Box<dyn Fn(&mut TcpStream) + Send>;

/// TCP peers that are no kernel: each connection to the shell port is handed to one
/// behaviour, each to the iopub port to another, then kept open until the test drops the
/// peer (or 10 s pass).
struct RawPeer {
    info: ConnectionInfo,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawPeer {
    /// The same behaviour on both ports.
    fn start(behaviour: impl Fn(&mut TcpStream) + Send + Clone + 'static) -> RawPeer {
        RawPeer::start_each(Box::new(behaviour.clone()), Box::new(behaviour))
    }

    fn start_each(shell: Behaviour, iopub: Behaviour) -> RawPeer {
        let listeners = [(); 2].map(|()| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            l
        });
        let port = |i: usize| listeners[i].local_addr().unwrap().port();
        let info = info_for("127.0.0.1", Transport::Tcp, port(0), port(1));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut kept = Vec::new();
            for _ in 0..1000 {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let mut idle = true;
                for (listener, behaviour) in listeners.iter().zip([&shell, &iopub]) {
                    if let Ok((mut s, _)) = listener.accept() {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        behaviour(&mut s);
                        kept.push(s);
                        idle = false;
                    }
                }
                if idle {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        RawPeer {
            info,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A loopback port that nothing listens on (it did a moment ago).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Completes a ZMTP handshake on `s` as a `kind` peer with core's [`Connection`]; returns
/// it with its unread input, or `None` if the peer went away or failed (bounded: 200 reads).
fn handshake_as(s: &mut TcpStream, kind: SocketType) -> Option<(Connection, bytes::BytesMut)> {
    let mut conn = Connection::new(Config::new(kind));
    let mut input = bytes::BytesMut::new();
    let mut buf = [0u8; 4096];
    for _ in 0..200 {
        while let Some(chunk) = conn.poll_transmit() {
            s.write_all(&chunk).ok()?;
        }
        if conn.is_ready() {
            return Some((conn, input));
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        input.extend_from_slice(&buf[..n]);
        conn.handle_input(&mut input).ok()?;
    }
    None
}

/// Accepts one connection on `listener`, a DEALER, and answers its first request with a
/// signed `kernel_info_reply` of `{"late": true}`.
fn serve_one_reply(listener: &TcpListener) {
    let mut codec = Codec::new(KEY.as_bytes(), 64);
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (mut conn, mut input) = handshake_as(&mut s, SocketType::Router).expect("a handshake");
    assert_eq!(conn.peer_socket_type(), Some(SocketType::Dealer));
    let mut buf = [0u8; 4096];
    for _ in 0..200 {
        let message = std::iter::from_fn(|| conn.poll_event()).find_map(|e| match e {
            Event::Message(frames) => Some(frames),
            _ => None,
        });
        if let Some(frames) = message {
            let req = codec.decode(frames).unwrap();
            let frames = codec.encode(
                &req.identities,
                Fake::header("kernel_info_reply"),
                req.header_bytes.clone(),
                Bytes::from_static(b"{}"),
                Bytes::from_static(br#"{"late": true}"#),
                &[],
            );
            conn.send(&frames).unwrap();
            while let Some(chunk) = conn.poll_transmit() {
                s.write_all(&chunk).unwrap();
            }
            return;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed before its request");
        input.extend_from_slice(&buf[..n]);
        conn.handle_input(&mut input).unwrap();
    }
    panic!("no request came");
}
