//! The session, driven as JupyterLab and VS Code drive it, with the engine played by hand.

use serde_json::{json, Value};

use super::*;
use crate::engine::debug::{DebugEvent, Query, StepKind, StopReason};

struct Rig {
    s: Session,
    seq: i64,
}

impl Rig {
    fn jupyter() -> Rig {
        Rig {
            s: Session::new(Mode::Jupyter(CellFiles::in_dir("/tmp/llmspell_7"))),
            seq: 0,
        }
    }

    fn standalone() -> Rig {
        Rig {
            s: Session::new(Mode::Standalone),
            seq: 0,
        }
    }

    /// Sends a request; returns everything it caused.
    fn req(&mut self, command: &str, arguments: Value) -> Vec<Output> {
        self.seq += 1;
        let msg = json!({"seq": self.seq, "type": "request", "command": command,
            "arguments": arguments});
        self.s.handle_request(self.seq as u64 * 10, &msg);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.s.poll_output()).collect()
    }

    fn engine(&mut self, ev: DebugEvent) -> Vec<Output> {
        self.s.handle_engine_event(ev);
        self.drain()
    }
}

fn response(out: &[Output]) -> &Value {
    out.iter()
        .find_map(|o| match o {
            Output::Response { message, .. } => Some(message),
            _ => None,
        })
        .expect("a response")
}

