//! The cost of a tool call from Lua, side by side with its floors, in one run
//! (`cargo bench -p llmspell-benches --bench lua_tools`):
//!
//! - `bare host function, guide's loop`: a plain mlua state (no hook) calling a Rust
//!   function registered in Lua, `bare({input = i .. " + " .. (i+1)})`, which reads the
//!   parameter and returns `{success = true, text = ...}`: the floor of any Lua-to-Rust call
//!   with a table, in the guide's loop;
//! - `bare host function, constant input`: the same with `bare({input = "1 + 2"})`, the
//!   shape of the 184 ns anchor (no string building in the loop);
//! - `engine loop body`: the guide's loop without the call, in the engine (with its
//!   instruction hook): what the script costs without tools;
//! - `engine Lua function building the result`: the loop calling a Lua function that
//!   returns a table shaped like `execute`'s (`{success, text, data = {result,
//!   expression}}`): what the result alone costs in Lua;
//! - `engine calc:execute`: the loop with `calc:execute{...}` through the engine's Tool
//!   API and the real [`Host`], as `llmspell run batch_process.lua` runs it;
//! - `host invoke from Rust`: [`ToolHost::invoke`] of calculator, one call per iteration,
//!   with parameters built outside the timing.
//!
//! Each loop makes 10,000 calls per iteration; the throughput line (elements per second) is
//! calls per second. `cargo test -p llmspell-benches --bench lua_tools` runs each once, as
//! a test, after checking that the loops do what they say.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use llmspell_core::engine::{
    Engine, EngineConfig, EngineEvent, EngineIo, EngineRequest, ExecuteOutcome,
};
use llmspell_core::tools::{ToolHost, ToolHostRef};
use llmspell_tools::host::{Host, HostConfig};
use serde_json::json;

/// Calls per loop, as in the guide's script.
const CALLS: u64 = 10_000;

/// The guide's loop, with `body` for the call.
fn batch_loop(body: &str) -> String {
    format!("for i = 1, {CALLS} do {body} end")
}

/// An engine in script mode with the built-in tools, as `llmspell run` makes it.
fn engine(host: &Arc<Host>) -> Engine {
    // An input channel nobody answers: the loops never read stdin.
    let (_replies, input) = crossbeam_channel::unbounded();
    Engine::new(
        EngineConfig {
            kernel_mode: false,
            tools: Some(ToolHostRef(host.clone() as Arc<dyn ToolHost>)),
            ..EngineConfig::default()
        },
        EngineIo {
            interrupt: Arc::new(AtomicBool::new(false)),
            input,
        },
    )
    .expect("the engine starts")
}

/// Runs `code` as one cell, failing on anything but success.
fn execute(engine: &mut Engine, code: &str) {
    let mut outcome = None;
    let mut errors = Vec::new();
    engine.handle(
        EngineRequest::Execute {
            id: 1,
            code: code.to_owned(),
            chunk_name: "=bench".to_owned(),
            silent: true,
            allow_stdin: false,
            user_expressions: Vec::new(),
        },
        &mut |event| match event {
            EngineEvent::ExecuteDone { outcome: o, .. } => outcome = Some(o),
            other => errors.push(format!("{other:?}")),
        },
    );
    assert!(
        matches!(outcome, Some(ExecuteOutcome::Ok { .. })),
        "{code}: {outcome:?} {errors:?}"
    );
}

/// A plain Lua state with `bare(params)`, the floor: it reads `params.input` and returns
/// `{success = true, text = input}`.
fn bare_lua() -> mlua::Lua {
    let lua = mlua::Lua::new();
    let bare = lua
        .create_function(|lua, params: mlua::Table| {
            let input: mlua::String = params.raw_get("input")?;
            let result = lua.create_table_with_capacity(0, 2)?;
            result.raw_set("success", true)?;
            result.raw_set("text", input)?;
            Ok(result)
        })
        .expect("a function");
    lua.globals().set("bare", bare).expect("a global");
    lua
}

fn lua_tools(c: &mut Criterion) {
    let host = Arc::new(Host::new(
        llmspell_tools::builtin_registry(),
        HostConfig::default(),
    ));
    let mut engine = engine(&host);
    let bare = bare_lua();

    // Check that each loop does what it says before timing it.
    let check = bare
        .load("local r = bare({input = '1 + 2'}) return r.success and r.text")
        .eval::<String>()
        .expect("bare returns its input");
    assert_eq!(check, "1 + 2");
    execute(
        &mut engine,
        "calc = Tool.get('calculator')\n\
         local r = calc:execute{input = '1 + 2'}\n\
         assert(r.success and r.text == '3' and r.data.result == 3, r.error and r.error.message)\n\
         local bad = calc:execute{input = 42}\n\
         assert(not bad.success and bad.error.kind == 'invalid_params')",
    );
    let params = json!({"input": "10000 + 10001"});
    let out = host
        .invoke("calculator", &params, None)
        .expect("calculator evaluates");
    assert_eq!(out.text, "20001");

    let bare_chunk = |body: &str| {
        bare.load(batch_loop(body))
            .into_function()
            .expect("compiles")
    };
    let bare_loop = bare_chunk("bare({input = i .. ' + ' .. (i+1)})");
    let bare_constant = bare_chunk("bare({input = '1 + 2'})");
    let body_code = batch_loop("local p = {input = i .. ' + ' .. (i+1)}");
    let lua_code = format!(
        "local function f(p)
           return {{success = true, text = p.input, data = {{result = 1, expression = p.input}}}}
         end
         {}",
        batch_loop("f({input = i .. ' + ' .. (i+1)})")
    );
    let calc_code = format!(
        "local calc = Tool.get('calculator') {}",
        batch_loop("calc:execute({input = i .. ' + ' .. (i+1)})")
    );

    let mut g = c.benchmark_group("lua_tools");
    g.throughput(Throughput::Elements(CALLS));
    g.bench_function("bare host function, guide's loop", |b| {
        b.iter(|| bare_loop.call::<()>(()).expect("runs"))
    });
    g.bench_function("bare host function, constant input", |b| {
        b.iter(|| bare_constant.call::<()>(()).expect("runs"))
    });
    g.bench_function("engine loop body", |b| {
        b.iter(|| execute(&mut engine, &body_code))
    });
    g.bench_function("engine Lua function building the result", |b| {
        b.iter(|| execute(&mut engine, &lua_code))
    });
    g.bench_function("engine calc:execute", |b| {
        b.iter(|| execute(&mut engine, &calc_code))
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("host invoke from Rust", |b| {
        b.iter(|| host.invoke("calculator", black_box(&params), None))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = lua_tools
}
criterion_main!(benches);
