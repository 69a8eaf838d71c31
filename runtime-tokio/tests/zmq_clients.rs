//! The tokio server against libzmq clients (the `zmq` crate): DEALER shell and control,
//! SUB iopub, REQ heartbeat, over tcp and ipc, several clients at once.

#[path = "../../tests/support/connection.rs"]
mod connection;
use llmspell_core::connection::{Channel, ConnectionInfo, Transport};
use llmspell_runtime_tokio::{RunOutcome, Server, ServerConfig};
use serde_json::json;
use std::thread::JoinHandle;

fn start(
    transport: Transport,
    ip: &str,
) -> (ConnectionInfo, JoinHandle<std::io::Result<RunOutcome>>) {
    let connection = connection::any_ports(transport, ip, KEY);
    let server = Server::bind(ServerConfig {
        connection,
        max_message_size: 1 << 20,
        tools: None,
        metrics: None,
        limits: Default::default(),
        sockets: Default::default(),
        max_queue: None,
    })
    .expect("bind");
    let info = server.connection_info().clone();
    (info, std::thread::spawn(move || server.run()))
}

#[path = "../../tests/support/zmq_client.rs"]
mod zmq_client;
use zmq_client::{Client, KEY};

fn shutdown(mut c: Client, server: JoinHandle<std::io::Result<RunOutcome>>) {
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
    let mut seen = vec![];
    loop {
        let (t, parent, content) = c.recv(Channel::Iopub);
        if parent != id {
            continue;
        }
        if t == "execute_result" {
            assert_eq!(content["data"]["text/plain"], "2");
        }
        let idle = t == "status" && content["execution_state"] == "idle";
        seen.push(t);
        if idle {
            break;
        }
    }
    assert_eq!(
        seen,
        ["status", "execute_input", "execute_result", "status"]
    );

    let hb = c.ctx.socket(zmq::REQ).unwrap();
    hb.set_linger(0).unwrap();
    hb.connect(&info.endpoint(Channel::Heartbeat)).unwrap();
    hb.send("ping", 0).unwrap();
    assert!(
        hb.poll(zmq::POLLIN, 10_000).unwrap() > 0,
        "heartbeat answers"
    );
    assert_eq!(hb.recv_bytes(0).unwrap(), b"ping");
    drop(hb);
    shutdown(c, server);
}

#[test]
fn many_clients_get_their_own_replies() {
    let (info, server) = start(Transport::Tcp, "127.0.0.1");
    let mut clients: Vec<Client> = (0..4)
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
    let counts: Vec<u64> = {
        let mut v = vec![];
        for c in clients.iter_mut() {
            let id = c.send(Channel::Shell, "execute_request", json!({"code": "x = 1"}));
            let (_, parent, content) = c.recv(Channel::Shell);
            assert_eq!(parent, id);
            v.push(content["execution_count"].as_u64().unwrap());
        }
        v
    };
    assert_eq!(counts, [5, 6, 7, 8], "one kernel, one count");
    let c = clients.remove(0);
    shutdown(c, server);
}

#[test]
fn ipc_transport() {
    let dir = std::env::temp_dir().join(format!("llmspell-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = dir.join("kernel");
    let (info, server) = start(Transport::Ipc, prefix.to_str().unwrap());
    assert!(info.endpoint(Channel::Shell).starts_with("ipc://"));
    let mut c = Client::connect(&info, "ipc");
    c.send(Channel::Control, "kernel_info_request", json!({}));
    let (t, _, _) = c.recv(Channel::Control);
    assert_eq!(t, "kernel_info_reply");
    shutdown(c, server);
    assert!(
        !std::path::Path::new(&format!("{}-{}", info.ip, info.shell_port)).exists(),
        "socket files removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
