//! `[kernel]` and `[transport.zeromq]` bounds applied by the tokio edition, seen from raw
//! TCP clients: max_concurrent_clients, the idle timeout, socket buffer sizes.

#[path = "../../tests/support/connection.rs"]
mod connection;
use llmspell_core::connection::Transport;
use llmspell_core::hub::{Limits, SocketOptions};
use llmspell_runtime_tokio::{Server, ServerConfig};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[path = "../../tests/support/raw_tcp.rs"]
mod raw_tcp;
use raw_tcp::{closed_within, greeted};

/// Starts a server with `limits`, returns its shell port. The server thread lives until
/// the test process ends (each test has its own).
fn start(limits: Limits) -> u16 {
    let connection = connection::any_ports(Transport::Tcp, "127.0.0.1", "limits");
    let server = Server::bind(ServerConfig {
        connection,
        max_message_size: 1 << 20,
        tools: None,
        metrics: None,
        limits,
        sockets: SocketOptions {
            sndbuf: Some(65_536),
            rcvbuf: Some(65_536),
            linger_ms: Some(0),
        },
        max_queue: None,
    })
    .expect("bind");
    let port = server.connection_info().shell_port;
    std::thread::spawn(move || server.run());
    port
}

#[test]
fn connections_beyond_max_clients_are_closed_at_once() {
    let port = start(Limits {
        max_clients: 2,
        ..Limits::default()
    });
    let mut a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(greeted(&mut a) && greeted(&mut b));
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(
        closed_within(&mut c, Duration::from_secs(5)),
        "third client closed"
    );
    drop(a);
    // The slot frees once the server has seen the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = TcpStream::connect(("127.0.0.1", port)).unwrap();
        if greeted(&mut d) {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !closed_within(&mut b, Duration::from_millis(100)),
        "b lives on"
    );
}

#[test]
fn an_idle_connection_is_closed_and_a_talking_one_kept() {
    let port = start(Limits {
        idle_timeout_micros: Some(1_000_000),
        ..Limits::default()
    });
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut talking = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(greeted(&mut idle) && greeted(&mut talking));
    // Keep `talking` busy with greeting bytes, one every 200 ms for 2.4 s (a valid, slow
    // handshake): never a second of silence, while `idle` says nothing at all.
    let greeting = [0xFFu8, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    let started = Instant::now();
    for byte in greeting {
        std::thread::sleep(Duration::from_millis(200));
        talking.write_all(&[byte]).unwrap();
    }
    assert!(
        !closed_within(&mut talking, Duration::from_millis(50)),
        "talking kept"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)),
        "idle closed"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}
