//! The hub and in-memory ZMTP clients (DEALER shell, SUB iopub, REQ heartbeat), with the
//! engine's answers played by hand and a tamper hook on the bytes in flight.

use super::*;
use crate::engine::{EngineEvent, EngineRequest, ExecuteOutcome};
use crate::wire::{write_header, Codec};
use serde_json::{json, Value};

const KEY: &[u8] = b"hub-key";

struct Client {
    conn: ConnId,
    zmtp: Connection,
}

struct Pair {
    hub: Hub,
    codec: Codec,
    clock: u64,
    effects: Vec<Effect>,
    /// Bytes the hub wrote for each connection, until its client is pumped.
    wire: std::collections::HashMap<ConnId, BytesMut>,
}

impl Pair {
    fn new(max: u64) -> Self {
        Pair::with_metrics(max, None)
    }

    fn with_metrics(max: u64, metrics: Option<std::sync::Arc<crate::metrics::Metrics>>) -> Self {
        let config = KernelConfig {
            key: KEY.to_vec(),
            session: "hub".into(),
            metrics,
            ..Default::default()
        };
        Pair {
            hub: Hub::new(config, max),
            codec: Codec::new(KEY, 1000),
            clock: 0,
            effects: vec![],
            wire: Default::default(),
        }
    }

    fn now(&mut self) -> Timestamp {
        self.clock += 1;
        Timestamp::from_unix_micros(self.clock)
    }

    fn connect(
        &mut self,
        channel: Channel,
        socket_type: SocketType,
        identity: &'static [u8],
    ) -> Client {
        let conn = self.hub.handle_accept(channel);
        let zmtp = Connection::new(zmtp::Config {
            socket_type,
            identity: Bytes::from_static(identity),
            max_message_size: u64::MAX,
        });
        let mut c = Client { conn, zmtp };
        self.pump(&mut c);
        c
    }

    /// Moves bytes both ways until both sides are quiet, through `tamper`.
    fn pump_with(
        &mut self,
        c: &mut Client,
        tamper: &mut dyn FnMut(&mut BytesMut),
    ) -> Result<(), ZmtpError> {
        for _ in 0..100 {
            let mut moved = false;
            let mut up = BytesMut::new();
            while let Some(b) = c.zmtp.poll_transmit() {
                up.extend_from_slice(&b);
            }
            if !up.is_empty() {
                moved = true;
                tamper(&mut up);
                let now = self.now();
                self.hub.handle_input(now, c.conn, &mut up)?;
            }
            while let Some(e) = self.hub.poll_effect() {
                self.effects.push(e);
            }
            while let Some(conn) = self.hub.poll_dirty() {
                while let Some(b) = self.hub.poll_transmit(conn) {
                    self.wire.entry(conn).or_default().extend_from_slice(&b);
                }
            }
            let mut down = self.wire.remove(&c.conn).unwrap_or_default();
            if !down.is_empty() {
                moved = true;
                c.zmtp
                    .handle_input(&mut down)
                    .expect("client accepts the hub's bytes");
            }
            if !moved {
                return Ok(());
            }
        }
        panic!("pump did not settle");
    }

    fn pump(&mut self, c: &mut Client) {
        self.pump_with(c, &mut |_| {}).expect("no error");
    }

    fn request(&mut self, msg_type: &str, content: Value) -> Vec<Bytes> {
        let mut header = Vec::new();
        let id = format!("m{}", self.clock);
        self.clock += 1;
        write_header(
            &mut header,
            &id,
            msg_type,
            "s",
            "u",
            Timestamp::default(),
            "5.3",
        );
        self.codec.encode(
            &[],
            Bytes::from(header),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::from(content.to_string()),
            &[],
        )
    }
}

fn messages(c: &mut Client) -> Vec<Vec<Bytes>> {
    let mut out = vec![];
    while let Some(e) = c.zmtp.poll_event() {
        if let Event::Message(m) = e {
            out.push(m);
        }
    }
    out
}

