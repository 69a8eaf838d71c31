//! Two connections wired together in memory.

use super::super::socket::{rep_split, req_wrap, RouterTable, Subscriptions};
use super::*;

/// A Jupyter-shaped message: delimiter, HMAC, header, parent, metadata, content.
fn jupyter() -> Vec<Bytes> {
    vec![
        b(b"<IDS|MSG>"),
        Bytes::from(vec![b'f'; 64]),
        Bytes::from(vec![b'h'; 150]),
        b(b"{}"),
        b(b"{}"),
        Bytes::from(vec![b'c'; 42]),
    ]
}

#[test]
fn dealer_router_with_identity_and_early_send() {
    let mut dealer = conn(SocketType::Dealer, b"dealer-1", u64::MAX);
    // Sent before the handshake: queued until the peer's READY.
    dealer.send(&jupyter()).expect("queued");
    let router = conn(SocketType::Router, b"", u64::MAX);
    let mut p = Pair::new(dealer, router);
    let (ea, eb) = p.pump();
    assert_eq!(
        ea,
        vec![Event::Ready {
            socket_type: SocketType::Router,
            identity: None
        }]
    );
    assert_eq!(
        eb,
        vec![
            Event::Ready {
                socket_type: SocketType::Dealer,
                identity: Some(b(b"dealer-1")),
            },
            Event::Message(jupyter()),
        ]
    );
    let mut table = RouterTable::new();
    let id = table.attach(7u32, p.b.peer_identity().cloned());
    assert_eq!(&id[..], b"dealer-1");
    assert_eq!(table.lookup(&id), Some(7));
    p.b.send(&jupyter()).expect("ready");
    let (ea, eb) = p.pump();
    assert_eq!(ea, vec![Event::Message(jupyter())]);
    assert!(eb.is_empty());
}

