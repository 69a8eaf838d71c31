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

#[cfg(test)]
mod schema_tests;

#[cfg(test)]
mod tests {
    use llmspell_core::tools::Registry;

    /// The built-ins register lazily; here every schema is compiled eagerly once.
    #[test]
    fn every_builtin_schema_compiles_and_there_are_at_least_twenty() {
        let mut eager = Registry::new();
        for tool in super::pure::tools().into_iter().chain(super::io::tools()) {
            let name = tool.spec().name;
            eager
                .register(tool)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(eager.len() >= 20, "{} tools", eager.len());
        assert_eq!(eager.len(), super::builtin_registry().len());
    }
}
