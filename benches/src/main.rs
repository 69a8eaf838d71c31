//! # llmspell-bench: a load generator for any Jupyter kernel
//!
//! It drives kernels the way a Jupyter client does, through a connection file it writes
//! (free ports on 127.0.0.1, a random HMAC key), and measures them side by side in one
//! run, next to the libzmq floor (a ROUTER echo child of this binary):
//!
//! - cold start: spawn to the first `kernel_info_reply` (the request is sent at once;
//!   the client reconnects every millisecond until the kernel binds), median and p99 over
//!   `--cold-runs`;
//! - kernel_info round trip: p50, p99, p99.9 and mean over `--requests`;
//! - execute round trip: send to both `execute_reply` on shell and `status: idle` on iopub;
//! - pipelined executes: `--depth` in flight, up to `--pipeline-total` or
//!   `--pipeline-budget-s` seconds of sending;
//! - tool invoke round trip: a `tool_request` invoking `calculator` on `2+2`
//!   (docs/protocol.md), send to both `tool_reply` on shell and `status: idle` on iopub;
//! - pipelined tool calls: the same with `--depth` in flight, as pipelined executes;
//! - the floor: the same round trip and pipelining with a 6-frame Jupyter-shaped message;
//! - M clients (`--clients 1,2,4,8`): per step, M independent client sessions (each its
//!   own shell and iopub connections and session id) on one kernel, each keeping
//!   `--sweep-depth` K requests in flight, for kernel_info, execute and tool invoke
//!   (`--sweep-requests`), and M floor clients on the echo server; throughput of all
//!   clients together and p50/p99/p99.9 over all their requests, per step.
//!
//! Two clients exist. `--client native` (the default) drives the sockets with
//! llmspell-core's sans-IO ZMTP over non-blocking TCP on the bench's one thread: no I/O
//! thread, no allocation per read, writes batched, so that the load generator does not cap
//! a kernel doing 50k+ executes/s. `--client zmq` uses libzmq (the `zmq` crate), as
//! pyzmq-based clients do. Both share the message code (signing, checking, reading). The
//! floor is measured with each of `--floor-clients` (default both), and every column is
//! labelled with its client; a kernel ÷ floor ratio compares the kernel with the floor of
//! its own client. The native client speaks tcp to 127.0.0.1 only.
//!
//! Every wait is bounded (`--timeout-s` per reply): a hung kernel is reported, not waited
//! for. Kernels are stopped by pid (SIGTERM, SIGKILL after 2 s), also on Ctrl-C, and die
//! with the bench (PR_SET_PDEATHSIG).
//!
//! ## Running it
//!
//! ```text
//! cargo build -j2 --release -p llmspell-benches -p llmspell-cli
//! python3 -m venv .venv && .venv/bin/pip install ipykernel==7.4.0 jupyter_client
//! target/release/llmspell-bench compare --floor \
//!     --kernel 'llmspell=target/release/llmspell kernel start -f {connection_file}' \
//!     --kernel 'ipykernel=.venv/bin/python -m ipykernel_launcher -f {connection_file}' \
//!     --markdown bench-results/compare.md --json bench-results/compare.json
//! ```
//!
//! The tool scenarios run for the kernels that answer a first `tool_request` (a probe)
//! with an `ok` reply and idle within a second; the others (ipykernel) are skipped with a
//! note. A tool call costs the kernel 3 messages out (busy, reply, idle) for 1 in, where
//! the floor echoes 1 for 1. `--scenarios tool-invoke,pipelined-tools` runs only these.
//!
//! ## M clients
//!
//! ```text
//! target/release/llmspell-bench compare --floor \
//!     --kernel 'llmspell=target/release/llmspell kernel start -f {connection_file}' \
//!     --scenarios clients --clients 1,2,4,8 --sweep-depth 8 \
//!     --plot-dir bench-results/plots --json bench-results/sweep.json \
//!     --markdown bench-results/sweep.md
//! ```
//!
//! `--clients` adds the `clients` scenario to the others (`--scenarios clients` runs it
//! alone). Each step connects M fresh clients, waits until each has its kernel_info
//! answered and its iopub subscribed, runs an untimed warmup (`--sweep-warmup` requests,
//! at most a quarter of the budget), then sends up to `--sweep-total` requests for at
//! most `--sweep-budget-s` seconds and waits for those in flight (each reply within
//! `--timeout-s`). Steps alternate between the floor and the kernels at each M; the floor
//! runs once for all requests. Each step also reports the CPU time of the kernel's (or
//! echo server's) process group per request, from /proc, and the bench's own CPU share.
//!
//! All M clients run on the bench's one thread, multiplexed: every socket is
//! non-blocking (native) or polled (zmq), and one `zmq_poll` waits on all of them. One
//! thread keeps the measurement free of cross-thread hand-offs and is what a native
//! client of 50k+ requests/s needs anyway; the price is that at some M the bench, not the
//! kernel, sets the pace. The report shows when: a bench CPU share near 100%. Because
//! iopub is a broadcast, every client receives every client's busy/idle; a client drops
//! the messages whose parent header does not name its session before checking their
//! signature, so M clients cost M× the reads but not M× the HMACs.
//!
//! ## Plots
//!
//! `--plot-dir DIR` writes SVG charts (no plotting crate; see `svg.rs`): for each
//! round-trip scenario, the latency percentiles p50..p99.9 on a tail axis, one line per
//! kernel and floor (`latency-{scenario}.svg`); for each sweep series, the same per client
//! count (`latency-clients-{request}-{column}-{client}.svg`); and requests/s against
//! clients, one line per kernel and floor (`throughput-clients-{request}.svg`). The
//! JSON has the same data: every latency summary carries its percentile `curve`, and
//! `sweep` holds one series per floor client and per (request, kernel).
//!
//! `llmspell-bench plot --json FILE --plot-dir DIR` writes the plots of a saved run again.
//! `llmspell-bench dap --llmspell target/release/llmspell` measures the debugger instead:
//! a hot Lua loop with and without it, and the step round trip in-process, over
//! `llmspell dap`'s TCP and over a kernel's control channel (src/dap.rs).
//!
//! `{connection_file}` is replaced by the file's path. `--code NAME=CODE` sets a kernel's
//! execute code (default `1+1`). For a quick look: `--cold-runs 5 --requests 300
//! --warmup 50 --pipeline-total 2000`. `--pin 1,0` runs kernels and the echo server on
//! CPU 1 and the bench on CPU 0 (`--pin 0,0`: all on one CPU). Ratios read "A ÷ B: how
//! many times slower A is than B".

