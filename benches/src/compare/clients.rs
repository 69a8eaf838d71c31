//! The multi-client sweep of a `compare` run: for each client count M, M fresh client
//! sessions against the floor's echo server and against each kernel, every one keeping K
//! requests in flight, all driven on the bench's one thread ([`crate::sweep`]). Steps
//! alternate between the columns at each M, as the other scenarios do, so that drift on a
//! shared machine hits every column alike.

use std::process::Child;
use std::time::{Duration, Instant};

use super::{check_interrupt, record, secs, Floors, Interrupted, Runner};
use crate::client::{BenchError, Client, ClientKind};
use crate::floor::FloorClient;
use crate::kernel::KernelProcess;
use crate::results::{Results, SweepSeries, SweepStep};
use crate::session::await_ready;
use crate::stats::Summary;
use crate::sweep::{drive, FloorPeer, KernelPeer, KernelRequest, Load, Outcome, Peer};
use crate::sys;

/// The floor series label.
const FLOOR: &str = "libzmq floor";

impl Runner<'_> {
    /// Runs the sweep when asked for (`clients` among the scenarios), adding one series per
    /// floor client and per (request, kernel) to `r.sweep`. Kernels that do not answer tool
    /// requests sit `tool-invoke` out (the probe's note says why).
    pub(super) fn sweep(
        &mut self,
        r: &mut Results,
        floor: Option<&Floors>,
        kernels: &mut [Option<KernelProcess>],
    ) -> Result<(), Interrupted> {
        let s = self.s;
        if !s.wants("clients") {
            return Ok(());
        }
        // (series index, floor client kind), and per request (series, kernel index, request).
        let mut floors = Vec::new();
        if let Some(f) = floor {
            for (j, client) in f.clients.iter().enumerate() {
                if client.is_some() {
                    floors.push((r.sweep.len(), r.floors[j].client));
                    r.sweep.push(SweepSeries {
                        column: FLOOR.to_string(),
                        floor: true,
                        client: r.floors[j].client,
                        request: "echo".to_string(),
                        ..SweepSeries::default()
                    });
                }
            }
        }
        let mut lines: Vec<Vec<(usize, usize, KernelRequest)>> = Vec::new();
        for request in &s.sweep_requests {
            let mut line = Vec::new();
            for (i, slot) in kernels.iter().enumerate() {
                let k = &r.kernels[i];
                if slot.is_none() || (request == "tool-invoke" && k.tool_support != Some(true)) {
                    continue;
                }
                let what = match request.as_str() {
                    "execute" => KernelRequest::Execute(self.specs[i].code.clone()),
                    "tool-invoke" => KernelRequest::ToolInvoke,
                    _ => KernelRequest::KernelInfo,
                };
                line.push((r.sweep.len(), i, what));
                r.sweep.push(SweepSeries {
                    column: k.name.clone(),
                    client: s.client,
                    request: request.clone(),
                    ..SweepSeries::default()
                });
            }
            lines.push(line);
        }
        let mut dead = vec![false; kernels.len()];
        for (n, line) in lines.iter().enumerate() {
            for &m in &s.clients {
                if n == 0 {
                    for &(series, kind) in &floors {
                        check_interrupt()?;
                        eprintln!("clients: floor ({}) x {m}", kind.name());
                        // Only floors that started are listed, so `floor` is there.
                        let Some(f) = floor else { continue };
                        let step = self.floor_step(&f.echo.endpoint, f.echo.pid(), kind, m);
                        self.keep(&mut r.sweep[series], m, step)?;
                    }
                }
                for (series, i, request) in line {
                    check_interrupt()?;
                    let Some(kernel) = kernels[*i].as_mut().filter(|_| !dead[*i]) else {
                        continue;
                    };
                    eprintln!(
                        "clients: {} {} x {m}",
                        self.specs[*i].name, s.sweep_requests[n]
                    );
                    let step = self.kernel_step(kernel, request, m, &mut r.kernels[*i]);
                    dead[*i] |= matches!(step, Err(BenchError::KernelExited(_)));
                    self.keep(&mut r.sweep[*series], m, step)?;
                }
            }
        }
        Ok(())
    }

    /// Adds a step, or its error, to a series.
    fn keep(
        &self,
        series: &mut SweepSeries,
        m: usize,
        step: Result<SweepStep, BenchError>,
    ) -> Result<(), Interrupted> {
        match step {
            Ok(step) => {
                if step.throughput.timed_out {
                    series.errors.push(format!(
                        "{m} clients: {} of {} sent never completed",
                        step.throughput.sent - step.throughput.completed,
                        step.throughput.sent
                    ));
                }
                series.steps.push(step);
                Ok(())
            }
            Err(e) => record(&mut series.errors, &format!("{m} clients"), e),
        }
    }

    /// M floor clients on the echo server.
    fn floor_step(
        &self,
        endpoint: &str,
        pid: u32,
        kind: ClientKind,
        m: usize,
    ) -> Result<SweepStep, BenchError> {
        let deadline = Instant::now() + secs(10.0);
        let mut peers = (0..m)
            .map(|_| FloorClient::connect(self.ctx, kind, endpoint, deadline).map(FloorPeer::new))
            .collect::<Result<Vec<_>, _>>()?;
        self.step(&mut peers, pid, None)
    }

    /// M fresh clients of one kernel, each ready (kernel_info answered, iopub connected)
    /// before the step starts; their bad signatures and malformed messages are added to
    /// the kernel's counts.
    fn kernel_step(
        &self,
        kernel: &mut KernelProcess,
        request: &KernelRequest,
        m: usize,
        result: &mut crate::results::KernelResult,
    ) -> Result<SweepStep, BenchError> {
        let deadline = Instant::now() + secs(self.s.cold_timeout_s);
        let mut clients = (0..m)
            .map(|_| Client::connect(self.ctx, self.s.client, &kernel.info))
            .collect::<Result<Vec<_>, _>>()?;
        for client in &mut clients {
            await_ready(client, &mut kernel.child, deadline)?;
            client.ignore_others();
        }
        let mut peers: Vec<KernelPeer> = clients
            .into_iter()
            .map(|c| KernelPeer::new(c, request))
            .collect();
        let pid = kernel.child.id();
        let step = self.step(&mut peers, pid, Some(&mut kernel.child));
        for peer in &peers {
            result.bad_signatures += peer.client.bad_signatures();
            result.malformed += peer.client.malformed();
        }
        let mut step = step?;
        step.reply_errors = peers.iter().map(|p| p.tracker.reply_errors).sum();
        Ok(step)
    }

    /// A warmup (untimed, at most a quarter of the step's budget), then the timed step,
    /// with the CPU time of the server's process group and of the bench around it.
    fn step<P: Peer>(
        &self,
        peers: &mut [P],
        server: u32,
        mut kernel: Option<&mut Child>,
    ) -> Result<SweepStep, BenchError> {
        let s = self.s;
        let budget = secs(s.sweep_budget_s);
        let load = Load {
            depth: s.sweep_depth.max(1),
            total: s.sweep_total,
            budget,
            timeout: self.timeout,
        };
        let warmup = Load {
            total: s.sweep_warmup,
            budget: budget / 4,
            ..load
        };
        let out = drive(peers, &warmup, kernel.as_deref_mut())?;
        if out.throughput.timed_out {
            return Err(BenchError::Timeout(format!(
                "the warmup: {} of {} sent never completed",
                out.throughput.sent - out.throughput.completed,
                out.throughput.sent
            )));
        }
        let (server0, own0, t0) = (sys::group_cpu(server), sys::own_cpu(), Instant::now());
        let Outcome {
            samples,
            throughput,
        } = drive(peers, &load, kernel)?;
        let wall = t0.elapsed();
        let server_cpu = sys::group_cpu(server).saturating_sub(server0);
        let own_cpu = sys::own_cpu().saturating_sub(own0);
        Ok(SweepStep {
            clients: peers.len(),
            depth: load.depth,
            server_cpu_us_per_request: (throughput.completed > 0)
                .then(|| server_cpu.as_secs_f64() * 1e6 / throughput.completed as f64),
            bench_cpu_share: share_of(own_cpu, wall),
            latency: Summary::from_nanos(&samples),
            throughput,
            reply_errors: 0,
        })
    }
}

/// `cpu` as a share of `wall` (0 when no time passed).
fn share_of(cpu: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        0.0
    } else {
        cpu.as_secs_f64() / wall.as_secs_f64()
    }
}
