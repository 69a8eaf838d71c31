//! The kernel driven by an in-memory client: signed requests in, decoded messages out,
//! engine events fed by hand, with a virtual clock.

use super::*;
use crate::engine::{EngineEvent, ExecuteOutcome, IsCompleteStatus, LuaError, StreamName};
use crate::time::Timestamp;
use crate::wire::{write_header, Codec};
use serde_json::{json, Value};

const KEY: &[u8] = b"test-key";
const CLIENT: &[u8] = b"client-1";

/// A decoded message the kernel sent.
#[derive(Debug, Clone)]
struct Out {
    channel: Channel,
    /// Routing id (shell/control/stdin) or topic (iopub).
    to: Bytes,
    msg_type: String,
    parent_id: String,
    content: Value,
}

struct Harness {
    kernel: Kernel,
    client: Codec,
    clock: u64,
    seq: u32,
    jobs: Vec<EngineJob>,
    other: Vec<Action>,
}

impl Harness {
    fn new() -> Self {
        let config = KernelConfig {
            key: KEY.to_vec(),
            session: "k".into(),
            ..Default::default()
        };
        Harness {
            kernel: Kernel::new(config),
            client: Codec::new(KEY, 1000),
            clock: 1_000_000,
            seq: 0,
            jobs: vec![],
            other: vec![],
        }
    }

    fn now(&mut self) -> Timestamp {
        self.clock += 10;
        Timestamp::from_unix_micros(self.clock)
    }

    fn frames(&mut self, msg_type: &str, content: &[u8]) -> (String, Vec<Bytes>) {
        self.seq += 1;
        let id = format!("req-{}", self.seq);
        let mut header = Vec::new();
        write_header(
            &mut header,
            &id,
            msg_type,
            "client-session",
            "user",
            Timestamp::default(),
            "5.3",
        );
        let frames = self.client.encode(
            &[Bytes::from_static(CLIENT)],
            Bytes::from(header),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::copy_from_slice(content),
            &[],
        );
        (id, frames)
    }

    /// Sends a request and returns its msg_id.
    fn send(&mut self, channel: Channel, msg_type: &str, content: Value) -> String {
        let (id, frames) = self.frames(msg_type, content.to_string().as_bytes());
        let now = self.now();
        self.kernel.handle_message(now, channel, frames);
        id
    }

    fn engine(&mut self, ev: EngineEvent) {
        let now = self.now();
        self.kernel
            .handle_worker_event(now, WorkerEvent::Engine(ev));
    }

    /// Drains the kernel's actions: messages decoded, jobs and others kept.
    fn drain(&mut self) -> Vec<Out> {
        let mut outs = vec![];
        while let Some(a) = self.kernel.poll_action() {
            match a {
                Action::Send { channel, frames } => {
                    let to = frames[0].clone();
                    let msg = self.client.decode(frames).expect("kernel output verifies");
                    let parent: Value = serde_json::from_slice(&msg.parent_header).unwrap();
                    outs.push(Out {
                        channel,
                        to,
                        msg_type: msg.header.msg_type().to_string(),
                        parent_id: parent["msg_id"].as_str().unwrap_or("").to_string(),
                        content: serde_json::from_slice(&msg.content).unwrap(),
                    });
                }
                Action::Engine(job) => self.jobs.push(job),
                other => self.other.push(other),
            }
        }
        outs
    }
}

fn types(outs: &[Out]) -> Vec<String> {
    outs.iter()
        .map(|o| match o.msg_type.as_str() {
            "status" => format!("status:{}", o.content["execution_state"].as_str().unwrap()),
            t => t.to_string(),
        })
        .collect()
}

fn ok(id: u64, text: Option<&str>) -> EngineEvent {
    let result = text.map(|t| {
        let mut m = serde_json::Map::new();
        m.insert("text/plain".into(), json!(t));
        m
    });
    EngineEvent::ExecuteDone {
        id,
        outcome: ExecuteOutcome::Ok {
            result,
            payload: vec![],
        },
        user_expressions: vec![],
    }
}

fn lua_error(id: u64) -> EngineEvent {
    let e = LuaError {
        ename: "RuntimeError".into(),
        evalue: "boom".into(),
        traceback: vec!["RuntimeError: boom".into()],
    };
    EngineEvent::ExecuteDone {
        id,
        outcome: ExecuteOutcome::Error(e),
        user_expressions: vec![],
    }
}

