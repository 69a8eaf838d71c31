//! Exact bytes on the wire, written out by hand from specs 23 and 37.

use super::*;

/// Our greeting, our READY as a ROUTER with identity `abc`: the handshake bytes.
#[test]
fn greeting_bytes() {
    let mut c = conn(SocketType::Router, b"", u64::MAX);
    let g = transmit(&mut c);
    let mut want = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0x03, 0x01];
    want.extend_from_slice(b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    want.push(0x00);
    want.extend_from_slice(&[0u8; 31]);
    assert_eq!(g, want);
    assert!(c.poll_transmit().is_none());
    assert!(!c.is_ready());
}

#[test]
fn ready_bytes_router_with_identity() {
    let mut c = conn(SocketType::Router, b"abc", u64::MAX);
    let _ = transmit(&mut c);
    let mut buf = BytesMut::from(&peer_greeting(1)[..]);
    c.handle_input(&mut buf).expect("valid greeting");
    assert!(buf.is_empty());
    let mut want = vec![0x04, 44, 5];
    want.extend_from_slice(b"READY");
    want.extend_from_slice(b"\x0bSocket-Type\x00\x00\x00\x06ROUTER");
    want.extend_from_slice(b"\x08Identity\x00\x00\x00\x03abc");
    assert_eq!(transmit(&mut c), want);
}

#[test]
fn ready_without_identity_has_only_socket_type() {
    let mut c = conn(SocketType::XPub, b"", u64::MAX);
    let _ = transmit(&mut c);
    c.handle_input(&mut BytesMut::from(&peer_greeting(1)[..]))
        .expect("valid greeting");
    let mut want = vec![0x04, 26, 5];
    want.extend_from_slice(b"READY\x0bSocket-Type\x00\x00\x00\x04XPUB");
    assert_eq!(transmit(&mut c), want);
}

/// A ROUTER after the handshake with a DEALER peer (3.`minor`), its output drained.
fn ready_router(minor: u8) -> Connection {
    let mut c = conn(SocketType::Router, b"", u64::MAX);
    let mut stream = peer_greeting(minor);
    stream.extend(ready("DEALER", b"peer"));
    let mut buf = BytesMut::from(&stream[..]);
    c.handle_input(&mut buf).expect("valid handshake");
    assert_eq!(
        events(&mut c),
        vec![Event::Ready {
            socket_type: SocketType::Dealer,
            identity: Some(b(b"peer")),
        }]
    );
    let _ = transmit(&mut c);
    c
}

#[test]
fn short_long_and_multipart_frames() {
    let mut c = ready_router(1);
    c.send(&[b(b"hello")]).expect("ready");
    assert_eq!(transmit(&mut c), b"\x00\x05hello");

    let body = Bytes::from(vec![0xAB; 300]);
    c.send(std::slice::from_ref(&body)).expect("ready");
    let mut want = vec![0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x2C];
    want.extend_from_slice(&body);
    assert_eq!(transmit(&mut c), want);

    c.send(&[b(b"a"), b(b"bb"), b(b"ccc")]).expect("ready");
    assert_eq!(transmit(&mut c), b"\x01\x01a\x01\x02bb\x00\x03ccc");

    c.send(&[b(b""), Bytes::from(vec![7; 256])]).expect("ready");
    let mut want = vec![0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
    want.extend_from_slice(&[7; 256]);
    assert_eq!(transmit(&mut c), want);
}

#[test]
fn received_frames_short_long_multipart() {
    let mut c = ready_router(1);
    let mut stream = frame(b"hello", false);
    stream.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0, 3]);
    stream.extend_from_slice(b"xyz");
    stream.extend_from_slice(b"\x01\x01a\x01\x00\x00\x03ccc");
    let mut buf = BytesMut::from(&stream[..]);
    c.handle_input(&mut buf).expect("valid frames");
    assert!(buf.is_empty());
    assert_eq!(
        events(&mut c),
        vec![
            Event::Message(vec![b(b"hello")]),
            Event::Message(vec![b(b"xyz")]),
            Event::Message(vec![b(b"a"), b(b""), b(b"ccc")]),
        ]
    );
}

