//! A shard's thread: it makes the pinned executor, takes its listeners, waits for `run`,
//! serves, and stops.

use crate::bus::{Inbox, Outbox};
use crate::config::{unavailable, RunOutcome, SocketOptions};
use crate::io::{Listener, Stream};
use crate::owner::{Down, KernelMsg, Owner};
use crate::shard::{Bounds, Link, Shard};
use crate::signals::Signals;
use crate::tasks::{self, Shared};
use glommio::{spawn_local, LocalExecutorBuilder, Placement, Task};
use llmspell_core::connection::Channel;
use llmspell_core::kernel::{Kernel, ToolJob};
use llmspell_core::metrics::Metrics;
use llmspell_runtime_common::{resource_usage, EngineHandle};
use std::cell::RefCell;
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// What a shard listens on: TCP sockets bound before it starts, or Unix socket paths it
/// binds itself.
pub enum Bound {
    /// A listening TCP socket.
    Tcp(OwnedFd),
    /// A Unix socket path to bind.
    Unix(PathBuf),
}

/// What `run` hands the kernel's shard.
pub struct KernelParts {
    /// The kernel state machine.
    pub kernel: Kernel,
    /// The engine thread.
    pub engine: EngineHandle,
    /// The tool workers' queue.
    pub tools: crossbeam_channel::Sender<ToolJob>,
}

/// What a shard is besides its connections.
pub enum Role {
    /// The first shard: the kernel, its inbox, the other shards' inboxes, the signals.
    Kernel {
        inbox: Inbox<KernelMsg>,
        peers: Vec<Option<Outbox<Vec<Down>>>>,
        signals: Signals,
    },
    /// Another shard: its inbox, and the kernel's.
    Remote {
        inbox: Inbox<Vec<Down>>,
        kernel: Outbox<KernelMsg>,
    },
}

/// Everything a shard thread needs.
pub struct ShardSetup {
    pub index: usize,
    pub cpu: usize,
    pub bound: Vec<(Channel, Bound)>,
    pub role: Role,
    pub max_message_size: u64,
    pub open: Arc<AtomicUsize>,
    pub sockets: SocketOptions,
    pub metrics: Option<Arc<Metrics>>,
    pub ready: mpsc::Sender<io::Result<()>>,
    pub go: mpsc::Receiver<Option<Box<KernelParts>>>,
}

impl ShardSetup {
    /// The shard thread: make the pinned executor, take the listeners, report, wait for
    /// `run`, serve.
    pub fn run(self) -> Option<RunOutcome> {
        // Pinned by hand before the executor exists (its helper thread inherits the mask):
        // glommio's own Placement::Fixed reads the CPU topology from sysfs first, which
        // costs milliseconds of start time.
        if let Err(e) = pin_current_thread(self.cpu) {
            let _ = self.ready.send(Err(io::Error::new(
                e.kind(),
                format!("cannot pin a shard to CPU {}: {e}", self.cpu),
            )));
            return None;
        }
        let executor = LocalExecutorBuilder::new(Placement::Unbound)
            .name(&format!("llmspell-shard-{}", self.index))
            // We do no file I/O: a small arena keeps us within small memlock limits.
            .io_memory(64 << 10)
            .make();
        let executor = match executor {
            Ok(ex) => ex,
            Err(e) => {
                let _ = self.ready.send(Err(unavailable(format!(
                    "cannot start an io_uring executor on CPU {}: {e}",
                    self.cpu
                ))));
                return None;
            }
        };
        executor.run(self.serve())
    }