fn events(out: &[Output]) -> Vec<&Value> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn commands(out: &[Output]) -> Vec<&DebugCommand> {
    out.iter()
        .filter_map(|o| match o {
            Output::Engine(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// The token of the only query among the outputs.
fn token(out: &[Output]) -> (u64, Query) {
    match commands(out).as_slice() {
        [DebugCommand::Query { token, query }] => (*token, query.clone()),
        other => panic!("one query expected: {other:?}"),
    }
}

#[test]
fn jupyterlab_sequence() {
    let mut r = Rig::jupyter();
    let info = r.req("debugInfo", json!({}));
    let body = &response(&info)["body"];
    assert_eq!(body["isStarted"], false);
    assert_eq!(body["hashMethod"], "Murmur2");
    assert_eq!(body["hashSeed"], DEFAULT_HASH_SEED);
    assert_eq!(body["tmpFilePrefix"], "/tmp/llmspell_7/");
    assert_eq!(body["tmpFileSuffix"], ".lua");

    let init = r.req(
        "initialize",
        json!({"clientID": "jupyterlab", "adapterID": "lua"}),
    );
    let resp = response(&init);
    assert_eq!(resp["success"], true);
    assert_eq!(resp["request_seq"], 2);
    assert_eq!(resp["body"]["supportsConfigurationDoneRequest"], true);
    assert_eq!(
        resp["body"]["exceptionBreakpointFilters"][0]["filter"],
        "uncaught"
    );
    assert_eq!(events(&init)[0]["event"], "initialized");
    assert!(events(&init)[0]["seq"].as_i64() > resp["seq"].as_i64());

    assert!(r.s.cell_chunk_name("x = 1").is_none(), "not attached yet");
    let attach = r.req("attach", json!({}));
    assert_eq!(response(&attach)["success"], true);
    assert_eq!(commands(&attach)[0], &DebugCommand::Attach);
    assert!(r.s.is_started());

    let exc = r.req("setExceptionBreakpoints", json!({"filters": ["uncaught"]}));
    assert_eq!(
        commands(&exc),
        [&DebugCommand::SetExceptionBreakpoints { uncaught: true }]
    );

    let code = "x = 1\ny = 2\nprint(x + y)";
    let path = "/tmp/llmspell_7/4037972624.lua";
    assert_eq!(r.s.cell_path(code).as_deref(), Some(path));
    assert_eq!(r.s.cell_chunk_name(code), Some(format!("@{path}")));
    let dump = r.req("dumpCell", json!({ "code": code }));
    let (tok, query) = token(&dump);
    assert_eq!(
        query,
        Query::DumpCell {
            path: path.into(),
            code: code.into()
        }
    );
    let answered = r.engine(DebugEvent::Reply {
        token: tok,
        result: Ok(json!({ "sourcePath": path })),
    });
    let resp = response(&answered);
    assert_eq!(resp["command"], "dumpCell");
    assert_eq!(resp["body"]["sourcePath"], path);
    let dump_seq = r.seq;
    assert_eq!(resp["request_seq"], dump_seq);
    assert!(matches!(&answered[0], Output::Response { tag, .. } if *tag == dump_seq as u64 * 10));

    let bps = r.req(
        "setBreakpoints",
        json!({"source": {"path": path}, "breakpoints": [{"line": 2}], "sourceModified": false}),
    );
    let resp = response(&bps);
    assert_eq!(resp["body"]["breakpoints"][0]["verified"], true);
    assert_eq!(resp["body"]["breakpoints"][0]["line"], 2);
    match commands(&bps)[0] {
        DebugCommand::SetBreakpoints {
            source,
            breakpoints,
        } => {
            assert_eq!(source, &format!("@{path}"));
            assert_eq!(breakpoints[0].line, 2);
        }
        other => panic!("{other:?}"),
    }

    let stop = r.engine(DebugEvent::Stopped {
        reason: StopReason::Breakpoint,
        description: None,
        hit_breakpoint_ids: vec![1],
    });
    let ev = events(&stop)[0];
    assert_eq!(ev["event"], "stopped");
    assert_eq!(ev["body"]["reason"], "breakpoint");
    assert_eq!(ev["body"]["threadId"], 1);
    assert_eq!(ev["body"]["hitBreakpointIds"], json!([1]));
    let info = r.req("debugInfo", json!({}));
    let body = &response(&info)["body"];
    assert_eq!(body["isStarted"], true);
    assert_eq!(body["stoppedThreads"], json!([1]));
    assert_eq!(
        body["breakpoints"],
        json!([{"source": path, "breakpoints": [{"line": 2}]}])
    );

    let st = r.req("stackTrace", json!({"threadId": 1}));
    let (tok, query) = token(&st);
    assert_eq!(
        query,
        Query::StackTrace {
            start_frame: 0,
            levels: 0
        }
    );
    let answered = r.engine(DebugEvent::Reply {
        token: tok,
        result: Err("boom".into()),
    });
    let resp = response(&answered);
    assert_eq!(resp["success"], false);
    assert_eq!(resp["message"], "stackTrace: boom");

    let next = r.req("next", json!({"threadId": 1}));
    assert_eq!(commands(&next), [&DebugCommand::Resume(StepKind::Next)]);
    let cont = r.engine(DebugEvent::Continued);
    assert_eq!(events(&cont)[0]["event"], "continued");
    assert!(!r.s.is_stopped());

    let disc = r.req(
        "disconnect",
        json!({"restart": false, "terminateDebuggee": true}),
    );
    assert_eq!(response(&disc)["success"], true);
    assert_eq!(commands(&disc), [&DebugCommand::Detach]);
    assert!(!disc.iter().any(|o| matches!(o, Output::Terminate)));
    let info = r.req("debugInfo", json!({}));
    let body = &response(&info)["body"];
    assert_eq!(body["isStarted"], false);
    assert_eq!(body["breakpoints"], json!([]));
}

#[test]
fn bad_requests_get_clear_errors() {
    let mut r = Rig::jupyter();
    let out = r.req("frobnicate", json!({}));
    let resp = response(&out);
    assert_eq!(resp["success"], false);
    assert_eq!(resp["command"], "frobnicate");
    assert_eq!(resp["message"], "unknown command \"frobnicate\"");

    for (command, args, message) in [
        (
            "scopes",
            json!({}),
            "scopes: `frameId` must be an integer (it is required)",
        ),
        (
            "variables",
            json!({"variablesReference": "x"}),
            "variables: `variablesReference` must be an integer",
        ),
        (
            "evaluate",
            json!({"expression": 3}),
            "evaluate: `expression` must be a string",
        ),
        (
            "setBreakpoints",
            json!({"source": {}}),
            "setBreakpoints: `source.path` must be a non-empty string",
        ),
        (
            "setBreakpoints",
            json!({"source": {"path": "/a"}, "breakpoints": [{"line": "x"}]}),
            "setBreakpoints: `breakpoints[].line` must be a line number (1 or more)",
        ),
        (
            "next",
            json!({"threadId": 1}),
            "next: the thread is not stopped",
        ),
        (
            "launch",
            json!({"program": "/x.lua"}),
            "unknown command \"launch\"",
        ),
        (
            "dumpCell",
            json!({}),
            "dumpCell: `code` must be a string (it is required)",
        ),
        (
            "stackTrace",
            json!([1, 2]),
            "stackTrace: `arguments` must be an object",
        ),
    ] {
        let out = r.req(command, args);
        let resp = response(&out);
        assert_eq!(resp["success"], false, "{command}");
        assert_eq!(resp["message"], message, "{command}");
        assert!(
            commands(&out).is_empty(),
            "{command}: nothing for the engine"
        );
    }

    r.s.handle_request(1, &json!({"seq": 5, "type": "request"}));
    let out = r.drain();
    assert_eq!(response(&out)["message"], "the request has no `command`");
    r.s.handle_request(1, &json!({"seq": 6, "type": "event", "command": "x"}));
    let out = r.drain();
    assert_eq!(response(&out)["request_seq"], 6);
    assert_eq!(response(&out)["success"], false);

    // A refused hit condition leaves that breakpoint unverified, not the request.
    let out = r.req(
        "setBreakpoints",
        json!({"source": {"path": "/w/../a.lua"}, "breakpoints": [{"line": 1, "hitCondition": "often"}, {"line": 2}]}),
    );
    let list = &response(&out)["body"]["breakpoints"];
    assert_eq!(list[0]["verified"], false);
    assert!(list[0]["message"].as_str().unwrap().contains("often"));
    assert_eq!(list[1]["verified"], true);
    match commands(&out)[0] {
        DebugCommand::SetBreakpoints {
            source,
            breakpoints,
        } => {
            assert_eq!(source, "@/a.lua", "normalized");
            assert_eq!(breakpoints.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    // A reply to an unknown token is dropped.
    assert!(r
        .engine(DebugEvent::Reply {
            token: 999,
            result: Ok(json!({}))
        })
        .is_empty());
}

#[test]
fn standalone_launch_runs_after_configuration() {
    let mut r = Rig::standalone();
    let init = r.req("initialize", json!({"adapterID": "llmspell"}));
    assert_eq!(response(&init)["body"]["supportsTerminateRequest"], true);
    let launch = r.req(
        "launch",
        json!({"program": "/w/./s.lua", "args": ["a"], "stopOnEntry": true}),
    );
    assert_eq!(response(&launch)["success"], true);
    assert_eq!(
        commands(&launch),
        [&DebugCommand::Attach, &DebugCommand::StopOnEntry]
    );
    assert!(launch.contains(&Output::Launch(Launch {
        program: "/w/s.lua".into(),
        args: vec!["a".into()],
        stop_on_entry: true,
        no_debug: false,
        cwd: None,
    })));
    assert!(
        !launch.contains(&Output::Start),
        "waits for configurationDone"
    );
    let again = r.req("launch", json!({"program": "/w/s.lua"}));
    assert_eq!(response(&again)["success"], false);
    let done = r.req("configurationDone", json!({}));
    assert!(done.contains(&Output::Start));
    let threads = r.req("threads", json!({}));
    assert_eq!(response(&threads)["body"]["threads"][0]["id"], 1);
    r.s.handle_program_output("stdout", "hi\n");
    r.s.handle_program_exit(3);
    let out = r.drain();
    let evs = events(&out);
    assert_eq!(
        evs[0]["body"],
        json!({"category": "stdout", "output": "hi\n"})
    );
    assert_eq!(evs[1]["event"], "exited");
    assert_eq!(evs[1]["body"]["exitCode"], 3);
    assert_eq!(evs[2]["event"], "terminated");
    let disc = r.req("disconnect", json!({}));
    assert!(disc.contains(&Output::Terminate));
    let attach = r.req("attach", json!({}));
    assert_eq!(response(&attach)["success"], false, "standalone launches");
    let missing = Rig::standalone().req("launch", json!({}));
    assert_eq!(
        response(&missing)["message"],
        "launch: `program` must be a string (it is required)"
    );
}

#[test]
fn engine_output_and_exceptions_become_events() {
    let mut r = Rig::standalone();
    let out = r.engine(DebugEvent::Output {
        text: "log\n".into(),
    });
    assert_eq!(
        events(&out)[0]["body"],
        json!({"category": "console", "output": "log\n"})
    );
    let out = r.engine(DebugEvent::Stopped {
        reason: StopReason::Exception,
        description: Some("boom".into()),
        hit_breakpoint_ids: vec![],
    });
    let body = &events(&out)[0]["body"];
    assert_eq!(body["reason"], "exception");
    assert_eq!(body["text"], "boom");
    assert!(body.get("hitBreakpointIds").is_none());
    r.s.handle_bad_message("bad DAP header");
    let out = r.drain();
    assert_eq!(events(&out)[0]["body"]["category"], "important");
}
