//! The Lua Tool API and JSON, over a fake tool host with two fake tools.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value as Json};

use super::*;
use crate::tools::{
    Policy, Registry, SecurityLevel, Tool, ToolContext, ToolError, ToolHost, ToolHostRef, ToolId,
    ToolOutput, ToolResult, ToolSpec,
};

/// `calculator`: adds `"a + b"`; fails on anything else.
struct Calculator(ToolSpec);

impl Tool for Calculator {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }

    fn invoke(&self, params: &Json, _ctx: &ToolContext<'_>) -> ToolResult {
        // The schema requires a string `input`.
        let input = params["input"].as_str().expect("validated");
        let sum = input
            .split_once(" + ")
            .and_then(|(a, b)| Some(a.trim().parse::<i64>().ok()? + b.trim().parse::<i64>().ok()?))
            .ok_or_else(|| ToolError::failed(format!("cannot evaluate `{input}`")))?;
        Ok(ToolOutput {
            text: sum.to_string(),
            data: json!({ "result": sum }),
        })
    }
}

/// `echo`: gives its parameters back as data; panics when asked to; with `nest = n`, its
/// data is `n` arrays, each in the next.
struct Echo(ToolSpec);

impl Tool for Echo {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }

    fn invoke(&self, params: &Json, _ctx: &ToolContext<'_>) -> ToolResult {
        if params["panic"] == json!(true) {
            panic!("echo was asked to panic");
        }
        if let Some(n) = params["nest"].as_u64() {
            let data = (0..n).fold(json!("core"), |inner, _| json!([inner]));
            return Ok(ToolOutput {
                text: format!("{n} levels"),
                data,
            });
        }
        Ok(ToolOutput {
            text: params.to_string(),
            data: params.clone(),
        })
    }
}

/// A host that runs tools through the registry on the caller's thread (batches on scoped
/// threads), counting its calls.
struct FakeHost {
    registry: Registry,
    policy: Policy,
    invokes: AtomicUsize,
    /// Calls through a resolved id (`tool:execute` resolves its tool once, in `Tool.get`).
    by_id: AtomicUsize,
    batches: AtomicUsize,
}

impl ToolHost for FakeHost {
    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn invoke(&self, name: &str, params: &Json, _timeout_ms: Option<u64>) -> ToolResult {
        self.invokes.fetch_add(1, Ordering::Relaxed);
        let ctx = ToolContext {
            policy: &self.policy,
        };
        self.registry.invoke(name, params, &ctx)
    }

    fn invoke_id(&self, id: ToolId, params: &Json, timeout_ms: Option<u64>) -> ToolResult {
        self.by_id.fetch_add(1, Ordering::Relaxed);
        self.invoke(id.name(), params, timeout_ms)
    }

    fn batch(&self, calls: &[(String, Json)]) -> Vec<ToolResult> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let ctx = ToolContext {
            policy: &self.policy,
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = calls
                .iter()
                .map(|(name, params)| s.spawn(|| self.registry.invoke(name, params, &ctx)))
                .collect();
            handles
                .into_iter()
                // The registry catches tool panics, so the threads do not panic.
                .map(|h| h.join().expect("no panic"))
                .collect()
        })
    }
}

fn fake_host() -> Arc<FakeHost> {
    let mut registry = Registry::new();
    registry
        .register(Arc::new(Calculator(ToolSpec {
            name: "calculator",
            category: "utility",
            description: "Adds two integers.",
            parameters: json!({
                "type": "object",
                "properties": {"input": {"type": "string"}},
                "required": ["input"]
            }),
            security: SecurityLevel::Safe,
            cacheable: true,
            blocking: false,
        })))
        .expect("registers");
    registry
        .register(Arc::new(Echo(ToolSpec {
            name: "echo",
            category: "data",
            description: "Returns its parameters.",
            parameters: json!({"type": "object"}),
            security: SecurityLevel::Restricted,
            cacheable: false,
            blocking: true,
        })))
        .expect("registers");
    Arc::new(FakeHost {
        registry,
        policy: Policy::default(),
        invokes: AtomicUsize::new(0),
        by_id: AtomicUsize::new(0),
        batches: AtomicUsize::new(0),
    })
}

