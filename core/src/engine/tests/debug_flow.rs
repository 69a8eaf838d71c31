//! The debugger in the engine, continued: stepping, conditions and log points, errors,
//! pause and interrupt, entry and coroutines, detach, and when line events come and go.

use std::thread;
use std::time::Duration;

use super::super::debug::{DebugCommand, HitCondition, Query, StepKind, StopReason};
use super::debug::{bp, result_of, Rig};
use super::*;

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
