//! The result cache for cacheable tools: bounded by bytes, entries expire after a TTL.
//! Time is an input. STUB: signatures to program against.

use super::ToolOutput;
use crate::time::Timestamp;
use serde_json::Value;

/// Cache settings (`[tools] cache_enabled, cache_size_mb, cache_ttl_seconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether results are cached at all.
    pub enabled: bool,
    /// Most bytes of cached results (approximate: the sizes of text and data).
    pub max_bytes: usize,
    /// How long an entry stays valid, in seconds.
    pub ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            max_bytes: 100 << 20,
            ttl_secs: 300,
        }
    }
}

/// Results of cacheable tools by (tool, canonical parameters). Least recently used goes first.
pub struct ToolCache {
    _config: CacheConfig,
}

impl ToolCache {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        ToolCache { _config: config }
    }

    /// A fresh cached result, if any.
    pub fn get(&mut self, now: Timestamp, tool: &str, params: &Value) -> Option<ToolOutput> {
        let _ = (now, tool, params);
        todo!()
    }

    /// Stores a result.
    pub fn put(&mut self, now: Timestamp, tool: &str, params: &Value, output: &ToolOutput) {
        let _ = (now, tool, params, output);
        todo!()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
