//! Binding the five channels, starting one pinned shard per CPU, and serving until
//! shutdown.

use crate::bus::{self, Outbox};
use crate::config::{RunOutcome, ServerConfig};
use crate::io::bind_reuseport;
use crate::owner::{Down, KernelMsg};
use crate::shard_thread::{Bound, KernelParts, Role, ShardSetup};
use crate::signals::Signals;
use llmspell_core::connection::{Channel, ConnectionInfo, Transport};
use llmspell_core::kernel::{Kernel, KernelConfig};
use llmspell_runtime_common::{
    cell_files, remove_cell_files, session_id, spawn_engine, spawn_tool_workers,
};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use tracing::{info, warn};

/// A shard's thread, waiting for `run`.
struct ShardThread {
    /// None for the other shards, the kernel for the first.
    go: mpsc::Sender<Option<Box<KernelParts>>>,
    handle: JoinHandle<Option<RunOutcome>>,
}

/// A bound kernel server, not yet running: its shards are started and pinned, and their
/// listeners bound.
pub struct Server {
    shards: Vec<ShardThread>,
    kernel_outbox: Outbox<KernelMsg>,
    info: ConnectionInfo,
    config: ServerConfig,
    cpus: Vec<usize>,
}

/// The CPUs this process may run on.
fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is valid; sched_getaffinity fills the one we own.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads within the set for every index below its size in bits.
    Ok((0..max)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

impl Server {
    /// Binds the five channels and starts one pinned shard per CPU of `config.shards`.
    /// Ports of 0 are replaced by the ports the OS chose (tcp) or by the first free socket
    /// paths `{ip}-1`, `{ip}-2`, ... (ipc). Fails with an error naming `--runtime tokio`
    /// where io_uring cannot be set up.
    pub fn bind(config: ServerConfig) -> io::Result<Server> {
        let allowed = allowed_cpus()?;
        let cpus = config
            .shards
            .resolve(&allowed)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut info = config.connection.clone();
        let mut per_shard: Vec<Vec<(Channel, Bound)>> = cpus.iter().map(|_| Vec::new()).collect();
        let mut next_ipc = 1u16;
        for channel in Channel::ALL {
            match info.transport {
                Transport::Tcp => {
                    let (first, port) = bind_reuseport(&info.ip, info.port(channel), true)?;
                    info.set_port(channel, port);
                    per_shard[0].push((channel, Bound::Tcp(first)));
                    for listeners in per_shard.iter_mut().skip(1) {
                        let (fd, _) = bind_reuseport(&info.ip, port, false)?;
                        listeners.push((channel, Bound::Tcp(fd)));
                    }
                }
                Transport::Ipc => {
                    if info.port(channel) == 0 {
                        while std::path::Path::new(&format!("{}-{}", info.ip, next_ipc)).exists() {
                            next_ipc += 1;
                        }
                        info.set_port(channel, next_ipc);
                        next_ipc += 1;
                    }
                    let path = PathBuf::from(format!("{}-{}", info.ip, info.port(channel)));
                    // A socket file left by a dead kernel would make bind fail.
                    let _ = std::fs::remove_file(&path);
                    per_shard[0].push((channel, Bound::Unix(path)));
                }
            }
        }

        let (kernel_outbox, kernel_inbox) = bus::channel::<KernelMsg>();
        let mut peers = Vec::with_capacity(cpus.len());
        let mut inboxes = Vec::with_capacity(cpus.len());
        for i in 0..cpus.len() {
            if i == 0 {
                peers.push(None);
                inboxes.push(None);
            } else {
                let (tx, rx) = bus::channel::<Vec<Down>>();
                peers.push(Some(tx));
                inboxes.push(Some(rx));
            }
        }
        let mut signals = Some(Signals::install()?);
        let mut kernel_inbox = Some(kernel_inbox);
        let open = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let mut shards = Vec::with_capacity(cpus.len());
        for (index, (cpu, bound)) in cpus.iter().copied().zip(per_shard).enumerate() {
            let (go_tx, go_rx) = mpsc::channel();
            let link = if index == 0 {
                Role::Kernel {
                    inbox: kernel_inbox
                        .take()
                        .expect("the first shard takes the kernel inbox"),
                    peers: std::mem::take(&mut peers),
                    signals: signals.take().expect("the first shard takes the signals"),
                }
            } else {
                Role::Remote {
                    inbox: inboxes[index].take().expect("each shard has an inbox"),
                    kernel: kernel_outbox.clone(),
                }
            };
            let setup = ShardSetup {
                index,
                cpu,
                bound,
                role: link,
                max_message_size: config.max_message_size,
                open: open.clone(),
                sockets: config.sockets.clone(),
                metrics: config.metrics.clone(),
                ready: ready_tx.clone(),
                go: go_rx,
            };
            let handle = std::thread::Builder::new()
                .name(format!("llmspell-shard-{index}"))
                .spawn(move || setup.run())?;
            shards.push(ShardThread { go: go_tx, handle });
        }
        drop(ready_tx);
        for _ in 0..cpus.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("a shard thread died at start")),
            }
        }
        Ok(Server {
            shards,
            kernel_outbox,
            info,
            config,
            cpus,
        })
    }

    /// The connection info with the real ports, to write to a connection file.
    pub fn connection_info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// The CPUs the shards are pinned to; the first one's shard runs the kernel.
    pub fn cpus(&self) -> &[usize] {
        &self.cpus
    }

    /// Serves until a shutdown request or SIGTERM/SIGHUP. SIGINT interrupts the running
    /// cell. The engine thread and the tool workers start here, on the caller's CPUs.
    pub fn run(self) -> io::Result<RunOutcome> {
        let Server {
            shards,
            kernel_outbox,
            info,
            config,
            cpus,
        } = self;
        let kernel = Kernel::new(KernelConfig {
            key: info.key.as_bytes().to_vec(),
            session: session_id(),
            tools: config.tools.clone(),
            metrics: config.metrics.clone(),
            max_queue: config
                .max_queue
                .unwrap_or(KernelConfig::default().max_queue),
            debugger: Some(cell_files()),
            ..KernelConfig::default()
        });
        let emit = move |ev| kernel_outbox.send(KernelMsg::Worker(ev));
        let tools = spawn_tool_workers(config.tools.clone(), emit.clone())?;
        let engine = spawn_engine(kernel.abort_gate(), config.tools.clone(), emit)?;
        info!(shell = info.shell_port, iopub = info.iopub_port, transport = ?info.transport, ?cpus, "kernel serving on glommio shards");
        let mut parts = Some(Box::new(KernelParts {
            kernel,
            engine,
            tools,
        }));
        for shard in &shards {
            // A shard that died at start has dropped its receiver; its join reports it.
            let _ = shard.go.send(parts.take());
        }
        let mut outcome = None;
        for (index, shard) in shards.into_iter().enumerate() {
            match shard.handle.join() {
                Ok(result) if index == 0 => outcome = result,
                Ok(_) => {}
                Err(_) => warn!(shard = index, "a shard panicked"),
            }
        }
        remove_cell_files();
        outcome.ok_or_else(|| io::Error::other("the kernel's shard failed"))
    }
}
