//! The stream on its own: endpoints, the write queue, connection retries, and one
//! exchange with a peer on core's ZMTP over a Unix socket pair's listener.

use super::*;
use crate::testutil::TempDir;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;

fn info(transport: Transport, ip: &str) -> ConnectionInfo {
    ConnectionInfo {
        shell_port: 5555,
        iopub_port: 5556,
        stdin_port: 5557,
        control_port: 5558,
        hb_port: 5559,
        ip: ip.into(),
        key: String::new(),
        transport,
        signature_scheme: "hmac-sha256".into(),
        kernel_name: String::new(),
    }
}

#[test]
fn endpoints_are_those_libzmq_would_dial() {
    let tcp = Endpoint::of(&info(Transport::Tcp, "10.0.0.7"), Channel::Iopub);
    assert_eq!(
        tcp,
        Endpoint::Tcp {
            host: "10.0.0.7".into(),
            port: 5556
        }
    );
    assert_eq!(tcp.to_string(), "tcp://10.0.0.7:5556");
    let ipc = Endpoint::of(&info(Transport::Ipc, "/run/k"), Channel::Shell);
    assert_eq!(ipc, Endpoint::Ipc(PathBuf::from("/run/k-5555")));
    assert_eq!(ipc.to_string(), "ipc:///run/k-5555");
    // The endpoint text is the connection file's, as `ConnectionInfo::endpoint` spells it.
    for transport in [Transport::Tcp, Transport::Ipc] {
        let i = info(transport, "127.0.0.1");
        assert_eq!(
            Endpoint::of(&i, Channel::Shell).to_string(),
            i.endpoint(Channel::Shell)
        );
    }
}

#[test]
fn a_refused_connection_is_retried_later_and_says_why() {
    let dir = TempDir::new("stream-refused");
    let path = dir.path().join("nobody-1");
    let now = Instant::now();
    let mut s = ZmtpStream::new(
        Endpoint::Ipc(path),
        SocketType::Dealer,
        BufferSizes::default(),
        u64::MAX,
        now,
    );
    s.try_connect(now, now + Duration::from_secs(1)).unwrap();
    assert!(!s.is_connected());
    assert!(s.last_refusal().is_some());
    let next = s.next_try().expect("a retry is due");
    assert!(next > now);
    // Not again before the retry time: nothing changes, nothing blocks.
    s.try_connect(now, now + Duration::from_secs(1)).unwrap();
    assert_eq!(s.next_try(), Some(next));
    assert!(s.poll_fd().is_none());
    // Reading and flushing an unconnected stream do nothing.
    assert_eq!(s.read(), Ok(0));
    assert_eq!(s.flush(), Ok(()));
}

#[test]
fn a_host_that_does_not_resolve_is_an_error() {
    let now = Instant::now();
    let mut s = ZmtpStream::new(
        Endpoint::Tcp {
            host: "no-such-host.invalid".into(),
            port: 1,
        },
        SocketType::Dealer,
        BufferSizes::default(),
        u64::MAX,
        now,
    );
    let err = s
        .try_connect(now, now + Duration::from_secs(1))
        .unwrap_err();
    assert!(matches!(err, StreamError::Resolve(_)), "{err}");
}

#[test]
fn a_message_goes_both_ways_with_a_core_peer_over_ipc() {
    let dir = TempDir::new("stream-ipc");
    let path = dir.path().join("k-1");
    let listener = UnixListener::bind(&path).unwrap();
    let now = Instant::now();
    let mut s = ZmtpStream::new(
        Endpoint::Ipc(path),
        SocketType::Dealer,
        BufferSizes {
            send: Some(64 * 1024),
            receive: Some(64 * 1024),
        },
        u64::MAX,
        now,
    );
    // Queued before the connection exists: it waits in the connection.
    s.send(&[Bytes::from_static(b"ping")]).unwrap();
    s.try_connect(now, now + Duration::from_secs(1)).unwrap();
    assert!(s.is_connected());
    let peer = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut conn = Connection::new(Config::new(SocketType::Router));
        let mut input = BytesMut::new();
        let mut buf = [0u8; 4096];
        for _ in 0..100 {
            while let Some(chunk) = conn.poll_transmit() {
                sock.write_all(&chunk).unwrap();
            }
            while let Some(event) = conn.poll_event() {
                if let Event::Message(frames) = event {
                    assert_eq!(frames, [Bytes::from_static(b"ping")]);
                    conn.send(&[Bytes::from_static(b"pong")]).unwrap();
                    while let Some(chunk) = conn.poll_transmit() {
                        sock.write_all(&chunk).unwrap();
                    }
                    return sock;
                }
            }
            let n = sock.read(&mut buf).unwrap();
            assert!(n > 0);
            input.extend_from_slice(&buf[..n]);
            conn.handle_input(&mut input).unwrap();
        }
        panic!("no message");
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = None;
    while got.is_none() && Instant::now() < deadline {
        s.flush().unwrap();
        let ready = wait_ready(
            &[&s],
            deadline.min(Instant::now() + Duration::from_millis(100)),
        );
        if ready.unwrap()[0] & libc::POLLIN != 0 {
            s.read().unwrap();
        }
        while let Some(event) = s.poll_event() {
            if let Event::Message(frames) = event {
                got = Some(frames);
            }
        }
    }
    assert!(s.is_ready());
    assert_eq!(got, Some(vec![Bytes::from_static(b"pong")]));
    // The peer closes: the stream says so.
    drop(peer.join().unwrap());
    let mut closed = None;
    for _ in 0..100 {
        let _ = wait_ready(&[&s], Instant::now() + Duration::from_millis(100));
        match s.read() {
            Ok(_) => {}
            Err(e) => {
                closed = Some(e);
                break;
            }
        }
    }
    assert_eq!(closed, Some(StreamError::Closed));
}