fn harness(host: &Arc<FakeHost>) -> Harness {
    Harness::with_config(EngineConfig {
        tools: Some(ToolHostRef(host.clone())),
        ..EngineConfig::default()
    })
}

/// Runs `code`, which must set the global `out` to a string, and returns it.
fn out(h: &mut Harness, code: &str) -> String {
    h.result(code);
    h.engine
        .lua()
        .globals()
        .get::<String>("out")
        .expect("out is a string")
}

/// The JSON of a Lua expression, through `JSON.encode`.
fn eval(h: &mut Harness, expr: &str) -> Json {
    let text = out(h, &format!("out = JSON.encode({expr})"));
    serde_json::from_str(&text).expect("JSON.encode gives JSON")
}

/// The message of a call that must return `nil, message`.
fn nil_and(h: &mut Harness, call: &str) -> String {
    out(
        h,
        &format!("local v, e = {call} assert(v == nil, 'nil expected') out = e"),
    )
}

#[test]
fn execute_returns_success_text_and_data() {
    let host = fake_host();
    let mut h = harness(&host);
    h.result("calc = Tool.get('calculator')");
    assert_eq!(
        eval(&mut h, "calc:execute({input = '2 + 3'})"),
        json!({"success": true, "text": "5", "data": {"result": 5}})
    );
    assert_eq!(
        eval(
            &mut h,
            "{calc.name, calc.category, calc.description, tostring(calc)}"
        ),
        json!([
            "calculator",
            "utility",
            "Adds two integers.",
            "Tool(calculator)"
        ])
    );
    // Integer-ness survives the round trip; math.type tells.
    assert_eq!(
        eval(
            &mut h,
            "math.type(calc:execute{input = '1 + 1'}.data.result)"
        ),
        json!("integer")
    );
    // The guide's loop.
    h.result("for i = 1, 100 do local r = calc:execute({input = i .. ' + ' .. (i+1)}) assert(r.data.result == 2*i + 1) end");
    assert_eq!(host.invokes.load(Ordering::Relaxed), 102);
    assert_eq!(host.by_id.load(Ordering::Relaxed), 102);
}

#[test]
fn execute_failures_are_result_tables() {
    let host = fake_host();
    let mut h = harness(&host);
    h.result("calc = Tool.get('calculator') echo = Tool.get('echo')");
    assert_eq!(
        eval(&mut h, "calc:execute({input = 42})"),
        json!({"success": false, "error": {
            "kind": "invalid_params",
            "message": "parameter `input`: 42 is not of type \"string\""}})
    );
    assert_eq!(
        eval(&mut h, "calc:execute({})"),
        json!({"success": false, "error": {
            "kind": "invalid_params", "message": "parameter `input` is required"}})
    );
    assert_eq!(
        eval(&mut h, "calc:execute()").pointer("/error/message"),
        Some(&json!("parameter `input` is required"))
    );
    assert_eq!(
        eval(&mut h, "calc:execute({input = 'x'})"),
        json!({"success": false, "error": {"kind": "failed", "message": "cannot evaluate `x`"}})
    );
    assert_eq!(
        eval(&mut h, "echo:execute({panic = true})"),
        json!({"success": false, "error": {
            "kind": "internal", "message": "tool `echo` panicked: echo was asked to panic"}})
    );
    assert_eq!(
        eval(&mut h, "echo:execute({f = print})"),
        json!({"success": false, "error": {
            "kind": "invalid_params",
            "message": "the parameters cannot be converted to JSON: cannot encode a function as JSON"}})
    );
    // The engine lives on.
    assert_eq!(
        eval(&mut h, "calc:execute{input = '1 + 2'}.text"),
        json!("3")
    );
    // A dot instead of a colon raises.
    let err = h.error("calc.execute({input = '1 + 2'})");
    assert!(
        err.evalue
            .contains("call execute with a colon: tool:execute(params)"),
        "{err:?}"
    );
}

