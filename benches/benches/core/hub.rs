//! The `hub` group: whole requests through [`Hub`], bytes in to every reply's bytes out,
//! without sockets or threads.

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion};
use llmspell_core::connection::Channel;
use llmspell_core::engine::{EngineEvent, ExecuteOutcome};
use llmspell_core::hub::{ConnId, Effect, Hub};
use llmspell_core::kernel::{KernelConfig, WorkerEvent};
use llmspell_core::time::Timestamp;
use llmspell_core::tools::ToolHostRef;
use llmspell_core::wire::Codec;
use llmspell_core::zmtp::{Config, Connection, SocketType};
use llmspell_tools::host::{Host, HostConfig};
use serde_json::Value;

use super::{request_frames, transmit, EXECUTE, KEY, T0, TOOL_INVOKE};

/// A hub with a shell DEALER and an iopub SUB connected in memory.
struct HubRig {
    hub: Hub,
    shell_id: ConnId,
    now: u64,
    /// The engine's answer to every execute.
    data: serde_json::Map<String, Value>,
    /// When set, what the hub writes to shell is appended here (for checks, untimed).
    kept: Option<Vec<u8>>,
}

impl HubRig {
    /// The hub (with `tools` for tool_request) and the client's shell connection,
    /// handshakes done.
    fn new(tools: Option<ToolHostRef>) -> (HubRig, Connection) {
        let config = KernelConfig {
            key: KEY.to_vec(),
            session: "bench".into(),
            tools,
            ..KernelConfig::default()
        };
        let mut hub = Hub::new(config, 100 << 20);
        let mut shell = Connection::new(Config {
            identity: Bytes::from_static(b"client"),
            ..Config::new(SocketType::Dealer)
        });
        let mut iopub = Connection::new(Config::new(SocketType::Sub));
        iopub.subscribe(b"").expect("SUB may subscribe");
        let shell_id = hub.handle_accept(Channel::Shell);
        let iopub_id = hub.handle_accept(Channel::Iopub);
        let now = Timestamp::from_unix_micros(T0);
        for _ in 0..4 {
            for (conn, id) in [(&mut shell, shell_id), (&mut iopub, iopub_id)] {
                let mut up = transmit(conn);
                hub.handle_input(now, id, &mut up)
                    .expect("our own handshake is valid");
                let mut down = BytesMut::new();
                while let Some(b) = hub.poll_transmit(id) {
                    down.extend_from_slice(&b);
                }
                conn.handle_input(&mut down)
                    .expect("the hub's handshake is valid");
                while conn.poll_event().is_some() {}
            }
            while hub.poll_dirty().is_some() {}
        }
        assert!(
            shell.is_ready() && iopub.is_ready(),
            "handshake did not finish"
        );
        let mut data = serde_json::Map::new();
        data.insert("text/plain".into(), Value::String("2".into()));
        let rig = HubRig {
            hub,
            shell_id,
            now: T0,
            data,
            kept: None,
        };
        (rig, shell)
    }

    /// One request: its bytes in, the engine's answer to an execute, every reply's bytes
    /// out. Returns the bytes written to shell and to iopub.
    fn answer(&mut self, mut request: BytesMut) -> (usize, usize) {
        self.now += 10;
        let t = Timestamp::from_unix_micros(self.now);
        self.hub
            .handle_input(t, self.shell_id, &mut request)
            .expect("a valid request");
        while let Some(effect) = self.hub.poll_effect() {
            if let Effect::Engine(job) = effect {
                let done = EngineEvent::ExecuteDone {
                    id: job.request.id(),
                    outcome: ExecuteOutcome::Ok {
                        result: Some(self.data.clone()),
                        payload: vec![],
                    },
                    user_expressions: vec![],
                };
                self.hub.handle_worker_event(t, WorkerEvent::Engine(done));
            }
        }
        let (mut shell, mut iopub) = (0, 0);
        while let Some(id) = self.hub.poll_dirty() {
            while let Some(b) = self.hub.poll_transmit(id) {
                if id != self.shell_id {
                    iopub += b.len();
                    continue;
                }
                shell += b.len();
                if let Some(kept) = &mut self.kept {
                    kept.extend_from_slice(&b);
                }
            }
        }
        (shell, iopub)
    }
}

/// Makes the bytes of one request after another on `shell`, each with its own id (so its
/// own signature: the kernel rejects replays).
fn requests(
    mut shell: Connection,
    msg_type: &'static str,
    content: &'static [u8],
) -> impl FnMut() -> BytesMut {
    let codec = Codec::new(KEY, 0);
    let mut seq = 0u64;
    move || {
        seq += 1;
        let frames = request_frames(&codec, &format!("req-{seq}"), msg_type, content);
        shell.send(&frames).expect("the connection is ready");
        transmit(&mut shell)
    }
}

pub fn hub(c: &mut Criterion) {
    let (mut rig, shell) = HubRig::new(None);
    let mut execute = requests(shell, "execute_request", EXECUTE);
    let host = Host::new(llmspell_tools::builtin_registry(), HostConfig::default());
    let (mut tool_rig, shell) = HubRig::new(Some(host.into_ref()));
    let mut tool = requests(shell, "tool_request", TOOL_INVOKE);
    let (mut info_rig, shell) = HubRig::new(None);
    let mut info = requests(shell, "kernel_info_request", b"{}");
    // Check once that each answers as it should: bytes to iopub (busy, idle, ...) and the
    // reply on shell, whose JSON the ZMTP frames carry verbatim.
    for (rig, request, expect) in [
        (
            &mut rig,
            &mut execute as &mut dyn FnMut() -> BytesMut,
            &[&b"\"execute_reply\""[..], b"\"status\":\"ok\""][..],
        ),
        (
            &mut info_rig,
            &mut info,
            &[
                &b"\"kernel_info_reply\""[..],
                b"\"implementation\":\"llmspell\"",
            ][..],
        ),
        (
            &mut tool_rig,
            &mut tool,
            &[
                &b"\"tool_reply\""[..],
                b"\"status\":\"ok\"",
                b"\"text\":\"4\"",
            ][..],
        ),
    ] {
        rig.kept = Some(Vec::new());
        let (_, to_iopub) = rig.answer(request());
        let shell = rig.kept.take().unwrap_or_default();
        assert!(to_iopub > 0, "nothing on iopub");
        for needle in expect {
            assert!(
                shell.windows(needle.len()).any(|w| w == *needle),
                "no {} in the reply",
                String::from_utf8_lossy(needle)
            );
        }
    }

    // The requests are made in the untimed setup.
    let mut g = c.benchmark_group("hub");
    g.bench_function("execute (engine answer by hand)", |b| {
        b.iter_batched(&mut execute, |r| rig.answer(r), BatchSize::SmallInput)
    });
    g.bench_function("kernel_info", |b| {
        b.iter_batched(&mut info, |r| info_rig.answer(r), BatchSize::SmallInput)
    });
    g.bench_function("tool_request invoke calculator (inline)", |b| {
        b.iter_batched(&mut tool, |r| tool_rig.answer(r), BatchSize::SmallInput)
    });
    g.finish();
}
