//! # llmspell-core
//!
//! The sans-IO heart of llmspell. This crate does no I/O: it opens no sockets, starts no
//! threads, reads no clock and draws no random numbers. Bytes and events go in; bytes and
//! actions come out. Time, message ids and keys are inputs, so every state machine here is
//! deterministic and runs faster than real time in tests.
//!
//! The modules, in the order a request travels through them:
//!
//! - [`zmtp`]: ZMTP 3.1 framing over a byte stream, and the socket patterns a kernel
//!   needs (ROUTER, XPUB, REP; DEALER, SUB, REQ on the client side).
//! - [`wire`]: Jupyter multipart messages: identities, `<IDS|MSG>`, HMAC-SHA256
//!   signatures verified in constant time before any JSON is parsed, a replay window.
//! - [`kernel`]: the Jupyter kernel state machine: requests in, replies, iopub messages
//!   and engine commands out.
//! - [`engine`]: the Lua 5.4 engine (mlua). It is synchronous: whoever drives the core
//!   runs it, normally on a thread of its own, and feeds its events back to [`kernel`].
//! - [`embedded`]: the kernel and the engine driven in-process, with no sockets, as the
//!   CLI's `exec` and `run` use them.
//!
//! ## Driving the core
//!
//! A runtime (see `llmspell-runtime-tokio`) does, in a loop:
//!
//! 1. Read bytes from a socket into a buffer and call [`zmtp::Connection::handle_input`].
//! 2. Drain [`zmtp::Connection::poll_event`]: a complete multipart message goes to
//!    [`kernel::Kernel::handle_message`] together with the channel it arrived on and the
//!    current time.
//! 3. Drain [`kernel::Kernel::poll_action`]: send messages (route them to the connection
//!    named by the identity frame, or fan iopub out to subscribers), hand
//!    [`engine::EngineRequest`]s to the engine thread, and act on interrupt and shutdown.
//! 4. Feed every report of the engine worker ([`kernel::WorkerEvent`], carrying the
//!    [`engine::EngineEvent`]s) back through [`kernel::Kernel::handle_worker_event`] and
//!    drain the actions again.
//! 5. Drain [`zmtp::Connection::poll_transmit`] and write the bytes to the socket.
//!
//! ## Panics
//!
//! Nothing that arrives from a peer panics. Malformed input is an error value, typed by who
//! is at fault. An `unwrap` in this crate carries a comment that says why it cannot fail.

pub mod connection;
pub mod dap;
pub mod embedded;
pub mod engine;
pub mod hub;
pub mod kernel;
pub mod metrics;
pub mod time;
pub mod tools;
pub mod wire;
pub mod zmtp;