#[test]
fn params_and_data_convert_both_ways() {
    let host = fake_host();
    let mut h = harness(&host);
    h.result("echo = Tool.get('echo')");
    // What the tool was given (echo's text), and what came back (its data, through Lua).
    h.result(
        "r = echo:execute({s = 'x', i = 3, f = 1.5, whole = 2.0, b = false, arr = {1, 'two', {3}},
            empty = {}, nested = {a = {b = {c = 'deep'}}}, sparse = {[1] = 'a', [3] = 'c'},
            mixed = {1, 2, k = 'v'}, null = JSON.null})",
    );
    let given: Json = serde_json::from_str(&out(&mut h, "out = r.text")).unwrap();
    let mut expected = json!({"s": "x", "i": 3, "f": 1.5, "whole": 2.0, "b": false,
        "arr": [1, "two", [3]], "empty": {}, "nested": {"a": {"b": {"c": "deep"}}},
        "sparse": {"1": "a", "3": "c"}, "mixed": {"1": 1, "2": 2, "k": "v"}, "null": null});
    assert_eq!(given, expected);
    assert!(given["whole"].is_f64() && given["i"].is_i64());
    let data = eval(&mut h, "r.data");
    // A null in an object comes back as nil: the key is gone.
    expected.as_object_mut().unwrap().remove("null");
    assert_eq!(data, expected);
    assert!(data["whole"].is_f64() && data["i"].is_i64());
    // Back in Lua: types, arrays with their nulls, and nulls in objects as nil.
    let types = out(
        &mut h,
        "local d = echo:execute({i = 3, f = 2.0, arr = {1, JSON.null, 3}, o = {x = JSON.null}}).data
         out = table.concat({math.type(d.i), math.type(d.f), #d.arr, tostring(d.arr[2] == JSON.null),
                             tostring(d.o.x), type(d.o)}, ' ')",
    );
    assert_eq!(types, "integer float 3 true nil table");
    let err = eval(&mut h, "echo:execute({[true] = 1}).error.message");
    assert_eq!(
        err,
        json!("the parameters cannot be converted to JSON: cannot encode a table key of type boolean as JSON")
    );
    let err = eval(
        &mut h,
        "(function() local t = {} t.t = t return echo:execute({t}).error.message end)()",
    );
    assert_eq!(
        err,
        json!("the parameters cannot be converted to JSON: tables nested too deeply to encode as JSON (or a cycle)")
    );
}

#[test]
fn get_list_search_and_info() {
    let host = fake_host();
    let mut h = harness(&host);
    assert_eq!(
        nil_and(&mut h, "Tool.get('calculater')"),
        "unknown tool `calculater`; did you mean `calculator`?"
    );
    assert_eq!(nil_and(&mut h, "Tool.get('zzz')"), "unknown tool `zzz`");
    assert_eq!(
        eval(&mut h, "Tool.list()"),
        json!([
            {"name": "calculator", "category": "utility", "description": "Adds two integers."},
            {"name": "echo", "category": "data", "description": "Returns its parameters."}
        ])
    );
    assert_eq!(
        eval(&mut h, "Tool.list('data')"),
        json!([{"name": "echo", "category": "data", "description": "Returns its parameters."}])
    );
    assert_eq!(
        eval(&mut h, "Tool.list('nosuch')"),
        json!({}),
        "an empty table"
    );
    assert_eq!(
        eval(&mut h, "Tool.search('calc')"),
        json!([{"name": "calculator", "score": 0.8, "description": "Adds two integers."}])
    );
    assert_eq!(eval(&mut h, "#Tool.search('')"), json!(2));
    assert_eq!(eval(&mut h, "#Tool.search('', 1)"), json!(1));
    assert_eq!(
        eval(&mut h, "Tool.info('echo')"),
        json!({"name": "echo", "category": "data", "description": "Returns its parameters.",
            "parameters": {"type": "object"}, "security": "restricted",
            "cacheable": false, "blocking": true})
    );
    assert_eq!(
        eval(&mut h, "Tool.info('calculator').parameters.required"),
        json!(["input"])
    );
    assert_eq!(
        nil_and(&mut h, "Tool.info('ech')"),
        "unknown tool `ech`; did you mean `echo`?"
    );
}

