//! is_complete, completion, inspection and the pager.

use serde_json::json;

use super::*;

fn is_complete(h: &mut Harness, code: &str) -> IsCompleteStatus {
    let id = h.next_id();
    match h
        .request(EngineRequest::IsComplete {
            id,
            code: code.to_owned(),
        })
        .pop()
    {
        Some(EngineEvent::IsCompleteDone { status, .. }) => status,
        other => panic!("{other:?}"),
    }
}

fn complete(h: &mut Harness, code: &str, cursor_pos: usize) -> (Vec<String>, usize, usize) {
    let id = h.next_id();
    match h
        .request(EngineRequest::Complete {
            id,
            code: code.to_owned(),
            cursor_pos,
        })
        .pop()
    {
        Some(EngineEvent::CompleteDone {
            matches,
            cursor_start,
            cursor_end,
            ..
        }) => (matches, cursor_start, cursor_end),
        other => panic!("{other:?}"),
    }
}

fn inspect(h: &mut Harness, code: &str, cursor_pos: usize) -> Option<String> {
    let id = h.next_id();
    match h
        .request(EngineRequest::Inspect {
            id,
            code: code.to_owned(),
            cursor_pos,
            detail_level: 0,
        })
        .pop()
    {
        Some(EngineEvent::InspectDone {
            found: true, data, ..
        }) => Some(data["text/plain"].as_str().unwrap().to_owned()),
        Some(EngineEvent::InspectDone {
            found: false, data, ..
        }) => {
            assert!(data.is_empty());
            None
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn is_complete_from_the_parser() {
    let mut h = Harness::new();
    let incomplete = IsCompleteStatus::Incomplete {
        indent: "  ".to_owned(),
    };
    for code in [
        "",
        "  \n",
        "x = 1",
        "1 + 1",
        "print('a')",
        "for i = 1, 3 do print(i) end",
    ] {
        assert_eq!(
            is_complete(&mut h, code),
            IsCompleteStatus::Complete,
            "{code:?}"
        );
    }
    // Lua reports an unfinished string at the end of the input as "near <eof>" too.
    for code in [
        "for i = 1, 3 do",
        "function f()",
        "x = ",
        "print(",
        "s = [[abc",
        "t = {1, 2",
        "1 +",
        "print('a",
    ] {
        assert_eq!(is_complete(&mut h, code), incomplete, "{code:?}");
    }
    for code in ["x = = 1", "end", "print('a\n')", "1 2"] {
        assert_eq!(
            is_complete(&mut h, code),
            IsCompleteStatus::Invalid,
            "{code:?}"
        );
    }
}

#[test]
fn complete_library_fields_and_globals() {
    let mut h = Harness::new();
    assert_eq!(
        complete(&mut h, "string.fo", 9),
        (vec!["string.format".to_owned()], 0, 9)
    );
    let (matches, start, end) = complete(&mut h, "x = pri", 7);
    assert_eq!((start, end), (4, 7));
    assert_eq!(matches, vec!["print".to_owned()]);
    let (matches, _, _) = complete(&mut h, "whi", 3);
    assert_eq!(matches, vec!["while".to_owned()]);
    // Code points, not bytes; the cursor may sit before the end of the cell.
    let code = "-- é\nstring.up(1)";
    assert_eq!(
        complete(&mut h, code, 14),
        (vec!["string.upper".to_owned()], 5, 14)
    );
    let (matches, _, _) = complete(&mut h, "ilua.display.h", 14);
    assert_eq!(matches, vec!["ilua.display.html".to_owned()]);
    let (matches, _, _) = complete(&mut h, "io.stdout:wr", 12);
    assert_eq!(matches, vec!["io.stdout:write".to_owned()]);
}

#[test]
fn complete_user_tables_and_methods() {
    let mut h = Harness::new();
    h.result("tbl = {alpha = 1, beta = 2, [3] = 4, ['not ident'] = 5}");
    h.result("s = 'text'");
    h.result("Obj = {} Obj.__index = Obj function Obj.greet() end Obj.greeting = 'hi' o = setmetatable({own = 1}, Obj)");
    let (matches, start, end) = complete(&mut h, "tbl.", 4);
    assert_eq!(
        (matches, start, end),
        (vec!["tbl.alpha".to_owned(), "tbl.beta".to_owned()], 0, 4)
    );
    let (matches, _, _) = complete(&mut h, "s:up", 4);
    assert_eq!(matches, vec!["s:upper".to_owned()]);
    let (matches, _, _) = complete(&mut h, "o:gr", 4);
    assert_eq!(
        matches,
        vec!["o:greet".to_owned()],
        "only functions after ':'"
    );
    let (matches, _, _) = complete(&mut h, "o.", 2);
    assert!(
        matches.contains(&"o.own".to_owned()) && matches.contains(&"o.greeting".to_owned()),
        "{matches:?}"
    );
    let (matches, _, _) = complete(&mut h, "nosuch.x", 8);
    assert!(matches.is_empty());
    assert_eq!(
        complete(&mut h, "x..str", 6),
        (vec!["string".to_owned()], 3, 6),
        "'..' is not a field access"
    );
}

#[test]
fn inspect_builtins_and_user_values() {
    let mut h = Harness::new();
    let text = inspect(&mut h, "print", 5).unwrap();
    assert!(
        text.starts_with("print: function\nprint(...)\nWrites its arguments"),
        "{text}"
    );
    assert_eq!(
        inspect(&mut h, "print('x')", 6),
        Some(text.clone()),
        "before the ("
    );
    assert_eq!(inspect(&mut h, "p = print", 7), Some(text.clone()));
    assert!(inspect(&mut h, "string.format", 3)
        .unwrap()
        .starts_with("string.format: function\nstring.format("));
    assert!(inspect(&mut h, "math.pi", 7)
        .unwrap()
        .starts_with("math.pi: number\n3.1415926535898\n"));
    h.result("val = {1, 2}");
    h.result("function myf(a, b)\n  return a\nend");
    h.result("alias = string.rep");
    assert_eq!(
        inspect(&mut h, "val", 3).as_deref(),
        Some("val: table\n{ 1, 2 }")
    );
    assert_eq!(
        inspect(&mut h, "myf", 1).as_deref(),
        Some("myf: function\nfunction defined at [cell 7]:1")
    );
    assert!(inspect(&mut h, "alias", 5)
        .unwrap()
        .starts_with("alias: function\nstring.rep(s, n [, sep])"));
    assert_eq!(inspect(&mut h, "nosuch", 6), None);
    assert_eq!(inspect(&mut h, "   ", 2), None);
}

#[test]
fn pager_cells_run_no_code() {
    let mut h = Harness::new();
    let (events, outcome) = h.execute("?string.format");
    assert_eq!(events.len(), 1);
    let ExecuteOutcome::Ok {
        result: None,
        payload,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(payload.len(), 1);
    assert_eq!(payload[0]["source"], "page");
    assert_eq!(payload[0]["start"], 0);
    let text = payload[0]["data"]["text/plain"].as_str().unwrap();
    assert!(
        text.starts_with("string.format: function\nstring.format(formatstring, ...)"),
        "{text}"
    );

    let ExecuteOutcome::Ok { payload, .. } = h.execute("print?").1 else {
        panic!()
    };
    assert!(payload[0]["data"]["text/plain"]
        .as_str()
        .unwrap()
        .starts_with("print: function"));
    let ExecuteOutcome::Ok { payload, .. } = h.execute("?? nosuch").1 else {
        panic!()
    };
    assert_eq!(
        payload[0],
        json!({"source": "page", "data": {"text/plain": "Object `nosuch` not found."}, "start": 0})
    );
    // Not a name: runs as code (and fails to compile).
    assert_eq!(h.error("?1 + 1").ename, "SyntaxError");
}
