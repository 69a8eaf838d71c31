//! The kernel and the engine driven in-process, with no sockets: `llmspell exec` and
//! `llmspell run`. STUB: to be implemented.

use crate::engine::{EngineConfig, LuaError, MimeBundle, StreamName};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One output of a cell, as the embedded kernel hands it to the caller.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Text on stdout or stderr.
    Stream(StreamName, String),
    /// An execute result or display: the MIME bundle.
    Data(MimeBundle),
    /// An error.
    Error(LuaError),
}

/// How an embedded run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Finished normally.
    Ok,
    /// Raised an error (already passed to the output sink).
    Error,
    /// The script called `os.exit(code)`.
    Exit(i32),
}

/// A kernel with its engine on the caller's thread.
pub struct EmbeddedKernel {
    interrupt: Arc<AtomicBool>,
}

impl EmbeddedKernel {
    /// A new embedded kernel.
    pub fn new(config: EngineConfig) -> Result<Self, String> {
        let _ = config;
        Ok(EmbeddedKernel {
            interrupt: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The flag that interrupts the running code when set (for a SIGINT handler).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// Runs `code` under `chunk_name`, passing every output to `out` as it happens.
    pub fn execute(&mut self, code: &str, chunk_name: &str, out: &mut dyn FnMut(Output)) -> Status {
        let _ = (code, chunk_name, out);
        todo!()
    }
}
