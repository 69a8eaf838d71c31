//! The glommio server against libzmq clients (the `zmq` crate): DEALER shell and control,
//! SUB iopub, REQ heartbeat, over tcp and ipc, several clients at once, spread by
//! SO_REUSEPORT over several shards. The tests run three shards on the first CPU this
//! process may use, so that replies and iopub cross shards on any machine.
#![cfg(target_os = "linux")]

#[path = "../../tests/support/connection.rs"]
mod connection;
use llmspell_core::connection::{Channel, ConnectionInfo, Transport};
use llmspell_runtime_glommio::{RunOutcome, Server, ServerConfig, Shards};
use serde_json::json;
use std::io::Read;
use std::thread::JoinHandle;
use std::time::Duration;

type Running = JoinHandle<std::io::Result<RunOutcome>>;

fn connection(transport: Transport, ip: &str) -> ConnectionInfo {
    connection::any_ports(transport, ip, KEY)
}

fn start_with(config: ServerConfig) -> (ConnectionInfo, Running) {
    let server = Server::bind(config).expect("bind");
    let info = server.connection_info().clone();
    (info, std::thread::spawn(move || server.run()))
}

fn start(transport: Transport, ip: &str) -> (ConnectionInfo, Running) {
    let mut config = ServerConfig::new(connection(transport, ip));
    config.max_message_size = 1 << 20;
    let cpu = first_cpu();
    config.shards = Shards::Cpus(vec![cpu, cpu, cpu]);
    start_with(config)
}

#[path = "../../tests/support/cpus.rs"]
mod cpus;
use cpus::first_cpu;
#[path = "../../tests/support/zmq_client.rs"]
mod zmq_client;
use zmq_client::{Client, KEY};

fn shutdown(mut c: Client, server: Running) {
    c.send(
        Channel::Control,
        "shutdown_request",
        json!({"restart": false}),
    );
    let (t, _, content) = c.recv(Channel::Control);
    assert_eq!(t, "shutdown_reply");
    assert_eq!(content["restart"], false);
    assert_eq!(
        server.join().unwrap().unwrap(),
        RunOutcome::Shutdown { restart: false }
    );
    drop(c.ctx);
}

#[test]
fn tcp_kernel_info_execute_heartbeat_and_shutdown() {
    let (info, server) = start(Transport::Tcp, "127.0.0.1");
    let mut c = Client::connect(&info, "alice");

    let id = c.send(Channel::Shell, "kernel_info_request", json!({}));
    let (t, parent, content) = c.recv(Channel::Shell);
    assert_eq!(
        (t.as_str(), parent.as_str()),
        ("kernel_info_reply", id.as_str())
    );
    assert_eq!(content["implementation"], "llmspell");

    let id = c.send(Channel::Shell, "execute_request", json!({"code": "1+1"}));
    let (t, parent, content) = c.recv(Channel::Shell);
    assert_eq!(
        (t.as_str(), parent.as_str()),
        ("execute_reply", id.as_str())
    );
    assert_eq!(content["status"], "ok");
    assert_eq!(
        c.iopub_of(&id),
        ["status", "execute_input", "execute_result", "status"]
    );

    // Several heartbeat sockets, so that some land on other shards than the kernel's.
    let hbs: Vec<zmq::Socket> = (0..6)
        .map(|_| {
            let hb = c.ctx.socket(zmq::REQ).unwrap();
            hb.set_linger(0).unwrap();
            hb.connect(&info.endpoint(Channel::Heartbeat)).unwrap();
            hb
        })
        .collect();
    for (i, hb) in hbs.iter().enumerate() {
        let ping = format!("ping-{i}");
        hb.send(ping.as_bytes(), 0).unwrap();
        assert!(
            hb.poll(zmq::POLLIN, 10_000).unwrap() > 0,
            "heartbeat answers"
        );
        assert_eq!(hb.recv_bytes(0).unwrap(), ping.as_bytes());
    }
    drop(hbs);
    shutdown(c, server);
}

#[test]
fn many_clients_get_their_own_replies_from_one_kernel() {
    let (info, server) = start(Transport::Tcp, "127.0.0.1");
    let mut clients: Vec<Client> = (0..6)
        .map(|i| Client::connect(&info, &format!("c{i}")))
        .collect();
    let ids: Vec<String> = clients
        .iter_mut()
        .map(|c| {
            c.send(
                Channel::Shell,
                "execute_request",
                json!({"code": "return 40 + 2"}),
            )
        })
        .collect();
    for (c, id) in clients.iter_mut().zip(&ids) {
        let (t, parent, content) = c.recv(Channel::Shell);
        assert_eq!(
            (t.as_str(), parent.as_str()),
            ("execute_reply", id.as_str())
        );
        assert_eq!(content["status"], "ok");
    }
    let mut counts = vec![];
    for c in clients.iter_mut() {
        let id = c.send(Channel::Shell, "execute_request", json!({"code": "x = 1"}));
        let (_, parent, content) = c.recv(Channel::Shell);
        assert_eq!(parent, id);
        counts.push(content["execution_count"].as_u64().unwrap());
    }
    assert_eq!(counts, [7, 8, 9, 10, 11, 12], "one kernel, one count");
    let c = clients.remove(0);
    shutdown(c, server);
}