#[test]
fn batch_runs_on_the_host_in_order() {
    let host = fake_host();
    let mut h = harness(&host);
    let results = eval(
        &mut h,
        "Tool.batch{
            {'calculator', {input = '1 + 1'}},
            {name = 'echo', params = {n = 2}},
            {'calculator', {input = 'bad'}},
            {name = 'nosuch'},
            {'echo', {f = print}},
            {'echo'},
            {'calculator', {input = '3 + 4'}},
        }",
    );
    assert_eq!(
        results,
        json!([
            {"success": true, "text": "2", "data": {"result": 2}},
            {"success": true, "text": "{\"n\":2}", "data": {"n": 2}},
            {"success": false, "error": {"kind": "failed", "message": "cannot evaluate `bad`"}},
            {"success": false, "error": {"kind": "unknown_tool", "message": "unknown tool `nosuch`"}},
            {"success": false, "error": {"kind": "invalid_params",
                "message": "the parameters cannot be converted to JSON: cannot encode a function as JSON"}},
            {"success": true, "text": "{}", "data": {}},
            {"success": true, "text": "7", "data": {"result": 7}}
        ])
    );
    assert_eq!(host.batches.load(Ordering::Relaxed), 1, "one host batch");
    assert_eq!(host.invokes.load(Ordering::Relaxed), 0, "no single invokes");
    assert_eq!(eval(&mut h, "Tool.batch{}"), json!({}));
    assert!(h
        .error("Tool.batch{ {params = {}} }")
        .evalue
        .contains("Tool.batch: call 1 has no tool name"));
    assert!(h
        .error("Tool.batch{ 'calculator' }")
        .evalue
        .contains("Tool.batch: call 1 is not a table"));
}

#[test]
fn without_a_host_tool_lists_nothing() {
    let mut h = Harness::new();
    assert_eq!(eval(&mut h, "Tool.list()"), json!({}));
    assert_eq!(eval(&mut h, "Tool.search('calc')"), json!({}));
    assert_eq!(
        nil_and(&mut h, "Tool.get('calculator')"),
        "no tools are available"
    );
    assert_eq!(
        nil_and(&mut h, "Tool.info('calculator')"),
        "no tools are available"
    );
    assert_eq!(
        eval(&mut h, "Tool.batch{ {'calculator', {input = '1 + 1'}} }"),
        json!([{"success": false, "error": {"kind": "internal", "message": "no tools are available"}}])
    );
}

