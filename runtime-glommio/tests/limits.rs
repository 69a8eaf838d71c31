//! `[kernel]` and `[transport.zeromq]` bounds applied by the glommio edition: the idle
//! timeout seen from raw TCP clients, and `sndhwm` seen from an iopub subscriber that
//! stops reading while another client keeps working. Two shards on one CPU, so that both
//! the kernel's shard and another shard hold connections.
#![cfg(target_os = "linux")]

#[path = "../../tests/support/connection.rs"]
mod connection;
use llmspell_core::connection::{Channel, ConnectionInfo, Transport};
use llmspell_core::metrics::{DropReason, Metrics};
use llmspell_runtime_glommio::{Server, ServerConfig, Shards, SocketOptions};
use serde_json::json;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../../tests/support/zmq_client.rs"]
mod zmq_client;
use zmq_client::{Client, KEY};
#[path = "../../tests/support/raw_tcp.rs"]
mod raw_tcp;
use raw_tcp::{closed_within, greeted};
#[path = "../../tests/support/cpus.rs"]
mod cpus;
use cpus::first_cpu;

/// Starts a server with `sockets` (and metrics), returns its connection info and metrics.
/// The server thread lives until the test process ends (each test has its own).
fn start(sockets: SocketOptions) -> (ConnectionInfo, Arc<Metrics>) {
    let connection = connection::any_ports(Transport::Tcp, "127.0.0.1", KEY);
    let metrics = Arc::new(Metrics::new(std::iter::empty()));
    let mut config = ServerConfig::new(connection);
    config.max_message_size = 1 << 20;
    let cpu = first_cpu();
    config.shards = Shards::Cpus(vec![cpu, cpu]);
    config.sockets = sockets;
    config.metrics = Some(metrics.clone());
    let server = Server::bind(config).expect("bind");
    let info = server.connection_info().clone();
    std::thread::spawn(move || server.run());
    (info, metrics)
}

#[test]
fn idle_connections_are_closed_on_every_shard_and_talking_ones_kept() {
    let (info, _) = start(SocketOptions {
        idle_timeout: Some(Duration::from_secs(1)),
        ..SocketOptions::default()
    });
    let port = info.shell_port;
    // Four of each, so that SO_REUSEPORT puts some on each shard.
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let mut talking: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for s in idle.iter_mut().chain(talking.iter_mut()) {
        assert!(greeted(s));
    }
    // Keep the talking ones busy with greeting bytes, one every 200 ms for 2.4 s (a valid,
    // slow handshake): never a second of silence, while the idle ones say nothing.
    let greeting = [0xFFu8, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    let started = Instant::now();
    for byte in greeting {
        std::thread::sleep(Duration::from_millis(200));
        for s in &mut talking {
            s.write_all(&[byte]).unwrap();
        }
    }
    for s in &mut talking {
        assert!(!closed_within(s, Duration::from_millis(50)), "talking kept");
    }
    for s in &mut idle {
        assert!(closed_within(s, Duration::from_secs(5)), "idle closed");
    }
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_subscriber_that_stops_reading_loses_messages_beyond_sndhwm_and_shell_keeps_working() {
    let (info, metrics) = start(SocketOptions {
        sndhwm: Some(4),
        send_buffer: Some(4096),
        ..SocketOptions::default()
    });
    let mut client = Client::connect(&info, "worker");
    // A subscriber that takes one message and a small buffer's worth, then nothing.
    let stalled = client.ctx.socket(zmq::SUB).unwrap();
    stalled.set_linger(0).unwrap();
    stalled.set_rcvhwm(1).unwrap();
    stalled.set_rcvbuf(4096).unwrap();
    stalled.set_subscribe(b"").unwrap();
    stalled.connect(&info.endpoint(Channel::Iopub)).unwrap();
    // The subscription reaches the kernel: iopub_welcome waits in the stalled socket.
    assert!(stalled.poll(zmq::POLLIN, 5_000).unwrap() > 0, "no welcome");
    // Each request publishes busy and idle to both subscribers; neither reads iopub.
    // Every reply on shell still comes (bounded: 3,000 requests, 10 s each at most).
    for _ in 0..3_000 {
        let id = client.send(Channel::Shell, "kernel_info_request", json!({}));
        let (msg_type, parent, _) = client.recv(Channel::Shell);
        assert_eq!(
            (msg_type.as_str(), parent.as_str()),
            ("kernel_info_reply", id.as_str())
        );
        if metrics.drops_of(DropReason::Hwm) > 0 {
            return;
        }
    }
    panic!("3,000 requests and no message dropped at sndhwm");
}
