//! Rejected input: each error is typed by fault, and the connection stays dead.

use super::*;

fn fail_with(socket_type: SocketType, stream: &[u8]) -> ZmtpError {
    let mut c = conn(socket_type, b"", u64::MAX);
    let mut buf = BytesMut::from(stream);
    let err = c.handle_input(&mut buf).expect_err("must be rejected");
    assert_eq!(c.handle_input(&mut buf), Err(err.clone()), "sticky error");
    assert_eq!(c.error(), Some(&err));
    err
}

fn after_handshake(peer: &str, rest: &[u8]) -> ZmtpError {
    let mut stream = peer_greeting(1);
    stream.extend(ready(peer, b""));
    stream.extend_from_slice(rest);
    fail_with(SocketType::Router, &stream)
}

#[test]
fn bad_greetings() {
    let mut g = peer_greeting(1);
    g[0] = 0x00;
    assert!(matches!(
        fail_with(SocketType::Router, &g),
        ZmtpError::Malformed(_)
    ));
    let mut g = peer_greeting(1);
    g[9] = 0x00;
    assert!(matches!(
        fail_with(SocketType::Router, &g),
        ZmtpError::Malformed(_)
    ));
    let mut g = peer_greeting(1);
    g[10] = 2;
    assert!(matches!(
        fail_with(SocketType::Router, &g),
        ZmtpError::Protocol(_)
    ));
    let mut g = peer_greeting(1);
    g[12..17].copy_from_slice(b"PLAIN");
    assert!(matches!(
        fail_with(SocketType::Router, &g),
        ZmtpError::Protocol(_)
    ));
    let mut g = peer_greeting(1);
    g[12..18].copy_from_slice(b"NULLX\0");
    assert!(matches!(
        fail_with(SocketType::Router, &g),
        ZmtpError::Protocol(_)
    ));
}

#[test]
fn bad_greeting_prefixes_fail_early() {
    // Non-ZMTP and ZMTP 2.0 peers wait for us after a few bytes: reject what is there.
    assert!(matches!(
        fail_with(SocketType::Router, b"GET /"),
        ZmtpError::Malformed(_)
    ));
    let zmtp2 = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1];
    assert!(matches!(
        fail_with(SocketType::Router, &zmtp2),
        ZmtpError::Protocol(_)
    ));
    assert!(matches!(
        fail_with(
            SocketType::Router,
            &peer_greeting(1)[..14]
                .iter()
                .map(|&x| if x == b'U' { b'X' } else { x })
                .collect::<Vec<_>>()
        ),
        ZmtpError::Protocol(_)
    ));
}

#[test]
fn later_versions_are_accepted() {
    for (major, minor, want) in [
        (3, 0, (3, 0)),
        (3, 1, (3, 1)),
        (3, 7, (3, 1)),
        (4, 0, (3, 1)),
    ] {
        let mut g = peer_greeting(minor);
        g[10] = major;
        let mut c = conn(SocketType::Router, b"", u64::MAX);
        c.handle_input(&mut BytesMut::from(&g[..]))
            .expect("accepted");
        assert_eq!(c.version(), Some(want));
    }
}

#[test]
fn handshake_violations() {
    let g = peer_greeting(1);
    let with = |rest: &[u8]| [&g[..], rest].concat();
    let e = fail_with(SocketType::Router, &with(&frame(b"early", false)));
    assert!(matches!(e, ZmtpError::Protocol(_)), "{e:?}");
    let e = fail_with(SocketType::Router, &with(&command("PING", b"\0\0")));
    assert!(matches!(e, ZmtpError::Protocol(_)), "{e:?}");
    let e = fail_with(
        SocketType::Router,
        &with(&command("READY", &prop("Identity", b"x"))),
    );
    assert!(
        matches!(e, ZmtpError::Protocol(_)),
        "missing Socket-Type: {e:?}"
    );
    let e = fail_with(SocketType::Router, &with(&ready("WIDGET", b"")));
    assert!(matches!(e, ZmtpError::Protocol(_)), "{e:?}");
    let e = fail_with(SocketType::Router, &with(&ready("PUB", b"")));
    assert!(matches!(e, ZmtpError::Protocol(_)), "{e:?}");
    let e = fail_with(
        SocketType::Router,
        &with(&command("READY", b"\x0bSocket-Type\x00\x00\x00\x09DEAL")),
    );
    assert!(matches!(e, ZmtpError::Malformed(_)), "{e:?}");
    let e = fail_with(SocketType::Router, &with(&command("READY", b"\x0bSocket")));
    assert!(matches!(e, ZmtpError::Malformed(_)), "{e:?}");
    let e = fail_with(SocketType::Router, &with(b"\x04\x00"));
    assert!(matches!(e, ZmtpError::Malformed(_)), "{e:?}");
    let e = fail_with(SocketType::Router, &with(b"\x04\x03\x05REA"));
    assert!(matches!(e, ZmtpError::Malformed(_)), "{e:?}");
}

