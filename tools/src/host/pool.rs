//! The worker pool for blocking tools, with timeouts that abandon runaway calls.
//!
//! Workers are started on demand, up to `max_workers`, and then live as long as the pool.
//! A call waits for its result up to its timeout. When the timeout expires the caller is
//! answered at once: a call still queued is cancelled (no worker will run it); a call
//! already running is abandoned: its worker no longer counts towards `max_workers`, so a
//! new one can start, and when the tool finally returns, its result is dropped and that
//! thread ends. Abandoned threads still running are bounded by `max_abandoned`; past it
//! blocking calls are refused until some finish.
//!
//! Each call's [`Slot`] moves QUEUED -> RUNNING -> DONE, or QUEUED -> CANCELLED, or
//! RUNNING -> ABANDONED; whoever wins the compare-and-swap does the bookkeeping.

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use llmspell_core::tools::{Policy, Tool, ToolContext, ToolError, ToolErrorKind, ToolResult};
use serde_json::Value;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const CANCELLED: u8 = 3;
const ABANDONED: u8 = 4;

/// Where one call stands; shared by its caller and the worker that takes it.
struct Slot(AtomicU8);

impl Slot {
    fn swap(&self, from: u8, to: u8) -> bool {
        self.0
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// One call handed to a worker.
struct Job {
    tool: Arc<dyn Tool>,
    params: Value,
    policy: Arc<Policy>,
    slot: Arc<Slot>,
    reply: Sender<ToolResult>,
}

/// The pool's counts, under one lock.
#[derive(Default)]
struct Counts {
    /// Workers that count towards the limit (not abandoned).
    live: usize,
    /// Calls submitted and neither answered, cancelled nor abandoned.
    outstanding: usize,
    /// Abandoned threads whose tool is still running.
    abandoned: usize,
}

struct Shared {
    counts: Mutex<Counts>,
    jobs: Receiver<Job>,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts are plain integers, consistent after every statement: a panic elsewhere
        // while holding the lock leaves nothing half-done.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs blocking tools on worker threads with timeouts.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    jobs: Sender<Job>,
    max_workers: usize,
    max_abandoned: usize,
}

/// Runs `tool`, turning a panic into an Internal error.
pub(crate) fn run_caught(tool: &dyn Tool, params: &Value, policy: &Policy) -> ToolResult {
    let ctx = ToolContext { policy };
    match catch_unwind(AssertUnwindSafe(|| tool.invoke(params, &ctx))) {
        Ok(result) => result,
        Err(payload) => Err(ToolError::new(
            ToolErrorKind::Internal,
            format!(
                "tool {} panicked: {}",
                tool.spec().name,
                panic_message(payload.as_ref())
            ),
        )),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

fn worker(shared: Arc<Shared>) {
    while let Ok(job) = shared.jobs.recv() {
        if !job.slot.swap(QUEUED, RUNNING) {
            continue; // cancelled while queued: its caller has answered already
        }
        let result = run_caught(job.tool.as_ref(), &job.params, &job.policy);
        if job.slot.swap(RUNNING, DONE) {
            shared.counts().outstanding -= 1;
            // The caller may have gone (its own thread ended): nothing to do then.
            let _ = job.reply.send(result);
        } else {
            // Abandoned: a replacement may already be running; this thread leaves.
            shared.counts().abandoned -= 1;
            return;
        }
    }
}

impl Pool {
    /// A pool of at most `max_workers` threads (at least one), none started yet.
    pub(crate) fn new(max_workers: usize, max_abandoned: usize) -> Pool {
        let (jobs, receiver) = unbounded();
        Pool {
            shared: Arc::new(Shared {
                counts: Mutex::new(Counts::default()),
                jobs: receiver,
            }),
            jobs,
            max_workers: max_workers.max(1),
            max_abandoned,
        }
    }

    /// Sets the most abandoned threads allowed to run on.
    pub(crate) fn set_max_abandoned(&mut self, max: usize) {
        self.max_abandoned = max;
    }

    /// Abandoned calls whose tools are still running.
    pub(crate) fn abandoned(&self) -> usize {
        self.shared.counts().abandoned
    }

    /// Runs `tool` on a worker and waits for it up to `timeout`.
    pub(crate) fn run(
        &self,
        tool: Arc<dyn Tool>,
        params: Value,
        policy: Arc<Policy>,
        timeout: Duration,
    ) -> ToolResult {
        let name = tool.spec().name;
        {
            let mut counts = self.shared.counts();
            if counts.abandoned >= self.max_abandoned {
                return Err(ToolError::failed(format!(
                    "refusing {name}: {} timed-out tool calls are still running (the limit); \
                     retry when they end",
                    counts.abandoned
                )));
            }
            counts.outstanding += 1;
            if counts.live < self.max_workers && counts.live < counts.outstanding {
                let shared = Arc::clone(&self.shared);
                let spawned = std::thread::Builder::new()
                    .name("llmspell-tool".into())
                    .spawn(move || worker(shared));
                match spawned {
                    Ok(_) => counts.live += 1,
                    Err(e) if counts.live == 0 => {
                        counts.outstanding -= 1;
                        return Err(ToolError::new(
                            ToolErrorKind::Internal,
                            format!("cannot start a worker thread: {e}"),
                        ));
                    }
                    // The running workers will take it.
                    Err(_) => {}
                }
            }
        }
        let slot = Arc::new(Slot(AtomicU8::new(QUEUED)));
        let (reply, result) = bounded(1);
        let job = Job {
            tool,
            params,
            policy,
            slot: Arc::clone(&slot),
            reply,
        };
        // The pool holds the receiving side in `shared`, so the channel cannot be closed.
        if self.jobs.send(job).is_err() {
            self.shared.counts().outstanding -= 1;
            return Err(ToolError::new(
                ToolErrorKind::Internal,
                "the pool is closed",
            ));
        }
        match result.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => self.expire(name, &slot, &result, timeout),
            Err(RecvTimeoutError::Disconnected) => Err(ToolError::new(
                ToolErrorKind::Internal,
                format!("the worker running {name} ended without a result"),
            )),
        }
    }

    /// The timeout expired: cancel or abandon the call, unless it has just finished.
    fn expire(
        &self,
        name: &str,
        slot: &Slot,
        result: &Receiver<ToolResult>,
        timeout: Duration,
    ) -> ToolResult {
        let ms = timeout.as_millis();
        if slot.swap(QUEUED, CANCELLED) {
            self.shared.counts().outstanding -= 1;
            return Err(ToolError::new(
                ToolErrorKind::Timeout,
                format!("{name} waited {ms} ms for a free worker and was cancelled"),
            ));
        }
        if slot.swap(RUNNING, ABANDONED) {
            let mut counts = self.shared.counts();
            counts.live -= 1;
            counts.outstanding -= 1;
            counts.abandoned += 1;
            return Err(ToolError::new(
                ToolErrorKind::Timeout,
                format!("{name} ran past its {ms} ms timeout and was abandoned"),
            ));
        }
        // DONE: the worker sends right after, without waiting on anything.
        result.recv().unwrap_or_else(|_| {
            Err(ToolError::new(
                ToolErrorKind::Internal,
                format!("the worker running {name} ended without a result"),
            ))
        })
    }
}
