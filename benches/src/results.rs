//! What a `compare` run is asked to do and what it produces: settings and results, as
//! the report prints them and the JSON file stores them.

use serde::{Deserialize, Serialize};

use crate::client::ClientKind;
use crate::stats::{Summary, Throughput};

/// Every scenario `compare` knows, in the order they run. `clients` is the multi-client
/// sweep (also turned on by `--clients`).
pub const SCENARIOS: [&str; 8] = [
    "cold",
    "kernel-info",
    "execute",
    "pipelined",
    "tool-invoke",
    "pipelined-tools",
    "pipelined-kernel-info",
    "clients",
];

/// The requests the multi-client sweep can send.
pub const SWEEP_REQUESTS: [&str; 3] = ["kernel-info", "execute", "tool-invoke"];

/// The scenarios that need the kernel to answer `tool_request`.
pub const TOOL_SCENARIOS: [&str; 2] = ["tool-invoke", "pipelined-tools"];

/// Checks the `--scenarios` list: every name known (spaces around a name and empty names
/// are ignored), none twice, at least one.
pub fn parse_scenarios(given: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !SCENARIOS.contains(&name) {
            return Err(format!(
                "unknown scenario {name:?}; known: {}",
                SCENARIOS.join(", ")
            ));
        }
        if !out.iter().any(|s| s == name) {
            out.push(name.to_string());
        }
    }
    if out.is_empty() {
        return Err(format!(
            "no scenario given; known: {}",
            SCENARIOS.join(", ")
        ));
    }
    Ok(out)
}

/// Checks the `--sweep-requests` list: every name one of [`SWEEP_REQUESTS`], none twice,
/// at least one.
pub fn parse_sweep_requests(given: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !SWEEP_REQUESTS.contains(&name) {
            return Err(format!(
                "unknown sweep request {name:?}; known: {}",
                SWEEP_REQUESTS.join(", ")
            ));
        }
        if !out.iter().any(|s| s == name) {
            out.push(name.to_string());
        }
    }
    if out.is_empty() {
        return Err(format!(
            "no sweep request given; known: {}",
            SWEEP_REQUESTS.join(", ")
        ));
    }
    Ok(out)
}

