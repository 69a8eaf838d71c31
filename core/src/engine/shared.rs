//! State shared between the engine and the Rust callbacks it installs in Lua: the request
//! being served, the stream buffer, the queue of events on their way to the sink, and the
//! per-cell interrupt and exit flags read by the instruction-count hook.
//!
//! Lua callbacks must be `'static`, but the sink passed to [`super::Engine::handle`] lives
//! only for one call. So callbacks push events into [`Shared::queue`] and then call
//! [`Shared::deliver`], which moves the queued events into the sink that
//! [`Shared::serve_with`] lends for the duration of the request. (An `mlua` scope with a
//! scoped Lua function did the same, at the cost of a Lua closure and a userdata made and
//! destroyed for every request.)

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::Receiver;
use mlua::VmState;

use super::errors::{ExitRequest, KeyboardInterrupt};
use super::{EngineEvent, InputReply, StreamName};

/// Buffered stream text is flushed once it reaches this many bytes.
pub(crate) const STREAM_FLUSH_BYTES: usize = 64 * 1024;

/// The hook runs every this many VM instructions.
pub(crate) const HOOK_INSTRUCTIONS: u32 = 10_000;

/// Buffered stream text is also flushed after this many hook ticks (about 2.5 million
/// instructions), so that a long-running cell shows its progress without a clock.
const FLUSH_TICKS: u32 = 256;

/// Stream text not yet turned into an event.
#[derive(Default)]
struct Pending {
    /// The stream the bytes belong to.
    name: Option<StreamName>,
    /// Raw bytes (Lua strings are bytes); converted to UTF-8, lossily, when flushed.
    bytes: Vec<u8>,
}

/// The state shared by the engine and its Lua callbacks (one per engine, behind an `Rc`).
pub(crate) struct Shared {
    /// Id of the request being served, stamped on every event.
    pub id: Cell<u64>,
    /// Whether `io.read` may ask the client for input during this request.
    pub allow_stdin: Cell<bool>,
    /// Kernel mode (`os.exit` raises) or script mode (`os.exit` ends the script).
    pub kernel_mode: bool,
    /// Bytes typed by the user and not yet consumed by `io.read`.
    pub stdin_buf: RefCell<Vec<u8>>,
    /// Answers to input requests.
    pub input: Receiver<InputReply>,
    /// Set from any thread to interrupt the running cell.
    pub interrupt: Arc<AtomicBool>,
    /// An interrupt was raised in this cell: the hook raises it again at every tick until the
    /// cell ends, so that a `pcall` in a loop cannot swallow it.
    pub interrupting: Cell<bool>,
    /// `os.exit(code)` was called in script mode: like `interrupting`, raised again at every
    /// tick, and the cell ends with `ExecuteOutcome::Exit(code)` however it ends.
    pub exit_code: Cell<Option<i32>>,
    /// Hook ticks since the stream buffer was last flushed.
    ticks: Cell<u32>,
    /// Stream text not yet queued.
    pending: RefCell<Pending>,
    /// Events waiting for the sink.
    queue: RefCell<VecDeque<EngineEvent>>,
    /// The sink of the request being served, lent by [`Shared::serve_with`] for the
    /// duration of [`super::Engine::handle`] and `None` otherwise (and while it is called).
    sink: Cell<Option<SinkPtr>>,
}

/// The sink of [`super::Engine::handle`] with its lifetime erased; only dereferenced while
/// [`Shared::serve_with`], which holds the borrow it came from, runs.
type SinkPtr = *mut (dyn FnMut(EngineEvent) + 'static);

/// Takes the lent sink back when [`Shared::serve_with`] ends, unwinding included.
struct SinkLoan<'a>(&'a Cell<Option<SinkPtr>>);

impl Drop for SinkLoan<'_> {
    fn drop(&mut self) {
        self.0.set(None);
    }
}

impl Shared {
    /// Creates the shared state.
    pub fn new(
        kernel_mode: bool,
        input: Receiver<InputReply>,
        interrupt: Arc<AtomicBool>,
    ) -> Shared {
        Shared {
            id: Cell::new(0),
            allow_stdin: Cell::new(false),
            kernel_mode,
            stdin_buf: RefCell::new(Vec::new()),
            input,
            interrupt,
            interrupting: Cell::new(false),
            exit_code: Cell::new(None),
            ticks: Cell::new(0),
            pending: RefCell::new(Pending::default()),
            queue: RefCell::new(VecDeque::new()),
            sink: Cell::new(None),
        }
    }

    /// Resets the per-cell flags before a cell or a user expression runs.
    pub fn reset_cell_flags(&self) {
        self.interrupting.set(false);
        self.exit_code.set(None);
        self.ticks.set(0);
    }

    /// Appends text to a stream, coalescing it with the previous write to the same stream.
    pub fn write(&self, name: StreamName, bytes: &[u8]) -> mlua::Result<()> {
        if let Some(code) = self.exit_code.get() {
            // The script has exited (a pcall caught the exit): nothing more is written.
            return Err(mlua::Error::external(ExitRequest(code)));
        }
        let full = {
            let mut pending = self.pending.borrow_mut();
            if pending.name != Some(name) && !pending.bytes.is_empty() {
                self.stage(&mut pending, false);
            }
            pending.name = Some(name);
            pending.bytes.extend_from_slice(bytes);
            if pending.bytes.len() >= STREAM_FLUSH_BYTES {
                self.stage(&mut pending, true);
                true
            } else {
                false
            }
        };
        if full {
            self.deliver();
        }
        Ok(())
    }