#[test]
fn json_encode_decode_round_trips() {
    let mut h = Harness::new();
    assert_eq!(
        out(
            &mut h,
            "out = JSON.encode({b = 1, a = {1, 2.5, 'x'}, e = {}, t = true})"
        ),
        r#"{"a":[1,2.5,"x"],"b":1,"e":{},"t":true}"#
    );
    assert_eq!(
        out(&mut h, "out = JSON.encode({a = {1}}, {pretty = true})"),
        "{\n  \"a\": [\n    1\n  ]\n}"
    );
    assert_eq!(out(&mut h, "out = JSON.encode('q\"\\n')"), r#""q\"\n""#);
    assert_eq!(out(&mut h, "out = JSON.encode(nil)"), "null");
    for text in [
        r#"{"a":[1,null,3],"b":{"c":"d"},"f":1.5,"i":-7,"s":"é\u0001"}"#,
        "[]",
        "[{},[]]",
        "[true,false,null]",
        "12345678901234",
        r#""text""#,
    ] {
        let lua_text = serde_json::to_string(text).unwrap();
        let round = out(
            &mut h,
            &format!("out = JSON.encode(JSON.decode({lua_text}))"),
        );
        let expected: Json = serde_json::from_str(text).unwrap();
        let got: Json = serde_json::from_str(&round).unwrap();
        // Empty arrays come back as empty tables, which encode as objects.
        let expected = if text == "[]" {
            json!({})
        } else if text == "[{},[]]" {
            json!([{}, {}])
        } else {
            expected
        };
        assert_eq!(got, expected, "{text}");
    }
    assert_eq!(
        out(
            &mut h,
            "out = math.type(JSON.decode('3')) .. math.type(JSON.decode('3.0'))"
        ),
        "integerfloat"
    );
    assert_eq!(out(&mut h, "out = tostring(JSON.decode('null'))"), "nil");
}

#[test]
fn json_errors_raise_with_the_position() {
    let mut h = Harness::new();
    let err = h.error("JSON.decode('{\"a\": 1,}')");
    assert_eq!(err.ename, "RuntimeError");
    assert!(
        err.evalue
            .contains("JSON.decode: trailing comma at line 1 column 9"),
        "{err:?}"
    );
    let err = h.error("JSON.decode('[1, 2')");
    assert!(
        err.evalue
            .contains("JSON.decode: EOF while parsing a list at line 1 column 5"),
        "{err:?}"
    );
    let err = h.error("JSON.encode({f = print})");
    assert!(
        err.evalue
            .contains("JSON.encode: cannot encode a function as JSON"),
        "{err:?}"
    );
    let err = h.error("JSON.encode(0/0)");
    assert!(err.evalue.contains("JSON.encode: cannot encode"), "{err:?}");
    // A pcall catches them like any error.
    assert_eq!(
        out(
            &mut h,
            "local ok, e = pcall(JSON.decode, 'x') out = tostring(ok)"
        ),
        "false"
    );
}

/// Per-call cost of `calc:execute` against a bare host function, with the guide's loop, in
/// a plain Lua state and in the engine (whose instruction-count hook slows every Lua
/// instruction). Prints the figures; asserts nothing about them. Run with
/// `cargo test --release -p llmspell-core tools_api_speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn tools_api_speed() {
    const N: u32 = 10_000;
    let host = fake_host();
    let tools = ToolHostRef(host.clone());
    let bare = |lua: &mlua::Lua| {
        let f = lua.create_function(|_, _t: mlua::Table| Ok(())).unwrap();
        lua.globals().set("bare", f).unwrap();
    };
    let cases = [
        ("loop body without a call", "local s = i .. ' + ' .. (i+1)"),
        ("bare host function", "bare({input = i .. ' + ' .. (i+1)})"),
        (
            "calc:execute",
            "calc:execute({input = i .. ' + ' .. (i+1)})",
        ),
    ];
    let per_call = |run: &mut dyn FnMut(&str)| -> Vec<f64> {
        cases
            .iter()
            .map(|(_, body)| {
                let code = format!("for i = 1, {N} do {body} end");
                let mut best = f64::MAX;
                for _ in 0..9 {
                    let start = Instant::now();
                    run(&code);
                    best = best.min(start.elapsed().as_secs_f64() * 1e9 / f64::from(N));
                }
                best
            })
            .collect()
    };
    let report = |what: &str, ns: &[f64]| {
        let line: Vec<String> = cases
            .iter()
            .zip(ns)
            .map(|((name, _), ns)| format!("{name} {ns:.0} ns"))
            .collect();
        println!(
            "{what}: {}; calc:execute is {:.2}x bare, 10,000 calls {:.2} ms",
            line.join(", "),
            ns[2] / ns[1],
            ns[2] * f64::from(N) / 1e6
        );
    };

    // The host alone, from Rust: validation, then the fake calculator.
    let rust_loop = |f: &mut dyn FnMut()| {
        let mut best = f64::MAX;
        for _ in 0..9 {
            let start = Instant::now();
            for _ in 0..N {
                f();
            }
            best = best.min(start.elapsed().as_secs_f64() * 1e9 / f64::from(N));
        }
        best
    };
    let params = json!({"input": "1 + 2"});
    let validate = rust_loop(&mut || {
        let checked = host
            .registry
            .validate("calculator", std::hint::black_box(&params));
        assert!(std::hint::black_box(checked).is_ok());
    });
    let invoke = rust_loop(&mut || {
        let result = host.invoke("calculator", std::hint::black_box(&params), None);
        assert!(std::hint::black_box(result).is_ok());
    });
    println!("from Rust: registry.validate {validate:.0} ns, host.invoke {invoke:.0} ns");

    let lua = mlua::Lua::new();
    super::super::tools_api::install(&lua, Some(&tools)).unwrap();
    bare(&lua);
    lua.load("calc = Tool.get('calculator')").exec().unwrap();
    let plain = per_call(&mut |code| lua.load(code).exec().unwrap());
    report("plain Lua state", &plain);

    let mut h = harness(&host);
    bare(h.engine.lua());
    h.result("calc = Tool.get('calculator')");
    let engine = per_call(&mut |code| {
        h.result(code);
    });
    report("engine", &engine);
}