#[test]
fn large_frames_are_zero_copy_both_ways() {
    let mut p = Pair::new(
        conn(SocketType::Dealer, b"", u64::MAX),
        conn(SocketType::Router, b"", u64::MAX),
    );
    let _ = p.pump();
    let big = Bytes::from((0..100_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    p.a.send(&[b(b"small"), big.clone(), b(b"tail")])
        .expect("ready");
    // Sending: the 100 KB frame comes out as the caller's own Bytes.
    let chunks: Vec<Bytes> = std::iter::from_fn(|| p.a.poll_transmit()).collect();
    assert_eq!(chunks.len(), 3, "header chunk, the frame itself, the tail");
    assert_eq!(chunks[1].as_ptr(), big.as_ptr());
    // Receiving: frames are views into the read buffer.
    let mut input = BytesMut::with_capacity(200_000);
    for c in &chunks {
        input.extend_from_slice(c);
    }
    let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    p.b.handle_input(&mut input).expect("valid");
    let evs = events(&mut p.b);
    let Some(Event::Message(frames)) = evs.first() else {
        panic!("expected a message, got {evs:?}");
    };
    assert_eq!(frames[1], big);
    for f in frames {
        assert!(range.contains(&(f.as_ptr() as usize)), "frame copied");
    }
}

#[test]
fn small_messages_coalesce_into_one_chunk() {
    let mut p = Pair::new(
        conn(SocketType::Dealer, b"", u64::MAX),
        conn(SocketType::Router, b"", u64::MAX),
    );
    let _ = p.pump();
    for _ in 0..50 {
        p.a.send(&jupyter()).expect("ready");
    }
    let chunks: Vec<Bytes> = std::iter::from_fn(|| p.a.poll_transmit()).collect();
    assert_eq!(chunks.len(), 1);
    let mut input = BytesMut::from(&chunks[0][..]);
    p.b.handle_input(&mut input).expect("valid");
    assert_eq!(events(&mut p.b), vec![Event::Message(jupyter()); 50]);
}

#[test]
fn sub_xpub_subscriptions_and_publishing() {
    let mut sub = conn(SocketType::Sub, b"", u64::MAX);
    sub.subscribe(b"").expect("queued before the handshake");
    sub.subscribe(b"").expect("queued");
    let mut p = Pair::new(sub, conn(SocketType::XPub, b"", u64::MAX));
    let (_, eb) = p.pump();
    assert_eq!(
        eb[1..],
        [Event::Subscribe(b(b"")), Event::Subscribe(b(b""))]
    );
    let mut subs = Subscriptions::new();
    for e in eb {
        if let Event::Subscribe(t) = e {
            subs.subscribe(1u32, t);
        }
    }
    p.a.cancel(b"").expect("SUB");
    let (_, eb) = p.pump();
    assert_eq!(eb, vec![Event::Cancel(b(b""))]);
    subs.cancel(1, b"");
    // Still subscribed once: publish.
    let mut hit = Vec::new();
    subs.for_each_match(b"status", |c| hit.push(c));
    assert_eq!(hit, vec![1]);
    p.b.send(&jupyter()).expect("ready");
    let (ea, _) = p.pump();
    assert_eq!(ea, vec![Event::Message(jupyter())]);
}

#[test]
fn req_rep_echo_with_envelope() {
    let mut p = Pair::new(
        conn(SocketType::Req, b"", u64::MAX),
        conn(SocketType::Rep, b"", u64::MAX),
    );
    p.a.send(&req_wrap(jupyter())).expect("queued");
    let (_, eb) = p.pump();
    let Some(Event::Message(frames)) = eb.get(1).cloned() else {
        panic!("expected a message, got {eb:?}");
    };
    let (envelope, body) = rep_split(frames).expect("REQ sent a delimiter");
    assert_eq!(envelope, vec![b(b"")]);
    assert_eq!(body, jupyter());
    let mut reply = envelope;
    reply.extend(body);
    p.b.send(&reply).expect("ready");
    let (ea, _) = p.pump();
    assert_eq!(ea, vec![Event::Message(req_wrap(jupyter()))]);
}

#[test]
fn oversize_is_skipped_unbuffered_and_the_connection_lives_on() {
    let mut p = Pair::new(
        conn(SocketType::Dealer, b"", u64::MAX),
        conn(SocketType::Router, b"", 10_000),
    );
    let _ = p.pump();
    let big = Bytes::from(vec![5u8; 100_000]);
    p.a.send(&[b(b"id"), big, b(b"after")]).expect("ready");
    p.a.send(&jupyter()).expect("ready");
    let stream = transmit(&mut p.a);
    // Fed in 1000-byte reads: the skipped bytes never pile up in the buffer.
    let mut input = BytesMut::new();
    let mut evs = Vec::new();
    for piece in stream.chunks(1000) {
        input.extend_from_slice(piece);
        p.b.handle_input(&mut input).expect("valid");
        assert!(input.len() < 1000 + 9, "buffered {} bytes", input.len());
        evs.extend(events(&mut p.b));
    }
    assert_eq!(
        evs,
        vec![Event::Oversize { size: 100_000 }, Event::Message(jupyter())]
    );
    p.b.send(&[b(b"still"), b(b"alive")]).expect("ready");
    let (ea, _) = p.pump();
    assert_eq!(ea, vec![Event::Message(vec![b(b"still"), b(b"alive")])]);
}

#[test]
fn incompatible_socket_types_fail_with_error_command() {
    let mut a = conn(SocketType::Dealer, b"", u64::MAX);
    let mut bside = conn(SocketType::Sub, b"", u64::MAX);
    let (mut a_in, mut b_in) = (BytesMut::new(), BytesMut::new());
    for _ in 0..3 {
        a_in.extend_from_slice(&transmit(&mut bside));
        b_in.extend_from_slice(&transmit(&mut a));
        let _ = a.handle_input(&mut a_in);
        let _ = bside.handle_input(&mut b_in);
    }
    let ea = a.error().cloned().expect("DEALER refuses SUB");
    assert!(matches!(ea, ZmtpError::Protocol(_)), "{ea:?}");
    let eb = bside.error().cloned().expect("SUB refuses DEALER");
    assert!(matches!(eb, ZmtpError::Protocol(_)), "{eb:?}");
    // Dead connections keep failing the same way, and refuse to send.
    assert_eq!(a.handle_input(&mut BytesMut::new()), Err(ea));
    assert!(matches!(a.send(&[b(b"x")]), Err(ZmtpError::Usage(_))));
}

#[test]
fn peer_error_command_is_reported() {
    let mut a = conn(SocketType::Dealer, b"", u64::MAX);
    let mut stream = peer_greeting(1);
    stream.extend(command("ERROR", b"\x06denied"));
    let err = a.handle_input(&mut BytesMut::from(&stream[..]));
    assert_eq!(
        err,
        Err(ZmtpError::Protocol("peer sent ERROR: denied".into()))
    );
    // No ERROR goes back for a peer's ERROR: only greeting and READY were queued.
    let out = transmit(&mut a);
    assert!(!out.windows(5).any(|w| w == b"ERROR"));
}