    async fn serve(self) -> Option<RunOutcome> {
        let ShardSetup {
            index,
            bound,
            role,
            max_message_size,
            open,
            sockets,
            metrics,
            ready,
            go,
            ..
        } = self;
        let bounds = Bounds {
            max_connections: sockets.max_connections,
            sndhwm: sockets.sndhwm.unwrap_or(0),
            metrics,
        };
        let mut listeners = Vec::with_capacity(bound.len());
        for (channel, b) in bound {
            let listener = match b {
                // SAFETY: the descriptor is a listening TCP socket that we own and hand over.
                Bound::Tcp(fd) => Listener::Tcp(unsafe {
                    glommio::net::TcpListener::from_raw_fd(fd.into_raw_fd())
                }),
                Bound::Unix(path) => match glommio::net::UnixListener::bind(&path) {
                    Ok(l) => Listener::Unix(l, path),
                    Err(e) => {
                        let e = io::Error::other(format!("cannot bind {}: {e}", path.display()));
                        let _ = ready.send(Err(e));
                        return None;
                    }
                },
            };
            listeners.push((channel, listener));
        }
        let _ = ready.send(Ok(()));
        // Blocking here is fine: nothing else runs on this executor yet.
        let parts = go.recv().ok()?;
        let buffers = (sockets.send_buffer, sockets.recv_buffer);
        let linger = sockets.linger.unwrap_or(Duration::from_millis(500));
        match role {
            Role::Kernel {
                inbox,
                peers,
                mut signals,
            } => {
                let parts = parts?;
                let owner = Owner::new(parts.kernel, parts.engine, parts.tools, peers);
                let shard: Shared = Rc::new(RefCell::new(Shard::new(
                    index,
                    max_message_size,
                    open,
                    bounds,
                    Link::Owner(Box::new(owner)),
                )));
                let mut running = spawn_accept_loops(&shard, listeners, buffers);
                if let Some(timeout) = sockets.idle_timeout {
                    running.push(spawn_local(tasks::expire_idle(shard.clone(), timeout)));
                }
                running.push(spawn_local(tasks::kernel_inbox(shard.clone(), inbox)));
                if let Some(fd) = signals.take_reader() {
                    // SAFETY: the descriptor is our end of a Unix socket pair, handed over.
                    let stream = unsafe { glommio::net::UnixStream::from_raw_fd(fd.into_raw_fd()) };
                    running.push(spawn_local(tasks::watch_signals(
                        shard.clone(),
                        Stream::Unix(stream),
                    )));
                }
                tasks::stopped(&shard).await;
                let outcome = finish(&shard, linger).await;
                close(&shard, running).await;
                drop(signals);
                Some(outcome)
            }
            Role::Remote { inbox, kernel } => {
                let shard: Shared = Rc::new(RefCell::new(Shard::new(
                    index,
                    max_message_size,
                    open,
                    bounds,
                    Link::Remote(kernel),
                )));
                let mut running = spawn_accept_loops(&shard, listeners, buffers);
                if let Some(timeout) = sockets.idle_timeout {
                    running.push(spawn_local(tasks::expire_idle(shard.clone(), timeout)));
                }
                tasks::shard_inbox(shard.clone(), inbox).await;
                tasks::flush_before_exit(&shard, linger).await;
                log_drops(&shard);
                close(&shard, running).await;
                None
            }
        }
    }
}

/// The kernel's shard stops: tell the other shards, write the last replies, log.
/// Pins the calling thread to `cpu`.
fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "CPU number out of range",
        ));
    }
    // SAFETY: an all-zero cpu_set_t is valid; CPU_SET indexes within it (checked above);
    // sched_setaffinity reads the set we own, of the size we pass.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

async fn finish(shard: &Shared, linger: Duration) -> RunOutcome {
    {
        let mut st = shard.borrow_mut();
        st.process();
        if let Some(owner) = st.owner() {
            for peer in owner.peers.iter().flatten() {
                peer.send(vec![Down::Stop]);
            }
        }
    }
    tasks::flush_before_exit(shard, linger).await;
    let mut st = shard.borrow_mut();
    let (outcome, unroutable) = match st.owner() {
        Some(owner) => {
            // A cell still running must not keep the process alive.
            owner.interrupt_engine();
            (
                owner.outcome.unwrap_or(RunOutcome::Terminated),
                owner.unroutable,
            )
        }
        None => (RunOutcome::Terminated, 0),
    };
    let (user_ms, sys_ms, voluntary_switches, involuntary_switches) = resource_usage();
    let drops = st.drops;
    info!(
        ?outcome,
        user_ms,
        sys_ms,
        voluntary_switches,
        involuntary_switches,
        ?drops,
        unroutable,
        "kernel stopping"
    );
    outcome
}

fn spawn_accept_loops(
    shard: &Shared,
    listeners: Vec<(Channel, Listener)>,
    buffers: (Option<usize>, Option<usize>),
) -> Vec<Task<()>> {
    listeners
        .into_iter()
        .map(|(channel, listener)| {
            spawn_local(tasks::accept_loop(
                shard.clone(),
                channel,
                listener,
                buffers,
            ))
        })
        .collect()
}

/// Stops the shard's tasks (the listeners go, and their socket files) and closes its
/// connections.
async fn close(shard: &Shared, tasks: Vec<Task<()>>) {
    for task in tasks {
        task.cancel().await;
    }
    shard.borrow_mut().close_all();
}

fn log_drops(shard: &Shared) {
    let st = shard.borrow();
    info!(shard = st.index, drops = ?st.drops, "shard stopping");
}