fn execute(code: &str) -> Value {
    json!({"code": code, "silent": false, "store_history": true, "user_expressions": {}, "allow_stdin": true, "stop_on_error": true})
}

#[test]
fn kernel_info_is_wrapped_in_busy_and_idle() {
    let mut h = Harness::new();
    let id = h.send(Channel::Shell, "kernel_info_request", json!({}));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        ["status:busy", "kernel_info_reply", "status:idle"]
    );
    assert!(outs.iter().all(|o| o.parent_id == id));
    let reply = &outs[1];
    assert_eq!(reply.channel, Channel::Shell);
    assert_eq!(&reply.to[..], CLIENT);
    assert_eq!(reply.content["protocol_version"], "5.5");
    assert_eq!(reply.content["implementation"], "llmspell");
    assert_eq!(reply.content["language_info"]["name"], "lua");
    assert_eq!(outs[0].channel, Channel::Iopub);
    assert_eq!(&outs[0].to[..], b"kernel.k.status");
}

#[test]
fn execute_publishes_in_order_and_counts() {
    let mut h = Harness::new();
    let id = h.send(
        Channel::Shell,
        "execute_request",
        execute("print('hi') return 1+1"),
    );
    let outs = h.drain();
    assert_eq!(types(&outs), ["status:busy", "execute_input"]);
    assert_eq!(
        outs[1].content,
        json!({"code": "print('hi') return 1+1", "execution_count": 1})
    );
    let job = h.jobs.remove(0);
    assert!(job.stop_on_error);
    let EngineRequest::Execute {
        id: eid,
        chunk_name,
        ..
    } = job.request
    else {
        panic!()
    };
    assert_eq!(chunk_name, "=In[1]");
    h.engine(EngineEvent::Stream {
        id: eid,
        name: StreamName::Stdout,
        text: "hi\n".into(),
    });
    h.engine(ok(eid, Some("2")));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        ["stream", "execute_result", "execute_reply", "status:idle"]
    );
    assert!(outs.iter().all(|o| o.parent_id == id));
    assert_eq!(outs[0].content, json!({"name": "stdout", "text": "hi\n"}));
    assert_eq!(outs[1].content["data"]["text/plain"], "2");
    assert_eq!(outs[1].content["execution_count"], 1);
    assert_eq!(outs[2].channel, Channel::Shell);
    assert_eq!(outs[2].content["status"], "ok");
    assert_eq!(outs[2].content["execution_count"], 1);

    h.send(Channel::Shell, "execute_request", execute("x = 1"));
    h.drain();
    let EngineRequest::Execute {
        id: eid,
        chunk_name,
        ..
    } = h.jobs.remove(0).request
    else {
        panic!()
    };
    assert_eq!(chunk_name, "=In[2]");
    h.engine(ok(eid, None));
    let outs = h.drain();
    assert_eq!(types(&outs), ["execute_reply", "status:idle"]);
    assert_eq!(outs[0].content["execution_count"], 2);
}

