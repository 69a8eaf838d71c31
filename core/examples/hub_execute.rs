//! Drives the hub through N executes of `1+1` (or N kernel_info requests: a second
//! argument `kernel_info`) in memory, with the engine's answer played by hand: the
//! kernel's whole per-request path (ZMTP, wire, kernel) without sockets or threads. For
//! profiling the hot path with instruction counts:
//!
//! ```text
//! cargo build --release --example hub_execute
//! valgrind --tool=callgrind --toggle-collect='*Hub*handle*' --toggle-collect='*Hub*poll*' \
//!     target/release/examples/hub_execute 2000 [kernel_info]
//! ```

use bytes::{Bytes, BytesMut};
use llmspell_core::connection::Channel;
use llmspell_core::engine::{EngineEvent, ExecuteOutcome};
use llmspell_core::hub::{Effect, Hub};
use llmspell_core::kernel::{KernelConfig, WorkerEvent};
use llmspell_core::time::Timestamp;
use llmspell_core::wire::{write_header, Codec};
use llmspell_core::zmtp::{Config, Connection, SocketType};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let kernel_info = std::env::args().nth(2).as_deref() == Some("kernel_info");
    // Sessions are UUIDs, as Jupyter clients and our runtimes make them.
    let client_session = "9f2c4e1a-5b7d-4c3e-8a2f-1d6b9e0c7a45";
    let key = b"0123456789abcdef0123456789abcdef";
    let config = KernelConfig {
        key: key.to_vec(),
        session: "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e".into(),
        ..KernelConfig::default()
    };
    let mut hub = Hub::new(config, 100 << 20);
    let codec = Codec::new(key, 0);

    // Client connections, their handshakes done before the measured part.
    let mut shell = Connection::new(Config {
        identity: Bytes::from_static(b"client"),
        ..Config::new(SocketType::Dealer)
    });
    let mut iopub = Connection::new(Config::new(SocketType::Sub));
    iopub.subscribe(b"").unwrap();
    let shell_id = hub.handle_accept(Channel::Shell);
    let iopub_id = hub.handle_accept(Channel::Iopub);
    let mut now = 1_795_746_123_000_000u64;
    for _ in 0..4 {
        for (conn, id) in [(&mut shell, shell_id), (&mut iopub, iopub_id)] {
            let mut up = BytesMut::new();
            while let Some(b) = conn.poll_transmit() {
                up.extend_from_slice(&b);
            }
            hub.handle_input(Timestamp::from_unix_micros(now), id, &mut up)
                .unwrap();
            let mut down = BytesMut::new();
            while let Some(b) = hub.poll_transmit(id) {
                down.extend_from_slice(&b);
            }
            conn.handle_input(&mut down).unwrap();
            while conn.poll_event().is_some() {}
        }
        while hub.poll_dirty().is_some() {}
    }

    // Every request's bytes, made up front so the loop measures the kernel side only.
    let requests: Vec<BytesMut> = (0..n)
        .map(|i| {
            let mut header = Vec::new();
            let (msg_type, content): (&str, &'static [u8]) = if kernel_info {
                ("kernel_info_request", b"{}")
            } else {
                ("execute_request", br#"{"code":"1+1","silent":false,"store_history":true,"user_expressions":{},"allow_stdin":true,"stop_on_error":true}"#)
            };
            let msg_id = format!("{client_session}_{i}");
            write_header(&mut header, &msg_id, msg_type, client_session, "user", Timestamp::from_unix_micros(now), "5.3");
            let frames = codec.encode(&[], Bytes::from(header), Bytes::from_static(b"{}"), Bytes::from_static(b"{}"), Bytes::from_static(content), &[]);
            shell.send(&frames).unwrap();
            let mut up = BytesMut::new();
            while let Some(b) = shell.poll_transmit() {
                up.extend_from_slice(&b);
            }
            up
        })
        .collect();
    let mut data = serde_json::Map::new();
    data.insert("text/plain".into(), serde_json::Value::String("2".into()));

    let mut written = 0usize;
    let started = std::time::Instant::now();
    for mut up in requests {
        now += 10;
        let t = Timestamp::from_unix_micros(now);
        hub.handle_input(t, shell_id, &mut up).unwrap();
        while let Some(effect) = hub.poll_effect() {
            if let Effect::Engine(job) = effect {
                let done = EngineEvent::ExecuteDone {
                    id: job.request.id(),
                    outcome: ExecuteOutcome::Ok {
                        result: Some(data.clone()),
                        payload: vec![],
                    },
                    user_expressions: vec![],
                };
                hub.handle_worker_event(t, WorkerEvent::Engine(done));
            }
        }
        while let Some(id) = hub.poll_dirty() {
            while let Some(b) = hub.poll_transmit(id) {
                written += b.len();
            }
        }
    }
    let elapsed = started.elapsed();
    let what = if kernel_info {
        "kernel_info"
    } else {
        "execute"
    };
    println!(
        "{n} {what} requests, {written} bytes written, {:.2} µs per request",
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}
