//! Interoperability of `llmspell_core::zmtp` with libzmq 4.3 (the `zmq` crate) over TCP on
//! 127.0.0.1: our ROUTER, XPUB and REP serve zmq DEALER, SUB and REQ clients, and our
//! DEALER, SUB and REQ clients talk to zmq ROUTER, PUB and REP. Every loop is bounded by a
//! 10-second deadline, so a failure fails instead of hanging.

use bytes::{Bytes, BytesMut};
use llmspell_core::zmtp::socket::{rep_split, req_wrap, RouterTable, Subscriptions};
use llmspell_core::zmtp::{Config, Connection, Event, SocketType};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);
const ZMQ_TIMEOUT_MS: i32 = 10_000;

/// A Jupyter-shaped message: delimiter, HMAC, 150-byte header, parent, metadata, content.
fn jupyter() -> Vec<Vec<u8>> {
    let header = format!(
        "{{\"msg_id\":\"{}\",\"msg_type\":\"execute_request\"}}",
        "x".repeat(108)
    );
    assert_eq!(header.len(), 150);
    vec![
        b"<IDS|MSG>".to_vec(),
        b"5e1f".repeat(16),
        header.into_bytes(),
        b"{}".to_vec(),
        b"{}".to_vec(),
        br#"{"code":"print(1)","silent":false,"x":"y"}"#.to_vec(),
    ]
}

fn to_bytes(frames: &[Vec<u8>]) -> Vec<Bytes> {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

/// Drives one core connection over a blocking TCP stream.
struct Driver {
    stream: TcpStream,
    conn: Connection,
    buf: BytesMut,
    deadline: Instant,
    /// Every byte we wrote, to look for commands in it.
    written: Vec<u8>,
    /// Every byte we read, likewise.
    read: Vec<u8>,
}

impl Driver {
    fn new(stream: TcpStream, socket_type: SocketType, identity: &'static [u8]) -> Self {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let conn = Connection::new(Config {
            socket_type,
            identity: Bytes::from_static(identity),
            max_message_size: 1 << 20,
        });
        Driver {
            stream,
            conn,
            buf: BytesMut::new(),
            deadline: Instant::now() + DEADLINE,
            written: Vec::new(),
            read: Vec::new(),
        }
    }

    fn flush(&mut self) {
        while let Some(chunk) = self.conn.poll_transmit() {
            self.stream.write_all(&chunk).expect("write");
            self.written.extend_from_slice(&chunk);
        }
    }

    /// Reads once (or times out) and feeds the connection; false at end of stream.
    fn read_once(&mut self) -> bool {
        assert!(Instant::now() < self.deadline, "deadline passed");
        self.flush();
        let mut tmp = [0u8; 65536];
        match self.stream.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                self.read.extend_from_slice(&tmp[..n]);
                self.conn
                    .handle_input(&mut self.buf)
                    .expect("valid ZMTP from libzmq");
                self.flush();
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => true,
            Err(e) => panic!("read: {e}"),
        }
    }

    fn next_event(&mut self) -> Event {
        loop {
            if let Some(e) = self.conn.poll_event() {
                return e;
            }
            assert!(self.read_once(), "peer closed while we waited for an event");
        }
    }

    fn next_message(&mut self) -> Vec<Bytes> {
        match self.next_event() {
            Event::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Keeps serving until the peer closes.
    fn until_closed(&mut self) {
        while self.read_once() {}
    }
}

/// Accepts one connection within the deadline.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + DEADLINE;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking");
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no client connected");
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// A core server on 127.0.0.1:0 running `serve` in a thread.
fn server(serve: impl FnOnce(TcpStream) + Send + 'static) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    (addr, thread::spawn(move || serve(accept(&listener))))
}

fn zmq_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("socket");
    s.set_rcvtimeo(ZMQ_TIMEOUT_MS).expect("rcvtimeo");
    s.set_sndtimeo(ZMQ_TIMEOUT_MS).expect("sndtimeo");
    s.set_linger(0).expect("linger");
    s
}

fn zmq_bind(s: &zmq::Socket) -> SocketAddr {
    s.bind("tcp://127.0.0.1:*").expect("bind");
    let ep = s.get_last_endpoint().expect("endpoint").expect("utf-8");
    ep.trim_start_matches("tcp://").parse().expect("address")
}