#[test]
fn iopub_reaches_subscribers_on_every_shard() {
    let (info, server) = start(Transport::Tcp, "127.0.0.1");
    let mut clients: Vec<Client> = (0..6)
        .map(|i| Client::connect(&info, &format!("s{i}")))
        .collect();
    let id = clients[0].send(
        Channel::Shell,
        "execute_request",
        json!({"code": "print('hi')"}),
    );
    let (t, parent, _) = clients[0].recv(Channel::Shell);
    assert_eq!(
        (t.as_str(), parent.as_str()),
        ("execute_reply", id.as_str())
    );
    for c in clients.iter_mut() {
        assert_eq!(
            c.iopub_of(&id),
            ["status", "execute_input", "stream", "status"],
            "every subscriber sees the cell of client s0"
        );
    }
    let c = clients.remove(0);
    shutdown(c, server);
}

#[test]
fn control_answers_while_a_cell_runs_and_interrupts_it() {
    let (info, server) = start(Transport::Tcp, "127.0.0.1");
    let mut c = Client::connect(&info, "busy");
    let id = c.send(
        Channel::Shell,
        "execute_request",
        json!({"code": "while true do end"}),
    );
    // busy is published when the cell starts.
    let (t, parent, content) = c.recv(Channel::Iopub);
    assert_eq!((t.as_str(), parent.as_str()), ("status", id.as_str()));
    assert_eq!(content["execution_state"], "busy");
    c.send(Channel::Control, "kernel_info_request", json!({}));
    let (t, _, _) = c.recv(Channel::Control);
    assert_eq!(t, "kernel_info_reply");
    c.send(Channel::Control, "interrupt_request", json!({}));
    let (t, _, _) = c.recv(Channel::Control);
    assert_eq!(t, "interrupt_reply");
    let (t, parent, content) = c.recv(Channel::Shell);
    assert_eq!(
        (t.as_str(), parent.as_str()),
        ("execute_reply", id.as_str())
    );
    assert_eq!(content["status"], "error");
    shutdown(c, server);
}

#[test]
fn ipc_transport() {
    let dir = std::env::temp_dir().join(format!("llmspell-glommio-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = dir.join("kernel");
    let (info, server) = start(Transport::Ipc, prefix.to_str().unwrap());
    assert!(info.endpoint(Channel::Shell).starts_with("ipc://"));
    let mut c = Client::connect(&info, "ipc");
    c.send(Channel::Control, "kernel_info_request", json!({}));
    let (t, _, _) = c.recv(Channel::Control);
    assert_eq!(t, "kernel_info_reply");
    let id = c.send(Channel::Shell, "execute_request", json!({"code": "1+1"}));
    let (t, parent, _) = c.recv(Channel::Shell);
    assert_eq!(
        (t.as_str(), parent.as_str()),
        ("execute_reply", id.as_str())
    );
    shutdown(c, server);
    assert!(
        !std::path::Path::new(&format!("{}-{}", info.ip, info.shell_port)).exists(),
        "socket files removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connections_over_the_limit_are_closed() {
    let mut config = ServerConfig::new(connection(Transport::Tcp, "127.0.0.1"));
    let cpu = first_cpu();
    config.shards = Shards::Cpus(vec![cpu, cpu]);
    config.sockets.max_connections = Some(4);
    let (info, server) = start_with(config);
    let addr = format!("127.0.0.1:{}", info.hb_port);
    // The first byte of a connection: 0xFF starts a ZMTP greeting; None is a close.
    let first_byte = |s: &mut std::net::TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut first = [0u8; 1];
        match s.read(&mut first) {
            Ok(1) => Some(first[0]),
            Ok(_) => None,
            Err(e) => panic!("no greeting and no close within 10 s: {e}"),
        }
    };
    let mut streams: Vec<std::net::TcpStream> = (0..5)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    let firsts: Vec<Option<u8>> = streams.iter_mut().map(first_byte).collect();
    let greeted = firsts.iter().filter(|b| **b == Some(0xff)).count();
    let closed = firsts.iter().filter(|b| b.is_none()).count();
    assert_eq!((greeted, closed), (4, 1), "{firsts:?}");
    drop(streams);
    // Closed connections free their places; libzmq reconnects until the server has seen
    // them close.
    let c = Client::connect(&info, "after");
    shutdown(c, server);
}

#[test]
fn cpus_outside_the_allowed_set_are_refused_at_bind() {
    let mut config = ServerConfig::new(connection(Transport::Tcp, "127.0.0.1"));
    config.shards = Shards::Cpus(vec![100_000]);
    let e = Server::bind(config).err().expect("refused");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("CPU 100000"), "{e}");
}