#[test]
fn pipelined_requests_go_to_the_engine_at_once_and_publish_in_order() {
    let mut h = Harness::new();
    let ids: Vec<String> = (0..3)
        .map(|i| h.send(Channel::Shell, "execute_request", execute(&format!("{i}"))))
        .collect();
    let outs = h.drain();
    assert_eq!(h.jobs.len(), 3, "all three were handed to the engine");
    assert_eq!(
        types(&outs),
        ["status:busy", "execute_input"],
        "only the first started"
    );
    let chunk_names: Vec<String> = h
        .jobs
        .iter()
        .map(|j| match &j.request {
            EngineRequest::Execute { chunk_name, .. } => chunk_name.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(chunk_names, ["=In[1]", "=In[2]", "=In[3]"]);
    let eids: Vec<u64> = h.jobs.iter().map(|j| j.request.id()).collect();
    h.engine(ok(eids[0], Some("0")));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        [
            "execute_result",
            "execute_reply",
            "status:idle",
            "status:busy",
            "execute_input"
        ]
    );
    assert_eq!(outs[3].parent_id, ids[1]);
    h.engine(ok(eids[1], None));
    h.engine(ok(eids[2], None));
    let outs = h.drain();
    assert_eq!(outs.last().unwrap().parent_id, ids[2]);
    assert_eq!(
        outs.iter()
            .filter(|o| o.msg_type == "execute_reply")
            .count(),
        2
    );
}

#[test]
fn stop_on_error_aborts_what_was_queued_and_nothing_after() {
    let mut h = Harness::new();
    let gate = h.kernel.abort_gate();
    for code in ["error('x')", "a", "b"] {
        h.send(Channel::Shell, "execute_request", execute(code));
    }
    h.drain();
    let eids: Vec<u64> = h.jobs.iter().map(|j| j.request.id()).collect();
    // The worker closes the gate the moment the cell fails.
    gate.close();
    h.engine(lua_error(eids[0]));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        [
            "error",
            "execute_reply",
            "status:idle",
            "status:busy",
            "execute_reply",
            "status:idle",
            "status:busy",
            "execute_reply",
            "status:idle"
        ]
    );
    assert_eq!(outs[1].content["status"], "error");
    assert_eq!(outs[1].content["ename"], "RuntimeError");
    assert_eq!(outs[4].content["status"], "aborted");
    assert_eq!(outs[7].content["status"], "aborted");
    assert!(gate.skips(eids[1]) && gate.skips(eids[2]));
    // The worker's confirmations change nothing.
    for id in &eids[1..] {
        let now = h.now();
        h.kernel
            .handle_worker_event(now, WorkerEvent::Aborted { id: *id });
    }
    assert!(h.drain().is_empty());
    // A request sent afterwards runs, and gets the next count.
    h.send(Channel::Shell, "execute_request", execute("c"));
    let outs = h.drain();
    let job = h.jobs.last().unwrap().clone();
    assert!(!gate.skips(job.request.id()));
    assert_eq!(outs[1].content["execution_count"], 2);
    let EngineRequest::Execute { chunk_name, .. } = job.request else {
        panic!()
    };
    assert_eq!(chunk_name, "=In[2]");
}

#[test]
fn stop_on_error_false_keeps_the_queue() {
    let mut h = Harness::new();
    let mut req = execute("error('x')");
    req["stop_on_error"] = json!(false);
    h.send(Channel::Shell, "execute_request", req);
    h.send(Channel::Shell, "execute_request", execute("a"));
    h.drain();
    let eids: Vec<u64> = h.jobs.iter().map(|j| j.request.id()).collect();
    h.engine(lua_error(eids[0]));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        [
            "error",
            "execute_reply",
            "status:idle",
            "status:busy",
            "execute_input"
        ]
    );
}

#[test]
fn silent_cells_publish_nothing_and_do_not_count() {
    let mut h = Harness::new();
    let mut req = execute("1");
    req["silent"] = json!(true);
    h.send(Channel::Shell, "execute_request", req);
    let outs = h.drain();
    assert_eq!(types(&outs), ["status:busy"]);
    let eid = h.jobs[0].request.id();
    h.engine(EngineEvent::Stream {
        id: eid,
        name: StreamName::Stdout,
        text: "x".into(),
    });
    h.engine(ok(eid, Some("1")));
    let outs = h.drain();
    assert_eq!(types(&outs), ["execute_reply", "status:idle"]);
    assert_eq!(outs[0].content["execution_count"], 0);
}

#[test]
fn stdin_round_trip_goes_to_the_asking_client() {
    let mut h = Harness::new();
    h.send(Channel::Shell, "execute_request", execute("io.read()"));
    h.drain();
    let eid = h.jobs[0].request.id();
    h.engine(EngineEvent::InputRequest {
        id: eid,
        prompt: "> ".into(),
        password: false,
    });
    let outs = h.drain();
    assert_eq!(types(&outs), ["input_request"]);
    assert_eq!(outs[0].channel, Channel::Stdin);
    assert_eq!(&outs[0].to[..], CLIENT);
    assert_eq!(outs[0].content, json!({"prompt": "> ", "password": false}));
    h.send(Channel::Stdin, "input_reply", json!({"value": "hello"}));
    h.drain();
    assert_eq!(
        h.other,
        vec![Action::Input(InputReply::Line("hello".into()))]
    );
    // A second reply with no request pending is ignored.
    h.send(Channel::Stdin, "input_reply", json!({"value": "again"}));
    h.drain();
    assert_eq!(h.other.len(), 1);
}

