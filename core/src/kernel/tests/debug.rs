//! debug_request on control: replies wrapped in busy and idle, deferred replies, events on
//! iopub, cells named after their file while a client is attached.

use super::*;
use crate::dap::CellFiles;
use crate::engine::debug::{DebugCommand, DebugEvent, Query, StopReason};

fn with_debugger() -> Harness {
    let mut h = Harness::new();
    h.kernel = Kernel::new(KernelConfig {
        key: KEY.to_vec(),
        session: "k".into(),
        debugger: Some(CellFiles::in_dir("/tmp/llmspell_9")),
        ..Default::default()
    });
    h
}

fn dap(seq: i64, command: &str, arguments: Value) -> Value {
    json!({"seq": seq, "type": "request", "command": command, "arguments": arguments})
}

impl Harness {
    fn debug_cmds(&mut self) -> Vec<DebugCommand> {
        let mut out = Vec::new();
        self.other.retain(|a| match a {
            Action::Debug(c) => {
                out.push(c.clone());
                false
            }
            _ => true,
        });
        out
    }

    fn debug_event(&mut self, ev: DebugEvent) -> Vec<Out> {
        let now = self.now();
        self.kernel.handle_worker_event(now, WorkerEvent::Debug(ev));
        self.drain()
    }
}

#[test]
fn kernel_info_announces_the_debugger() {
    let mut h = with_debugger();
    h.send(Channel::Control, "kernel_info_request", json!({}));
    let outs = h.drain();
    assert_eq!(outs[1].content["debugger"], true);
    assert_eq!(outs[1].content["supported_features"], json!(["debugger"]));
    let mut plain = Harness::new();
    plain.send(Channel::Shell, "kernel_info_request", json!({}));
    let outs = plain.drain();
    assert_eq!(outs[1].content["debugger"], false);
    plain.send(
        Channel::Control,
        "debug_request",
        dap(1, "initialize", json!({})),
    );
    let outs = plain.drain();
    assert_eq!(outs[1].content["ename"], "NotSupported");
}

#[test]
fn debug_requests_are_wrapped_and_deferred_replies_follow_the_engine() {
    let mut h = with_debugger();
    let id = h.send(
        Channel::Control,
        "debug_request",
        dap(1, "debugInfo", json!({})),
    );
    let outs = h.drain();
    assert_eq!(types(&outs), ["status:busy", "debug_reply", "status:idle"]);
    assert!(outs.iter().all(|o| o.parent_id == id));
    assert_eq!(outs[1].channel, Channel::Control);
    assert_eq!(outs[1].content["body"]["tmpFilePrefix"], "/tmp/llmspell_9/");
    assert_eq!(outs[1].content["request_seq"], 1);

    h.send(
        Channel::Control,
        "debug_request",
        dap(2, "initialize", json!({})),
    );
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        ["status:busy", "debug_reply", "debug_event", "status:idle"]
    );
    assert_eq!(outs[2].content["event"], "initialized");
    h.send(
        Channel::Control,
        "debug_request",
        dap(3, "attach", json!({})),
    );
    h.drain();
    assert!(h.debug_cmds().contains(&DebugCommand::Attach));

    let code = "x = 1\ny = 2\nprint(x + y)";
    let dump = h.send(
        Channel::Control,
        "debug_request",
        dap(4, "dumpCell", json!({ "code": code })),
    );
    let outs = h.drain();
    assert_eq!(
        types(&outs),
        ["status:busy"],
        "the reply waits for the engine"
    );
    let cmds = h.debug_cmds();
    let [DebugCommand::Query { token, query }] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let path = "/tmp/llmspell_9/4037972624.lua";
    assert_eq!(
        query,
        &Query::DumpCell {
            path: path.into(),
            code: code.into()
        }
    );
    let outs = h.debug_event(DebugEvent::Reply {
        token: *token,
        result: Ok(json!({ "sourcePath": path })),
    });
    assert_eq!(types(&outs), ["debug_reply", "status:idle"]);
    assert!(outs.iter().all(|o| o.parent_id == dump));
    assert_eq!(outs[0].content["body"]["sourcePath"], path);

    // While attached, a cell runs under its file's name.
    let exec = h.send(Channel::Shell, "execute_request", execute(code));
    h.drain();
    let job = h.jobs.remove(0);
    let EngineRequest::Execute { chunk_name, id, .. } = job.request else {
        panic!("an execute job")
    };
    assert_eq!(chunk_name, format!("@{path}"));

    // A stop is published on iopub with the running cell as parent, and control still
    // answers.
    let outs = h.debug_event(DebugEvent::Stopped {
        reason: StopReason::Breakpoint,
        description: None,
        hit_breakpoint_ids: vec![1],
    });
    assert_eq!(types(&outs), ["debug_event"]);
    assert_eq!(outs[0].parent_id, exec);
    assert_eq!(outs[0].content["event"], "stopped");
    h.send(
        Channel::Control,
        "debug_request",
        dap(5, "threads", json!({})),
    );
    let outs = h.drain();
    assert_eq!(outs[1].content["body"]["threads"][0]["id"], 1);
    h.send(
        Channel::Control,
        "debug_request",
        dap(6, "continue", json!({"threadId": 1})),
    );
    h.drain();
    assert!(h
        .debug_cmds()
        .iter()
        .any(|c| matches!(c, DebugCommand::Resume(_))));
    h.engine(ok(id, None));
    let outs = h.drain();
    assert_eq!(types(&outs), ["execute_reply", "status:idle"]);

    // An interrupt while stopped reaches the engine's flag, which ends the stop.
    h.send(
        Channel::Control,
        "debug_request",
        dap(7, "disconnect", json!({})),
    );
    h.drain();
    assert!(h.debug_cmds().contains(&DebugCommand::Detach));
    h.send(Channel::Shell, "execute_request", execute("1"));
    h.drain();
    let EngineRequest::Execute { chunk_name, .. } = h.jobs.remove(0).request else {
        panic!("an execute job")
    };
    assert!(chunk_name.starts_with("=In["), "detached: {chunk_name}");
}

#[test]
fn bad_debug_requests_get_error_replies() {
    let mut h = with_debugger();
    let (_, frames) = h.frames("debug_request", b"not json");
    let now = h.now();
    h.kernel.handle_message(now, Channel::Control, frames);
    let outs = h.drain();
    assert_eq!(types(&outs), ["status:busy", "debug_reply", "status:idle"]);
    assert_eq!(outs[1].content["success"], false);
    h.send(Channel::Control, "debug_request", dap(1, "nope", json!({})));
    let outs = h.drain();
    assert_eq!(outs[1].content["message"], "unknown command \"nope\"");
}
