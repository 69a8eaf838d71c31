//! `llmspell-bench dap`: what the debugger costs, side by side in one run.
//!
//! - **Hot loop**: the same Lua loop in llmspell-core's engine (the engine a kernel runs)
//!   with no debugger, with a debugger enabled but no client attached (how every kernel
//!   runs), attached with no breakpoint, attached with a breakpoint in another function
//!   of the same file, and attached with a breakpoint in another file. Rounds alternate
//!   between the columns; each column's median is divided by the no-debugger median.
//!   Two loops: arithmetic only, and one Lua function call per iteration.
//! - **Step round trip**: `next` sent, to the `stopped` event received, stopping line by
//!   line in a loop: in-process (the DAP session and the engine thread, over channels),
//!   `llmspell dap --port 0` over TCP, and a kernel over ZeroMQ (debug_request on control,
//!   debug_event on iopub).

use std::time::Instant;

use llmspell_core::engine::debug::{BreakpointSpec, DebugCommand, DebugLink};
use llmspell_core::engine::{Engine, EngineConfig, EngineIo, EngineRequest, ExecuteOutcome};

use crate::client::BenchError;
use crate::dap_step;
use crate::stats::Summary;

/// The hot loop's file, as a chunk name.
const HOT_CHUNK: &str = "@/bench/hot.lua";

/// The program around the loop: `cold` is never called in the loop (line 2 is where the
/// same-file breakpoint goes), `hot` runs it.
fn hot_program(body: &str, n: u64) -> String {
    format!(
        "local function cold()\n  return 0\nend\nlocal function f(x) return x + 1 end\n\
         local function hot(n)\n  local s = 0\n  for i = 1, n do\n    {body}\n  end\n  return s\nend\n\
         return hot({n})"
    )
}

/// The loops measured: (name, loop body).
const LOOPS: [(&str, &str); 2] = [
    ("arithmetic", "s = s + i % 7"),
    ("one Lua call per iteration", "s = f(s)"),
];

/// How a column sets up its engine's debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    None,
    Enabled,
    Attached,
    BreakpointSameFile,
    BreakpointOtherFile,
}

const SETUPS: [(Setup, &str); 5] = [
    (Setup::None, "no debugger"),
    (Setup::Enabled, "debugger enabled, no client"),
    (Setup::Attached, "attached, no breakpoint"),
    (
        Setup::BreakpointSameFile,
        "attached, breakpoint in another function",
    ),
    (
        Setup::BreakpointOtherFile,
        "attached, breakpoint in another file",
    ),
];

/// An engine set up for one column, and the sender that keeps its debug channel open.
struct Column {
    engine: Engine,
    _commands: Option<crossbeam_channel::Sender<DebugCommand>>,
}

fn column(setup: Setup) -> Result<Column, BenchError> {
    let (_tx, input) = crossbeam_channel::unbounded();
    let io = EngineIo {
        interrupt: Default::default(),
        input,
    };
    let mut engine = Engine::new(EngineConfig::default(), io).map_err(BenchError::Io)?;
    if setup == Setup::None {
        return Ok(Column {
            engine,
            _commands: None,
        });
    }
    let (tx, commands) = crossbeam_channel::unbounded();
    engine
        .enable_debugger(DebugLink {
            commands,
            events: Box::new(|_| {}),
        })
        .map_err(BenchError::Io)?;
    let bp = |source: &str, line| DebugCommand::SetBreakpoints {
        source: source.to_owned(),
        breakpoints: vec![BreakpointSpec {
            id: 1,
            line,
            condition: None,
            hit_condition: None,
            log_message: None,
        }],
    };
    let mut setup_cmds = Vec::new();
    if setup != Setup::Enabled {
        setup_cmds.push(DebugCommand::Attach);
    }
    match setup {
        Setup::BreakpointSameFile => setup_cmds.push(bp(HOT_CHUNK, 2)),
        Setup::BreakpointOtherFile => setup_cmds.push(bp("@/bench/other.lua", 1)),
        _ => {}
    }
    for cmd in setup_cmds {
        engine.handle_debug(cmd);
    }
    Ok(Column {
        engine,
        _commands: Some(tx),
    })
}