#[test]
fn ping_gets_pong_with_context() {
    let mut c = ready_router(1);
    let mut buf = BytesMut::from(&b"\x04\x0a\x04PING\x00\x64abc"[..]);
    c.handle_input(&mut buf).expect("valid PING");
    assert_eq!(transmit(&mut c), b"\x04\x08\x04PONGabc");
    // A context over 16 bytes is cut to 16, as libzmq does.
    let long = command("PING", b"\x00\x01abcdefghijklmnopqrstuvwxyz");
    c.handle_input(&mut BytesMut::from(&long[..]))
        .expect("valid PING");
    assert_eq!(transmit(&mut c), command("PONG", b"abcdefghijklmnop"));
    assert!(events(&mut c).is_empty());

    c.send_ping(50, b"ctx").expect("3.1 peer");
    assert_eq!(transmit(&mut c), b"\x04\x0a\x04PING\x00\x32ctx");
    c.handle_input(&mut BytesMut::from(&b"\x04\x08\x04PONGctx"[..]))
        .expect("valid PONG");
    assert_eq!(c.poll_pong(), Some(b(b"ctx")));
    assert_eq!(c.poll_pong(), None);
}

#[test]
fn ping_needs_zmtp_3_1() {
    let mut c = ready_router(0);
    assert_eq!(c.version(), Some((3, 0)));
    assert!(matches!(c.send_ping(1, b""), Err(ZmtpError::Usage(_))));
    let mut early = conn(SocketType::Router, b"", u64::MAX);
    assert!(matches!(early.send_ping(1, b""), Err(ZmtpError::Usage(_))));
    let mut c = ready_router(1);
    assert!(matches!(c.send_ping(1, &[0; 17]), Err(ZmtpError::Usage(_))));
}

/// A SUB after the handshake with an XPUB peer speaking 3.`minor`.
fn ready_sub(minor: u8) -> Connection {
    let mut c = conn(SocketType::Sub, b"", u64::MAX);
    let mut stream = peer_greeting(minor);
    stream.extend(ready("XPUB", b""));
    c.handle_input(&mut BytesMut::from(&stream[..]))
        .expect("valid handshake");
    let _ = transmit(&mut c);
    c
}

#[test]
fn subscribe_and_cancel_bytes() {
    let mut c = ready_sub(1);
    c.subscribe(b"top").expect("SUB");
    assert_eq!(transmit(&mut c), b"\x04\x0d\x09SUBSCRIBEtop");
    c.cancel(b"top").expect("SUB");
    assert_eq!(transmit(&mut c), b"\x04\x0a\x06CANCELtop");

    let mut c = ready_sub(0);
    c.subscribe(b"top").expect("SUB");
    assert_eq!(transmit(&mut c), b"\x00\x04\x01top");
    c.cancel(b"").expect("SUB");
    assert_eq!(transmit(&mut c), b"\x00\x01\x00");

    let mut r = ready_router(1);
    assert!(matches!(r.subscribe(b""), Err(ZmtpError::Usage(_))));
}

#[test]
fn xpub_receives_both_subscription_forms() {
    let mut c = conn(SocketType::XPub, b"", u64::MAX);
    let mut stream = peer_greeting(1);
    stream.extend(ready("SUB", b""));
    stream.extend_from_slice(b"\x04\x0d\x09SUBSCRIBEtop");
    stream.extend_from_slice(b"\x04\x0a\x06CANCELtop");
    stream.extend_from_slice(b"\x00\x01\x01");
    stream.extend_from_slice(b"\x00\x03\x00ab");
    // Not subscriptions: a multipart message, an empty frame, another first byte.
    stream.extend_from_slice(b"\x01\x01\x01\x00\x00\x00\x00\x00\x01\x02");
    let mut buf = BytesMut::from(&stream[..]);
    c.handle_input(&mut buf).expect("valid stream");
    assert_eq!(
        events(&mut c),
        vec![
            Event::Ready {
                socket_type: SocketType::Sub,
                identity: None
            },
            Event::Subscribe(b(b"top")),
            Event::Cancel(b(b"top")),
            Event::Subscribe(b(b"")),
            Event::Cancel(b(b"ab")),
            Event::Message(vec![b(b"\x01"), b(b"")]),
            Event::Message(vec![b(b"")]),
            Event::Message(vec![b(b"\x02")]),
        ]
    );
}

#[test]
fn non_publishers_ignore_subscribe_commands() {
    let mut c = ready_router(1);
    let mut buf = BytesMut::from(&b"\x04\x0d\x09SUBSCRIBEtop\x00\x01\x01"[..]);
    c.handle_input(&mut buf).expect("valid stream");
    assert_eq!(events(&mut c), vec![Event::Message(vec![b(b"\x01")])]);
}
