//! The debugger in the engine: breakpoints, stepping, stops, variables, evaluate. The
//! engine runs on the test's thread; a client thread answers its stops from a script.

use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde_json::Value as Json;

use super::super::debug::{
    BreakpointSpec, DebugCommand, DebugEvent, DebugLink, Query, StepKind, StopReason,
};
use super::*;

const WAIT: Duration = Duration::from_secs(20);

/// The client side of the debug channel, on its own thread.
pub(super) struct Client {
    cmd: Sender<DebugCommand>,
    events: Receiver<DebugEvent>,
    next_token: u64,
    /// Output events seen so far.
    pub output: Vec<String>,
}

impl Client {
    pub fn send(&self, cmd: DebugCommand) {
        self.cmd.send(cmd).expect("engine listens");
    }

    fn next(&mut self) -> DebugEvent {
        let ev = self.events.recv_timeout(WAIT).expect("an event in time");
        if let DebugEvent::Output { text } = &ev {
            self.output.push(text.clone());
        }
        ev
    }

    /// Waits for the next stop (skipping outputs and continues).
    pub fn stopped(&mut self) -> (StopReason, Vec<u64>, Option<String>) {
        loop {
            if let DebugEvent::Stopped {
                reason,
                hit_breakpoint_ids,
                description,
            } = self.next()
            {
                return (reason, hit_breakpoint_ids, description);
            }
        }
    }

    pub fn query(&mut self, query: Query) -> Result<Json, String> {
        self.next_token += 1;
        let token = self.next_token;
        self.send(DebugCommand::Query { token, query });
        loop {
            if let DebugEvent::Reply { token: t, result } = self.next() {
                assert_eq!(t, token, "replies come in order");
                return result;
            }
        }
    }

    pub fn resume(&self, kind: StepKind) {
        self.send(DebugCommand::Resume(kind));
    }

    /// Every frame of the stack, top first.
    pub fn stack(&mut self) -> Vec<Json> {
        let st = self.query(Query::StackTrace {
            start_frame: 0,
            levels: 0,
        });
        let st = st.expect("stack trace");
        st["stackFrames"].as_array().expect("stackFrames").clone()
    }

    /// The top frame: `(id, name, line)`.
    pub fn top(&mut self) -> (i64, String, i64) {
        let frames = self.stack();
        let f = &frames[0];
        (
            f["id"].as_i64().unwrap(),
            f["name"].as_str().unwrap().to_owned(),
            f["line"].as_i64().unwrap(),
        )
    }