/// Runs the program once; returns the seconds it took.
fn run_once(engine: &mut Engine, code: &str, id: u64) -> Result<f64, BenchError> {
    let request = EngineRequest::Execute {
        id,
        code: code.to_owned(),
        chunk_name: HOT_CHUNK.to_owned(),
        silent: true,
        allow_stdin: false,
        user_expressions: Vec::new(),
    };
    let start = Instant::now();
    let mut failed = None;
    engine.handle(request, &mut |ev| {
        if let llmspell_core::engine::EngineEvent::ExecuteDone {
            outcome: ExecuteOutcome::Error(e),
            ..
        } = ev
        {
            failed = Some(e.evalue);
        }
    });
    let took = start.elapsed().as_secs_f64();
    match failed {
        Some(e) => Err(BenchError::Io(format!("the hot loop failed: {e}"))),
        None => Ok(took),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One row of the hot-loop table: the loop's name, and per column the median seconds and
/// the ratio to no debugger.
type Row = (String, Vec<(f64, f64)>);

/// The hot-loop table.
fn hot_loops(iterations: u64, rounds: usize) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for (name, body) in LOOPS {
        let code = hot_program(body, iterations);
        let mut columns = SETUPS
            .iter()
            .map(|(s, _)| column(*s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut times = vec![Vec::new(); columns.len()];
        let mut id = 0;
        for c in &mut columns {
            id += 1;
            run_once(&mut c.engine, &code, id)?; // warm up
        }
        for round in 0..rounds {
            // Alternate the order so that no column always runs first.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..columns.len()).collect()
            } else {
                (0..columns.len()).rev().collect()
            };
            for i in order {
                id += 1;
                times[i].push(run_once(&mut columns[i].engine, &code, id)?);
            }
            if crate::sys::interrupted() {
                return Err(BenchError::Interrupted);
            }
        }
        let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
        let base = medians[0];
        rows.push((
            name.to_owned(),
            medians.iter().map(|m| (*m, m / base)).collect(),
        ));
    }
    Ok(rows)
}

/// Settings of `llmspell-bench dap`.
pub struct DapSettings {
    /// The llmspell binary, for the TCP and kernel round trips.
    pub llmspell: Option<String>,
    /// Iterations of each hot loop.
    pub iterations: u64,
    /// Timed runs per column.
    pub rounds: usize,
    /// Timed steps per round-trip scenario.
    pub steps: usize,
    /// Untimed steps before them.
    pub warmup: usize,
}

/// Runs everything and returns the report as markdown.
pub fn run(settings: &DapSettings) -> Result<String, BenchError> {
    let mut out = String::new();
    out.push_str(&format!(
        "## Hot loop with and without the debugger ({} iterations, median of {} runs)\n\n",
        settings.iterations, settings.rounds
    ));
    out.push_str("| loop |");
    for (_, label) in SETUPS {
        out.push_str(&format!(" {label} |"));
    }
    out.push_str("\n| --- |");
    for _ in SETUPS {
        out.push_str(" --- |");
    }
    out.push('\n');
    for (name, cells) in hot_loops(settings.iterations, settings.rounds)? {
        out.push_str(&format!("| {name} |"));
        for (secs, ratio) in cells {
            out.push_str(&format!(" {:.1} ms ({ratio:.2}x) |", secs * 1e3));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\n## Step round trip: `next` to `stopped` ({} steps after {} untimed)\n\n\
         | path | p50 | p99 | p99.9 | max |\n| --- | --- | --- | --- | --- |\n",
        settings.steps, settings.warmup
    ));
    let mut row = |name: &str, s: Result<Summary, BenchError>| match s {
        Ok(s) => out.push_str(&format!(
            "| {name} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs |\n",
            s.p50_us, s.p99_us, s.p999_us, s.max_us
        )),
        Err(e) => out.push_str(&format!("| {name} | failed: {e} | | | |\n")),
    };
    row(
        "in-process: DAP session + engine thread (channels)",
        dap_step::in_process(settings.steps, settings.warmup),
    );
    if let Some(bin) = &settings.llmspell {
        row(
            "`llmspell dap --port 0`, TCP on loopback",
            dap_step::over_tcp(bin, settings.steps, settings.warmup),
        );
        row(
            "kernel: debug_request on control, debug_event on iopub (ZeroMQ)",
            dap_step::over_kernel(bin, settings.steps, settings.warmup),
        );
    }
    Ok(out)
}