#[test]
fn control_answers_while_shell_is_busy() {
    let mut h = Harness::new();
    h.send(
        Channel::Shell,
        "execute_request",
        execute("while true do end"),
    );
    h.drain();
    let id = h.send(Channel::Control, "kernel_info_request", json!({}));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        ["status:busy", "kernel_info_reply", "status:idle"]
    );
    assert_eq!(outs[1].channel, Channel::Control);
    assert_eq!(outs[1].parent_id, id);
    h.send(Channel::Control, "interrupt_request", json!({}));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        ["status:busy", "interrupt_reply", "status:idle"]
    );
    assert_eq!(h.other, vec![Action::Interrupt]);
}

#[test]
fn interrupt_while_idle_interrupts_nothing() {
    let mut h = Harness::new();
    h.send(Channel::Control, "interrupt_request", json!({}));
    h.drain();
    assert!(h.other.is_empty());
}

#[test]
fn interrupt_releases_a_pending_input() {
    let mut h = Harness::new();
    h.send(Channel::Shell, "execute_request", execute("io.read()"));
    h.drain();
    let eid = h.jobs[0].request.id();
    h.engine(EngineEvent::InputRequest {
        id: eid,
        prompt: String::new(),
        password: false,
    });
    h.send(Channel::Control, "interrupt_request", json!({}));
    h.drain();
    assert_eq!(
        h.other,
        vec![Action::Input(InputReply::Interrupted), Action::Interrupt]
    );
}

#[test]
fn shutdown_replies_then_asks_the_driver_to_stop() {
    let mut h = Harness::new();
    h.send(
        Channel::Control,
        "shutdown_request",
        json!({"restart": true}),
    );
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        [
            "status:busy",
            "shutdown_reply",
            "shutdown_reply",
            "status:idle"
        ]
    );
    assert_eq!(outs[1].channel, Channel::Control);
    assert_eq!(outs[1].content, json!({"status": "ok", "restart": true}));
    assert_eq!(h.other, vec![Action::Shutdown { restart: true }]);
}

#[test]
fn bad_signatures_are_dropped_silently() {
    let mut h = Harness::new();
    let (_, mut frames) = h.frames("kernel_info_request", b"{}");
    frames[2] =
        Bytes::from_static(b"0000000000000000000000000000000000000000000000000000000000000000");
    let now = h.now();
    h.kernel.handle_message(now, Channel::Shell, frames);
    assert!(h.drain().is_empty());
    // A replay of a good message is dropped too.
    let (_, frames) = h.frames("kernel_info_request", b"{}");
    let now = h.now();
    h.kernel.handle_message(now, Channel::Shell, frames.clone());
    assert_eq!(h.drain().len(), 3);
    h.kernel.handle_message(now, Channel::Shell, frames);
    assert!(h.drain().is_empty());
}

#[test]
fn wrong_shapes_get_an_error_reply_and_unknown_types_only_status() {
    let mut h = Harness::new();
    let id = h.send(Channel::Shell, "execute_request", json!({"code": 42}));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        ["status:busy", "execute_reply", "status:idle"]
    );
    assert_eq!(outs[1].content["status"], "error");
    assert_eq!(outs[1].content["ename"], "BadRequest");
    assert_eq!(outs[1].parent_id, id);
    assert!(h.jobs.is_empty());
    let (_, frames) = h.frames("complete_request", b"{not json");
    let now = h.now();
    h.kernel.handle_message(now, Channel::Shell, frames);
    assert_eq!(types(&h.drain())[1], "complete_reply");
    h.send(Channel::Shell, "no_such_request", json!({}));
    assert_eq!(types(&h.drain()), ["status:busy", "status:idle"]);
}

#[test]
fn history_follows_the_queue() {
    let mut h = Harness::new();
    h.send(Channel::Shell, "execute_request", execute("a = 1"));
    h.send(
        Channel::Shell,
        "history_request",
        json!({"hist_access_type": "tail", "n": 5, "output": false, "raw": true}),
    );
    let outs = h.drain();
    assert!(
        !types(&outs).contains(&"history_reply".to_string()),
        "history waits for the cell"
    );
    let eid = h.jobs[0].request.id();
    h.engine(ok(eid, None));
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        [
            "execute_reply",
            "status:idle",
            "status:busy",
            "history_reply",
            "status:idle"
        ]
    );
    assert_eq!(outs[3].content["history"], json!([[1, 1, "a = 1"]]));
}