mod client;
mod compare;
mod dap;
mod dap_step;
mod floor;
mod kernel;
mod link;
mod message;
mod native;
mod plots;
mod report;
mod results;
mod scan;
mod session;
mod stats;
mod svg;
mod sweep;
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::client::{BenchError, ClientKind};
use crate::kernel::{KernelSpec, Workdir};
use crate::results::Settings;

#[derive(Parser)]
#[command(
    name = "llmspell-bench",
    about = "Load generator for Jupyter kernels and the libzmq floor"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Measure kernels (and the floor) side by side and print one table.
    Compare(Box<CompareArgs>),
    /// Write the plots of a saved run (`compare --json FILE`) again, without measuring.
    Plot {
        /// The JSON file of a `compare` run.
        #[arg(long)]
        json: PathBuf,
        /// Where the SVG files go.
        #[arg(long)]
        plot_dir: PathBuf,
    },
    /// What the debugger costs: a hot Lua loop with and without it, and the step round
    /// trip (in-process, `llmspell dap` over TCP, a kernel over ZeroMQ).
    Dap(DapArgs),
    /// The floor's ROUTER echo server (started by `compare --floor`).
    EchoServer {
        /// tcp://127.0.0.1:PORT or ipc://PATH.
        #[arg(long)]
        endpoint: String,
        /// Exit after this many seconds at most.
        #[arg(long, default_value_t = 1800)]
        max_seconds: u64,
    },
}