/// Checks the `--clients` list: counts from 1 to 1024, none twice; sorted.
pub fn parse_clients(given: &[usize]) -> Result<Vec<usize>, String> {
    let mut out: Vec<usize> = Vec::new();
    for &m in given {
        if !(1..=1024).contains(&m) {
            return Err(format!("--clients {m}: a count from 1 to 1024"));
        }
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// What to run and how much of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// Cold starts per kernel, at most.
    pub cold_runs: usize,
    /// Seconds of cold starts per kernel, at most.
    pub cold_budget_s: f64,
    /// Seconds a cold start may take before it counts as failed.
    pub cold_timeout_s: f64,
    /// Timed round trips per kernel and scenario (kernel_info, execute).
    pub requests: usize,
    /// Untimed round trips before them.
    pub warmup: usize,
    /// Seconds per kernel and round-trip scenario, at most.
    pub scenario_budget_s: f64,
    /// Executes in flight in the pipelined scenario.
    pub depth: usize,
    /// Pipelined executes per kernel, at most.
    pub pipeline_total: usize,
    /// Seconds of sending in the pipelined scenario, at most.
    pub pipeline_budget_s: f64,
    /// The client that drives the kernels.
    pub client: ClientKind,
    /// The clients the libzmq floor is measured with (none: no floor).
    pub floor_clients: Vec<ClientKind>,
    /// Timed floor round trips.
    pub floor_requests: usize,
    /// Untimed floor round trips before them.
    pub floor_warmup: usize,
    /// Pipelined floor messages, at most.
    pub floor_total: usize,
    /// Rounds the round trips are split into, alternating between columns.
    pub rounds: usize,
    /// Seconds any single reply may take.
    pub timeout_s: f64,
    /// The CPU of the kernels and the echo server.
    pub pin_kernel: Option<usize>,
    /// The CPU of the bench itself.
    pub pin_client: Option<usize>,
    /// Which kernel scenarios run (see [`SCENARIOS`]).
    pub scenarios: Vec<String>,
    /// The content of the tool scenarios' `tool_request`.
    pub tool_request: String,
    /// Client counts of the multi-client sweep, in order.
    #[serde(default)]
    pub clients: Vec<usize>,
    /// The requests the sweep sends (see [`SWEEP_REQUESTS`]).
    #[serde(default)]
    pub sweep_requests: Vec<String>,
    /// Requests in flight per client in the sweep.
    #[serde(default)]
    pub sweep_depth: usize,
    /// Timed requests per sweep step (all clients together), at most.
    #[serde(default)]
    pub sweep_total: usize,
    /// Untimed requests before each step, at most (and a quarter of its time budget).
    #[serde(default)]
    pub sweep_warmup: usize,
    /// Seconds of sending per sweep step, at most.
    #[serde(default)]
    pub sweep_budget_s: f64,
}

impl Settings {
    /// Whether `scenario` is among the ones asked for.
    pub fn wants(&self, scenario: &str) -> bool {
        self.scenarios.iter().any(|s| s == scenario)
    }

    /// Whether the sweep sends `request`.
    pub fn sweeps(&self, request: &str) -> bool {
        self.wants("clients") && self.sweep_requests.iter().any(|r| r == request)
    }

    /// Whether any scenario that needs the tool protocol is asked for.
    pub fn wants_tools(&self) -> bool {
        TOOL_SCENARIOS.iter().any(|s| self.wants(s)) || self.sweeps("tool-invoke")
    }
}

/// The floor's figures.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FloorResult {
    /// The client that measured it.
    pub client: ClientKind,
    /// The echo server's endpoint.
    pub endpoint: String,
    /// Sizes of the six frames sent.
    pub frame_sizes: Vec<usize>,
    /// Round trips.
    pub round_trip: Option<Summary>,
    /// Pipelined echoes.
    pub pipelined: Option<Throughput>,
    /// What went wrong.
    pub errors: Vec<String>,
}

/// One kernel's figures.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KernelResult {
    /// The column name.
    pub name: String,
    /// The client that measured it.
    pub client: ClientKind,
    /// The command template.
    pub command: String,
    /// The code executed.
    pub code: String,
    /// Spawn to first kernel_info_reply.
    pub cold_start: Option<Summary>,
    /// kernel_info round trips.
    pub kernel_info: Option<Summary>,
    /// Execute round trips (reply and idle).
    pub execute: Option<Summary>,
    /// Pipelined executes.
    pub pipelined: Option<Throughput>,
    /// Whether the kernel answered the tool probe (`None`: no tool scenario was asked for,
    /// or the kernel did not start).
    pub tool_support: Option<bool>,
    /// Tool call round trips (tool_reply and idle).
    pub tool_invoke: Option<Summary>,
    /// Pipelined tool calls.
    pub pipelined_tools: Option<Throughput>,
    /// Pipelined kernel_info requests (reply and idle).
    pub pipelined_kernel_info: Option<Throughput>,
    /// Execute replies whose status was not ok.
    pub execute_errors: u64,
    /// Tool replies whose status was not ok.
    pub tool_errors: u64,
    /// Messages dropped for a bad signature.
    pub bad_signatures: u64,
    /// Messages dropped as unparsable.
    pub malformed: u64,
    /// What went wrong, per scenario.
    pub errors: Vec<String>,
    /// What was skipped, and why (not errors).
    pub notes: Vec<String>,
}

/// One step of the multi-client sweep: M clients, each with K requests in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepStep {
    /// M: client sessions, each with its own sockets and session id.
    pub clients: usize,
    /// K: requests in flight per client.
    pub depth: usize,
    /// Completions per second of all clients together (its `depth` is M × K).
    pub throughput: Throughput,
    /// Latency of every completed request, send to completion, all clients together.
    pub latency: Option<Summary>,
    /// Replies whose status was not ok.
    pub reply_errors: u64,
    /// CPU time of the kernel (or echo server) process group per completed request, in
    /// µs, from /proc (10 ms ticks over the step).
    pub server_cpu_us_per_request: Option<f64>,
    /// CPU time of the bench itself over the step's wall time: near 1.0 (one CPU), the
    /// bench's one thread is the bottleneck.
    pub bench_cpu_share: f64,
}