#[test]
fn queries_reply_from_engine_events() {
    let mut h = Harness::new();
    h.send(
        Channel::Shell,
        "is_complete_request",
        json!({"code": "if x then"}),
    );
    h.send(
        Channel::Shell,
        "complete_request",
        json!({"code": "pri", "cursor_pos": 3}),
    );
    h.drain();
    let ids: Vec<u64> = h.jobs.iter().map(|j| j.request.id()).collect();
    h.engine(EngineEvent::IsCompleteDone {
        id: ids[0],
        status: IsCompleteStatus::Incomplete {
            indent: "  ".into(),
        },
    });
    h.engine(EngineEvent::CompleteDone {
        id: ids[1],
        matches: vec!["print".into()],
        cursor_start: 0,
        cursor_end: 3,
    });
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        [
            "is_complete_reply",
            "status:idle",
            "status:busy",
            "complete_reply",
            "status:idle"
        ]
    );
    assert_eq!(
        outs[0].content,
        json!({"status": "incomplete", "indent": "  "})
    );
    assert_eq!(outs[3].content["matches"], json!(["print"]));
}

#[test]
fn comms_and_welcome() {
    let mut h = Harness::new();
    h.send(
        Channel::Shell,
        "comm_open",
        json!({"comm_id": "c1", "target_name": "nope", "data": {}}),
    );
    let outs = h.drain();
    assert_eq!(types(&outs), ["status:busy", "comm_close", "status:idle"]);
    assert_eq!(outs[1].content["comm_id"], "c1");
    h.send(Channel::Shell, "comm_info_request", json!({}));
    assert_eq!(h.drain()[1].content, json!({"status": "ok", "comms": {}}));
    let now = h.now();
    h.kernel.handle_subscription(now, b"");
    let outs = h.drain();
    assert_eq!(types(&outs), ["iopub_welcome"]);
    assert_eq!(outs[0].content, json!({"subscription": ""}));
}

#[test]
fn a_full_queue_refuses_instead_of_growing() {
    let config = KernelConfig {
        key: KEY.to_vec(),
        max_queue: 2,
        ..Default::default()
    };
    let mut h = Harness::new();
    h.kernel = Kernel::new(config);
    for i in 0..3 {
        h.send(Channel::Shell, "execute_request", execute(&i.to_string()));
    }
    let outs = h.drain();
    assert_eq!(h.jobs.len(), 2);
    let reply = outs.iter().find(|o| o.msg_type == "execute_reply").unwrap();
    assert!(reply.content["evalue"]
        .as_str()
        .unwrap()
        .contains("queue is full"));
}

#[test]
fn messages_on_the_wrong_channel_are_ignored() {
    let mut h = Harness::new();
    h.send(Channel::Stdin, "execute_request", execute("1"));
    assert!(h.drain().is_empty());
    assert!(h.jobs.is_empty());
}

mod tools {
    use super::*;
    use crate::tools::{
        Registry, SecurityLevel, Tool, ToolContext, ToolHost, ToolHostRef, ToolOutput, ToolResult,
        ToolSpec,
    };
    use std::sync::Arc;

    struct Echo(ToolSpec);