#[derive(Args)]
struct CompareArgs {
    /// A kernel as NAME=COMMAND_TEMPLATE, with {connection_file} in the command. Repeatable.
    #[arg(long = "kernel", value_name = "NAME=COMMAND")]
    kernels: Vec<String>,
    /// The execute code of one kernel, as NAME=CODE (default 1+1). Repeatable.
    #[arg(long = "code", value_name = "NAME=CODE")]
    codes: Vec<String>,
    /// The client that drives the kernels: native (llmspell-core's ZMTP on the bench's
    /// thread, cheap enough not to cap a fast kernel) or zmq (libzmq).
    #[arg(long, value_enum, default_value_t = ClientKind::Native)]
    client: ClientKind,
    /// Also measure the libzmq floor.
    #[arg(long)]
    floor: bool,
    /// The clients the floor is measured with, comma-separated (one column each).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "native,zmq")]
    floor_clients: Vec<ClientKind>,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the markdown table here too.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Scenarios to run, comma-separated: cold, kernel-info, execute, pipelined,
    /// tool-invoke, pipelined-tools, pipelined-kernel-info. The tool scenarios skip kernels
    /// that do not answer a first tool_request within 1 s.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cold,kernel-info,execute,pipelined,tool-invoke,pipelined-tools,pipelined-kernel-info"
    )]
    scenarios: Vec<String>,
    /// Cold starts per kernel, at most.
    #[arg(long, default_value_t = 20)]
    cold_runs: usize,
    /// Seconds of cold starts per kernel, at most (fewer runs for slow kernels).
    #[arg(long, default_value_t = 30.0)]
    cold_budget_s: f64,
    /// Seconds a kernel may take to start.
    #[arg(long, default_value_t = 30.0)]
    cold_timeout_s: f64,
    /// Timed round trips per kernel, for kernel_info and for execute.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Untimed round trips before them.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Seconds per kernel and round-trip scenario, at most.
    #[arg(long, default_value_t = 30.0)]
    scenario_budget_s: f64,
    /// Executes in flight in the pipelined scenario.
    #[arg(long, default_value_t = 64)]
    depth: usize,
    /// Pipelined executes per kernel, at most.
    #[arg(long, default_value_t = 20_000)]
    pipeline_total: usize,
    /// Seconds of sending in the pipelined scenario, at most.
    #[arg(long, default_value_t = 10.0)]
    pipeline_budget_s: f64,
    /// Timed floor round trips.
    #[arg(long, default_value_t = 10_000)]
    floor_requests: usize,
    /// Untimed floor round trips before them.
    #[arg(long, default_value_t = 1000)]
    floor_warmup: usize,
    /// Pipelined floor messages, at most.
    #[arg(long, default_value_t = 200_000)]
    floor_total: usize,
    /// Rounds that round trips are split into, alternating between columns.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Seconds any single reply may take.
    #[arg(long, default_value_t = 10.0)]
    timeout_s: f64,
    /// KERNEL_CPU[,CLIENT_CPU]: pin kernels and the echo server, and the bench itself.
    #[arg(long)]
    pin: Option<String>,
    /// Client counts of the multi-client sweep, comma-separated (e.g. 1,2,4,8): per step,
    /// M client sessions on one kernel (and on the floor), all on the bench's one thread.
    /// Giving it adds the `clients` scenario (whose default counts are 1,2,4,8).
    #[arg(long, value_delimiter = ',')]
    clients: Vec<usize>,
    /// What the sweep sends, comma-separated: kernel-info, execute, tool-invoke.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kernel-info,execute,tool-invoke"
    )]
    sweep_requests: Vec<String>,
    /// Requests in flight per client in the sweep.
    #[arg(long, default_value_t = 8)]
    sweep_depth: usize,
    /// Timed requests per sweep step (all clients together), at most.
    #[arg(long, default_value_t = 20_000)]
    sweep_total: usize,
    /// Untimed requests before each sweep step, at most.
    #[arg(long, default_value_t = 500)]
    sweep_warmup: usize,
    /// Seconds of sending per sweep step, at most (the warmup gets a quarter of it).
    #[arg(long, default_value_t = 5.0)]
    sweep_budget_s: f64,
    /// Write SVG plots here: latency percentiles per scenario and per sweep series, and
    /// throughput against clients.
    #[arg(long)]
    plot_dir: Option<PathBuf>,
}

#[derive(Args)]
struct DapArgs {
    /// The llmspell binary, for the TCP and kernel round trips (without it, only the
    /// in-process numbers are measured).
    #[arg(long, value_name = "PATH")]
    llmspell: Option<String>,
    /// Iterations of each hot loop.
    #[arg(long, default_value_t = 3_000_000)]
    iterations: u64,
    /// Timed runs per hot-loop column (alternating between columns).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Timed steps per round-trip path.
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    /// Untimed steps before them.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Write the markdown here too.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

fn dap_bench(args: DapArgs) -> Result<(), BenchError> {
    sys::install_interrupt_handler();
    let report = dap::run(&dap::DapSettings {
        llmspell: args.llmspell,
        iterations: args.iterations.max(1),
        rounds: args.rounds.max(1),
        steps: args.steps.max(1),
        warmup: args.warmup,
    })?;
    println!("{report}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &report).map_err(|e| BenchError::Io(e.to_string()))?;
    }
    Ok(())
}

fn parse_pin(pin: Option<&str>) -> Result<(Option<usize>, Option<usize>), BenchError> {
    let Some(pin) = pin else {
        return Ok((None, None));
    };
    let cpu = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| BenchError::Usage(format!("--pin {pin:?}: not a CPU")))
    };
    match pin.split_once(',') {
        Some((k, c)) => Ok((Some(cpu(k)?), Some(cpu(c)?))),
        None => Ok((Some(cpu(pin)?), None)),
    }
}

