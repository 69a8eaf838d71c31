//! Streams, input, interrupts and the display API.

use std::sync::atomic::Ordering;
use std::thread;

use serde_json::json;

use super::super::errors::{KEYBOARD_INTERRUPT, RUNTIME_ERROR};
use super::super::shared::STREAM_FLUSH_BYTES;
use super::*;

#[test]
fn print_and_writes_are_coalesced_per_stream() {
    let mut h = Harness::new();
    let code = "print('a', 1, nil, true) print('b') io.write('c', 2, 2.5, 3.0) io.stdout:write('d'):write('e')\n\
                io.stderr:write('e1') io.stderr:write('e2') print('f')";
    let (events, outcome) = h.execute(code);
    assert!(
        matches!(outcome, ExecuteOutcome::Ok { result: None, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        streams(&events),
        vec![
            (
                StreamName::Stdout,
                "a\t1\tnil\ttrue\nb\nc22.53de".to_owned()
            ),
            (StreamName::Stderr, "e1e2".to_owned()),
            (StreamName::Stdout, "f\n".to_owned()),
        ]
    );
}

#[test]
fn warnings_go_to_stderr_and_real_stdin_is_never_read() {
    let mut h = Harness::new();
    let (events, _) =
        h.execute("warn('off by default') warn('@on') warn('a', 'b') warn('@off') warn('x')");
    assert_eq!(
        streams(&events),
        vec![(StreamName::Stderr, "Lua warning: ab\n".to_owned())]
    );
    assert!(h
        .error("dofile()")
        .evalue
        .contains("dofile: give a file name"));
    assert_eq!(
        h.result("loadfile()").as_deref(),
        Some("nil\t\"loadfile: give a file name (stdin is not available)\"")
    );
}

#[test]
fn print_uses_tostring_metamethods() {
    let mut h = Harness::new();
    let (events, _) =
        h.execute("print(setmetatable({}, {__tostring = function() return 'T!' end}), 1.0)");
    assert_eq!(
        streams(&events),
        vec![(StreamName::Stdout, "T!\t1.0\n".to_owned())]
    );
}

#[test]
fn output_is_flushed_before_other_events_and_when_large() {
    let mut h = Harness::new();
    let (events, _) = h.execute("print('x') ilua.display.html('<b>x</b>') print('y')");
    assert!(matches!(&events[0], EngineEvent::Stream { text, .. } if text == "x\n"));
    assert!(matches!(&events[1], EngineEvent::DisplayData { .. }));
    assert!(matches!(&events[2], EngineEvent::Stream { text, .. } if text == "y\n"));

    let (events, _) = h.execute("for i = 1, 2000 do io.write(string.rep('é', 49), '\\n') end");
    let streams = streams(&events);
    assert!(streams.len() >= 3, "{}", streams.len());
    let (last, full) = streams.split_last().unwrap();
    assert!(
        full.iter().all(|(_, t)| t.len() >= STREAM_FLUSH_BYTES - 3),
        "flushed at the threshold"
    );
    assert!(last.1.len() < STREAM_FLUSH_BYTES);
    let all: String = streams.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        all,
        format!("{}\n", "é".repeat(49)).repeat(2000),
        "no character split"
    );
}

#[test]
fn long_cells_flush_from_the_hook() {
    let mut h = Harness::new();
    let (events, _) = h.execute("print('a') for i = 1, 5e6 do end print('b')");
    assert_eq!(
        streams(&events),
        vec![
            (StreamName::Stdout, "a\n".to_owned()),
            (StreamName::Stdout, "b\n".to_owned())
        ]
    );
}

#[test]
fn io_read_asks_for_input() {
    let mut h = Harness::new();
    h.replies.push_back(InputReply::Line("Ada".into()));
    let (events, outcome) = h.execute("io.write('Name: ') local n = io.read() return 'hi ' .. n");
    assert!(
        matches!(&events[0], EngineEvent::Stream { text, .. } if text == "Name: "),
        "{events:?}"
    );
    assert!(
        matches!(&events[1], EngineEvent::InputRequest { prompt, password: false, .. } if prompt.is_empty())
    );
    assert!(
        matches!(outcome, ExecuteOutcome::Ok { result: Some(r), .. } if r["text/plain"] == "\"hi Ada\"")
    );
}

#[test]
fn io_read_formats() {
    let mut h = Harness::new();
    h.replies
        .extend(["12 0x1F 2.5e1 x", "line two"].map(|s| InputReply::Line(s.into())));
    let code = "local a, b, c = io.read('n', 'n', 'n') local d = io.read('n')\n\
                local rest = io.read('L') local two = io.stdin:read(4) local tail = io.read('a')\n\
                return a, b, c, d, rest, two, tail, math.type(a), math.type(c)";
    assert_eq!(
        h.result(code).as_deref(),
        Some("12\t31\t25.0\tnil\t\"x\\n\"\t\"line\"\t\" two\\n\"\t\"integer\"\t\"float\"")
    );
    h.replies
        .extend(["one", "two"].map(|s| InputReply::Line(s.into())));
    assert_eq!(
        h.result("local t = {} for l in io.lines() do t[#t + 1] = l if #t == 2 then break end end return t").as_deref(),
        Some("{ \"one\", \"two\" }")
    );
}

#[test]
fn io_read_interrupted() {
    let mut h = Harness::new();
    h.replies.push_back(InputReply::Interrupted);
    let e = h.error("local ok, err = pcall(io.read) while true do end");
    assert_eq!(e.ename, KEYBOARD_INTERRUPT);
    assert_eq!(e.traceback[0], "KeyboardInterrupt: interrupted");
    assert_eq!(h.result("'ok'").as_deref(), Some("\"ok\""));
}

#[test]
fn io_read_at_the_end_of_input() {
    let mut h = Harness::new();
    h.replies.push_back(InputReply::Line("7".into()));
    h.replies.push_back(InputReply::Eof);
    h.replies.push_back(InputReply::Eof);
    let got = h
        .result("local a = io.read('l') local b = io.read() local c = io.read('a') return a, b, c");
    assert_eq!(got.as_deref(), Some("\"7\"\tnil\t\"\""));
}

#[test]
fn io_read_without_stdin() {
    let mut h = Harness::new();
    let request = h.execute_request("local line = io.read()", false);
    let events = h.request(request);
    let ExecuteOutcome::Error(e) = outcome(&events) else {
        panic!("{events:?}")
    };
    assert_eq!(e.ename, RUNTIME_ERROR);
    assert_eq!(
        e.evalue,
        "[cell 1]:1: io.read: stdin is not available (the client does not accept input)"
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, EngineEvent::InputRequest { .. })));
}

