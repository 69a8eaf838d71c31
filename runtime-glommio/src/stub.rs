//! The glommio edition where there is no io_uring: binding fails with a clear error.

use crate::config::{unavailable, RunOutcome, ServerConfig};
use llmspell_core::connection::ConnectionInfo;
use std::io;

/// A kernel server that cannot be bound on this platform.
pub struct Server {
    info: ConnectionInfo,
}

impl Server {
    /// Always fails here: the glommio edition needs Linux's io_uring.
    pub fn bind(config: ServerConfig) -> io::Result<Server> {
        let _ = config;
        Err(unavailable(format!(
            "io_uring exists only on Linux, not on {}",
            std::env::consts::OS
        )))
    }

    /// The connection info (never reached: `bind` fails).
    pub fn connection_info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// The CPUs of the shards (never reached: `bind` fails).
    pub fn cpus(&self) -> &[usize] {
        &[]
    }

    /// Never reached: `bind` fails.
    pub fn run(self) -> io::Result<RunOutcome> {
        Err(unavailable("io_uring exists only on Linux"))
    }
}
