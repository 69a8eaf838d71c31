//! Execution: results, formatting, errors, os.exit, user expressions, panics.

use super::super::errors::{INTERNAL_ERROR, KEYBOARD_INTERRUPT, RUNTIME_ERROR, SYNTAX_ERROR};
use super::*;

#[test]
fn expression_results_use_lua_number_formatting() {
    let mut h = Harness::new();
    assert_eq!(h.result("1+1").as_deref(), Some("2"));
    assert_eq!(h.result("7/2").as_deref(), Some("3.5"));
    assert_eq!(h.result("2.0").as_deref(), Some("2.0"));
    assert_eq!(h.result("1e100").as_deref(), Some("1e+100"));
    assert_eq!(h.result("nil").as_deref(), Some("nil"));
    assert_eq!(h.result("1 < 2").as_deref(), Some("true"));
    assert_eq!(h.result("'hello'").as_deref(), Some("\"hello\""));
    assert_eq!(
        h.result("'a\\n\"b\"\\0'").as_deref(),
        Some("\"a\\n\\\"b\\\"\\0\"")
    );
    assert!(h.result("print").unwrap().starts_with("function: "));
}

#[test]
fn statements_have_no_result() {
    let mut h = Harness::new();
    assert_eq!(h.result("x = 1"), None);
    assert_eq!(h.result("local y = 2"), None);
    assert_eq!(h.result(""), None);
    assert_eq!(h.result("-- just a comment"), None);
    // A call that returns nothing has no result either.
    assert_eq!(h.result("(function() end)()"), None);
}

#[test]
fn multiple_values_are_tab_separated() {
    let mut h = Harness::new();
    assert_eq!(h.result("1, 'a', nil").as_deref(), Some("1\t\"a\"\tnil"));
    assert_eq!(
        h.result("string.find('hello', 'l')").as_deref(),
        Some("3\t3")
    );
    // A chunk's own return values are shown, as in the Lua REPL.
    assert_eq!(
        h.result("local a = 20\nreturn a + 1, a").as_deref(),
        Some("21\t20")
    );
}

#[test]
fn silent_cells_have_no_result() {
    let mut h = Harness::new();
    let id = h.next_id();
    let events = h.request(EngineRequest::Execute {
        id,
        code: "print('still printed') return 1+1".into(),
        chunk_name: "=[silent]".into(),
        silent: true,
        allow_stdin: false,
        user_expressions: Vec::new(),
    });
    assert_eq!(
        outcome(&events),
        &ExecuteOutcome::Ok {
            result: None,
            payload: Vec::new()
        }
    );
    assert_eq!(
        streams(&events),
        vec![(StreamName::Stdout, "still printed\n".to_owned())]
    );
}

#[test]
fn globals_persist_across_cells() {
    let mut h = Harness::new();
    h.result("counter = 41");
    h.result("function bump() counter = counter + 1 return counter end");
    assert_eq!(h.result("bump()").as_deref(), Some("42"));
    assert_eq!(h.result("counter").as_deref(), Some("42"));
    // Locals are chunk-local, as in Lua.
    h.result("local hidden = 1");
    assert_eq!(h.result("hidden").as_deref(), Some("nil"));
}

#[test]
fn tables_are_pretty_printed() {
    let mut h = Harness::new();
    assert_eq!(h.result("{1, 2, 3}").as_deref(), Some("{ 1, 2, 3 }"));
    assert_eq!(
        h.result("{a = 1, ['b c'] = 2}").as_deref(),
        Some("{ a = 1, [\"b c\"] = 2 }")
    );
    assert_eq!(
        h.result("{1, 2, x = 'y', [10] = true}").as_deref(),
        Some("{ 1, 2, [10] = true, x = \"y\" }")
    );
    assert_eq!(h.result("{}").as_deref(), Some("{}"));
    assert_eq!(
        h.result("{['end'] = 1}").as_deref(),
        Some("{ [\"end\"] = 1 }")
    );
    assert_eq!(
        h.result("{1, {2, {3, {4}}}}").as_deref(),
        Some("{ 1, { 2, { 3, {...} } } }")
    );
    let mt = "setmetatable({}, {__tostring = function() return 'Point(1, 2)' end})";
    assert_eq!(h.result(mt).as_deref(), Some("Point(1, 2)"));
}

#[test]
fn table_cycles_are_marked() {
    let mut h = Harness::new();
    h.result("t = {name = 't'}; t.self = t");
    assert_eq!(
        h.result("t").as_deref(),
        Some("{ name = \"t\", self = <cycle> }")
    );
}