fn compare(args: CompareArgs) -> Result<(), BenchError> {
    let io = |e: std::io::Error| BenchError::Io(e.to_string());
    let mut specs = args
        .kernels
        .iter()
        .map(|k| KernelSpec::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    if specs.is_empty() && !args.floor {
        return Err(BenchError::Usage(
            "give at least one --kernel, or --floor".to_string(),
        ));
    }
    for (i, spec) in specs.iter().enumerate() {
        if specs[..i].iter().any(|s| s.name == spec.name) {
            return Err(BenchError::Usage(format!(
                "kernel name {} given twice",
                spec.name
            )));
        }
    }
    for code in &args.codes {
        let (name, code) = code
            .split_once('=')
            .ok_or_else(|| BenchError::Usage(format!("--code {code:?}: expected NAME=CODE")))?;
        let spec = specs
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| BenchError::Usage(format!("--code {name}: no such --kernel")))?;
        spec.code = code.to_string();
    }
    let mut scenarios = results::parse_scenarios(&args.scenarios).map_err(BenchError::Usage)?;
    let mut clients = results::parse_clients(&args.clients).map_err(BenchError::Usage)?;
    if !clients.is_empty() && !scenarios.iter().any(|s| s == "clients") {
        scenarios.push("clients".to_string());
    }
    if clients.is_empty() {
        clients = vec![1, 2, 4, 8];
    }
    let sweep_requests =
        results::parse_sweep_requests(&args.sweep_requests).map_err(BenchError::Usage)?;
    let (pin_kernel, pin_client) = parse_pin(args.pin.as_deref())?;
    if let Some(cpu) = pin_client {
        // Before the zmq context exists, so that its I/O thread inherits the CPU.
        sys::pin_current_thread(cpu).map_err(io)?;
    }
    sys::install_interrupt_handler();
    let settings = Settings {
        cold_runs: args.cold_runs,
        cold_budget_s: args.cold_budget_s,
        cold_timeout_s: args.cold_timeout_s,
        requests: args.requests,
        warmup: args.warmup,
        scenario_budget_s: args.scenario_budget_s,
        depth: args.depth.max(1),
        pipeline_total: args.pipeline_total,
        pipeline_budget_s: args.pipeline_budget_s,
        client: args.client,
        floor_clients: if args.floor {
            let mut clients: Vec<ClientKind> = Vec::new();
            for &c in &args.floor_clients {
                if !clients.contains(&c) {
                    clients.push(c);
                }
            }
            clients
        } else {
            Vec::new()
        },
        floor_requests: args.floor_requests,
        floor_warmup: args.floor_warmup,
        floor_total: args.floor_total,
        rounds: args.rounds.max(1),
        timeout_s: args.timeout_s,
        pin_kernel,
        pin_client,
        scenarios,
        tool_request: String::from_utf8_lossy(&message::bench_tool_content()).into_owned(),
        clients,
        sweep_requests,
        sweep_depth: args.sweep_depth.max(1),
        sweep_total: args.sweep_total,
        sweep_warmup: args.sweep_warmup,
        sweep_budget_s: args.sweep_budget_s,
    };
    let dir = Workdir::create().map_err(io)?;
    let ctx = zmq::Context::new();
    let results = compare::run(&ctx, &specs, &settings, &dir.path);
    let table = report::markdown(&results);
    println!("{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).map_err(io)?;
    }
    if let Some(path) = &args.json {
        report::write_json(&results, path).map_err(io)?;
    }
    if let Some(dir) = &args.plot_dir {
        for path in plots::write_all(&results, dir).map_err(io)? {
            eprintln!("wrote {}", path.display());
        }
    }
    if results.interrupted {
        return Err(BenchError::Interrupted);
    }
    Ok(())
}

/// Reads a saved run and writes its plots.
fn replot(json: &std::path::Path, dir: &std::path::Path) -> Result<(), BenchError> {
    let io = |e: std::io::Error| BenchError::Io(format!("{}: {e}", json.display()));
    let results = report::read_json(json).map_err(io)?;
    for path in plots::write_all(&results, dir).map_err(io)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Compare(args) => compare(*args),
        Commands::Plot { json, plot_dir } => replot(&json, &plot_dir),
        Commands::Dap(args) => dap_bench(args),
        Commands::EchoServer {
            endpoint,
            max_seconds,
        } => floor::echo_server(&endpoint, Duration::from_secs(max_seconds)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llmspell-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
