//! The engine's own thread and the tool workers: they run what may block, off the shards,
//! and report back to the kernel's shard through its inbox.

use crate::bus::Outbox;
use crate::owner::KernelMsg;
use llmspell_core::engine::debug::{DebugCommand, DebugLink};
use llmspell_core::engine::{Engine, EngineConfig, EngineIo, InputReply};
use llmspell_core::kernel::{worker, AbortGate, EngineJob, ToolJob, WorkerEvent};
use llmspell_core::tools::ToolHostRef;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The kernel's handles on the engine thread.
pub struct EngineHandle {
    /// Jobs, in order.
    pub jobs: crossbeam_channel::Sender<EngineJob>,
    /// Answers to `io.read`.
    pub input: crossbeam_channel::Sender<InputReply>,
    /// Set to interrupt the running cell.
    pub interrupt: Arc<AtomicBool>,
    /// Debugger commands (DAP), served by the engine even while a cell is stopped.
    pub debug: crossbeam_channel::Sender<DebugCommand>,
}

impl EngineHandle {
    /// Interrupts the running cell.
    pub fn interrupt(&self) {
        self.interrupt.store(true, Ordering::Release);
    }
}

/// Starts the engine thread. Its events go to `events`; it ends when `jobs` is dropped.
/// Fails if the Lua state cannot be made.
pub fn spawn(
    gate: AbortGate,
    tools: Option<ToolHostRef>,
    events: Outbox<KernelMsg>,
) -> io::Result<EngineHandle> {
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<EngineJob>();
    let (input_tx, input_rx) = crossbeam_channel::unbounded::<InputReply>();
    let (debug_tx, debug_rx) = crossbeam_channel::unbounded::<DebugCommand>();
    let debug_events = events.clone();
    let interrupt = Arc::new(AtomicBool::new(false));
    let io = EngineIo {
        interrupt: interrupt.clone(),
        input: input_rx,
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("llmspell-engine".into())
        .spawn(move || {
            let config = EngineConfig {
                tools,
                ..EngineConfig::default()
            };
            let link = DebugLink {
                commands: debug_rx,
                events: Box::new(move |ev| {
                    // The shards may be gone at shutdown; nothing is left to tell.
                    let _ = debug_events.send(KernelMsg::Worker(WorkerEvent::Debug(ev)));
                }),
            };
            let started = Engine::new(config, io).and_then(|mut e| {
                e.enable_debugger(link)?;
                Ok(e)
            });
            let mut engine = match started {
                Ok(e) => {
                    let _ = ready_tx.send(Ok(()));
                    e
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            worker::run_with_debugger(&mut engine, &gate, &jobs_rx, |ev| {
                // The shards may be gone at shutdown; nothing is left to tell.
                let _ = events.send(KernelMsg::Worker(ev));
            });
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(EngineHandle {
            jobs: jobs_tx,
            input: input_tx,
            interrupt,
            debug: debug_tx,
        }),
        Ok(Err(e)) => Err(io::Error::other(format!(
            "the Lua engine failed to start: {e}"
        ))),
        Err(_) => Err(io::Error::other("the Lua engine thread died at start")),
    }
}

/// Tools that may block get a thread each while they run, up to this many at once; the
/// host's own timeouts bound how long one can hold it.
const TOOL_WORKERS: usize = 4;

/// Starts the threads that run tool calls that may block, and batches.
pub fn tool_workers(
    host: Option<ToolHostRef>,
    events: Outbox<KernelMsg>,
) -> io::Result<crossbeam_channel::Sender<ToolJob>> {
    let (tx, rx) = crossbeam_channel::unbounded::<ToolJob>();
    let Some(host) = host else {
        return Ok(tx);
    };
    for i in 0..TOOL_WORKERS {
        let (rx, events, host) = (rx.clone(), events.clone(), host.clone());
        std::thread::Builder::new()
            .name(format!("llmspell-tool-{i}"))
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let done = job.run(host.0.as_ref());
                    if !events.send(KernelMsg::Worker(WorkerEvent::Tool { id: job.id, done })) {
                        return;
                    }
                }
            })?;
    }
    Ok(tx)
}
