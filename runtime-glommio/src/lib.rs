//! # llmspell-runtime-glommio
//!
//! The thread-per-core llmspell server: one [glommio] executor per CPU, each pinned to its
//! CPU, around the same sans-IO `llmspell-core` as the portable tokio edition. Linux only:
//! on other targets [`Server::bind`] fails with an error that names `--runtime tokio`, and
//! so it does on a Linux where io_uring cannot be set up (an old kernel, the
//! `kernel.io_uring_disabled` sysctl, a seccomp filter, a memlock limit under 512 KiB).
//!
//! ```text
//!  shard 0 (CPU a): its connections ─ ZMTP ─┐                ┌─ engine thread (Lua)
//!                   Owner: the one Kernel ◀─┤ Up (messages)  │  EngineJob  (crossbeam)
//!                        │                  │                │  WorkerEvent ─▶ kernel inbox
//!                        └─ Down batches ─▶ shard 1..n: their connections ─ ZMTP
//! ```
//!
//! ## How the shards share one kernel
//!
//! A Jupyter kernel has one execution count, one shell queue, one Lua state and one replay
//! window, so the [`Kernel`](llmspell_core::kernel::Kernel) is single: it lives on the
//! first shard (the *kernel's shard*). Every shard accepts connections: TCP listeners are
//! bound once per shard on the same port with SO_REUSEPORT, so the Linux kernel spreads new
//! connections over the shards. A shard owns everything about its connections: the ZMTP
//! handshake and framing, heartbeat echo (answered where it arrives, never crossing
//! shards), ROUTER routing ids and XPUB subscriptions. What the kernel must see goes to it
//! as a batch of reports per turn (routing ids attached and detached, complete messages,
//! subscriptions); what the kernel sends comes back as one batch per shard: a reply to the
//! shard that holds the peer's routing id, an iopub message to every shard that has an
//! iopub connection, where the shard matches it against its own subscriptions. On the
//! kernel's shard, reports and replies are plain calls.
//!
//! Signature checks and JSON decoding stay in the kernel, not on the receiving shard:
//! the replay window must be one for the whole server (a message replayed to a second
//! shard would pass a per-shard window), and the order of busy, reply and idle on iopub is
//! the kernel's alone. Answering `kernel_info` or `tool_request` on the receiving shard
//! would need a second decoder and a second source of iopub status, for a saving of one
//! hand-off; the core stays unchanged instead.
//!
//! Hand-offs between threads take no locks: a crossbeam channel carries the items and a
//! doorbell wakes the one task that drains them (see `bus`). Glommio takes a wake from a
//! foreign thread through its own queue and writes the executor's eventfd only if it
//! sleeps, and a burst rings once. The engine and the tool workers run on threads of their
//! own, started by [`Server::run`] on the caller's CPUs (not pinned), so control and
//! heartbeat stay answerable while a cell runs.
//!
//! ## I/O
//!
//! Sockets are glommio's: readiness comes from io_uring poll requests and the data moves
//! with non-blocking `recv` and `send` first, so a busy connection costs one syscall per
//! read and per write. Reads land in one `BytesMut` per connection that the ZMTP decoder
//! splits into frames without copying; a turn reads at most 8 KiB of requests (the rest of
//! a larger message in whole chunks), so that a pipelined client gets its first replies
//! while the kernel works through the rest. Writes happen at the end of every turn: small
//! chunks (a message's frames and headers) are gathered into one `send`, chunks of
//! 16 KiB or more are sent from their own buffers. A connection whose socket is full waits
//! in its own task; nothing else waits for it, and beyond `sndhwm` messages queued for it
//! new ones are dropped (and counted). A task per shard closes connections silent for
//! longer than the idle timeout.
//!
//! ## Running it
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use llmspell_core::connection::ConnectionInfo;
//! use llmspell_runtime_glommio::{Server, ServerConfig, Shards};
//!
//! let info: ConnectionInfo = todo!("read or generate a connection file");
//! let mut config = ServerConfig::new(info);
//! config.shards = Shards::Cpus(vec![0, 1]);
//! let server = Server::bind(config)?; // fails with a clear error where io_uring is missing
//! let ports = server.connection_info().clone(); // write these to the connection file
//! let outcome = server.run()?; // until shutdown_request, SIGTERM or SIGHUP
//! # let _ = (ports, outcome); Ok(()) }
//! ```
//!
//! [glommio]: https://docs.rs/glommio

mod config;

pub use config::{RunOutcome, ServerConfig, Shards, SocketOptions};

#[cfg(target_os = "linux")]
mod bus;
#[cfg(target_os = "linux")]
mod io;
#[cfg(target_os = "linux")]
mod owner;
#[cfg(target_os = "linux")]
mod server;
#[cfg(target_os = "linux")]
mod shard;
#[cfg(target_os = "linux")]
mod shard_thread;
#[cfg(target_os = "linux")]
mod signals;
#[cfg(target_os = "linux")]
mod tasks;

#[cfg(target_os = "linux")]
pub use server::Server;

#[cfg(not(target_os = "linux"))]
mod stub;
#[cfg(not(target_os = "linux"))]
pub use stub::Server;