    /// `name = value` of the variables behind a reference.
    pub fn vars(&mut self, reference: i64) -> Vec<(String, String)> {
        let body = self
            .query(Query::Variables {
                reference,
                start: 0,
                count: 0,
            })
            .expect("variables");
        body["variables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_owned(),
                    v["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The references of the Locals, Upvalues and Globals scopes of a frame.
    pub fn scopes(&mut self, frame: i64) -> [i64; 3] {
        let body = self.query(Query::Scopes { frame_id: frame }).unwrap();
        let s = body["scopes"].as_array().unwrap();
        assert_eq!(s[0]["name"], "Locals");
        assert_eq!(s[1]["name"], "Upvalues");
        assert_eq!(s[2]["name"], "Globals");
        [0, 1, 2].map(|i| s[i]["variablesReference"].as_i64().unwrap())
    }

    pub fn eval(&mut self, expression: &str, frame: Option<i64>) -> Result<String, String> {
        self.query(Query::Evaluate {
            expression: expression.into(),
            frame_id: frame,
            context: "repl".into(),
        })
        .map(|b| b["result"].as_str().unwrap().to_owned())
    }
}

/// An engine with a debugger, and the client's ends of its channel.
pub(super) struct Rig {
    pub h: Harness,
    client: Option<Client>,
}

impl Rig {
    pub fn new() -> Rig {
        Rig::with_harness(Harness::new())
    }

    pub fn with_harness(mut h: Harness) -> Rig {
        let (cmd, commands) = crossbeam_channel::unbounded();
        let (ev_tx, events) = crossbeam_channel::unbounded();
        h.engine
            .enable_debugger(DebugLink {
                commands,
                events: Box::new(move |ev| {
                    let _ = ev_tx.send(ev);
                }),
            })
            .expect("debugger starts");
        let client = Client {
            cmd,
            events,
            next_token: 0,
            output: Vec::new(),
        };
        client.send(DebugCommand::Attach);
        Rig {
            h,
            client: Some(client),
        }
    }

    pub fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("client is here")
    }

    pub fn breakpoints(&mut self, source: &str, specs: Vec<BreakpointSpec>) {
        self.client().send(DebugCommand::SetBreakpoints {
            source: source.into(),
            breakpoints: specs,
        });
    }

    /// Runs `code` under `chunk_name` while `script` plays the client on another thread.
    pub fn run(
        &mut self,
        code: &str,
        chunk_name: &str,
        script: impl FnOnce(&mut Client) + Send,
    ) -> ExecuteOutcome {
        let mut client = self.client.take().expect("client is here");
        let id = self.h.next_id();
        let request = EngineRequest::Execute {
            id,
            code: code.into(),
            chunk_name: chunk_name.into(),
            silent: false,
            allow_stdin: false,
            user_expressions: Vec::new(),
        };
        let h = &mut self.h;
        let (events, client) = thread::scope(|s| {
            let t = s.spawn(move || {
                script(&mut client);
                client
            });
            let events = h.request(request);
            (events, t.join().expect("client script passes"))
        });
        self.client = Some(client);
        outcome(&events).clone()
    }
}

pub(super) fn bp(id: u64, line: u32) -> BreakpointSpec {
    BreakpointSpec {
        id,
        line,
        condition: None,
        hit_condition: None,
        log_message: None,
    }
}

pub(super) fn result_of(outcome: &ExecuteOutcome) -> String {
    match outcome {
        ExecuteOutcome::Ok {
            result: Some(r), ..
        } => r["text/plain"].as_str().unwrap().to_owned(),
        other => panic!("expected a result, got {other:?}"),
    }
}

const FUNC: &str = "local k = 10
local function f(x)
  local y = x * 2
  return y + k
end
local r = f(21)
return r";

#[test]
fn a_breakpoint_stops_with_stack_scopes_and_variables() {
    let mut rig = Rig::new();
    rig.breakpoints("@/t/a.lua", vec![bp(7, 4)]);
    let outcome = rig.run(FUNC, "@/t/a.lua", |c| {
        let (reason, ids, _) = c.stopped();
        assert_eq!((reason, ids), (StopReason::Breakpoint, vec![7]));
        let frames = c.stack();
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0]["name"], "f");
        assert_eq!(frames[0]["line"], 4);
        assert_eq!(frames[0]["source"]["path"], "/t/a.lua");
        assert_eq!(frames[1]["name"], "main chunk");
        assert_eq!(frames[1]["line"], 6);
        let top = frames[0]["id"].as_i64().unwrap();
        let [locals, upvalues, globals] = c.scopes(top);
        assert_eq!(
            c.vars(locals),
            [("x".into(), "21".into()), ("y".into(), "42".into())]
        );
        assert_eq!(c.vars(upvalues), [("k".into(), "10".into())]);
        assert!(c.vars(globals).is_empty(), "no user globals yet");
        assert_eq!(c.eval("x + y + k", Some(top)).as_deref(), Ok("73"));
        // Assigning a local in the frame sticks once the code goes on.
        assert_eq!(c.eval("y = 100", Some(top)).as_deref(), Ok(""));
        let caller = frames[1]["id"].as_i64().unwrap();
        let [caller_locals, _, _] = c.scopes(caller);
        let names: Vec<String> = c.vars(caller_locals).into_iter().map(|v| v.0).collect();
        assert_eq!(names, ["k", "f"]);
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "110");
}

#[test]
fn a_breakpoint_stops_in_a_cell_run_again_under_another_file() {
    // From its second run, a cell's code is loaded from the binary chunk of its first
    // compile, with the new cell file as its source.
    let mut rig = Rig::new();
    for n in 1..=3 {
        let outcome = rig.run(FUNC, &format!("@/t/r{n}.lua"), |_| {});
        assert_eq!(result_of(&outcome), "52");
    }
    rig.breakpoints("@/t/r4.lua", vec![bp(9, 4)]);
    let outcome = rig.run(FUNC, "@/t/r4.lua", |c| {
        let (reason, ids, _) = c.stopped();
        assert_eq!((reason, ids), (StopReason::Breakpoint, vec![9]));
        let frames = c.stack();
        assert_eq!(frames[0]["name"], "f");
        assert_eq!(frames[0]["line"], 4);
        assert_eq!(frames[0]["source"]["path"], "/t/r4.lua");
        assert_eq!(frames[1]["source"]["path"], "/t/r4.lua");
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "52");
}

#[test]
fn set_variable_and_nested_tables() {
    let mut rig = Rig::new();
    rig.breakpoints("@/t/b.lua", vec![bp(1, 3)]);
    let code = "local t = {1, 2, inner = {name = 'x'}}\nlocal n = 5\nreturn n, t.inner.name";
    let outcome = rig.run(code, "@/t/b.lua", |c| {
        c.stopped();
        let (top, _, line) = c.top();
        assert_eq!(line, 3);
        let [locals, _, _] = c.scopes(top);
        let body = c
            .query(Query::Variables {
                reference: locals,
                start: 0,
                count: 0,
            })
            .unwrap();
        let t = &body["variables"][0];
        assert_eq!(t["name"], "t");
        assert_eq!(t["type"], "table");
        let t_ref = t["variablesReference"].as_i64().unwrap();
        assert!(t_ref > 0);
        let children = c
            .query(Query::Variables {
                reference: t_ref,
                start: 0,
                count: 0,
            })
            .unwrap();
        let children = children["variables"].as_array().unwrap().clone();
        let names: Vec<&str> = children
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["[1]", "[2]", "inner"]);
        assert_eq!(children[2]["evaluateName"], "t.inner");
        let inner_ref = children[2]["variablesReference"].as_i64().unwrap();
        let set = c.query(Query::SetVariable {
            reference: inner_ref,
            name: "name".into(),
            value: "'changed'".into(),
        });
        assert_eq!(set.unwrap()["value"], "\"changed\"");
        let set = c.query(Query::SetVariable {
            reference: locals,
            name: "n".into(),
            value: "n * 3".into(),
        });
        assert_eq!(set.unwrap()["value"], "15");
        let bad = c.query(Query::SetVariable {
            reference: locals,
            name: "nope".into(),
            value: "1".into(),
        });
        assert!(bad.unwrap_err().contains("no local nope"));
        let stale = c.query(Query::Variables {
            reference: 9999,
            start: 0,
            count: 0,
        });
        assert!(stale.is_err());
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "15\t\"changed\"");
}

#[test]
fn evaluate_errors_are_returned_not_raised() {
    let mut rig = Rig::new();
    rig.breakpoints("@/t/c.lua", vec![bp(1, 2)]);
    let outcome = rig.run("local a = 1\nreturn a", "@/t/c.lua", |c| {
        c.stopped();
        let (top, _, _) = c.top();
        assert!(c
            .eval("error('boom')", Some(top))
            .unwrap_err()
            .contains("boom"));
        assert!(c.eval("a +", Some(top)).is_err(), "syntax error");
        assert!(c.eval("nil + 1", None).is_err());
        assert_eq!(c.eval("a", Some(top)).as_deref(), Ok("1"));
        assert!(c.eval("1", Some(123_456)).unwrap_err().contains("no frame"));
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "1");
}

#[test]
fn idle_queries_globals_cells_and_modules() {
    let mut rig = Rig::new();
    rig.run("answer = {n = 42}\nlabel = 'x'", "@/t/g.lua", |_| {});
    let dir = std::env::temp_dir().join(format!("llmspell-dbg-test-{}", std::process::id()));
    let path = dir.join("cell.lua").to_string_lossy().into_owned();
    let c = rig.client();
    let queries = vec![
        Query::InspectVariables,
        Query::DumpCell {
            path: path.clone(),
            code: "print(1)".into(),
        },
        Query::Source { path: path.clone() },
        Query::Modules,
        Query::StackTrace {
            start_frame: 0,
            levels: 0,
        },
        Query::RichInspectVariables {
            name: "answer".into(),
            frame_id: None,
        },
    ];
    for (i, query) in queries.into_iter().enumerate() {
        c.send(DebugCommand::Query {
            token: 100 + i as u64,
            query,
        });
    }
    // Idle: the worker hands the commands over one by one.
    let commands = rig.h.engine.debug_commands().expect("enabled");
    while let Ok(cmd) = commands.try_recv() {
        rig.h.engine.handle_debug(cmd);
    }
    let c = rig.client();
    let mut replies = Vec::new();
    while replies.len() < 6 {
        if let DebugEvent::Reply { result, .. } = c.next() {
            replies.push(result);
        }
    }
    let vars = replies[0].as_ref().unwrap();
    let names: Vec<&str> = vars["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["answer", "label"]);
    assert_eq!(replies[1].as_ref().unwrap()["sourcePath"], path.as_str());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "print(1)");
    assert_eq!(replies[2].as_ref().unwrap()["content"], "print(1)");
    assert_eq!(replies[3].as_ref().unwrap()["totalModules"], 0);
    assert!(replies[4].as_ref().unwrap_err().contains("not stopped"));
    assert!(replies[5].as_ref().unwrap()["data"]["text/plain"]
        .as_str()
        .unwrap()
        .contains("n = 42"));
    let _ = std::fs::remove_dir_all(dir);
}