#[test]
fn large_tables_are_bounded_and_broken_into_lines() {
    let mut h = Harness::new();
    let text = h
        .result("local t = {} for i = 1, 150 do t[i] = i * 1000 end return t")
        .unwrap();
    assert!(text.starts_with("{\n  1000,\n"), "{text}");
    assert!(text.ends_with("  100000,\n  ...,\n}"), "{text}");
    assert_eq!(text.lines().count(), 103);
    let text = h
        .result("local t = {} for i = 1, 500 do t['k' .. i] = i end return t")
        .unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(" = ")).count(), 100);
    assert!(text.contains("  ...,\n"));
}

#[test]
fn syntax_errors() {
    let mut h = Harness::new();
    let e = h.error("x = = 1");
    assert_eq!(e.ename, SYNTAX_ERROR);
    assert!(e.evalue.starts_with("[cell 1]:1:"), "{e:?}");
    assert_eq!(e.traceback[0], format!("SyntaxError: {}", e.evalue));
}

#[test]
fn runtime_errors_have_a_traceback() {
    let mut h = Harness::new();
    let e = h.error("local function inner() local t = nil; return t.x end\ninner()");
    assert_eq!(e.ename, RUNTIME_ERROR);
    assert!(
        e.evalue
            .starts_with("[cell 1]:1: attempt to index a nil value"),
        "{e:?}"
    );
    assert_eq!(e.traceback[0], format!("RuntimeError: {}", e.evalue));
    assert_eq!(e.traceback[1], "stack traceback:");
    assert!(
        e.traceback.iter().any(|l| l.contains("in local 'inner'")),
        "{e:?}"
    );
    assert!(
        e.traceback
            .last()
            .unwrap()
            .contains("[cell 1]:2: in main chunk"),
        "{e:?}"
    );
    let e = h.error("error('boom')");
    assert_eq!(e.evalue, "[cell 2]:1: boom");
}

#[test]
fn non_string_errors_are_readable() {
    let mut h = Harness::new();
    assert_eq!(h.error("error({code = 1})").evalue, "{ code = 1 }");
    assert_eq!(
        h.error("error(setmetatable({}, {__tostring = function() return 'custom' end}))")
            .evalue,
        "custom"
    );
    assert_eq!(h.error("error()").evalue, "nil");
    assert_eq!(h.error("error(42)").evalue, "42");
    // Errors raised by Rust callbacks get the caller's position, like luaL_error.
    let e = h.error("ilua.display.update_display_data({}, nil, {})");
    assert_eq!(
        e.evalue,
        "[cell 5]:1: update_display_data: transient.display_id is required"
    );
    // The engine still works.
    assert_eq!(h.result("1").as_deref(), Some("1"));
}

#[test]
fn os_exit_is_an_error_in_kernel_mode() {
    let mut h = Harness::new();
    let e = h.error("os.exit(3)");
    assert_eq!(e.ename, RUNTIME_ERROR);
    assert!(
        e.evalue
            .ends_with("os.exit is disabled in the kernel; use the kernel's shutdown instead"),
        "{e:?}"
    );
}

#[test]
fn os_exit_ends_a_script() {
    let mut h = Harness::script(&["script.lua"]);
    for (code, status) in [
        ("os.exit(3)", 3),
        ("os.exit(true)", 0),
        ("os.exit(false)", 1),
        ("os.exit()", 0),
    ] {
        assert_eq!(h.execute(code).1, ExecuteOutcome::Exit(status), "{code}");
    }
    // pcall cannot swallow it, and nothing is printed after it.
    let (events, outcome) = h.execute("pcall(os.exit, 4) print('after')");
    assert_eq!(outcome, ExecuteOutcome::Exit(4));
    assert!(streams(&events).is_empty(), "{events:?}");
    let (_, outcome) = h.execute("while true do pcall(os.exit, 5) end");
    assert_eq!(outcome, ExecuteOutcome::Exit(5));
    assert_eq!(h.error("os.exit({})").ename, RUNTIME_ERROR);
    assert_eq!(
        h.result("'still alive'").as_deref(),
        Some("\"still alive\"")
    );
}

#[test]
fn script_arguments() {
    let mut h = Harness::script(&["script.lua", "a", "b"]);
    assert_eq!(
        h.result("arg[0], arg[1], arg[2], #arg, select('#', ...), ...")
            .as_deref(),
        Some("\"script.lua\"\t\"a\"\t\"b\"\t2\t2\t\"a\"\t\"b\"")
    );
}