#[test]
fn zmtp_router_routes_back_to_zmq_dealer_identity() {
    let (addr, handle) = server(|s| {
        let mut d = Driver::new(s, SocketType::Router, b"");
        let mut table = RouterTable::new();
        let Event::Ready {
            socket_type,
            identity,
        } = d.next_event()
        else {
            panic!("expected READY first");
        };
        assert_eq!(socket_type, SocketType::Dealer);
        assert_eq!(identity.as_deref(), Some(&b"client-7"[..]));
        assert_eq!(d.conn.version(), Some((3, 1)));
        let id = table.attach(0u32, identity);
        // As a ROUTER application sees it: the routing id, then the frames.
        let mut routed = vec![id];
        routed.extend(d.next_message());
        assert_eq!(routed[1..], to_bytes(&jupyter())[..]);
        let to = table.lookup(&routed[0]).expect("routable");
        assert_eq!(to, 0);
        d.conn.send(&routed[1..]).expect("send");
        d.until_closed();
    });
    let ctx = zmq::Context::new();
    let dealer = zmq_socket(&ctx, zmq::DEALER);
    dealer.set_identity(b"client-7").expect("identity");
    dealer.connect(&format!("tcp://{addr}")).expect("connect");
    dealer.send_multipart(jupyter(), 0).expect("send");
    assert_eq!(dealer.recv_multipart(0).expect("reply"), jupyter());
    drop(dealer);
    handle.join().expect("server thread");
}

#[test]
fn zmtp_router_generates_ids_for_anonymous_zmq_dealers() {
    let (addr, handle) = server(|s| {
        let mut d = Driver::new(s, SocketType::Router, b"");
        let Event::Ready { identity, .. } = d.next_event() else {
            panic!("expected READY first");
        };
        assert_eq!(identity, None);
        let mut table = RouterTable::new();
        let id = table.attach(0u32, identity);
        assert_eq!(id.len(), 5);
        assert_eq!(id[0], 0);
        let m = d.next_message();
        assert_eq!(table.lookup(&id), Some(0));
        d.conn.send(&m).expect("send");
        d.until_closed();
    });
    let ctx = zmq::Context::new();
    let dealer = zmq_socket(&ctx, zmq::DEALER);
    dealer.connect(&format!("tcp://{addr}")).expect("connect");
    dealer.send_multipart(jupyter(), 0).expect("send");
    assert_eq!(dealer.recv_multipart(0).expect("reply"), jupyter());
    drop(dealer);
    handle.join().expect("server thread");
}

#[test]
fn zmtp_xpub_publishes_to_subscribed_zmq_sub() {
    let (addr, handle) = server(|s| {
        let mut d = Driver::new(s, SocketType::XPub, b"");
        assert!(matches!(
            d.next_event(),
            Event::Ready {
                socket_type: SocketType::Sub,
                ..
            }
        ));
        let mut subs = Subscriptions::new();
        match d.next_event() {
            Event::Subscribe(topic) => subs.subscribe(0u32, topic),
            other => panic!("expected a subscription, got {other:?}"),
        }
        // libzmq 4.3 sends a ZMTP 3.1 peer the SUBSCRIBE command, not the 0x01 message.
        assert!(d.read.windows(17).any(|w| w == b"\x09SUBSCRIBEkernel."));
        for topic in [&b"other.status"[..], &b"kernel.status"[..]] {
            let mut frames = vec![Bytes::copy_from_slice(topic)];
            frames.extend(to_bytes(&jupyter()));
            subs.for_each_match(topic, |_| d.conn.send(&frames).expect("send"));
        }
        d.until_closed();
    });
    let ctx = zmq::Context::new();
    let sub = zmq_socket(&ctx, zmq::SUB);
    sub.set_subscribe(b"kernel.").expect("subscribe");
    sub.connect(&format!("tcp://{addr}")).expect("connect");
    let got = sub.recv_multipart(0).expect("published message");
    assert_eq!(got[0], b"kernel.status");
    assert_eq!(got[1..], jupyter()[..]);
    drop(sub);
    handle.join().expect("server thread");
}

#[test]
fn zmtp_rep_echoes_to_zmq_req() {
    let (addr, handle) = server(|s| {
        let mut d = Driver::new(s, SocketType::Rep, b"");
        assert!(matches!(
            d.next_event(),
            Event::Ready {
                socket_type: SocketType::Req,
                ..
            }
        ));
        let (envelope, body) = rep_split(d.next_message()).expect("REQ sends a delimiter");
        assert_eq!(envelope, vec![Bytes::new()]);
        assert_eq!(body, to_bytes(&jupyter()));
        let mut reply = envelope;
        reply.extend(body);
        d.conn.send(&reply).expect("send");
        d.until_closed();
    });
    let ctx = zmq::Context::new();
    let req = zmq_socket(&ctx, zmq::REQ);
    req.connect(&format!("tcp://{addr}")).expect("connect");
    req.send_multipart(jupyter(), 0).expect("send");
    assert_eq!(req.recv_multipart(0).expect("reply"), jupyter());
    drop(req);
    handle.join().expect("server thread");
}