/// One line of the multi-client sweep: the floor (with one client kind) or a kernel
/// sending one kind of request, at every client count.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SweepSeries {
    /// The kernel's name, or `libzmq floor`.
    pub column: String,
    /// Whether this is the floor.
    pub floor: bool,
    /// The client that measured it.
    pub client: ClientKind,
    /// What was sent: one of [`SWEEP_REQUESTS`], or `echo` for the floor.
    pub request: String,
    /// One per client count that ran.
    pub steps: Vec<SweepStep>,
    /// What went wrong, per step.
    pub errors: Vec<String>,
}

impl SweepSeries {
    /// The label of its line in tables and plots: `name (client)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.column, self.client.name())
    }
}

/// The machine the run happened on.
#[derive(Debug, Serialize, Deserialize)]
pub struct Machine {
    /// CPUs of the machine.
    pub cpus: usize,
    /// The CPU model, from /proc/cpuinfo.
    pub cpu_model: String,
    /// The Linux release.
    pub kernel_release: String,
}

impl Machine {
    /// Reads the CPU count, model and Linux release.
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']))
            })
            .unwrap_or("unknown")
            .to_string();
        Machine {
            // Counted from /proc/cpuinfo: with --pin, the bench's own affinity says 1.
            cpus: match cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count()
            {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
            cpu_model,
            kernel_release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string()),
        }
    }
}

/// Everything a run produced.
#[derive(Debug, Serialize, Deserialize)]
pub struct Results {
    /// Where.
    pub machine: Machine,
    /// With what settings.
    pub settings: Settings,
    /// The floor, once per client it was measured with.
    pub floors: Vec<FloorResult>,
    /// One entry per `--kernel`, in order.
    pub kernels: Vec<KernelResult>,
    /// The multi-client sweep: the floors first, then per request each kernel.
    #[serde(default)]
    pub sweep: Vec<SweepSeries>,
    /// The run was cut short by Ctrl-C.
    pub interrupted: bool,
    /// Seconds the whole run took.
    pub total_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scenarios_are_checked() {
        assert_eq!(
            parse_scenarios(&strings(&[
                "tool-invoke",
                " pipelined-tools",
                "tool-invoke"
            ])),
            Ok(strings(&["tool-invoke", "pipelined-tools"]))
        );
        assert_eq!(
            parse_scenarios(&strings(&SCENARIOS)),
            Ok(strings(&SCENARIOS))
        );
        let bad = parse_scenarios(&strings(&["execute", "tools"])).unwrap_err();
        assert!(
            bad.contains("\"tools\"") && bad.contains("pipelined-tools"),
            "{bad}"
        );
        assert!(parse_scenarios(&strings(&["", " "])).is_err());
        assert!(parse_scenarios(&[]).is_err());
        // Case matters, as for every other value of the command line.
        assert!(parse_scenarios(&strings(&["Execute"])).is_err());
    }

    #[test]
    fn sweep_lists_are_checked() {
        assert_eq!(
            parse_sweep_requests(&strings(&["execute", " kernel-info", "execute"])),
            Ok(strings(&["execute", "kernel-info"]))
        );
        let bad = parse_sweep_requests(&strings(&["pipelined"])).unwrap_err();
        assert!(
            bad.contains("\"pipelined\"") && bad.contains("tool-invoke"),
            "{bad}"
        );
        assert!(parse_sweep_requests(&strings(&[""])).is_err());
        assert_eq!(parse_clients(&[8, 1, 2, 8, 4]), Ok(vec![1, 2, 4, 8]));
        assert_eq!(parse_clients(&[]), Ok(vec![]));
        assert!(parse_clients(&[0]).unwrap_err().contains("--clients 0"));
        assert!(parse_clients(&[1025]).is_err());
    }

    #[test]
    fn tool_scenarios_are_known() {
        for s in TOOL_SCENARIOS {
            assert!(SCENARIOS.contains(&s));
        }
    }
}
