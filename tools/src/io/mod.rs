//! Tools that touch files, processes, the system or the network, within the policy. STUB.

use llmspell_core::tools::Registry;

/// Registers the I/O tools.
pub fn register(registry: &mut Registry) {
    let _ = registry;
}