#[test]
fn zmtp_dealer_talks_to_zmq_router_with_heartbeats() {
    let ctx = zmq::Context::new();
    let router = zmq_socket(&ctx, zmq::ROUTER);
    // libzmq PINGs us every 10 ms; we must answer with PONG.
    router.set_heartbeat_ivl(10).expect("heartbeat");
    let addr = zmq_bind(&router);
    let client = thread::spawn(move || {
        let s = TcpStream::connect(addr).expect("connect");
        let mut d = Driver::new(s, SocketType::Dealer, b"ours-1");
        d.conn
            .send(&to_bytes(&jupyter()))
            .expect("queued before READY");
        assert!(matches!(
            d.next_event(),
            Event::Ready {
                socket_type: SocketType::Router,
                ..
            }
        ));
        assert_eq!(d.next_message(), to_bytes(&jupyter()));
        d.conn.send_ping(100, b"ctx-1").expect("3.1 peer");
        let mut pong = None;
        while pong.is_none() || !d.written.windows(5).any(|w| w == b"\x04PONG") {
            assert!(d.read_once(), "libzmq closed the connection");
            pong = pong.or_else(|| d.conn.poll_pong());
        }
        assert_eq!(pong, Some(Bytes::from_static(b"ctx-1")));
        // Still alive after our PONGs: one more round trip.
        d.conn.send(&[Bytes::from_static(b"again")]).expect("send");
        assert_eq!(d.next_message(), vec![Bytes::from_static(b"again")]);
    });
    let got = router.recv_multipart(0).expect("request");
    assert_eq!(got[0], b"ours-1");
    assert_eq!(got[1..], jupyter()[..]);
    router.send_multipart(&got, 0).expect("reply");
    let again = router.recv_multipart(0).expect("second request");
    assert_eq!(again, vec![b"ours-1".to_vec(), b"again".to_vec()]);
    router.send_multipart(&again, 0).expect("reply");
    client.join().expect("client thread");
}

#[test]
fn zmtp_sub_receives_from_zmq_pub() {
    let ctx = zmq::Context::new();
    let publisher = zmq_socket(&ctx, zmq::PUB);
    let addr = zmq_bind(&publisher);
    let done = Arc::new(AtomicBool::new(false));
    let done2 = Arc::clone(&done);
    let client = thread::spawn(move || {
        let s = TcpStream::connect(addr).expect("connect");
        let mut d = Driver::new(s, SocketType::Sub, b"");
        d.conn.subscribe(b"kernel.").expect("queued before READY");
        assert!(matches!(
            d.next_event(),
            Event::Ready {
                socket_type: SocketType::Pub,
                ..
            }
        ));
        let m = d.next_message();
        done2.store(true, Ordering::SeqCst);
        m
    });
    // PUB drops what it sends before the subscription arrives: keep publishing until the
    // subscriber has a message, within the deadline.
    let deadline = Instant::now() + DEADLINE;
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        publisher
            .send_multipart([&b"other.status"[..], b"x"], 0)
            .expect("publish");
        let mut frames = vec![b"kernel.status".to_vec()];
        frames.extend(jupyter());
        publisher.send_multipart(frames, 0).expect("publish");
        thread::sleep(Duration::from_millis(10));
    }
    let m = client.join().expect("client thread");
    assert_eq!(&m[0][..], b"kernel.status");
    assert_eq!(m[1..], to_bytes(&jupyter())[..]);
}

#[test]
fn zmtp_req_talks_to_zmq_rep() {
    let ctx = zmq::Context::new();
    let rep = zmq_socket(&ctx, zmq::REP);
    let addr = zmq_bind(&rep);
    let client = thread::spawn(move || {
        let s = TcpStream::connect(addr).expect("connect");
        let mut d = Driver::new(s, SocketType::Req, b"");
        d.conn
            .send(&req_wrap(to_bytes(&jupyter())))
            .expect("queued");
        assert!(matches!(
            d.next_event(),
            Event::Ready {
                socket_type: SocketType::Rep,
                ..
            }
        ));
        let (envelope, body) = rep_split(d.next_message()).expect("delimiter");
        assert_eq!(envelope, vec![Bytes::new()]);
        body
    });
    let got = rep.recv_multipart(0).expect("request");
    assert_eq!(got, jupyter());
    rep.send_multipart(&got, 0).expect("reply");
    assert_eq!(client.join().expect("client thread"), to_bytes(&jupyter()));
}