/// Runs `code`, and sets the interrupt flag from another thread once `trigger` is seen.
fn interrupt_when(h: &mut Harness, code: &str, trigger: fn(&EngineEvent) -> bool) -> LuaError {
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    let flag = h.interrupt.clone();
    let helper = thread::spawn(move || {
        if rx.recv().is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let request = h.execute_request(code, true);
    let events = h.request_with(request, &mut |e| {
        if trigger(e) {
            let _ = tx.try_send(());
        }
    });
    drop(tx);
    helper.join().expect("helper thread");
    match outcome(&events) {
        ExecuteOutcome::Error(e) => e.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn interrupt_from_another_thread() {
    let mut h = Harness::new();
    let started =
        |e: &EngineEvent| matches!(e, EngineEvent::Stream { text, .. } if text.contains("started"));
    let e = interrupt_when(
        &mut h,
        "print('started') io.stdout:flush() while true do end",
        started,
    );
    assert_eq!(e.ename, KEYBOARD_INTERRUPT);
    assert!(
        !h.interrupt.load(Ordering::SeqCst),
        "the engine clears the flag"
    );
    assert_eq!(h.result("1 + 1").as_deref(), Some("2"));

    // A pcall in a loop cannot swallow the interrupt.
    let e = interrupt_when(
        &mut h,
        "print('started') io.stdout:flush() while true do pcall(function() while true do end end) end",
        started,
    );
    assert_eq!(e.ename, KEYBOARD_INTERRUPT);

    // Nor can coroutine.resume.
    let e = interrupt_when(
        &mut h,
        "print('started') io.stdout:flush()\n\
         while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
        started,
    );
    assert_eq!(e.ename, KEYBOARD_INTERRUPT);

    // Nor can a blocked io.read: the flag is polled while waiting.
    let asked = |e: &EngineEvent| matches!(e, EngineEvent::InputRequest { .. });
    let e = interrupt_when(&mut h, "io.read()", asked);
    assert_eq!(e.ename, KEYBOARD_INTERRUPT);
    assert_eq!(h.result("'alive'").as_deref(), Some("\"alive\""));
}

#[test]
fn a_stale_interrupt_does_not_hit_the_next_cell() {
    let mut h = Harness::new();
    h.interrupt.store(true, Ordering::SeqCst);
    assert_eq!(
        h.result("local n = 0 for i = 1, 1e6 do n = n + 1 end return n")
            .as_deref(),
        Some("1000000")
    );
}

#[test]
fn display_update_and_clear() {
    let mut h = Harness::new();
    let code = "ilua.display.html('<b>x</b>', 'd1')\n\
                ilua.display.update('d1', {['text/plain'] = 'y', ['application/json'] = {a = {1, 2}}})\n\
                ilua.display.display({1, 2}, 'two')\n\
                ilua.display.display_data({['text/markdown'] = '*m*'}, {['text/markdown'] = {isolated = true}}, {display_id = 'd2'})\n\
                ilua.display.clear_output(true) ilua.display.clear_output()";
    let (events, outcome) = h.execute(code);
    assert!(
        matches!(outcome, ExecuteOutcome::Ok { result: None, .. }),
        "{outcome:?}"
    );
    let id = event_id(&events[0]);
    let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
    assert_eq!(
        events[0],
        EngineEvent::DisplayData {
            id,
            data: obj(json!({"text/html": "<b>x</b>"})),
            metadata: Map::new(),
            transient: obj(json!({"display_id": "d1"})),
        }
    );
    assert_eq!(
        events[1],
        EngineEvent::UpdateDisplayData {
            id,
            data: obj(json!({"text/plain": "y", "application/json": {"a": [1, 2]}})),
            metadata: Map::new(),
            transient: obj(json!({"display_id": "d1"})),
        }
    );
    let EngineEvent::DisplayData {
        data, transient, ..
    } = &events[2]
    else {
        panic!("{events:?}")
    };
    assert_eq!(data, &obj(json!({"text/plain": "{ 1, 2 }"})));
    assert!(
        transient.is_empty(),
        "display(...) shows each argument without an id"
    );
    assert!(
        matches!(&events[3], EngineEvent::DisplayData { data, .. } if data == &obj(json!({"text/plain": "\"two\""})))
    );
    assert_eq!(
        events[4],
        EngineEvent::DisplayData {
            id,
            data: obj(json!({"text/markdown": "*m*"})),
            metadata: obj(json!({"text/markdown": {"isolated": true}})),
            transient: obj(json!({"display_id": "d2"})),
        }
    );
    assert_eq!(events[5], EngineEvent::ClearOutput { id, wait: true });
    assert_eq!(events[6], EngineEvent::ClearOutput { id, wait: false });
    assert_eq!(events.len(), 8);
}

#[test]
fn json_helpers() {
    let mut h = Harness::new();
    assert_eq!(
        h.result("ilua.json.encode({1, 2, 'x'})").as_deref(),
        Some("\"[1,2,\\\"x\\\"]\"")
    );
    assert_eq!(
        h.result("ilua.json.decode('{\"a\": [1, 2.5]}').a[2]")
            .as_deref(),
        Some("2.5")
    );
    assert_eq!(
        h.error("local t = {} t.t = t return ilua.json.encode(t)")
            .ename,
        RUNTIME_ERROR
    );
}