fn msg_type(codec: &mut Codec, frames: Vec<Bytes>) -> (String, Value) {
    let m = codec.decode(frames).expect("verifies");
    (
        m.header.msg_type().to_string(),
        serde_json::from_slice(&m.content).unwrap(),
    )
}

#[test]
fn kernel_info_over_zmtp_reaches_the_right_dealer_and_iopub() {
    let mut p = Pair::new(1 << 20);
    let mut iopub = p.connect(Channel::Iopub, SocketType::Sub, b"");
    iopub.zmtp.subscribe(b"").unwrap();
    p.pump(&mut iopub);
    let mut other = p.connect(Channel::Shell, SocketType::Dealer, b"other");
    let mut shell = p.connect(Channel::Shell, SocketType::Dealer, b"me");
    let (t, _) = msg_type(&mut p.codec, messages(&mut iopub).remove(0));
    assert_eq!(t, "iopub_welcome");

    let req = p.request("kernel_info_request", json!({}));
    shell.zmtp.send(&req).unwrap();
    p.pump(&mut shell);
    let replies = messages(&mut shell);
    assert_eq!(replies.len(), 1);
    let (t, content) = msg_type(&mut p.codec, replies[0].clone());
    assert_eq!(t, "kernel_info_reply");
    assert_eq!(content["language_info"]["name"], "lua");
    p.pump(&mut other);
    assert!(
        messages(&mut other).is_empty(),
        "the other dealer gets nothing"
    );
    p.pump(&mut iopub);
    let statuses: Vec<String> = messages(&mut iopub)
        .into_iter()
        .map(|m| msg_type(&mut p.codec, m).0)
        .collect();
    assert_eq!(statuses, ["status", "status"]);
}

#[test]
fn heartbeat_echoes() {
    let mut p = Pair::new(1 << 20);
    let mut hb = p.connect(Channel::Heartbeat, SocketType::Req, b"");
    hb.zmtp
        .send(&[Bytes::from_static(b"\x00"), Bytes::from_static(b"ping")])
        .unwrap();
    p.pump(&mut hb);
    let got = messages(&mut hb);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].last().unwrap().as_ref(), b"ping");
}

#[test]
fn execute_hands_a_job_to_the_engine_and_publishes_its_result() {
    let mut p = Pair::new(1 << 20);
    let mut shell = p.connect(Channel::Shell, SocketType::Dealer, b"me");
    let req = p.request("execute_request", json!({"code": "1+1"}));
    shell.zmtp.send(&req).unwrap();
    p.pump(&mut shell);
    let Some(Effect::Engine(job)) = p.effects.pop() else {
        panic!("no engine job: {:?}", p.effects)
    };
    let EngineRequest::Execute { id, code, .. } = job.request else {
        panic!()
    };
    assert_eq!(code, "1+1");
    let mut data = serde_json::Map::new();
    data.insert("text/plain".into(), json!("2"));
    let now = p.now();
    p.hub.handle_worker_event(
        now,
        WorkerEvent::Engine(EngineEvent::ExecuteDone {
            id,
            outcome: ExecuteOutcome::Ok {
                result: Some(data),
                payload: vec![],
            },
            user_expressions: vec![],
        }),
    );
    p.pump(&mut shell);
    let replies = messages(&mut shell);
    let (t, content) = msg_type(&mut p.codec, replies[0].clone());
    assert_eq!(
        (t.as_str(), content["status"].as_str()),
        ("execute_reply", Some("ok"))
    );
}

#[test]
fn a_malformed_greeting_closes_only_that_connection() {
    let mut p = Pair::new(1 << 20);
    let mut good = p.connect(Channel::Shell, SocketType::Dealer, b"good");
    let bad = p.hub.handle_accept(Channel::Shell);
    let mut junk = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
    let now = p.now();
    assert!(p.hub.handle_input(now, bad, &mut junk).is_err());
    assert_eq!(p.hub.connection_count(), 1);
    assert_eq!(p.hub.drops().bad_connections, 1);
    let req = p.request("kernel_info_request", json!({}));
    good.zmtp.send(&req).unwrap();
    p.pump(&mut good);
    assert_eq!(messages(&mut good).len(), 1);
}

