//! The engine worker: the loop that runs engine jobs in order, on whatever thread the
//! driver gives it, and skips queued cells after an error with `stop_on_error`.
//!
//! The kernel hands jobs out as soon as they arrive. When a cell fails with
//! `stop_on_error`, every cell that the kernel had queued by the time it learns of the
//! failure must be aborted, as ipykernel does. The [`AbortGate`] makes that exact without a
//! round trip: the worker closes the gate at once (skip everything), and the kernel, when it
//! handles the failure, reopens it for jobs handed out after that moment.

use crate::engine::{Engine, EngineEvent, EngineRequest, ExecuteOutcome};
use crossbeam_channel::{Receiver, SendError, Sender, TryRecvError};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

/// A job for the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineJob {
    /// What to do.
    pub request: EngineRequest,
    /// Whether a failure of this cell aborts the cells queued behind it.
    pub stop_on_error: bool,
}

/// What the worker reports back to the kernel.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerEvent {
    /// An event from the engine.
    Engine(EngineEvent),
    /// An execute job was skipped: an earlier cell failed with `stop_on_error`.
    Aborted {
        /// The job's id.
        id: u64,
    },
    /// The engine's debugger reported (a stop, a query's answer...).
    Debug(crate::engine::debug::DebugEvent),
    /// A tool worker finished a [`super::ToolJob`].
    Tool {
        /// The job's id.
        id: u64,
        /// Its result.
        done: super::ToolDone,
    },
}

/// Execute jobs with an id up to the gate's value are skipped. Shared by kernel and worker.
#[derive(Clone, Debug, Default)]
pub struct AbortGate(Arc<AtomicU64>);

impl AbortGate {
    /// Whether execute job `id` is to be skipped.
    pub fn skips(&self, id: u64) -> bool {
        id <= self.0.load(Ordering::Acquire)
    }

    /// Worker side: a cell failed; skip every execute job until the kernel says otherwise.
    pub fn close(&self) {
        self.0.store(u64::MAX, Ordering::Release);
    }

    /// Kernel side: skip execute jobs up to `last` (those handed out before the failure was
    /// handled), run the later ones.
    pub fn reopen_after(&self, last: u64) {
        self.0.store(last, Ordering::Release);
    }
}

/// Runs jobs from `next` until it returns `None`, reporting to `emit`. Blocks in `next`;
/// call it on the engine's own thread.
pub fn run(
    engine: &mut Engine,
    gate: &AbortGate,
    mut next: impl FnMut() -> Option<EngineJob>,
    mut emit: impl FnMut(WorkerEvent),
) {
    while let Some(job) = next() {
        run_one(engine, gate, job, &mut emit);
    }
}

/// Like [`run`], for an engine with a debugger: waits on `jobs` and on the engine's debug
/// channel at once, serving debugger commands between jobs (the engine serves them itself
/// while a job runs). Returns when `jobs` is closed.
pub fn run_with_debugger(
    engine: &mut Engine,
    gate: &AbortGate,
    jobs: &crossbeam_channel::Receiver<EngineJob>,
    mut emit: impl FnMut(WorkerEvent),
) {
    let mut debug = engine.debug_commands();
    loop {
        let Some(commands) = debug.clone() else {
            while let Ok(job) = jobs.recv() {
                run_one(engine, gate, job, &mut emit);
            }
            return;
        };
        crossbeam_channel::select! {
            recv(jobs) -> job => match job {
                Ok(job) => run_one(engine, gate, job, &mut emit),
                Err(_) => return,
            },
            recv(commands) -> cmd => match cmd {
                Ok(cmd) => engine.handle_debug(cmd),
                Err(_) => debug = None,
            },
        }
    }
}

/// Wakes the engine's thread when a job or a debugger command arrives for it, without a
/// lock. A thread blocked in `recv` or `select!` on crossbeam channels registers with each
/// channel's waker under a mutex, and a sender that finds it registered wakes it while
/// holding that mutex, so that the woken thread, unregistering, contends for it: with one
/// job per wake-up, as under pipelined executes, that was most of the hand-off's cost. The
/// bell is a flag and `park`/`unpark` instead: the engine raises the flag, looks at its
/// channels once more and parks; a sender rings after sending, and unparks only if the flag
/// is up.
#[derive(Debug, Default)]
pub struct Bell {
    /// The engine's thread is parked, or about to park.
    sleeping: AtomicBool,
    /// The thread that waits (the first to call [`Bell::wait`]).
    thread: OnceLock<Thread>,
}