#[test]
fn data_too_deep_for_tables_is_a_failed_result() {
    let host = fake_host();
    let mut h = harness(&host);
    h.result("echo = Tool.get('echo')");
    assert_eq!(
        out(
            &mut h,
            "local d = echo:execute({nest = 100}).data for _ = 1, 100 do d = d[1] end out = d"
        ),
        "core"
    );
    let too_deep = json!({"success": false, "error": {"kind": "too_large",
        "message": "JSON nested too deeply to convert to Lua tables"}});
    assert_eq!(eval(&mut h, "echo:execute({nest = 600})"), too_deep);
    assert_eq!(
        eval(&mut h, "Tool.batch{ {'echo', {nest = 600}} }"),
        json!([too_deep])
    );
    // The stack is as it was: the next call works.
    assert_eq!(eval(&mut h, "echo:execute({n = 1}).data"), json!({"n": 1}));
}

#[test]
fn execute_takes_any_first_argument_with_params_and_checks_it_without() {
    let host = fake_host();
    let mut h = harness(&host);
    h.result("calc = Tool.get('calculator') f = calc.execute");
    // With parameters, the first argument is not looked at; extra arguments are ignored.
    assert_eq!(eval(&mut h, "f(nil, {input = '2 + 2'}).text"), json!("4"));
    assert_eq!(
        eval(&mut h, "calc:execute({input = '2 + 3'}, 'extra', 1).text"),
        json!("5")
    );
    // Without, it must be a tool object (one with the tools' metatable), any tool's.
    assert_eq!(
        eval(&mut h, "f(Tool.get('echo')).error.message"),
        json!("parameter `input` is required")
    );
    for call in ["f()", "f({})", "f(setmetatable({}, {}))", "f(42)"] {
        assert!(
            h.error(call)
                .evalue
                .contains("call execute with a colon: tool:execute(params)"),
            "{call}"
        );
    }
    // Parameters that are not a table go to the schema.
    assert_eq!(
        eval(&mut h, "calc:execute('1 + 1').error.kind"),
        json!("invalid_params")
    );
    // A pcall catches the misuse like any error.
    assert_eq!(
        out(&mut h, "local ok = pcall(f) out = tostring(ok)"),
        "false"
    );
}

#[test]
fn an_execute_kept_past_its_tool_objects_collection_fails_cleanly() {
    let host = fake_host();
    let mut h = harness(&host);
    // The keeper's finalizer is marked first, so it runs after the slot's (Lua finalizes
    // the newest first): it calls `execute` through a slot already collected. The garbage
    // is made in one cell and collected in the next, so no stack slot still holds it.
    h.result(
        "local keeper = setmetatable({}, {__gc = function(k)
             late = k.f({}, {input = '1 + 2'})
         end})
         keeper.f = Tool.get('calculator').execute",
    );
    h.result("collectgarbage() collectgarbage()");
    assert_eq!(
        eval(&mut h, "late"),
        json!({"success": false, "error": {"kind": "internal",
            "message": "the tool host is gone (the Lua state is closing)"}})
    );
    // Other tool objects are unaffected.
    assert_eq!(
        eval(
            &mut h,
            "Tool.get('calculator'):execute{input = '1 + 2'}.text"
        ),
        json!("3")
    );
}