#[test]
fn an_oversize_message_is_refused_and_the_connection_lives() {
    let mut p = Pair::new(4096);
    let mut shell = p.connect(Channel::Shell, SocketType::Dealer, b"me");
    let big = p.request("execute_request", json!({"code": "x".repeat(10_000)}));
    shell.zmtp.send(&big).unwrap();
    p.pump(&mut shell);
    assert_eq!(p.hub.drops().oversize, 1);
    assert!(p.effects.is_empty());
    let req = p.request("kernel_info_request", json!({}));
    shell.zmtp.send(&req).unwrap();
    p.pump(&mut shell);
    assert_eq!(messages(&mut shell).len(), 1);
}

#[test]
fn a_tampered_message_is_dropped() {
    let mut p = Pair::new(1 << 20);
    let mut shell = p.connect(Channel::Shell, SocketType::Dealer, b"me");
    let req = p.request("kernel_info_request", json!({}));
    shell.zmtp.send(&req).unwrap();
    // Flip the last byte in flight: the content frame's closing brace.
    p.pump_with(&mut shell, &mut |b: &mut BytesMut| {
        let n = b.len();
        b[n - 1] ^= 0x01;
    })
    .unwrap();
    assert!(messages(&mut shell).is_empty());
}

#[test]
fn a_vanished_client_is_forgotten_and_its_replies_dropped() {
    let mut p = Pair::new(1 << 20);
    let mut shell = p.connect(Channel::Shell, SocketType::Dealer, b"me");
    let req = p.request("execute_request", json!({"code": "1"}));
    shell.zmtp.send(&req).unwrap();
    p.pump(&mut shell);
    p.hub.handle_close(shell.conn);
    assert_eq!(p.hub.connection_count(), 0);
    let Some(Effect::Engine(job)) = p.effects.pop() else {
        panic!()
    };
    let now = p.now();
    p.hub.handle_worker_event(
        now,
        WorkerEvent::Engine(EngineEvent::ExecuteDone {
            id: job.request.id(),
            outcome: ExecuteOutcome::Ok {
                result: None,
                payload: vec![],
            },
            user_expressions: vec![],
        }),
    );
    assert_eq!(p.hub.drops().unroutable, 1);
    assert!(p.hub.poll_dirty().is_none());
}

