//! One kernel under load: a cold start, or a warm session (process plus client) with the
//! timed primitives: a kernel_info round trip, an execute round trip, pipelined executes.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use llmspell_core::connection::Channel;

use crate::client::{BenchError, Client, ClientKind};
use crate::kernel::{KernelLaunch, KernelProcess, KernelSpec};
use crate::message::Message;
use crate::stats::Throughput;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Adds the tail of the kernel's log to an error.
fn with_log(kernel: &KernelProcess, e: BenchError) -> BenchError {
    let tail = kernel.log_tail(15);
    if tail.is_empty() {
        return e;
    }
    let add = |text: String| {
        format!(
            "{text}\n  kernel output (last lines):\n    {}",
            tail.replace('\n', "\n    ")
        )
    };
    match e {
        BenchError::Timeout(what) => BenchError::Timeout(add(what)),
        BenchError::KernelExited(status) => BenchError::KernelExited(add(status)),
        other => other,
    }
}

/// Whether `m` is the reply of type `reply` to request `id` on shell.
fn is_reply(m: &Message<'_>, reply: &str, id: u64) -> bool {
    m.channel == Channel::Shell && m.parent == Some(id) && m.msg_type == reply
}

/// Whether `m` is an iopub `status: idle`.
fn is_idle(m: &Message<'_>) -> bool {
    m.channel == Channel::Iopub
        && m.msg_type == "status"
        && m.execution_state.as_deref() == Some("idle")
}

/// Spawns the kernel, connects, sends kernel_info_request at once and returns the time
/// from spawn to its reply. The kernel is stopped (by pid) before returning.
pub fn cold_start(
    ctx: &zmq::Context,
    kind: ClientKind,
    spec: &KernelSpec,
    dir: &Path,
    seq: usize,
    pin: Option<usize>,
    timeout: Duration,
) -> Result<u64, BenchError> {
    let launch = KernelLaunch::prepare(spec, dir, seq, pin)?;
    let t0 = Instant::now();
    let mut kernel = launch.spawn()?;
    let mut client = Client::connect(ctx, kind, &kernel.info)?;
    let id = client.send_kernel_info()?;
    let waited = client.wait(
        t0 + timeout,
        "kernel_info_reply",
        Some(&mut kernel.child),
        |m| is_reply(m, "kernel_info_reply", id),
    );
    let elapsed = t0.elapsed();
    waited.map_err(|e| with_log(&kernel, e))?;
    drop(client);
    kernel.stop();
    Ok(nanos(elapsed))
}

/// A warm kernel and its client.
pub struct Session {
    /// The client; fields drop in order, so its sockets close before the kernel stops.
    pub client: Client,
    /// The kernel process.
    pub kernel: KernelProcess,
    /// Execute replies whose status was not `ok`.
    pub execute_errors: u64,
}

impl Session {
    /// Spawns the kernel and waits (until `timeout`) for a kernel_info reply and for iopub
    /// to be connected, then lets stray messages settle.
    pub fn start(
        ctx: &zmq::Context,
        kind: ClientKind,
        spec: &KernelSpec,
        dir: &Path,
        seq: usize,
        pin: Option<usize>,
        timeout: Duration,
    ) -> Result<Session, BenchError> {
        let mut kernel = KernelLaunch::prepare(spec, dir, seq, pin)?.spawn()?;
        let deadline = Instant::now() + timeout;
        let mut client = Client::connect(ctx, kind, &kernel.info)?;
        let ready = (|| {
            let id = client.send_kernel_info()?;
            client.wait(
                deadline,
                "kernel_info_reply",
                Some(&mut kernel.child),
                |m| is_reply(m, "kernel_info_reply", id),
            )?;
            client.wait_iopub(deadline, &mut kernel.child)?;
            client.drain(Duration::from_millis(100))
        })();
        match ready {
            Ok(()) => Ok(Session {
                client,
                kernel,
                execute_errors: 0,
            }),
            Err(e) => Err(with_log(&kernel, e)),
        }
    }

    /// One kernel_info round trip: send to reply on shell.
    pub fn kernel_info(&mut self, timeout: Duration) -> Result<u64, BenchError> {
        let t0 = Instant::now();
        let id = self.client.send_kernel_info()?;
        let waited = self.client.wait(
            t0 + timeout,
            "kernel_info_reply",
            Some(&mut self.kernel.child),
            |m| is_reply(m, "kernel_info_reply", id),
        );
        let elapsed = t0.elapsed();
        waited.map_err(|e| with_log(&self.kernel, e))?;
        Ok(nanos(elapsed))
    }

    /// One execute round trip: send to both execute_reply on shell and idle on iopub.
    pub fn execute(&mut self, code: &str, timeout: Duration) -> Result<u64, BenchError> {
        let t0 = Instant::now();
        let id = self.client.send_execute(code)?;
        let (mut reply, mut idle, mut ok) = (false, false, true);
        let waited = self.client.wait(
            t0 + timeout,
            "execute_reply and idle",
            Some(&mut self.kernel.child),
            |m| {
                if is_reply(m, "execute_reply", id) {
                    reply = true;
                    ok = m.status.as_deref() == Some("ok");
                } else if m.parent == Some(id) && is_idle(m) {
                    idle = true;
                }
                reply && idle
            },
        );
        let elapsed = t0.elapsed();
        waited.map_err(|e| with_log(&self.kernel, e))?;
        if !ok {
            self.execute_errors += 1;
        }
        Ok(nanos(elapsed))
    }

    /// Keeps `depth` executes in flight until `total` are done or `budget` has passed; an
    /// execute is done when both its reply and its idle have arrived. A request that gets
    /// nothing within `timeout` ends the run, marked `timed_out`.
    pub fn pipelined(
        &mut self,
        code: &str,
        depth: usize,
        total: usize,
        budget: Duration,
        timeout: Duration,
    ) -> Result<Throughput, BenchError> {
        // Per request number: (reply seen, idle seen).
        let mut pending: HashMap<u64, (bool, bool)> = HashMap::with_capacity(depth * 2);
        let t0 = Instant::now();
        let end = t0 + budget;
        let (mut sent, mut done) = (0usize, 0usize);
        let mut last = t0;
        loop {
            while sent < total && pending.len() < depth && Instant::now() < end {
                pending.insert(self.client.send_execute(code)?, (false, false));
                sent += 1;
            }
            if pending.is_empty() {
                break;
            }
            let mut finished = 0;
            let mut errors = 0;
            // Returns after the first completion, with every message already received
            // handled too: the refill above then sends a batch, not one request per wait.
            let waited = self.client.wait(
                Instant::now() + timeout,
                "pipelined executes",
                Some(&mut self.kernel.child),
                |m| {
                    let Some(id) = m.parent else { return false };
                    let Some(flags) = pending.get_mut(&id) else {
                        return false;
                    };
                    if m.channel == Channel::Shell && m.msg_type == "execute_reply" {
                        flags.0 = true;
                        errors += u64::from(m.status.as_deref() != Some("ok"));
                    } else if is_idle(m) {
                        flags.1 = true;
                    }
                    if *flags == (true, true) {
                        pending.remove(&id);
                        finished += 1;
                        return true;
                    }
                    false
                },
            );
            self.execute_errors += errors;
            match waited {
                Ok(()) => {
                    done += finished;
                    last = Instant::now();
                }
                Err(BenchError::Timeout(_)) => break,
                Err(e) => return Err(with_log(&self.kernel, e)),
            }
        }
        Ok(Throughput::new(total, sent, done, depth, last - t0))
    }
}
