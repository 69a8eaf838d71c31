//! # llmspell-tools
//!
//! The built-in tools, each on a well-kept crate, and [`host::Host`], the
//! [`ToolHost`](llmspell_core::tools::ToolHost) that runs them: the policy (allowed paths,
//! allowlists), the result cache, per-tool timeouts on worker threads, and parallel batches.

pub mod host;
pub mod io;
pub mod pure;

use llmspell_core::tools::Registry;

/// A registry with every built-in tool.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    pure::register(&mut registry);
    io::register(&mut registry);
    registry
}
