//! # llmspell-runtime-tokio
//!
//! The portable llmspell server: tokio sockets and timers around `llmspell-core`.
//! STUB: the API the CLI programs against; to be implemented.

use llmspell_core::connection::ConnectionInfo;
use std::io;

/// Settings of a kernel server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen and the signing key; ports of 0 are chosen by the OS at bind time.
    pub connection: ConnectionInfo,
    /// Largest accepted message in bytes (default 100 MiB).
    pub max_message_size: u64,
}

/// How a server's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// A client sent shutdown_request.
    Shutdown {
        /// Whether the client asked for a restart.
        restart: bool,
    },
    /// SIGTERM (or SIGHUP) asked the process to stop.
    Terminated,
}

/// A bound kernel server, not yet running.
pub struct Server {
    info: ConnectionInfo,
}

impl Server {
    /// Binds the five channels. Ports of 0 are replaced by the ports the OS chose.
    pub fn bind(config: ServerConfig) -> io::Result<Server> {
        Ok(Server {
            info: config.connection,
        })
    }

    /// The connection info with the real ports, to write to a connection file.
    pub fn connection_info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Serves until a shutdown request or SIGTERM. SIGINT interrupts the running cell.
    pub fn run(self) -> io::Result<RunOutcome> {
        todo!()
    }
}
