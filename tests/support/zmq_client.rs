//! A libzmq (zmq crate) Jupyter client for the server editions' integration tests: DEALER
//! shell and control, SUB iopub, signed with [`KEY`]. Included by each edition's
//! `tests/zmq_clients.rs` with `#[path]`, so both are tested by the same client.

use bytes::Bytes;
use llmspell_core::connection::{Channel, ConnectionInfo};
use llmspell_core::time::Timestamp;
use llmspell_core::wire::{write_header, Codec};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The signing key of the servers these tests start.
pub const KEY: &str = "interop-key";

/// One client's sockets and signing state.
pub struct Client {
    /// The libzmq context, for more sockets (heartbeat).
    pub ctx: zmq::Context,
    shell: zmq::Socket,
    control: zmq::Socket,
    iopub: zmq::Socket,
    codec: Codec,
    seq: u32,
    name: String,
}

impl Client {
    /// Connects shell (identity `name`), control and iopub, and waits for the welcome.
    pub fn connect(info: &ConnectionInfo, name: &str) -> Client {
        let ctx = zmq::Context::new();
        let shell = ctx.socket(zmq::DEALER).unwrap();
        shell.set_identity(name.as_bytes()).unwrap();
        shell.set_linger(0).unwrap();
        shell.connect(&info.endpoint(Channel::Shell)).unwrap();
        let control = ctx.socket(zmq::DEALER).unwrap();
        control.set_linger(0).unwrap();
        control.connect(&info.endpoint(Channel::Control)).unwrap();
        let iopub = ctx.socket(zmq::SUB).unwrap();
        iopub.set_linger(0).unwrap();
        iopub.set_subscribe(b"").unwrap();
        iopub.connect(&info.endpoint(Channel::Iopub)).unwrap();
        let mut c = Client {
            ctx,
            shell,
            control,
            iopub,
            codec: Codec::new(KEY.as_bytes(), 100_000),
            seq: 0,
            name: name.into(),
        };
        // The welcome says our subscription has arrived.
        let (t, _, _) = c.recv(Channel::Iopub);
        assert_eq!(t, "iopub_welcome");
        c
    }

    /// Sends a signed request on shell or control; returns its msg_id.
    pub fn send(&mut self, channel: Channel, msg_type: &str, content: Value) -> String {
        self.seq += 1;
        let id = format!("{}-{}", self.name, self.seq);
        let mut header = Vec::new();
        write_header(
            &mut header,
            &id,
            msg_type,
            &self.name,
            "test",
            Timestamp::default(),
            "5.3",
        );
        let frames = self.codec.encode(
            &[],
            Bytes::from(header),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::from(content.to_string()),
            &[],
        );
        let parts: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        let socket = if channel == Channel::Control {
            &self.control
        } else {
            &self.shell
        };
        socket.send_multipart(parts, 0).unwrap();
        id
    }

    /// The next message on a channel: (msg_type, parent msg_id, content). Fails after 10 s.
    pub fn recv(&mut self, channel: Channel) -> (String, String, Value) {
        let socket = match channel {
            Channel::Iopub => &self.iopub,
            Channel::Control => &self.control,
            _ => &self.shell,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if socket.poll(zmq::POLLIN, 100).unwrap() > 0 {
                let parts = socket.recv_multipart(0).unwrap();
                let frames: Vec<Bytes> = parts.into_iter().map(Bytes::from).collect();
                let msg = self.codec.decode(frames).expect("kernel messages verify");
                let parent: Value = serde_json::from_slice(&msg.parent_header).unwrap();
                let content: Value = serde_json::from_slice(&msg.content).unwrap();
                let pid = parent["msg_id"].as_str().unwrap_or("").to_string();
                return (msg.header.msg_type().to_string(), pid, content);
            }
        }
        panic!("no message on {} within 10 s", channel.name());
    }

    /// The iopub messages of request `id`, types only, up to and with its idle status.
    #[allow(dead_code)] // used by some of the test files that include this one
    pub fn iopub_of(&mut self, id: &str) -> Vec<String> {
        let mut seen = vec![];
        loop {
            let (t, parent, content) = self.recv(Channel::Iopub);
            if parent != id {
                continue;
            }
            let idle = t == "status" && content["execution_state"] == "idle";
            seen.push(t);
            if idle {
                return seen;
            }
        }
    }
}
