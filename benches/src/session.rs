//! One kernel under load: a cold start, or a warm session (process plus client) with the
//! timed primitives: a kernel_info round trip, a round trip of an execute or a tool call
//! (reply and idle), the same pipelined, and a probe of the tool protocol.

use std::collections::HashMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use bytes::Bytes;
use llmspell_core::connection::Channel;

use crate::client::{BenchError, Client, ClientKind};
use crate::kernel::{KernelLaunch, KernelProcess, KernelSpec};
use crate::message::{bench_tool_content, Message};
use crate::stats::Throughput;
use crate::sys;

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

/// Waits (until `deadline`) for the answer to a kernel_info request and for iopub to be
/// connected: then no iopub message of a timed request is lost to the subscription.
pub fn await_ready(
    client: &mut Client,
    kernel: &mut Child,
    deadline: Instant,
) -> Result<(), BenchError> {
    let id = client.send_kernel_info()?;
    client.wait(deadline, "kernel_info_reply", Some(&mut *kernel), |m| {
        is_reply(m, "kernel_info_reply", id)
    })?;
    client.wait_iopub(deadline, kernel)
}

/// A warm kernel and its client.
pub struct Session {
    /// The client; fields drop in order, so its sockets close before the kernel stops.
    pub client: Client,
    /// The kernel process.
    pub kernel: KernelProcess,
    /// Execute replies whose status was not `ok`.
    pub execute_errors: u64,
    /// Tool replies whose status was not `ok`.
    pub tool_errors: u64,
    /// The content of the scenarios' `tool_request`, built once.
    tool_content: Bytes,
}

/// A request that the timed scenarios send and await.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `execute_request` of this code.
    Execute(&'a str),
    /// `tool_request` invoking the calculator ([`bench_tool_content`]).
    ToolInvoke,
    /// `kernel_info_request` (on shell, wrapped in busy and idle like any request).
    KernelInfo,
}