#[test]
fn traffic_violations() {
    let e = after_handshake("DEALER", &ready("DEALER", b""));
    assert!(matches!(e, ZmtpError::Protocol(_)), "{e:?}");
    let e = after_handshake("DEALER", b"\x08\x00");
    assert!(matches!(e, ZmtpError::Malformed(_)), "reserved flag: {e:?}");
    let e = after_handshake("DEALER", b"\x05\x00");
    assert!(
        matches!(e, ZmtpError::Malformed(_)),
        "command with MORE: {e:?}"
    );
    let inside = [frame(b"a", true), command("PING", b"\0\0")].concat();
    let e = after_handshake("DEALER", &inside);
    assert!(
        matches!(e, ZmtpError::Malformed(_)),
        "command inside message: {e:?}"
    );
    let e = after_handshake("DEALER", &command("PING", b"\0"));
    assert!(matches!(e, ZmtpError::Malformed(_)), "{e:?}");
    let e = after_handshake("DEALER", &command("ERROR", b"\x03bye"));
    assert_eq!(e, ZmtpError::Protocol("peer sent ERROR: bye".into()));
    let huge = [0x06, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    let e = after_handshake("DEALER", &huge);
    assert!(matches!(e, ZmtpError::Protocol(_)), "huge command: {e:?}");
}

#[test]
fn unknown_commands_are_ignored_after_the_handshake() {
    let mut stream = peer_greeting(1);
    stream.extend(ready("DEALER", b""));
    stream.extend(command("FUTURE", b"stuff"));
    stream.extend(frame(b"ok", false));
    let mut c = conn(SocketType::Router, b"", u64::MAX);
    let (evs, err) = feed_cut(&mut c, &stream, &[]);
    assert_eq!(err, None);
    assert_eq!(evs[1..], [Event::Message(vec![b(b"ok")])]);
}

#[test]
fn huge_announced_frame_allocates_nothing_and_waits() {
    let mut stream = peer_greeting(1);
    stream.extend(ready("DEALER", b""));
    stream.extend_from_slice(&[
        0x02, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3,
    ]);
    let mut c = conn(SocketType::Router, b"", u64::MAX);
    let mut buf = BytesMut::from(&stream[..]);
    c.handle_input(&mut buf).expect("waits for the body");
    assert_eq!(buf.len(), 12);
    // With a limit, the same frame is skipped instead.
    let mut c = conn(SocketType::Router, b"", 1 << 20);
    let mut buf = BytesMut::from(&stream[..]);
    c.handle_input(&mut buf).expect("skips the body");
    assert!(buf.is_empty());
    assert_eq!(
        events(&mut c)[1..],
        [Event::Oversize {
            size: i64::MAX as u64
        }]
    );
}

#[test]
fn send_misuse() {
    let mut c = conn(SocketType::Dealer, b"", u64::MAX);
    assert!(matches!(c.send(&[]), Err(ZmtpError::Usage(_))));
    let _ = c.handle_input(&mut BytesMut::from(&b"junk"[..]));
    assert!(matches!(c.send(&[b(b"x")]), Err(ZmtpError::Usage(_))));
    assert!(matches!(c.subscribe(b"x"), Err(ZmtpError::Usage(_))));
    let e = ZmtpError::Usage("x".into());
    assert_eq!(e.to_string(), "ZMTP API misuse: x");
}
