//! The engine worker: the loop that runs engine jobs in order, on whatever thread the
//! driver gives it, and skips queued cells after an error with `stop_on_error`.
//!
//! The kernel hands jobs out as soon as they arrive. When a cell fails with
//! `stop_on_error`, every cell that the kernel had queued by the time it learns of the
//! failure must be aborted, as ipykernel does. The [`AbortGate`] makes that exact without a
//! round trip: the worker closes the gate at once (skip everything), and the kernel, when it
//! handles the failure, reopens it for jobs handed out after that moment.

use crate::engine::{Engine, EngineEvent, EngineRequest, ExecuteOutcome};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
