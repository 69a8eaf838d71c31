//! The debugger in the engine: breakpoints, stepping, stops, variables, evaluate. The
//! engine runs on the test's thread; a client thread answers its stops from a script.

use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde_json::Value as Json;

use super::super::debug::{
    BreakpointSpec, DebugCommand, DebugEvent, DebugLink, HitCondition, Query, StepKind, StopReason,
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

    /// The top frame: `(id, name, line)`.
    pub fn top(&mut self) -> (i64, String, i64) {
        let st = self.query(Query::StackTrace {
            start_frame: 0,
            levels: 0,
        });
        let st = st.expect("stack trace");
        let f = &st["stackFrames"][0];
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

fn result_of(outcome: &ExecuteOutcome) -> String {
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
        let st = c
            .query(Query::StackTrace {
                start_frame: 0,
                levels: 0,
            })
            .unwrap();
        let frames = st["stackFrames"].as_array().unwrap();
        assert_eq!(frames.len(), 2, "{st}");
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

const STEPS: &str = "local function inner(v)
  local w = v + 1
  return w
end
local function outer()
  local a = inner(1)
  local b = inner(a)
  return a + b
end
local r = outer()
return r";

#[test]
fn step_over_in_and_out_track_call_depth() {
    let mut rig = Rig::new();
    rig.breakpoints("@/t/s.lua", vec![bp(1, 6)]);
    let outcome = rig.run(STEPS, "@/t/s.lua", |c| {
        c.stopped();
        assert_eq!(c.top().1, "outer");
        c.resume(StepKind::Next);
        assert_eq!(c.stopped().0, StopReason::Step);
        let (_, name, line) = c.top();
        assert_eq!((name.as_str(), line), ("outer", 7), "over inner");
        c.resume(StepKind::StepIn);
        c.stopped();
        let (_, name, line) = c.top();
        assert_eq!((name.as_str(), line), ("inner", 2), "into inner");
        c.resume(StepKind::StepOut);
        c.stopped();
        let (_, name, line) = c.top();
        assert_eq!((name.as_str(), line), ("outer", 8), "out to outer");
        c.resume(StepKind::Next);
        c.stopped();
        let (_, name, line) = c.top();
        assert_eq!((name.as_str(), line), ("main chunk", 11), "returned");
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "5");
}

#[test]
fn conditions_hit_counts_and_log_points() {
    let mut rig = Rig::new();
    let code = "local s = 0\nfor i = 1, 10 do\n  s = s + i\nend\nreturn s";
    let mut cond = bp(1, 3);
    cond.condition = Some("i == 4".into());
    rig.breakpoints("@/t/l.lua", vec![cond]);
    let outcome = rig.run(code, "@/t/l.lua", |c| {
        c.stopped();
        let (top, _, _) = c.top();
        assert_eq!(c.eval("i", Some(top)).as_deref(), Ok("4"));
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "55");

    let mut hits = bp(2, 3);
    hits.hit_condition = Some(HitCondition::Every(5));
    let mut log = bp(3, 3);
    log.log_message = Some("i={i} s={s} {{literal}}".into());
    rig.breakpoints("@/t/l.lua", vec![hits, log]);
    let outcome = rig.run(code, "@/t/l.lua", |c| {
        for want in ["5", "10"] {
            let (_, ids, _) = c.stopped();
            assert_eq!(ids, [2]);
            let (top, _, _) = c.top();
            assert_eq!(c.eval("i", Some(top)).as_deref(), Ok(want));
            c.resume(StepKind::Continue);
        }
    });
    assert_eq!(result_of(&outcome), "55");
    let output = rig.client().output.clone();
    assert_eq!(output.len(), 10, "{output:?}");
    assert_eq!(output[0], "i=1 s=0 {literal}\n");

    let mut broken = bp(4, 3);
    broken.condition = Some("i ==".into());
    rig.breakpoints("@/t/l.lua", vec![broken]);
    rig.run("local i = 1\nlocal s = 0\ns = i", "@/t/l.lua", |c| {
        c.stopped();
        c.resume(StepKind::Continue);
    });
    assert!(rig
        .client()
        .output
        .last()
        .unwrap()
        .contains("breakpoint condition `i ==` failed"));
}

#[test]
fn uncaught_errors_stop_with_the_frame_intact() {
    let mut rig = Rig::new();
    rig.client()
        .send(DebugCommand::SetExceptionBreakpoints { uncaught: true });
    let code =
        "local function bad(n)\n  local half = n / 2\n  error('too big: ' .. n)\nend\nbad(8)";
    let outcome = rig.run(code, "@/t/e.lua", |c| {
        let (reason, _, description) = c.stopped();
        assert_eq!(reason, StopReason::Exception);
        assert!(description.unwrap().contains("too big: 8"));
        let info = c.query(Query::ExceptionInfo).unwrap();
        assert_eq!(info["breakMode"], "unhandled");
        let (top, name, line) = c.top();
        assert_eq!((name.as_str(), line), ("bad", 3));
        assert_eq!(c.eval("half", Some(top)).as_deref(), Ok("4.0"));
        c.resume(StepKind::Continue);
    });
    match outcome {
        ExecuteOutcome::Error(e) => assert!(e.evalue.contains("too big: 8"), "{e:?}"),
        other => panic!("{other:?}"),
    }
    // A caught error does not stop.
    let outcome = rig.run("return pcall(error, 'x')", "@/t/e.lua", |_| {});
    assert_eq!(result_of(&outcome), "false\t\"x\"");
}

#[test]
fn pause_stops_a_loop_and_an_interrupt_ends_a_stop() {
    let mut rig = Rig::new();
    let interrupt = rig.h.interrupt.clone();
    let code = "local n = 0\nwhile true do\n  n = n + 1\nend";
    let outcome = rig.run(code, "@/t/p.lua", move |c| {
        thread::sleep(Duration::from_millis(50));
        c.send(DebugCommand::Pause);
        let (reason, _, _) = c.stopped();
        assert_eq!(reason, StopReason::Pause);
        let (top, _, line) = c.top();
        assert!((2..=3).contains(&line), "{line}");
        let n: i64 = c.eval("n", Some(top)).unwrap().parse().unwrap();
        assert!(n > 0);
        interrupt.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    match outcome {
        ExecuteOutcome::Error(e) => assert_eq!(e.ename, "KeyboardInterrupt"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stop_on_entry_and_coroutines() {
    let mut rig = Rig::new();
    rig.client().send(DebugCommand::StopOnEntry);
    let outcome = rig.run("local x = 1\nreturn x", "@/t/n.lua", |c| {
        let (reason, _, _) = c.stopped();
        assert_eq!(reason, StopReason::Entry);
        assert_eq!(c.top().2, 1);
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "1");

    let code = "local co = coroutine.wrap(function(a)\n  local b = a + 1\n  coroutine.yield(b)\n  return b * 10\nend)\nlocal first = co(1)\nreturn first, co()";
    rig.breakpoints("@/t/co.lua", vec![bp(1, 2), bp(2, 4)]);
    let outcome = rig.run(code, "@/t/co.lua", |c| {
        let (_, ids, _) = c.stopped();
        assert_eq!(ids, [1]);
        let (top, _, _) = c.top();
        assert_eq!(c.eval("a", Some(top)).as_deref(), Ok("1"));
        c.resume(StepKind::Continue);
        let (_, ids, _) = c.stopped();
        assert_eq!(ids, [2]);
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "2\t20");
}

#[test]
fn detach_clears_breakpoints_and_resumes() {
    let mut rig = Rig::new();
    rig.breakpoints("@/t/d.lua", vec![bp(1, 2)]);
    let outcome = rig.run("local a = 1\nreturn a + 1", "@/t/d.lua", |c| {
        c.stopped();
        c.send(DebugCommand::Detach);
    });
    assert_eq!(result_of(&outcome), "2");
    let outcome = rig.run("local a = 1\nreturn a + 2", "@/t/d.lua", |_| {});
    assert_eq!(result_of(&outcome), "3", "no stop after detach");
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

#[test]
fn a_breakpoint_in_a_function_stops_when_the_main_chunk_calls_it_in_a_loop() {
    // The main chunk has no code on line 3: its own lines get no line events, and the
    // breakpoint inside `step` still stops on every call.
    let mut rig = Rig::new();
    rig.breakpoints("@/t/m.lua", vec![bp(1, 3)]);
    let code = "local n = 0\nlocal function step(k)\n  n = n + k\nend\nfor i = 1, 3 do step(i) end\nreturn n";
    let outcome = rig.run(code, "@/t/m.lua", |c| {
        for want in ["1", "2", "3"] {
            c.stopped();
            let (top, name, line) = c.top();
            assert_eq!((name.as_str(), line), ("step", 3));
            assert_eq!(c.eval("k", Some(top)).as_deref(), Ok(want));
            c.resume(StepKind::Continue);
        }
    });
    assert_eq!(result_of(&outcome), "6");
    // A breakpoint on the main chunk's own line stops there too (once: `==1`).
    let mut first = bp(2, 5);
    first.hit_condition = Some(HitCondition::Eq(1));
    rig.breakpoints("@/t/m.lua", vec![first]);
    let outcome = rig.run(code, "@/t/m.lua", |c| {
        c.stopped();
        assert_eq!(c.top().1, "main chunk");
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "6");
}

#[test]
fn lines_come_back_after_calls_and_caught_errors() {
    // Leaving `work` for functions without breakpoints turns line events off; coming
    // back, by a return or through a pcall that caught an error, turns them on again.
    let mut rig = Rig::new();
    let code = "local function helper() return 1 end\nlocal function bad() error('x') end\n\
                local function work()\n  local a = helper()\n  local ok = pcall(bad)\n  \
                local b = a + 1\n  return b, ok\nend\nlocal r, ok = work()\nreturn r, ok";
    rig.breakpoints("@/t/r.lua", vec![bp(1, 6)]);
    let outcome = rig.run(code, "@/t/r.lua", |c| {
        let (_, ids, _) = c.stopped();
        assert_eq!(ids, [1]);
        let (top, name, line) = c.top();
        assert_eq!((name.as_str(), line), ("work", 6));
        assert_eq!(c.eval("a", Some(top)).as_deref(), Ok("1"));
        assert_eq!(c.eval("ok", Some(top)).as_deref(), Ok("false"));
        c.resume(StepKind::Continue);
    });
    assert_eq!(result_of(&outcome), "2\tfalse");
}

#[test]
fn call_events_are_answered_from_the_function_cache() {
    // A breakpoint in another file: calls in the loop go through the cache, whose reading
    // of Lua's internals must agree with lua_getinfo (or the cache turns itself off).
    let mut rig = Rig::new();
    rig.breakpoints("@/t/other.lua", vec![bp(1, 1)]);
    let code =
        "local function f(x)\n  return x + 1\nend\nlocal s = 0\nfor i = 1, 1000 do s = f(s) end\nreturn s";
    let outcome = rig.run(code, "@/t/hot.lua", |_| {});
    assert_eq!(result_of(&outcome), "1000");
    let cache = &rig.h.engine.debugger().core.cache;
    assert!(
        cache.is_trusted(),
        "the internal reading matched lua_getinfo"
    );
    assert!(
        cache.len() >= 2,
        "f and the main chunk are cached: {}",
        cache.len()
    );
    // New breakpoints invalidate the answers.
    rig.breakpoints("@/t/hot.lua", vec![bp(2, 2)]);
    let outcome = rig.run(code, "@/t/hot.lua", |c| {
        c.stopped();
        assert_eq!(c.top().1, "f");
        c.send(DebugCommand::Detach);
    });
    assert_eq!(result_of(&outcome), "1000");
}