impl Request<'_> {
    /// The `msg_type` of its reply on shell.
    pub fn reply_type(self) -> &'static str {
        match self {
            Request::Execute(_) => "execute_reply",
            Request::ToolInvoke => "tool_reply",
            Request::KernelInfo => "kernel_info_reply",
        }
    }

    /// What a wait for it is waiting for, for timeout errors.
    fn awaited(self) -> &'static str {
        match self {
            Request::Execute(_) => "execute_reply and idle",
            Request::ToolInvoke => "tool_reply and idle",
            Request::KernelInfo => "kernel_info_reply and idle",
        }
    }
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
        let ready = await_ready(&mut client, &mut kernel.child, deadline)
            .and_then(|()| client.drain(Duration::from_millis(100)));
        match ready {
            Ok(()) => Ok(Session {
                client,
                kernel,
                execute_errors: 0,
                tool_errors: 0,
                tool_content: bench_tool_content(),
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

    /// Sends `request` and returns its number.
    fn send(&mut self, request: Request<'_>) -> Result<u64, BenchError> {
        match request {
            Request::Execute(code) => self.client.send_execute(code),
            Request::ToolInvoke => self.client.send("tool_request", self.tool_content.clone()),
            Request::KernelInfo => self.client.send_kernel_info(),
        }
    }

    /// Counts replies of `request`'s kind whose status was not `ok`.
    fn count_errors(&mut self, request: Request<'_>, errors: u64) {
        match request {
            Request::Execute(_) => self.execute_errors += errors,
            Request::ToolInvoke => self.tool_errors += errors,
            Request::KernelInfo => {}
        }
    }

    /// One round trip of `request`: send to both its reply on shell and idle on iopub.
    pub fn round_trip(
        &mut self,
        request: Request<'_>,
        timeout: Duration,
    ) -> Result<u64, BenchError> {
        let reply_type = request.reply_type();
        let t0 = Instant::now();
        let id = self.send(request)?;
        let (mut reply, mut idle, mut ok) = (false, false, true);
        let waited = self.client.wait(
            t0 + timeout,
            request.awaited(),
            Some(&mut self.kernel.child),
            |m| {
                if is_reply(m, reply_type, id) {
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
        self.count_errors(request, u64::from(!ok));
        Ok(nanos(elapsed))
    }

    /// Sends one `tool_request` (the scenarios' invoke) and waits up to `wait` for its
    /// reply and idle, to learn whether the kernel speaks the tool protocol. `Ok(Err(why))`
    /// when it does not (no reply in time, or an error reply); `Err` when the session
    /// itself failed (the kernel exited, Ctrl-C, a broken socket).
    pub fn probe_tools(&mut self, wait: Duration) -> Result<Result<(), String>, BenchError> {
        let deadline = Instant::now() + wait;
        let id = self.send(Request::ToolInvoke)?;
        let (mut reply, mut idle) = (None::<String>, false);
        let waited = self.client.wait(
            deadline,
            "tool_reply to the probe",
            Some(&mut self.kernel.child),
            |m| {
                if is_reply(m, "tool_reply", id) {
                    reply = Some(m.status.as_deref().unwrap_or("(none)").to_string());
                } else if m.parent == Some(id) && is_idle(m) {
                    idle = true;
                }
                reply.is_some() && idle
            },
        );
        match waited {
            Ok(()) | Err(BenchError::Timeout(_)) => Ok(tool_verdict(reply.as_deref(), idle, wait)),
            Err(e) => Err(with_log(&self.kernel, e)),
        }
    }

    /// Keeps `depth` requests in flight until `total` are done or `budget` has passed; a
    /// request is done when both its reply and its idle have arrived. A request that gets
    /// nothing within `timeout` ends the run, marked `timed_out`.
    pub fn pipelined(
        &mut self,
        request: Request<'_>,
        depth: usize,
        total: usize,
        budget: Duration,
        timeout: Duration,
    ) -> Result<Throughput, BenchError> {
        let reply_type = request.reply_type();
        // Per request number: (reply seen, idle seen).
        let mut pending: HashMap<u64, (bool, bool)> = HashMap::with_capacity(depth * 2);
        let pid = self.kernel.child.id();
        let cpu0 = (sys::process_cpu_ns(pid), sys::self_cpu_ns());
        let t0 = Instant::now();
        let end = t0 + budget;
        let (mut sent, mut done) = (0usize, 0usize);
        let mut last = t0;
        loop {
            while sent < total && pending.len() < depth && Instant::now() < end {
                pending.insert(self.send(request)?, (false, false));
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
                request.awaited(),
                Some(&mut self.kernel.child),
                |m| {
                    let Some(id) = m.parent else { return false };
                    let Some(flags) = pending.get_mut(&id) else {
                        return false;
                    };
                    if m.channel == Channel::Shell && m.msg_type == reply_type {
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
            self.count_errors(request, errors);
            match waited {
                Ok(()) => {
                    done += finished;
                    last = Instant::now();
                }
                Err(BenchError::Timeout(_)) => break,
                Err(e) => return Err(with_log(&self.kernel, e)),
            }
        }
        let elapsed = last - t0;
        let cpu1 = (sys::process_cpu_ns(pid), sys::self_cpu_ns());
        let spent = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
        Ok(Throughput::new(total, sent, done, depth, elapsed)
            .with_cpu(spent(cpu0.0, cpu1.0), spent(cpu0.1, cpu1.1)))
    }
}

/// Whether a kernel speaks the tool protocol, from what its probe got within `wait`: the
/// status of its `tool_reply` (if one came) and whether its `status: idle` came.
pub fn tool_verdict(reply: Option<&str>, idle: bool, wait: Duration) -> Result<(), String> {
    match (reply, idle) {
        (Some("ok"), true) => Ok(()),
        (Some("ok"), false) => Err(format!(
            "tool_reply came but no status: idle within {} ms",
            wait.as_millis()
        )),
        (Some(status), _) => Err(format!("the probe's tool_reply has status {status:?}")),
        (None, true) => Err(format!(
            "idle without a tool_reply within {} ms (tool_request unknown to the kernel)",
            wait.as_millis()
        )),
        (None, false) => Err(format!("no tool_reply within {} ms", wait.as_millis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_verdicts() {
        let wait = Duration::from_secs(1);
        assert_eq!(tool_verdict(Some("ok"), true, wait), Ok(()));
        let no_idle = tool_verdict(Some("ok"), false, wait).unwrap_err();
        assert!(
            no_idle.contains("no status: idle within 1000 ms"),
            "{no_idle}"
        );
        let error = tool_verdict(Some("error"), true, wait).unwrap_err();
        assert!(error.contains("\"error\""), "{error}");
        assert!(tool_verdict(Some("error"), false, wait).is_err());
        assert!(tool_verdict(Some(""), true, wait).is_err());
        let unknown = tool_verdict(None, true, wait).unwrap_err();
        assert!(unknown.contains("idle without a tool_reply"), "{unknown}");
        let silent = tool_verdict(None, false, Duration::from_millis(250)).unwrap_err();
        assert_eq!(silent, "no tool_reply within 250 ms");
    }

    #[test]
    fn requests_name_their_replies() {
        assert_eq!(Request::Execute("1+1").reply_type(), "execute_reply");
        assert_eq!(Request::ToolInvoke.reply_type(), "tool_reply");
        assert!(Request::ToolInvoke.awaited().contains("tool_reply"));
    }
}
