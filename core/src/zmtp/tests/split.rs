//! Every split point of a valid peer stream gives the same events, and a partial unit is
//! never consumed.

use super::*;

/// A full DEALER peer stream and the offsets where its units (greeting, commands, frames)
/// end.
fn dealer_stream() -> (Vec<u8>, Vec<usize>) {
    let mut units: Vec<Vec<u8>> = vec![peer_greeting(1), ready("DEALER", b"client-1")];
    units.push(frame(b"<IDS|MSG>", true));
    units.push(frame(b"0123456789abcdef", true));
    units.push(frame(&[b'h'; 150], true));
    units.push(frame(b"{}", true));
    units.push(frame(b"{}", true));
    units.push(frame(&[b'c'; 42], false));
    units.push(command("PING", b"\x00\x0aab"));
    units.push(frame(&[b'L'; 1000], false));
    units.push(frame(b"", false));
    let mut stream = Vec::new();
    let mut ends = Vec::new();
    for u in units {
        stream.extend(u);
        ends.push(stream.len());
    }
    (stream, ends)
}

fn dealer_events() -> Vec<Event> {
    vec![
        Event::Ready {
            socket_type: SocketType::Dealer,
            identity: Some(b(b"client-1")),
        },
        Event::Message(vec![
            b(b"<IDS|MSG>"),
            b(b"0123456789abcdef"),
            Bytes::from(vec![b'h'; 150]),
            b(b"{}"),
            b(b"{}"),
            Bytes::from(vec![b'c'; 42]),
        ]),
        Event::Message(vec![Bytes::from(vec![b'L'; 1000])]),
        Event::Message(vec![b(b"")]),
    ]
}

#[test]
fn one_shot() {
    let (stream, _) = dealer_stream();
    let mut c = conn(SocketType::Router, b"", u64::MAX);
    let (evs, err) = feed_cut(&mut c, &stream, &[]);
    assert_eq!(err, None);
    assert_eq!(evs, dealer_events());
    assert!(c.is_ready());
    assert_eq!(c.peer_socket_type(), Some(SocketType::Dealer));
    assert_eq!(c.peer_identity(), Some(&b(b"client-1")));
    let out = transmit(&mut c);
    assert!(out.ends_with(b"\x04\x07\x04PONGab"));
}

#[test]
fn every_split_point_same_events_nothing_partial_consumed() {
    let (stream, ends) = dealer_stream();
    for cut in 0..=stream.len() {
        let mut c = conn(SocketType::Router, b"", u64::MAX);
        let mut buf = BytesMut::from(&stream[..cut]);
        c.handle_input(&mut buf).expect("a valid prefix");
        // Whole units before the cut are consumed; the partial one stays untouched.
        let done = ends
            .iter()
            .copied()
            .filter(|&e| e <= cut)
            .max()
            .unwrap_or(0);
        assert_eq!(buf.len(), cut - done, "cut at {cut}");
        assert_eq!(&buf[..], &stream[done..cut], "cut at {cut}");
        let mut evs = events(&mut c);
        buf.extend_from_slice(&stream[cut..]);
        c.handle_input(&mut buf).expect("the rest");
        assert!(buf.is_empty());
        evs.extend(events(&mut c));
        assert_eq!(evs, dealer_events(), "cut at {cut}");
    }
}

#[test]
fn byte_by_byte() {
    let (stream, _) = dealer_stream();
    let cuts: Vec<usize> = (1..stream.len()).collect();
    let mut c = conn(SocketType::Router, b"", u64::MAX);
    let (evs, err) = feed_cut(&mut c, &stream, &cuts);
    assert_eq!(err, None);
    assert_eq!(evs, dealer_events());
}

#[test]
fn every_split_point_xpub_stream() {
    let mut stream = peer_greeting(0);
    stream.extend(ready("SUB", b""));
    stream.extend(frame(b"\x01iopub", false));
    stream.extend(command("SUBSCRIBE", b"x"));
    stream.extend(frame(b"\x00iopub", false));
    let want = vec![
        Event::Ready {
            socket_type: SocketType::Sub,
            identity: None,
        },
        Event::Subscribe(b(b"iopub")),
        Event::Subscribe(b(b"x")),
        Event::Cancel(b(b"iopub")),
    ];
    for cut in 0..=stream.len() {
        let mut c = conn(SocketType::XPub, b"", u64::MAX);
        assert_eq!(feed_cut(&mut c, &stream, &[cut]), (want.clone(), None));
    }
}

/// With a 100-byte limit: a small message, a 3-frame message whose second frame is too
/// large, a message too large only in total, then a small one again.
#[test]
fn every_split_point_oversize() {
    let mut stream = peer_greeting(1);
    stream.extend(ready("DEALER", b""));
    stream.extend(message(&[b"first"]));
    stream.extend(message(&[b"head", &[9; 500], b"tail"]));
    stream.extend(message(&[&[1; 60], &[2; 60], b"more"]));
    stream.extend(message(&[b"last", b"one"]));
    let want = vec![
        Event::Ready {
            socket_type: SocketType::Dealer,
            identity: None,
        },
        Event::Message(vec![b(b"first")]),
        Event::Oversize { size: 500 },
        Event::Oversize { size: 60 },
        Event::Message(vec![b(b"last"), b(b"one")]),
    ];
    for cut in 0..=stream.len() {
        let mut c = conn(SocketType::Router, b"", 100);
        assert_eq!(
            feed_cut(&mut c, &stream, &[cut]),
            (want.clone(), None),
            "cut {cut}"
        );
    }
    for step in [1, 7, 64] {
        let cuts: Vec<usize> = (step..stream.len()).step_by(step).collect();
        let mut c = conn(SocketType::Router, b"", 100);
        assert_eq!(feed_cut(&mut c, &stream, &cuts), (want.clone(), None));
    }
}
