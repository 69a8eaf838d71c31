//! Tools that compute on their parameters alone. STUB.

use llmspell_core::tools::Registry;

/// Registers the pure tools.
pub fn register(registry: &mut Registry) {
    let _ = registry;
}
