//! Tools that touch files, processes, the system or the network, within the [`Policy`].
//!
//! | tool | category | security | blocking |
//! | --- | --- | --- | --- |
//! | `file-operations` | filesystem | restricted | yes |
//! | `file-search` | filesystem | restricted | yes |
//! | `archive-handler` | filesystem | restricted | yes |
//! | `environment-reader` | system | restricted | no |
//! | `process-executor` | system | privileged | yes |
//! | `system-monitor` | system | restricted | yes |
//! | `http-requester` | network | privileged | yes |
//!
//! Every path a tool is given goes through [`confine::resolve`] before anything is touched:
//! it must lie under one of [`Policy::allowed_paths`] once symlinks and `..` are resolved.
//! None of these tools is cacheable: what they read can change between calls.
//!
//! [`Policy`]: llmspell_core::tools::Policy
//! [`Policy::allowed_paths`]: llmspell_core::tools::Policy::allowed_paths

mod archive;
mod archive_write;
pub mod confine;
mod env;
mod file_ops;
mod file_search;
mod http;
mod params;
mod process;
mod system;

pub use archive::ArchiveHandler;
pub use env::EnvironmentReader;
pub use file_ops::FileOperations;
pub use file_search::FileSearch;
pub use http::HttpRequester;
pub use process::ProcessExecutor;
pub use system::SystemMonitor;

use llmspell_core::tools::{Registry, Tool};
use std::sync::Arc;

/// Every I/O tool, freshly built.
pub fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(FileOperations::new()),
        Arc::new(FileSearch::new()),
        Arc::new(ArchiveHandler::new()),
        Arc::new(EnvironmentReader::new()),
        Arc::new(ProcessExecutor::new()),
        Arc::new(SystemMonitor::new()),
        Arc::new(HttpRequester::new()),
    ]
}

/// Registers the I/O tools.
///
/// # Panics
/// If one of them cannot be registered (a name taken twice, a schema that does not compile):
/// a bug in this crate, which the tests catch.
pub fn register(registry: &mut Registry) {
    for tool in tools() {
        let name = tool.spec().name;
        if let Err(e) = registry.register_lazy(tool) {
            panic!("built-in tool {name} does not register: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmspell_core::tools::SecurityLevel;

    #[test]
    fn specs_are_kebab_case_uncached_object_schemas() {
        let tools = tools();
        assert_eq!(tools.len(), 7);
        for tool in &tools {
            let spec = tool.spec();
            let kebab = spec
                .name
                .split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()));
            assert!(kebab, "{}", spec.name);
            assert!(!spec.cacheable, "{}: reads state that changes", spec.name);
            assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
            assert!(spec.parameters["properties"].is_object(), "{}", spec.name);
            let privileged = matches!(spec.name, "process-executor" | "http-requester");
            assert_eq!(
                spec.security == SecurityLevel::Privileged,
                privileged,
                "{}",
                spec.name
            );
            assert_eq!(
                spec.blocking,
                spec.name != "environment-reader",
                "{}",
                spec.name
            );
        }
    }
}