    /// Queues an event after any buffered stream text, and delivers the queue.
    pub fn emit(&self, event: EngineEvent) {
        self.stage(&mut self.pending.borrow_mut(), false);
        self.queue.borrow_mut().push_back(event);
        self.deliver();
    }

    /// Turns buffered stream text into an event and delivers the queue.
    pub fn flush(&self) {
        self.stage(&mut self.pending.borrow_mut(), false);
        self.deliver();
    }

    /// Moves buffered stream text into the queue; the engine then takes the queued events
    /// with [`Shared::pop_event`] at the end of a request, outside of Lua.
    pub fn stage_pending(&self) {
        self.stage(&mut self.pending.borrow_mut(), false);
    }

    /// Pops one queued event.
    pub fn pop_event(&self) -> Option<EngineEvent> {
        self.queue.borrow_mut().pop_front()
    }

    /// Runs `f` with `sink` lent to [`Shared::deliver`]: events queued meanwhile by the
    /// callbacks reach it as they are delivered. The loan ends with `f`, unwinding included.
    pub fn serve_with<R>(&self, sink: &mut dyn FnMut(EngineEvent), f: impl FnOnce() -> R) -> R {
        let ptr: *mut (dyn FnMut(EngineEvent) + '_) = sink;
        // SAFETY: only the lifetime is erased. The pointer lives in `self.sink` only until
        // `_loan` drops at the end of this call, while `sink` is still mutably borrowed by
        // it, and `deliver` takes it out while calling it, so it is never used twice at once.
        let ptr: SinkPtr = unsafe { std::mem::transmute(ptr) };
        let previous = self.sink.replace(Some(ptr));
        debug_assert!(previous.is_none(), "serve_with does not nest");
        let _loan = SinkLoan(&self.sink);
        f()
    }

    /// Whether a request is being served (a sink is lent), so that events reach the client.
    pub fn serving(&self) -> bool {
        self.sink.get().is_some()
    }

    /// Moves the pending stream text into the queue. With `keep_partial`, an incomplete
    /// UTF-8 sequence at the end stays in the buffer for the next write to complete.
    fn stage(&self, pending: &mut Pending, keep_partial: bool) {
        let Some(name) = pending.name else { return };
        if pending.bytes.is_empty() {
            return;
        }
        let cut = if keep_partial {
            utf8_cut(&pending.bytes)
        } else {
            pending.bytes.len()
        };
        let rest = pending.bytes.split_off(cut);
        let bytes = std::mem::replace(&mut pending.bytes, rest);
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.queue.borrow_mut().push_back(EngineEvent::Stream {
            id: self.id.get(),
            name,
            text,
        });
    }

    /// Hands queued events to the sink, if a request is being served. Events stay queued
    /// otherwise (the engine drains them at the end of the request).
    pub fn deliver(&self) {
        if self.queue.borrow().is_empty() {
            return;
        }
        // Taken out while it runs: a sink that somehow caused another delivery would find
        // none, and its events would wait in the queue.
        let Some(sink) = self.sink.take() else { return };
        loop {
            let event = self.queue.borrow_mut().pop_front();
            let Some(event) = event else { break };
            // SAFETY: set by `serve_with`, which is still running (it clears the pointer
            // before it returns), so the sink it borrows is alive and not in use elsewhere.
            unsafe { (*sink)(event) };
        }
        self.sink.set(Some(sink));
    }

    /// The instruction-count hook: raises a pending exit or interrupt, and flushes buffered
    /// output from time to time.
    pub fn on_tick(&self) -> mlua::Result<VmState> {
        self.check_pending()?;
        let ticks = self.ticks.get() + 1;
        if ticks >= FLUSH_TICKS {
            self.ticks.set(0);
            self.flush();
        } else {
            self.ticks.set(ticks);
        }
        Ok(VmState::Continue)
    }
}

impl Shared {
    /// Raises a pending exit or interrupt: the part of [`Shared::on_tick`] that the
    /// debugger's other hook events need too.
    pub fn check_pending(&self) -> mlua::Result<()> {
        if let Some(code) = self.exit_code.get() {
            return Err(mlua::Error::external(ExitRequest(code)));
        }
        let interrupt =
            self.interrupt.load(Ordering::Relaxed) && self.interrupt.swap(false, Ordering::SeqCst);
        if interrupt || self.interrupting.get() {
            self.interrupting.set(true);
            return Err(mlua::Error::external(KeyboardInterrupt));
        }
        Ok(())
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence
/// (invalid bytes are left to the lossy conversion).
fn utf8_cut(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => {
            // Invalid bytes somewhere: only look at the tail, at most 3 bytes of a sequence.
            let start = bytes.len().saturating_sub(3);
            for i in (start..bytes.len()).rev() {
                let b = bytes[i];
                if b & 0xC0 != 0x80 {
                    let need = if b >= 0xF0 {
                        4
                    } else if b >= 0xE0 {
                        3
                    } else if b >= 0xC0 {
                        2
                    } else {
                        1
                    };
                    return if bytes.len() - i < need {
                        i
                    } else {
                        bytes.len()
                    };
                }
            }
            bytes.len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::utf8_cut;

    #[test]
    fn engine_utf8_cut_keeps_incomplete_tail() {
        assert_eq!(utf8_cut(b"abc"), 3);
        let e = "é".as_bytes();
        assert_eq!(utf8_cut(&[b'a', e[0]]), 1);
        assert_eq!(utf8_cut(&[0xFF, b'a', e[0]]), 2);
        assert_eq!(utf8_cut(&[0xFF, b'a', e[0], e[1]]), 4);
    }
}
