//! The in-process tool host of the CLI's embedded mode and of the kernel.

use std::sync::Arc;

use llmspell_core::tools::ToolHost;
use llmspell_tools::host::Host;
pub use llmspell_tools::host::HostConfig;

/// The host for the built-in tools with `config`. It starts no thread until a tool that may
/// block is called, so `tool invoke calculator` stays a single-threaded process.
pub fn embedded_host(config: HostConfig) -> Arc<dyn ToolHost> {
    Arc::new(Host::new(llmspell_tools::builtin_registry(), config))
}
