//! The in-process tool host of the CLI's embedded mode.
//!
//! STAND-IN: `llmspell_tools::host::{Host, HostConfig}` is being written in parallel. Until
//! it lands, [`HostConfig`] here has exactly its fields, and [`LocalHost`] is a small
//! [`ToolHost`] over the registry: the size limit, the policy and timeouts, no cache (a
//! one-shot command would never hit it). When the real host lands, replace this file's
//! [`HostConfig`] with a re-export and [`embedded_host`] with `Host::new(...)`; nothing else
//! in the CLI names [`LocalHost`].
//!
//! Pure tools run inline on the caller's thread, so `tool invoke calculator` starts no
//! thread; a tool that may block runs on a thread of its own and is abandoned, with a
//! timeout error, when its time is up.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use llmspell_core::tools::cache::CacheConfig;
use llmspell_core::tools::{
    Policy, Registry, ToolContext, ToolError, ToolErrorKind, ToolHost, ToolResult,
};
use serde_json::Value;

/// The settings of a tool host (the fields of `llmspell_tools::host::HostConfig`).
#[derive(Clone, Debug, PartialEq)]
pub struct HostConfig {
    /// What tools may touch.
    pub policy: Policy,
    /// The result cache.
    pub cache: CacheConfig,
    /// Timeout of a tool without one of its own, in ms.
    pub default_timeout_ms: u64,
    /// Per-tool timeouts in ms.
    pub tool_timeouts_ms: HashMap<String, u64>,
    /// Largest parameters object (serialized), in bytes.
    pub max_params_bytes: usize,
    /// Threads for blocking tools and batches.
    pub workers: usize,
}

/// The host for the built-in tools with `config`.
pub fn embedded_host(config: HostConfig) -> Arc<dyn ToolHost> {
    Arc::new(LocalHost::new(llmspell_tools::builtin_registry(), config))
}

/// A [`ToolHost`] over a registry: see the module docs.
pub struct LocalHost {
    registry: Arc<Registry>,
    config: Arc<HostConfig>,
}

impl LocalHost {
    /// A host for `registry`.
    pub fn new(registry: Registry, config: HostConfig) -> LocalHost {
        LocalHost {
            registry: Arc::new(registry),
            config: Arc::new(config),
        }
    }

    /// The timeout of one call: the caller's, else the tool's, else the default.
    fn timeout_ms(&self, name: &str, requested: Option<u64>) -> u64 {
        requested
            .or_else(|| self.config.tool_timeouts_ms.get(name).copied())
            .unwrap_or(self.config.default_timeout_ms)
    }
}

/// The size of `value` serialized as compact JSON, counted without building the text.
pub fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// The error for parameters of `size` bytes over `limit`.
pub fn too_large(size: usize, limit: usize) -> ToolError {
    ToolError::new(
        ToolErrorKind::TooLarge,
        format!("parameters are {size} bytes, over the limit of {limit} bytes"),
    )
}

impl ToolHost for LocalHost {
    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn invoke(&self, name: &str, params: &Value, timeout_ms: Option<u64>) -> ToolResult {
        let size = json_size(params);
        if size > self.config.max_params_bytes {
            return Err(too_large(size, self.config.max_params_bytes));
        }
        let blocking = self.registry.info(name)?.blocking;
        if !blocking {
            let ctx = ToolContext {
                policy: &self.config.policy,
            };
            return self.registry.invoke(name, params, &ctx);
        }
        let timeout = Duration::from_millis(self.timeout_ms(name, timeout_ms));
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (registry, config) = (Arc::clone(&self.registry), Arc::clone(&self.config));
        let (tool, params) = (name.to_string(), params.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("tool-{name}"))
            .spawn(move || {
                let ctx = ToolContext {
                    policy: &config.policy,
                };
                // The receiver may have given up (timeout): nothing to tell then.
                let _ = tx.send(registry.invoke(&tool, &params, &ctx));
            });
        if let Err(e) = spawned {
            return Err(ToolError::new(
                ToolErrorKind::Internal,
                format!("cannot start a thread for {name}: {e}"),
            ));
        }
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(ToolError::new(
                ToolErrorKind::Timeout,
                format!(
                    "{name} did not finish within {} ms and was abandoned",
                    timeout.as_millis()
                ),
            )),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(ToolError::new(
                ToolErrorKind::Internal,
                format!("{name} ended without a result"),
            )),
        }
    }

    fn batch(&self, calls: &[(String, Value)]) -> Vec<ToolResult> {
        let workers = self.config.workers.clamp(1, calls.len().max(1));
        let chunk = calls.len().div_ceil(workers).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = calls
                .chunks(chunk)
                .map(|part| {
                    let handle = scope.spawn(move || {
                        part.iter()
                            .map(|(name, params)| self.invoke(name, params, None))
                            .collect::<Vec<_>>()
                    });
                    (part.len(), handle)
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|(len, h)| {
                    // Registry::invoke catches tool panics; this covers a bug of our own.
                    h.join().unwrap_or_else(|_| {
                        let e = ToolError::new(ToolErrorKind::Internal, "a batch worker panicked");
                        vec![Err(e); len]
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_size_counts_compact_bytes() {
        let v = serde_json::json!({"input": "2+2", "n": [1, 2]});
        assert_eq!(json_size(&v), v.to_string().len());
        assert_eq!(json_size(&Value::Null), 4);
    }

    #[test]
    fn too_large_names_both_sizes() {
        let e = too_large(2000, 1000);
        assert_eq!(e.kind, ToolErrorKind::TooLarge);
        assert!(e.message.contains("2000") && e.message.contains("1000"));
    }
}
