//! The `compare` run: the floor and every kernel through the same scenarios, interleaved
//! (cold starts alternate run by run; round trips alternate in rounds) so that drift on a
//! shared machine hits every column alike.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::client::{BenchError, ClientKind};
use crate::floor::{EchoProcess, FloorClient};
use crate::kernel::KernelSpec;
use crate::results::{FloorResult, KernelResult, Machine, Results, Settings};
use crate::session::{cold_start, Session};
use crate::stats::Summary;
use crate::sys;

mod clients;
mod scenarios;

/// Seconds from the command line as a duration, clamped to [0, 1 day] so that adding it
/// to an `Instant` cannot overflow.
fn secs(s: f64) -> Duration {
    let s = if s.is_nan() { 0.0 } else { s };
    Duration::from_secs_f64(s.clamp(0.0, 86_400.0))
}

/// Runs the comparison. Errors end a scenario for one column and are recorded; Ctrl-C
/// ends the run, and every child is stopped by the drop guards on the way out.
pub fn run(ctx: &zmq::Context, specs: &[KernelSpec], s: &Settings, dir: &Path) -> Results {
    let started = Instant::now();
    let mut r = Results {
        machine: Machine::probe(),
        settings: s.clone(),
        floors: s
            .floor_clients
            .iter()
            .map(|&client| FloorResult {
                client,
                ..FloorResult::default()
            })
            .collect(),
        kernels: specs
            .iter()
            .map(|k| KernelResult {
                name: k.name.clone(),
                client: s.client,
                command: k.template.clone(),
                code: k.code.clone(),
                ..KernelResult::default()
            })
            .collect(),
        sweep: Vec::new(),
        interrupted: false,
        total_s: 0.0,
    };
    let n = specs.len();
    let mut runner = Runner {
        ctx,
        specs,
        s,
        dir,
        seq: 0,
        timeout: secs(s.timeout_s),
        samples: Samples {
            cold: vec![Vec::new(); n],
            kernel_info: vec![Vec::new(); n],
            execute: vec![Vec::new(); n],
            tool_invoke: vec![Vec::new(); n],
            floor: vec![Vec::new(); s.floor_clients.len()],
        },
    };
    r.interrupted = runner.all(&mut r).is_err();
    // Whatever was measured counts, also when Ctrl-C cut the run short.
    for (i, k) in r.kernels.iter_mut().enumerate() {
        k.cold_start = Summary::from_nanos(&runner.samples.cold[i]);
        k.kernel_info = Summary::from_nanos(&runner.samples.kernel_info[i]);
        k.execute = Summary::from_nanos(&runner.samples.execute[i]);
        k.tool_invoke = Summary::from_nanos(&runner.samples.tool_invoke[i]);
    }
    for (i, f) in r.floors.iter_mut().enumerate() {
        f.round_trip = Summary::from_nanos(&runner.samples.floor[i]);
    }
    r.total_s = started.elapsed().as_secs_f64();
    r
}

/// Round `round` (1..=rounds) of `total` requests split into `rounds` near-equal parts
/// that add up to `total` exactly.
fn share(total: usize, round: usize, rounds: usize) -> usize {
    total * round / rounds - total * (round - 1) / rounds
}

/// Marks a run cut short by Ctrl-C.
struct Interrupted;

/// Raw samples in nanoseconds, per kernel (and per floor client).
struct Samples {
    cold: Vec<Vec<u64>>,
    kernel_info: Vec<Vec<u64>>,
    execute: Vec<Vec<u64>>,
    tool_invoke: Vec<Vec<u64>>,
    floor: Vec<Vec<u64>>,
}

impl Samples {
    /// The kernels' samples of a round-trip scenario.
    fn of(&mut self, scenario: &str) -> &mut Vec<Vec<u64>> {
        match scenario {
            "execute" => &mut self.execute,
            "tool-invoke" => &mut self.tool_invoke,
            _ => &mut self.kernel_info,
        }
    }
}

/// How long the tool probe waits for its reply.
const TOOL_PROBE_WAIT: Duration = Duration::from_secs(1);

/// The echo server and one floor client per entry of `Settings::floor_clients`.
struct Floors {
    /// `None` where the client failed to start. Dropped before the server (field order).
    clients: Vec<Option<FloorClient>>,
    /// Kept alive while the clients run; stopped by pid on drop.
    echo: EchoProcess,
}

struct Runner<'a> {
    ctx: &'a zmq::Context,
    specs: &'a [KernelSpec],
    s: &'a Settings,
    dir: &'a Path,
    seq: usize,
    timeout: Duration,
    samples: Samples,
}

/// Records `e` under `what`; Err when the run must stop.
fn record(errors: &mut Vec<String>, what: &str, e: BenchError) -> Result<(), Interrupted> {
    eprintln!("  {what}: {e}");
    if e == BenchError::Interrupted {
        return Err(Interrupted);
    }
    errors.push(format!("{what}: {e}"));
    Ok(())
}