#[test]
fn metrics_count_requests_replies_connections_and_drops() {
    use crate::metrics::{DropReason, Metrics};
    let metrics = std::sync::Arc::new(Metrics::new(["calculator"]));
    let mut p = Pair::with_metrics(4096, Some(metrics.clone()));
    let mut shell = p.connect(Channel::Shell, SocketType::Dealer, b"me");
    let _control = p.connect(Channel::Control, SocketType::Dealer, b"me");
    let req = p.request("kernel_info_request", json!({}));
    shell.zmtp.send(&req).unwrap();
    // The same signed frames again: a replay.
    shell.zmtp.send(&req).unwrap();
    // Signed with another key.
    let mut forged = Codec::new(b"other-key", 10).encode(
        &[],
        Bytes::from_static(br#"{"msg_id":"x","msg_type":"kernel_info_request"}"#),
        Bytes::from_static(b"{}"),
        Bytes::from_static(b"{}"),
        Bytes::from_static(b"{}"),
        &[],
    );
    shell.zmtp.send(&forged).unwrap();
    forged.truncate(2);
    shell.zmtp.send(&forged).unwrap();
    let big = p.request("execute_request", json!({"code": "x".repeat(10_000)}));
    shell.zmtp.send(&big).unwrap();
    p.pump(&mut shell);
    assert_eq!(
        messages(&mut shell).len(),
        1,
        "one reply, to the genuine request"
    );
    assert_eq!(metrics.requests_of("kernel_info_request"), 1);
    assert_eq!(metrics.drops_of(DropReason::Replayed), 1);
    assert_eq!(metrics.drops_of(DropReason::BadSignature), 1);
    assert_eq!(metrics.drops_of(DropReason::Malformed), 1);
    assert_eq!(metrics.drops_of(DropReason::Oversize), 1);
    let mut text = String::new();
    crate::metrics::render(&[&metrics], &mut text);
    assert!(
        text.contains("llmspell_kernel_active_connections 2\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "llmspell_kernel_request_duration_seconds_count{type=\"kernel_info_request\"} 1\n"
        ),
        "{text}"
    );
    p.hub.handle_close(shell.conn);
    text.clear();
    crate::metrics::render(&[&metrics], &mut text);
    assert!(
        text.contains("llmspell_kernel_active_connections 1\n"),
        "{text}"
    );
}

#[test]
fn max_clients_refuses_the_extra_connection_per_channel() {
    let mut p = Pair::new(1 << 20);
    p.hub.set_limits(Limits {
        max_clients: 2,
        ..Limits::default()
    });
    let t = Timestamp::from_unix_micros(1);
    let a = p.hub.try_accept(t, Channel::Shell).expect("first");
    assert!(p.hub.try_accept(t, Channel::Shell).is_some());
    assert_eq!(
        p.hub.try_accept(t, Channel::Shell),
        None,
        "third shell refused"
    );
    assert!(
        p.hub.try_accept(t, Channel::Iopub).is_some(),
        "other channels count apart"
    );
    p.hub.handle_close(a);
    assert!(
        p.hub.try_accept(t, Channel::Shell).is_some(),
        "a slot came free"
    );
}

#[test]
fn a_peer_that_does_not_read_loses_messages_beyond_sndhwm() {
    let mut p = Pair::new(1 << 20);
    p.hub.set_limits(Limits {
        sndhwm: 3,
        ..Limits::default()
    });
    let mut shell = p.connect(Channel::Shell, SocketType::Dealer, b"me");
    // The runtime never reports a flush: five requests, five replies due, three queued.
    for _ in 0..5 {
        let req = p.request("kernel_info_request", json!({}));
        shell.zmtp.send(&req).unwrap();
    }
    p.pump(&mut shell);
    assert_eq!(messages(&mut shell).len(), 3);
    assert_eq!(p.hub.drops().hwm, 2);
    // Once the runtime has written everything, the count starts again.
    let now = p.now();
    p.hub.handle_flushed(now, shell.conn);
    let req = p.request("kernel_info_request", json!({}));
    shell.zmtp.send(&req).unwrap();
    p.pump(&mut shell);
    assert_eq!(messages(&mut shell).len(), 1);
}

#[test]
fn idle_connections_expire_and_active_ones_stay() {
    let mut p = Pair::new(1 << 20);
    p.hub.set_limits(Limits {
        idle_timeout_micros: Some(1_000),
        ..Limits::default()
    });
    let quiet = p
        .hub
        .try_accept(Timestamp::from_unix_micros(0), Channel::Shell)
        .unwrap();
    let mut busy = p.connect(Channel::Control, SocketType::Dealer, b"c");
    assert!(p
        .hub
        .expire_idle(Timestamp::from_unix_micros(900))
        .is_empty());
    p.clock = 1_500;
    let req = p.request("kernel_info_request", json!({}));
    busy.zmtp.send(&req).unwrap();
    p.pump(&mut busy);
    let expired = p.hub.expire_idle(Timestamp::from_unix_micros(2_100));
    assert_eq!(expired, vec![quiet]);
    assert_eq!(p.hub.connection_count(), 1);
    // Without a timeout nothing expires.
    p.hub.set_limits(Limits::default());
    assert!(p
        .hub
        .expire_idle(Timestamp::from_unix_micros(u64::MAX))
        .is_empty());
}