    impl Tool for Echo {
        fn spec(&self) -> &ToolSpec {
            &self.0
        }
        fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
            Ok(ToolOutput {
                text: params["input"].as_str().unwrap_or("").to_string(),
                data: params.clone(),
            })
        }
    }

    struct Host(Registry);

    impl ToolHost for Host {
        fn registry(&self) -> &Registry {
            &self.0
        }
        fn invoke(&self, name: &str, params: &Value, _timeout_ms: Option<u64>) -> ToolResult {
            let policy = crate::tools::Policy::default();
            self.0
                .invoke(name, params, &ToolContext { policy: &policy })
        }
        fn batch(&self, calls: &[(String, Value)]) -> Vec<ToolResult> {
            calls.iter().map(|(n, p)| self.invoke(n, p, None)).collect()
        }
    }

    fn spec(name: &'static str, blocking: bool) -> ToolSpec {
        ToolSpec {
            name,
            category: "test",
            description: "Echoes its input.",
            parameters: json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}),
            security: SecurityLevel::Safe,
            cacheable: false,
            blocking,
        }
    }

    fn harness() -> Harness {
        let mut registry = Registry::new();
        registry
            .register(Arc::new(Echo(spec("echo", false))))
            .unwrap();
        registry
            .register(Arc::new(Echo(spec("slow-echo", true))))
            .unwrap();
        let host: Arc<dyn ToolHost> = Arc::new(Host(registry));
        let config = KernelConfig {
            key: KEY.to_vec(),
            session: "k".into(),
            tools: Some(ToolHostRef(host)),
            ..Default::default()
        };
        let mut h = Harness::new();
        h.kernel = Kernel::new(config);
        h
    }

    #[test]
    fn list_info_search_and_pure_invoke_answer_at_once() {
        let mut h = harness();
        h.send(Channel::Shell, "tool_request", json!({"command": "list"}));
        let outs = h.drain();
        assert_eq!(types(&outs), ["status:busy", "tool_reply", "status:idle"]);
        let names: Vec<&str> = outs[1].content["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["echo", "slow-echo"]);
        h.send(
            Channel::Shell,
            "tool_request",
            json!({"command": "invoke", "name": "echo", "params": {"input": "hi"}}),
        );
        let outs = h.drain();
        assert_eq!(
            outs[1].content,
            json!({"status": "ok", "command": "invoke", "text": "hi", "data": {"input": "hi"}})
        );
        h.send(
            Channel::Shell,
            "tool_request",
            json!({"command": "invoke", "name": "ecko", "params": {}}),
        );
        let reply = &h.drain()[1].content;
        assert_eq!(reply["status"], "error");
        assert_eq!(reply["error"]["kind"], "unknown_tool");
        assert_eq!(reply["error"]["suggestions"][0], "echo");
        h.send(
            Channel::Shell,
            "tool_request",
            json!({"command": "invoke", "name": "echo", "params": {"input": 3}}),
        );
        let reply = &h.drain()[1].content;
        assert_eq!(reply["error"]["kind"], "invalid_params");
        assert!(
            reply["evalue"].as_str().unwrap().contains("input"),
            "{reply}"
        );
        h.send(
            Channel::Shell,
            "tool_request",
            json!({"command": "frobnicate"}),
        );
        assert_eq!(h.drain()[1].content["status"], "error");
        assert!(h.other.is_empty());
    }

    #[test]
    fn blocking_tools_and_batches_go_to_a_worker_while_a_cell_runs() {
        let mut h = harness();
        h.send(
            Channel::Shell,
            "execute_request",
            execute("while true do end"),
        );
        h.drain();
        let id = h.send(
            Channel::Shell,
            "tool_request",
            json!({"command": "invoke", "name": "slow-echo", "params": {"input": "x"}}),
        );
        let outs = h.drain();
        assert_eq!(
            types(&outs),
            ["status:busy"],
            "answered later, not queued behind the cell"
        );
        let Some(Action::Tool(job)) = h.other.pop() else {
            panic!("no tool job: {:?}", h.other)
        };
        let host = Host({
            let mut r = Registry::new();
            r.register(Arc::new(Echo(spec("slow-echo", true)))).unwrap();
            r
        });
        let done = job.run(&host);
        let now = h.now();
        h.kernel
            .handle_worker_event(now, WorkerEvent::Tool { id: job.id, done });
        let outs = h.drain();
        assert_eq!(types(&outs), ["tool_reply", "status:idle"]);
        assert_eq!(outs[0].parent_id, id);
        assert_eq!(outs[0].content["text"], "x");
        h.send(
            Channel::Shell,
            "tool_request",
            json!({"command": "batch", "calls": [
            {"name": "echo", "params": {"input": "a"}}, {"name": "nope", "params": {}}]}),
        );
        h.drain();
        let Some(Action::Tool(job)) = h.other.pop() else {
            panic!()
        };
        let ToolCall::Batch(calls) = &job.call else {
            panic!()
        };
        assert_eq!(calls.len(), 2);
        let done = ToolDone::Batch(vec![
            Ok(ToolOutput {
                text: "a".into(),
                data: json!({}),
            }),
            Err(crate::tools::ToolError::new(
                crate::tools::ToolErrorKind::UnknownTool,
                "no tool nope",
            )),
        ]);
        let now = h.now();
        h.kernel
            .handle_worker_event(now, WorkerEvent::Tool { id: job.id, done });
        let reply = &h.drain()[0].content;
        assert_eq!(reply["results"][0]["success"], true);
        assert_eq!(reply["results"][1]["error"]["kind"], "unknown_tool");
    }

    #[test]
    fn a_kernel_without_tools_says_so() {
        let mut h = Harness::new();
        h.send(Channel::Shell, "tool_request", json!({"command": "list"}));
        let outs = h.drain();
        assert_eq!(outs[1].content["status"], "error");
        assert!(outs[1].content["evalue"]
            .as_str()
            .unwrap()
            .contains("no tools"));
    }
}

mod debug;