#[test]
fn user_expressions_after_a_successful_cell() {
    let mut h = Harness::new();
    let id = h.next_id();
    let exprs = vec![
        ("a".to_owned(), "x * 2".to_owned()),
        ("b".to_owned(), "nosuch.y".to_owned()),
        ("c".to_owned(), "1 +".to_owned()),
    ];
    let events = h.request(EngineRequest::Execute {
        id,
        code: "x = 5".into(),
        chunk_name: "=[cell]".into(),
        silent: true,
        allow_stdin: false,
        user_expressions: exprs.clone(),
    });
    let Some(EngineEvent::ExecuteDone {
        user_expressions, ..
    }) = events.last()
    else {
        panic!("{events:?}")
    };
    assert_eq!(user_expressions.len(), 3);
    assert_eq!(user_expressions[0].0, "a");
    assert_eq!(user_expressions[0].1.as_ref().unwrap()["text/plain"], "10");
    assert_eq!(
        user_expressions[1].1.as_ref().unwrap_err().ename,
        RUNTIME_ERROR
    );
    assert_eq!(
        user_expressions[2].1.as_ref().unwrap_err().ename,
        SYNTAX_ERROR
    );

    let id = h.next_id();
    let events = h.request(EngineRequest::Execute {
        id,
        code: "error('no')".into(),
        chunk_name: "=[cell]".into(),
        silent: false,
        allow_stdin: false,
        user_expressions: exprs,
    });
    let Some(EngineEvent::ExecuteDone {
        user_expressions, ..
    }) = events.last()
    else {
        panic!("{events:?}")
    };
    assert!(user_expressions.is_empty());
}

#[test]
fn a_panicking_callback_does_not_kill_the_engine() {
    let mut h = Harness::new();
    let boom = h
        .engine
        .lua()
        .create_function(|_, ()| -> mlua::Result<()> { panic!("boom") })
        .unwrap();
    h.engine.lua().globals().set("boom", boom).unwrap();
    let (events, outcome) = h.execute("print('before') pcall(boom)");
    let ExecuteOutcome::Error(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(e.ename, INTERNAL_ERROR);
    assert_eq!(e.evalue, "a Rust callback panicked: boom");
    assert_eq!(
        streams(&events),
        vec![(StreamName::Stdout, "before\n".to_owned())]
    );
    assert_eq!(h.result("1 + 1").as_deref(), Some("2"));
    let (events, _) = h.execute("print('after')");
    assert_eq!(
        streams(&events),
        vec![(StreamName::Stdout, "after\n".to_owned())]
    );
}

#[test]
fn keyboard_interrupt_name() {
    // Input interrupted by the client is a KeyboardInterrupt (more in tests::io).
    let mut h = Harness::new();
    h.replies.push_back(InputReply::Interrupted);
    assert_eq!(h.error("io.read()").ename, KEYBOARD_INTERRUPT);
}

#[test]
fn cells_run_again_behave_as_compiled_afresh() {
    // From the second run on, a cell is loaded from the binary chunk of its first compile.
    let mut h = Harness::new();
    for i in 1..=4 {
        assert_eq!(h.result("1+1").as_deref(), Some("2"), "run {i}");
        assert_eq!(h.result("n = (n or 0) + 1").as_deref(), None, "run {i}");
        assert_eq!(h.result("n").as_deref(), Some(&*i.to_string()), "run {i}");
        // Each run gets its own chunk name, in errors and in the functions it makes.
        let (events, outcome) = h.execute("local function f() error('boom') end f()");
        let ExecuteOutcome::Error(e) = outcome else {
            panic!("run {i}: {outcome:?}")
        };
        let id = events.last().expect("a done event").id();
        assert!(
            e.evalue.contains(&format!("[cell {id}]:1: boom")),
            "run {i}: {e:?}"
        );
        // _ENV is the globals at every run, even after a run that replaced it.
        assert_eq!(
            h.result("local G, g = _G, _ENV; _ENV = {}; return g == G")
                .as_deref(),
            Some("true"),
            "run {i}"
        );
        assert_eq!(
            h.result("function src() return _ENV == _G end return src()")
                .as_deref(),
            Some("true"),
            "run {i}"
        );
        // A syntax error stays one.
        let (_, outcome) = h.execute("x = = 1");
        assert!(
            matches!(&outcome, ExecuteOutcome::Error(e) if e.ename == SYNTAX_ERROR),
            "run {i}: {outcome:?}"
        );
    }
}