fn check_interrupt() -> Result<(), Interrupted> {
    if sys::interrupted() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

impl Runner<'_> {
    fn all(&mut self, r: &mut Results) -> Result<(), Interrupted> {
        let s = self.s;
        let mut floor = if s.floor_clients.is_empty() {
            None
        } else {
            self.start_floors(r)?
        };
        if s.wants("cold") {
            self.cold_starts(r)?;
        }
        let mut sessions = Vec::new();
        for (i, spec) in self.specs.iter().enumerate() {
            check_interrupt()?;
            eprintln!("starting {} for the warm scenarios", spec.name);
            self.seq += 1;
            match Session::start(
                self.ctx,
                s.client,
                spec,
                self.dir,
                self.seq,
                s.pin_kernel,
                secs(s.cold_timeout_s),
            ) {
                Ok(session) => sessions.push(Some(session)),
                Err(e) => {
                    record(&mut r.kernels[i].errors, "start", e)?;
                    sessions.push(None);
                }
            }
        }
        if s.wants_tools() {
            self.probe_tools(r, &mut sessions)?;
        }
        self.round_trips(r, &mut floor, &mut sessions, "kernel-info")?;
        self.round_trips(r, &mut floor, &mut sessions, "execute")?;
        self.round_trips(r, &mut floor, &mut sessions, "tool-invoke")?;
        if s.wants("pipelined") || s.wants("pipelined-tools") || s.wants("pipelined-kernel-info") {
            // The floor's pipelining is measured once, for both pipelined scenarios.
            eprintln!("pipelined floor");
            let echo_pid = floor.as_ref().map(|f| f.echo.pid());
            let clients = floor.as_mut().map_or(&mut [][..], |f| &mut f.clients[..]);
            for (client, result) in clients.iter_mut().zip(&mut r.floors) {
                let Some(f) = client else { continue };
                let cpu = || (echo_pid.and_then(sys::process_cpu_ns), sys::self_cpu_ns());
                let cpu0 = cpu();
                let run = f.pipelined(
                    s.depth,
                    s.floor_total,
                    secs(s.pipeline_budget_s),
                    self.timeout,
                );
                let cpu1 = cpu();
                let spent = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
                match run {
                    Ok(t) => {
                        result.pipelined =
                            Some(t.with_cpu(spent(cpu0.0, cpu1.0), spent(cpu0.1, cpu1.1)))
                    }
                    Err(e) => record(&mut result.errors, "floor pipelined", e)?,
                }
            }
        }
        self.pipelined(r, &mut sessions, "pipelined")?;
        self.pipelined(r, &mut sessions, "pipelined-tools")?;
        self.pipelined(r, &mut sessions, "pipelined-kernel-info")?;
        for (i, slot) in sessions.iter().enumerate() {
            if let Some(session) = slot {
                let k = &mut r.kernels[i];
                k.execute_errors = session.execute_errors;
                k.tool_errors = session.tool_errors;
                k.bad_signatures += session.client.bad_signatures();
                k.malformed += session.client.malformed();
            }
        }
        // The sweep brings its own clients: each session's client goes, so that no idle
        // subscriber makes the kernel queue iopub traffic that nobody reads.
        let mut kernels: Vec<_> = sessions
            .into_iter()
            .map(|slot| slot.map(|Session { kernel, .. }| kernel))
            .collect();
        self.sweep(r, floor.as_ref(), &mut kernels)
    }

    /// Starts the echo server and connects and warms up one floor client per kind; a
    /// failure is recorded in that floor's errors.
    fn start_floors(&mut self, r: &mut Results) -> Result<Option<Floors>, Interrupted> {
        let echo = match EchoProcess::spawn(self.s.pin_kernel) {
            Ok(echo) => echo,
            Err(e) => {
                for f in &mut r.floors {
                    record(&mut f.errors, "floor start", e.clone())?;
                }
                return Ok(None);
            }
        };
        let mut clients = Vec::new();
        for f in &mut r.floors {
            check_interrupt()?;
            eprintln!("starting the floor with the {} client", f.client.name());
            match self.start_floor(&echo.endpoint, f.client) {
                Ok(client) => {
                    f.endpoint = echo.endpoint.clone();
                    f.frame_sizes = client.frame_sizes();
                    clients.push(Some(client));
                }
                Err(e) => {
                    record(&mut f.errors, "floor start", e)?;
                    clients.push(None);
                }
            }
        }
        Ok(Some(Floors { clients, echo }))
    }

    fn start_floor(&self, endpoint: &str, kind: ClientKind) -> Result<FloorClient, BenchError> {
        let deadline = Instant::now() + secs(10.0);
        let mut client = FloorClient::connect(self.ctx, kind, endpoint, deadline)?;
        client.round_trips(
            self.s.floor_warmup,
            secs(self.s.scenario_budget_s),
            self.timeout,
        )?;
        Ok(client)
    }

    fn cold_starts(&mut self, r: &mut Results) -> Result<(), Interrupted> {
        let n = self.specs.len();
        let (mut spent, mut failed) = (vec![Duration::ZERO; n], vec![false; n]);
        let budget = secs(self.s.cold_budget_s);
        for run in 0..self.s.cold_runs {
            for (i, spec) in self.specs.iter().enumerate() {
                check_interrupt()?;
                if failed[i] || spent[i] >= budget {
                    continue;
                }
                eprintln!("cold start {} #{}", spec.name, run + 1);
                self.seq += 1;
                let t0 = Instant::now();
                let timeout = secs(self.s.cold_timeout_s);
                match cold_start(
                    self.ctx,
                    self.s.client,
                    spec,
                    self.dir,
                    self.seq,
                    self.s.pin_kernel,
                    timeout,
                ) {
                    Ok(ns) => self.samples.cold[i].push(ns),
                    Err(e) => {
                        failed[i] = true;
                        record(&mut r.kernels[i].errors, "cold start", e)?;
                    }
                }
                spent[i] += t0.elapsed();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for (total, rounds) in [(50, 4), (2000, 4), (3, 4), (0, 3), (7, 1)] {
            let parts: Vec<usize> = (1..=rounds).map(|r| share(total, r, rounds)).collect();
            assert_eq!(parts.iter().sum::<usize>(), total);
            assert!(parts.iter().max().unwrap() - parts.iter().min().unwrap() <= 1);
        }
        assert!(secs(f64::NAN).is_zero() && secs(-1.0).is_zero());
        assert_eq!(secs(1e300), Duration::from_secs(86_400));
    }
}
