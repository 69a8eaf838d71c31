//! # llmspell-runtime-common
//!
//! The threads and process facts that both server editions (tokio and glommio) need beside
//! their own I/O, so that each edition is only its sockets and its scheduling:
//!
//! - [`spawn_engine`]: the engine's own thread, running the core's worker loop with the
//!   debugger's command channel, reporting every [`WorkerEvent`] through a callback;
//! - [`spawn_tool_workers`]: threads for tool calls that may block, and batches;
//! - [`now`], [`session_id`], [`cell_files`], [`resource_usage`]: the clock, our session
//!   id, where the debugger writes cells, and what the process has used.
//!
//! A callback returns `false` once its receiver is gone (the runtime is stopping); the
//! thread then ends quietly.

use llmspell_core::dap::CellFiles;
use llmspell_core::engine::debug::{DebugCommand, DebugLink};
use llmspell_core::engine::{Engine, EngineConfig, EngineIo, InputReply};
use llmspell_core::kernel::worker::{Bell, BellSender};
use llmspell_core::kernel::{worker, AbortGate, EngineJob, ToolJob, WorkerEvent};
use llmspell_core::time::Timestamp;
use llmspell_core::tools::ToolHostRef;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A runtime's handles on the engine thread.
pub struct EngineHandle {
    /// Jobs, in order.
    pub jobs: BellSender<EngineJob>,
    /// Answers to `io.read`.
    pub input: crossbeam_channel::Sender<InputReply>,
    /// Set to interrupt the running cell.
    pub interrupt: Arc<AtomicBool>,
    /// Commands for the engine's debugger, read even while a cell runs or is stopped.
    pub debug: BellSender<DebugCommand>,
}

impl EngineHandle {
    /// Interrupts the running cell.
    pub fn interrupt(&self) {
        self.interrupt.store(true, Ordering::Release);
    }
}

/// Starts the engine thread. Its reports go to `emit` (which returns `false` once nobody
/// listens); it ends when the job sender in the handle is dropped. Fails if the Lua state
/// cannot be made.
pub fn spawn_engine<F>(
    gate: AbortGate,
    tools: Option<ToolHostRef>,
    emit: F,
) -> io::Result<EngineHandle>
where
    F: Fn(WorkerEvent) -> bool + Clone + Send + 'static,
{
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<EngineJob>();
    let (input_tx, input_rx) = crossbeam_channel::unbounded::<InputReply>();
    let (debug_tx, debug_rx) = crossbeam_channel::unbounded::<DebugCommand>();
    let interrupt = Arc::new(AtomicBool::new(false));
    // Both job and debugger-command senders ring it; the engine waits on it between jobs.
    let bell = Arc::new(Bell::default());
    let engine_bell = bell.clone();
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
            let debug_emit = emit.clone();
            let link = DebugLink {
                commands: debug_rx,
                events: Box::new(move |ev| {
                    // The runtime may be gone at shutdown; nothing is left to tell.
                    let _ = debug_emit(WorkerEvent::Debug(ev));
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
            worker::run_with_bell(&mut engine, &gate, &jobs_rx, &engine_bell, |ev| {
                let _ = emit(ev);
            });
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(EngineHandle {
            jobs: BellSender::new(jobs_tx, bell.clone()),
            input: input_tx,
            interrupt,
            debug: BellSender::new(debug_tx, bell),
        }),
        Ok(Err(e)) => Err(io::Error::other(format!(
            "the Lua engine failed to start: {e}"
        ))),
        Err(_) => Err(io::Error::other("the Lua engine thread died at start")),
    }
}

/// Tools that may block get a thread each while they run, up to this many at once; the
/// host's own timeouts bound how long one can hold it.
pub const TOOL_WORKERS: usize = 4;

/// Starts the threads that run tool calls that may block, and batches; each result goes to
/// `emit` as [`WorkerEvent::Tool`]. Without a host, jobs are never taken (the kernel
/// answers tool requests itself then).
pub fn spawn_tool_workers<F>(
    host: Option<ToolHostRef>,
    emit: F,
) -> io::Result<crossbeam_channel::Sender<ToolJob>>
where
    F: Fn(WorkerEvent) -> bool + Clone + Send + 'static,
{
    let (tx, rx) = crossbeam_channel::unbounded::<ToolJob>();
    let Some(host) = host else {
        return Ok(tx);
    };
    for i in 0..TOOL_WORKERS {
        let (rx, emit, host) = (rx.clone(), emit.clone(), host.clone());
        std::thread::Builder::new()
            .name(format!("llmspell-tool-{i}"))
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let done = job.run(host.0.as_ref());
                    if !emit(WorkerEvent::Tool { id: job.id, done }) {
                        return;
                    }
                }
            })?;
    }
    Ok(tx)
}

/// The wall clock as the core's [`Timestamp`].
pub fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    Timestamp::from_unix_micros(micros)
}

/// A session id for our headers: unique enough per process and start time.
pub fn session_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{:08x}-{:08x}", std::process::id(), nanos)
}

/// Where the debugger writes cells (`dumpCell`): a directory of this process's own under
/// the temp dir, removed by [`remove_cell_files`] at exit.
pub fn cell_files() -> CellFiles {
    let dir = std::env::temp_dir().join(format!("llmspell_{}", std::process::id()));
    CellFiles::in_dir(&dir.to_string_lossy())
}

/// Removes the cells the debugger wrote: they are for this kernel only.
pub fn remove_cell_files() {
    let cells = std::path::PathBuf::from(cell_files().tmp_file_prefix);
    if cells.is_dir() {
        let _ = std::fs::remove_dir_all(&cells);
    }
}

/// What this process has used: user and system CPU in milliseconds, and voluntary and
/// involuntary context switches.
pub fn resource_usage() -> (u64, u64, u64, u64) {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return (0, 0, 0, 0);
    }
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    let (v, iv) = (usage.ru_nvcsw as u64, usage.ru_nivcsw as u64);
    (ms(usage.ru_utime), ms(usage.ru_stime), v, iv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_thread_runs_a_cell_and_reports_it() {
        let (tx, rx) = crossbeam_channel::unbounded::<WorkerEvent>();
        let handle = spawn_engine(AbortGate::default(), None, move |ev| tx.send(ev).is_ok())
            .expect("engine starts");
        handle
            .jobs
            .send(EngineJob {
                request: llmspell_core::engine::EngineRequest::Execute {
                    id: 1,
                    code: "return 6 * 7".into(),
                    chunk_name: "=test".into(),
                    silent: false,
                    allow_stdin: false,
                    user_expressions: vec![],
                },
                stop_on_error: false,
            })
            .expect("job sent");
        let mut saw_result = false;
        while let Ok(ev) = rx.recv_timeout(std::time::Duration::from_secs(10)) {
            if let WorkerEvent::Engine(e) = &ev {
                let text = format!("{e:?}");
                saw_result |= text.contains("42");
                if text.contains("ExecuteDone") {
                    break;
                }
            }
        }
        assert!(saw_result, "the result 42 was reported");
    }

    #[test]
    fn usage_and_ids_are_sane() {
        let (user, sys, _, _) = resource_usage();
        assert!(user + sys < 10_000_000);
        assert_ne!(session_id(), "");
        assert!(now().micros_since(Timestamp::from_unix_micros(0)) > 0);
        assert!(cell_files()
            .tmp_file_prefix
            .contains(&std::process::id().to_string()));
    }
}
