//! # llmspell-runtime-tokio
//!
//! The portable llmspell server: tokio sockets and signals around `llmspell-core`'s
//! [`Hub`](llmspell_core::hub::Hub). One thread runs every socket on a current-thread
//! runtime; the Lua engine runs on a thread of its own, so control and heartbeat are
//! answered while a cell runs.
//!
//! ```text
//!   listeners ──accept──▶ conn tasks ──bytes──▶ Hub (ZMTP, routing, Kernel)
//!                                               │  ▲
//!                              EngineJob (crossbeam) │ WorkerEvent (tokio mpsc)
//!                                               ▼  │
//!                                         engine thread (Lua)
//! ```
//!
//! Writes happen where the bytes are produced: after every hub call the runtime writes
//! each dirty connection's bytes with a non-blocking write, and only a connection whose
//! socket buffer is full waits for its own task to finish the write.

mod io;
mod server;

pub use server::{RunOutcome, Server, ServerConfig};