impl Bell {
    /// Sender side, after sending: wakes the waiting thread if it sleeps.
    pub fn ring(&self) {
        // Orders the send before the look at the flag; `wait` orders the other way round,
        // so at least one side sees the other's write (the send or the flag).
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::Relaxed) {
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }

    /// Waiting side: parks the calling thread unless `ready` (which looks at the channels)
    /// says that something has arrived. Returns early on a ring, or spuriously; the caller
    /// looks again. Only one thread may wait on a bell.
    pub fn wait(&self, ready: impl FnOnce() -> bool) {
        self.thread.get_or_init(std::thread::current);
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !ready() {
            std::thread::park();
        }
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

/// A channel sender that rings a [`Bell`] after each send, and when it is dropped (so that
/// the waiting thread sees the channel closed).
#[derive(Debug)]
pub struct BellSender<T> {
    /// Always `Some` until drop.
    tx: Option<Sender<T>>,
    bell: Arc<Bell>,
}

impl<T> BellSender<T> {
    /// Wraps `tx`, ringing `bell`.
    pub fn new(tx: Sender<T>, bell: Arc<Bell>) -> Self {
        BellSender { tx: Some(tx), bell }
    }

    /// Sends `value` and rings; fails if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let sent = match &self.tx {
            Some(tx) => tx.send(value),
            None => Err(SendError(value)),
        };
        self.bell.ring();
        sent
    }
}

impl<T> Drop for BellSender<T> {
    fn drop(&mut self) {
        drop(self.tx.take());
        self.bell.ring();
    }
}

/// Like [`run_with_debugger`], waiting on a [`Bell`] rung by the senders of `jobs` and of the
/// engine's debug channel ([`BellSender`]s) instead of blocking in `select!`. Between jobs it
/// serves the debugger commands already there, then the next job; it waits only when both
/// channels are empty. Returns when `jobs` is closed.
pub fn run_with_bell(
    engine: &mut Engine,
    gate: &AbortGate,
    jobs: &Receiver<EngineJob>,
    bell: &Bell,
    mut emit: impl FnMut(WorkerEvent),
) {
    let mut debug = engine.debug_commands();
    let mut next: Option<EngineJob> = None;
    loop {
        if let Some(commands) = &debug {
            match commands.try_recv() {
                Ok(cmd) => {
                    engine.handle_debug(cmd);
                    continue;
                }
                Err(TryRecvError::Disconnected) => debug = None,
                Err(TryRecvError::Empty) => {}
            }
        }
        let job = match next.take() {
            Some(job) => Ok(job),
            None => jobs.try_recv(),
        };
        match job {
            Ok(job) => {
                run_one(engine, gate, job, &mut emit);
                continue;
            }
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {}
        }
        bell.wait(|| match jobs.try_recv() {
            Ok(job) => {
                next = Some(job);
                true
            }
            Err(TryRecvError::Disconnected) => true,
            Err(TryRecvError::Empty) => debug.as_ref().is_some_and(|c| !c.is_empty()),
        });
    }
}

/// Runs one job: skipped if the gate says so, else handed to the engine.
pub fn run_one(
    engine: &mut Engine,
    gate: &AbortGate,
    job: EngineJob,
    emit: &mut dyn FnMut(WorkerEvent),
) {
    let EngineJob {
        request,
        stop_on_error,
    } = job;
    let is_execute = matches!(request, EngineRequest::Execute { .. });
    if is_execute && gate.skips(request.id()) {
        emit(WorkerEvent::Aborted { id: request.id() });
        return;
    }
    engine.handle(request, &mut |ev| {
        if stop_on_error {
            if let EngineEvent::ExecuteDone {
                outcome: ExecuteOutcome::Error(_),
                ..
            } = &ev
            {
                gate.close();
            }
        }
        emit(WorkerEvent::Engine(ev));
    });
}
