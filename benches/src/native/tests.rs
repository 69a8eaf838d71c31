//! The native transport against libzmq peers on 127.0.0.1: handshake, echo, subscription,
//! connecting before the peer listens, and reconnecting after it went away.

use super::*;

/// How long any of these tests may wait for the network.
const LIMIT: Duration = Duration::from_secs(10);

fn frames(parts: &[&'static [u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::from_static(p)).collect()
}

/// A libzmq socket bound to a free loopback port, and that port.
fn bound(ctx: &zmq::Context, kind: zmq::SocketType) -> (zmq::Socket, SocketAddr) {
    let socket = ctx.socket(kind).unwrap();
    socket.set_linger(0).unwrap();
    socket.bind("tcp://127.0.0.1:0").unwrap();
    let endpoint = socket.get_last_endpoint().unwrap().unwrap();
    (socket, loopback_endpoint(&endpoint).unwrap())
}

/// Echoes whatever a ROUTER has received (identity included, so it goes back to the sender).
fn echo(router: &zmq::Socket) {
    while let Ok(message) = router.recv_multipart(zmq::DONTWAIT) {
        router.send_multipart(message, 0).unwrap();
    }
}

/// Drives `stream` (and `peer` in between) until it yields a message, within [`LIMIT`].
fn next_message(stream: &mut ZmtpStream, mut peer: impl FnMut()) -> Vec<Bytes> {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        while let Some(event) = stream.poll_event() {
            if let Event::Message(frames) = event {
                return frames;
            }
        }
        stream.try_connect(Instant::now());
        stream.flush();
        stream.read().unwrap();
        peer();
        wait_ready(&[&*stream], Duration::from_millis(5)).unwrap();
    }
    panic!("no message within {LIMIT:?}");
}

#[test]
fn endpoints_are_tcp_on_loopback() {
    assert_eq!(
        loopback_endpoint("tcp://127.0.0.1:5555").unwrap(),
        "127.0.0.1:5555".parse().unwrap()
    );
    assert!(loopback_endpoint("tcp://[::1]:5555").is_ok());
    for bad in [
        "ipc:///tmp/x",
        "tcp://0.0.0.0:5555",
        "tcp://10.0.0.1:5555",
        "tcp://127.0.0.1",
        "tcp://localhost:5555",
        "",
    ] {
        assert!(
            matches!(loopback_endpoint(bad), Err(BenchError::Usage(_))),
            "{bad}"
        );
    }
    let Err(BenchError::Usage(why)) = loopback_endpoint("ipc:///tmp/k") else {
        panic!("ipc accepted");
    };
    assert!(why.contains("--client zmq"), "{why}");
}

#[test]
fn dealer_round_trips_through_a_libzmq_router() {
    let ctx = zmq::Context::new();
    let (router, addr) = bound(&ctx, zmq::ROUTER);
    let mut stream = ZmtpStream::new("test", addr, SocketType::Dealer);
    // Many messages at once, large and small, so that writes and reads span chunks.
    let big = Bytes::from(vec![7u8; 200_000]);
    for i in 0..50u8 {
        let mut message = frames(&[b"<IDS|MSG>", b"sig"]);
        message.push(Bytes::from(vec![i; usize::from(i) * 10]));
        if i % 10 == 0 {
            message.push(big.clone());
        }
        stream.send(&message).unwrap();
    }
    for i in 0..50u8 {
        let got = next_message(&mut stream, || echo(&router));
        assert_eq!(got[..2], frames(&[b"<IDS|MSG>", b"sig"]));
        assert_eq!(got[2], vec![i; usize::from(i) * 10]);
        assert_eq!(got.len(), if i % 10 == 0 { 4 } else { 3 });
    }
}

#[test]
fn connects_once_the_peer_listens() {
    let port = crate::kernel::free_ports(1).unwrap()[0];
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut stream = ZmtpStream::new("test", addr, SocketType::Dealer);
    let t0 = Instant::now();
    stream.try_connect(t0);
    assert!(stream.retry_in(t0).is_some(), "nobody listens yet");
    assert!(stream.retry_in(t0).unwrap() <= RETRY);
    // Sent before the connection exists: it waits in the connection.
    stream.send(&frames(&[b"early"])).unwrap();
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER).unwrap();
    router.set_linger(0).unwrap();
    router.bind(&format!("tcp://{addr}")).unwrap();
    let got = next_message(&mut stream, || echo(&router));
    assert_eq!(got, frames(&[b"early"]));
    assert_eq!(stream.retry_in(Instant::now()), None);
}

#[test]
fn sub_receives_what_a_libzmq_pub_publishes() {
    let ctx = zmq::Context::new();
    let (publisher, addr) = bound(&ctx, zmq::PUB);
    let mut stream = ZmtpStream::new("test", addr, SocketType::Sub);
    // PUB drops messages until the subscription arrives: publish until one gets through.
    let got = next_message(&mut stream, || {
        publisher
            .send_multipart([&b"kernel.x.status"[..], b"<IDS|MSG>"], 0)
            .unwrap();
    });
    assert_eq!(got, frames(&[b"kernel.x.status", b"<IDS|MSG>"]));
}

#[test]
fn reconnects_after_the_peer_goes_away() {
    let ctx = zmq::Context::new();
    let (router, addr) = bound(&ctx, zmq::ROUTER);
    let mut stream = ZmtpStream::new("test", addr, SocketType::Dealer);
    stream.send(&frames(&[b"one"])).unwrap();
    assert_eq!(
        next_message(&mut stream, || echo(&router)),
        frames(&[b"one"])
    );
    drop(router);
    // The stream notices the close and waits to reconnect.
    let deadline = Instant::now() + LIMIT;
    while stream.retry_in(Instant::now()).is_none() && Instant::now() < deadline {
        stream.read().unwrap();
        wait_ready(&[&stream], Duration::from_millis(5)).unwrap();
    }
    assert!(
        stream.retry_in(Instant::now()).is_some(),
        "close not noticed"
    );
    let router = ctx.socket(zmq::ROUTER).unwrap();
    router.set_linger(0).unwrap();
    router.bind(&format!("tcp://{addr}")).unwrap();
    stream.send(&frames(&[b"two"])).unwrap();
    assert_eq!(
        next_message(&mut stream, || echo(&router)),
        frames(&[b"two"])
    );
}
