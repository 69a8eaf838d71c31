//! The client against a scripted fake kernel: a ROUTER on shell and an XPUB on iopub, in
//! a thread, signing with its own codec.

use super::*;
use llmspell_core::connection::Transport;
use serde_json::json;
use std::thread::JoinHandle;

const KEY: &str = "0123456789abcdef";

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

fn port_of(socket: &zmq::Socket) -> u16 {
    let endpoint = socket.get_last_endpoint().unwrap().unwrap();
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

/// Starts a fake kernel running `script`; returns the connection info and its thread.
fn fake_kernel<T: Send + 'static>(
    script: impl FnOnce(Fake) -> T + Send + 'static,
) -> (ConnectionInfo, JoinHandle<T>) {
    let ctx = zmq::Context::new();
    let shell = ctx.socket(zmq::ROUTER).unwrap();
    let iopub = ctx.socket(zmq::XPUB).unwrap();
    for s in [&shell, &iopub] {
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(10_000).unwrap();
        s.bind("tcp://127.0.0.1:*").unwrap();
    }
    let info = ConnectionInfo {
        shell_port: port_of(&shell),
        iopub_port: port_of(&iopub),
        stdin_port: 1,
        control_port: 1,
        hb_port: 1,
        ip: "127.0.0.1".into(),
        key: KEY.into(),
        transport: Transport::Tcp,
        signature_scheme: "hmac-sha256".into(),
        kernel_name: "fake".into(),
    };
    let fake = Fake {
        shell,
        iopub,
        codec: Codec::new(KEY.as_bytes(), 64),
    };
    (info, std::thread::spawn(move || script(fake)))
}

#[test]
fn tool_request_gets_the_reply_to_its_own_message() {
    let (info, kernel) = fake_kernel(|mut k| {
        let req = k.recv();
        assert_eq!(req.header.msg_type, "tool_request");
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
    let sent = kernel.join().unwrap();
    assert_eq!(
        sent,
        json!({"command": "invoke", "name": "calculator", "params": {"input": "2+2"}, "timeout_ms": 100})
    );
}

#[test]
fn replies_with_a_bad_signature_are_dropped() {
    let (info, kernel) = fake_kernel(|mut k| {
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
    kernel.join().unwrap();
}

#[test]
fn a_kernel_that_goes_idle_without_replying_is_reported_quickly() {
    let (info, kernel) = fake_kernel(|mut k| {
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
    kernel.join().unwrap();
}

#[test]
fn no_kernel_is_a_bounded_timeout() {
    // A port nothing listens on: libzmq keeps retrying; we give up at the deadline.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let info = ConnectionInfo {
        shell_port: port,
        iopub_port: port,
        stdin_port: port,
        control_port: port,
        hb_port: port,
        ip: "127.0.0.1".into(),
        key: KEY.into(),
        transport: Transport::Tcp,
        signature_scheme: "hmac-sha256".into(),
        kernel_name: String::new(),
    };
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
}
