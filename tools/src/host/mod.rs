//! [`Host`]: the [`ToolHost`] that runs tools with the policy, the result cache, timeouts
//! and parallel batches.
//!
//! One call, [`ToolHost::invoke`] (or [`ToolHost::invoke_id`], for a tool resolved once,
//! without the name lookup), goes:
//! 1. the parameters' serialized size against [`HostConfig::max_params_bytes`] (TooLarge):
//!    a quick upper bound first, and only when that passes the limit the exact count
//!    (without building the string);
//! 2. validation by [`Registry::validate_id`] (a quick check for simple schemas, see
//!    [`llmspell_core::tools::FastSchema`], then jsonschema for what that refuses):
//!    UnknownTool with suggestions, or InvalidParams naming the parameter;
//! 3. for a cacheable tool worth caching (below), the cache (time read from the system
//!    clock here, as core takes it as an input);
//! 4. the run: a tool that does not block (`blocking: false`, pure computation) runs on
//!    the caller's thread with no timeout, which keeps the fast path free of thread hops
//!    and allocations; a blocking tool runs on the worker pool with its timeout (the
//!    `timeout_ms` given, else [`HostConfig::tool_timeouts_ms`], else
//!    [`HostConfig::default_timeout_ms`], settled per tool when the host is built). On
//!    timeout the caller gets Timeout at once and the call is abandoned (see the pool). A
//!    panic becomes Internal either way;
//! 5. a success of a cacheable tool worth caching is stored in the cache.
//!
//! A cacheable tool is worth caching when its calls cost [`CACHE_PAYS_AFTER`] or more on
//! average: a calculator call costs less than the cache's own key and lock. The average
//! is a moving one (each sample weighs 1/8) of samples capped at [`SAMPLE_CAP`], so one
//! call slowed by preemption lifts a cheap tool's average by the threshold at most, and the
//! next samples bring it back. It is fed by
//! the first [`TIME_ALL_FIRST`] calls, by every call while the tool is worth caching, and
//! otherwise by one call in [`TIME_ONE_IN`], so that a cheap tool's calls do not all pay
//! two clock reads.

mod cost;
mod pool;
#[cfg(test)]
mod tests;

use cost::CostMeter;
pub use cost::{CACHE_PAYS_AFTER, SAMPLE_CAP, TIME_ALL_FIRST, TIME_ONE_IN};
use llmspell_core::time::Timestamp;
use llmspell_core::tools::cache::{CacheConfig, ToolCache};
use llmspell_core::tools::{
    Policy, Registry, ToolError, ToolErrorKind, ToolHost, ToolHostRef, ToolId, ToolResult,
};
use pool::Pool;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Abandoned tool calls allowed to run on before blocking calls are refused, by default.
pub const DEFAULT_MAX_ABANDONED: usize = 64;
/// Batches smaller than this, of tools that do not block, run on the caller's thread:
/// starting threads would cost more than the calls.
pub const INLINE_BATCH: usize = 16;

/// How a [`Host`] runs tools.
#[derive(Clone, Debug, PartialEq)]
pub struct HostConfig {
    /// What tools may touch.
    pub policy: Policy,
    /// The result cache for cacheable tools.
    pub cache: CacheConfig,
    /// Timeout of blocking tools with none of their own, in milliseconds (default 30,000).
    pub default_timeout_ms: u64,
    /// Timeouts by tool name, in milliseconds.
    pub tool_timeouts_ms: HashMap<String, u64>,
    /// Largest parameters object, serialized as JSON, in bytes (default 10 MiB).
    pub max_params_bytes: usize,
    /// Most worker threads for blocking tools, and threads of a batch (default: the
    /// available parallelism).
    pub workers: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            policy: Policy::default(),
            cache: CacheConfig::default(),
            default_timeout_ms: 30_000,
            tool_timeouts_ms: HashMap::new(),
            max_params_bytes: 10 << 20,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Runs the tools of a [`Registry`]; see the module docs for what one call goes through.
pub struct Host {
    registry: Registry,
    policy: Arc<Policy>,
    cache: Option<Mutex<ToolCache>>,
    tool_timeouts_ms: HashMap<String, u64>,
    default_timeout_ms: u64,
    max_params_bytes: usize,
    workers: usize,
    pool: Pool,
    /// Per tool, by [`ToolId::index`] (the registry never changes once the host owns it).
    tools: Vec<PerTool>,
}

/// What the host settles for each tool when it is built.
struct PerTool {
    /// The timeout of a blocking call without an explicit one.
    timeout: Duration,
    /// For a cacheable tool, with the cache on: what its calls cost.
    cost: Option<CostMeter>,
}

impl Host {
    /// A host for `registry`. Starts no thread: workers start with the first blocking call.
    pub fn new(registry: Registry, config: HostConfig) -> Host {
        let workers = config.workers.max(1);
        let cache_enabled = config.cache.enabled;
        let tools = registry
            .ids()
            .map(|id| {
                let cacheable = registry.get_id(id).is_some_and(|t| t.spec().cacheable);
                let ms = config
                    .tool_timeouts_ms
                    .get(id.name())
                    .copied()
                    .unwrap_or(config.default_timeout_ms);
                PerTool {
                    timeout: Duration::from_millis(ms),
                    cost: (cacheable && cache_enabled).then(CostMeter::new),
                }
            })
            .collect();
        Host {
            tools,
            registry,
            policy: Arc::new(config.policy),
            cache: cache_enabled.then(|| Mutex::new(ToolCache::new(config.cache))),
            tool_timeouts_ms: config.tool_timeouts_ms,
            default_timeout_ms: config.default_timeout_ms,
            max_params_bytes: config.max_params_bytes,
            workers,
            pool: Pool::new(workers, DEFAULT_MAX_ABANDONED),
        }
    }

    /// Sets how many abandoned calls may run on before blocking calls are refused.
    pub fn with_max_abandoned(mut self, max: usize) -> Host {
        self.pool.set_max_abandoned(max);
        self
    }

    /// This host behind a shared [`ToolHostRef`].
    pub fn into_ref(self) -> ToolHostRef {
        ToolHostRef(Arc::new(self))
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Abandoned calls whose tools are still running.
    pub fn abandoned(&self) -> usize {
        self.pool.abandoned()
    }

    /// The timeout a blocking call of `name` gets: `explicit`, else the tool's, else the
    /// default.
    pub fn timeout_for(&self, name: &str, explicit: Option<u64>) -> Duration {
        let ms = explicit
            .or_else(|| self.tool_timeouts_ms.get(name).copied())
            .unwrap_or(self.default_timeout_ms);
        Duration::from_millis(ms)
    }

    /// Validates and runs `id`, a tool of this host's registry: steps 2 to 5 of the
    /// module docs.
    fn run(&self, id: ToolId, params: &Value, timeout_ms: Option<u64>) -> ToolResult {
        let per = &self.tools[id.index()];
        let tool = self.registry.validate_id(id, params)?;
        let meter = per.cost.as_ref();
        let worth = meter.is_some_and(CostMeter::worth_caching);
        if worth {
            let name = id.name();
            if let Some(Some(hit)) = self.cache_op(|cache, now| cache.get(now, name, params)) {
                return Ok(hit);
            }
        }
        let timed = meter.filter(|m| m.time_this_call(worth));
        let started = timed.map(|_| std::time::Instant::now());
        let result = if tool.spec().blocking {
            let timeout = timeout_ms.map_or(per.timeout, Duration::from_millis);
            let policy = Arc::clone(&self.policy);
            self.pool
                .run(Arc::clone(tool), params.clone(), policy, timeout)
        } else {
            pool::run_caught(tool.as_ref(), params, &self.policy)
        };
        if let (Some(meter), Some(started)) = (timed, started) {
            meter.record(started.elapsed());
        }
        if let (Some(meter), Ok(output)) = (meter, &result) {
            if meter.worth_caching() {
                let name = id.name();
                self.cache_op(|cache, now| cache.put(now, name, params, output));
            }
        }
        result
    }

    /// TooLarge if `params`, serialized as JSON, would pass the limit: a quick upper bound
    /// first, and the exact count only when the bound passes the limit.
    fn check_size(&self, params: &Value) -> Result<(), ToolError> {
        if size_bound(params, self.max_params_bytes) <= self.max_params_bytes {
            return Ok(());
        }
        let mut counter = SizeCounter {
            bytes: 0,
            limit: self.max_params_bytes,
        };
        if serde_json::to_writer(&mut counter, params).is_err() {
            return Err(ToolError::new(
                ToolErrorKind::TooLarge,
                format!(
                    "the parameters are larger than {} bytes",
                    self.max_params_bytes
                ),
            ));
        }
        Ok(())
    }

    fn cache_op<T>(&self, op: impl FnOnce(&mut ToolCache, Timestamp) -> T) -> Option<T> {
        let cache = self.cache.as_ref()?;
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        // A cache left inconsistent by a panic inside it is still only a cache.
        let mut guard = cache.lock().unwrap_or_else(PoisonError::into_inner);
        Some(op(&mut guard, Timestamp::from_unix_micros(micros)))
    }

    /// Runs the calls from `next` on, one at a time, into their slots.
    fn drain(&self, calls: &[(String, Value)], next: &AtomicUsize, slots: &[OnceLock<ToolResult>]) {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some((name, params)) = calls.get(index) else {
                return;
            };
            // Each index is taken once, so each slot is set once.
            let _ = slots[index].set(self.invoke(name, params, None));
        }
    }
}

/// At least the length of `value` serialized as compact JSON, or some number past `limit`
/// (the walk stops there). Strings count 6 bytes a byte (`\u001f`), numbers 24 (the
/// longest `i64`, `u64` or shortest `f64` form is 23).
fn size_bound(value: &Value, limit: usize) -> usize {
    fn walk(value: &Value, total: &mut usize, limit: usize) {
        match value {
            Value::Null | Value::Bool(_) => *total += 5,
            Value::Number(_) => *total += 24,
            Value::String(s) => *total += 2 + 6 * s.len(),
            Value::Array(items) => {
                *total += 2 + items.len();
                for item in items {
                    if *total > limit {
                        return;
                    }
                    walk(item, total, limit);
                }
            }
            Value::Object(map) => {
                *total += 2 + map.len();
                for (key, item) in map {
                    if *total > limit {
                        return;
                    }
                    *total += 3 + 6 * key.len();
                    walk(item, total, limit);
                }
            }
        }
    }
    let mut total = 0;
    walk(value, &mut total, limit);
    total
}

/// Counts serialized bytes, failing past the limit so a huge value stops early.
struct SizeCounter {
    bytes: usize,
    limit: usize,
}

impl std::io::Write for SizeCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len();
        if self.bytes > self.limit {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ToolHost for Host {
    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn invoke(&self, name: &str, params: &Value, timeout_ms: Option<u64>) -> ToolResult {
        self.check_size(params)?;
        let id = self.registry.resolve(name)?;
        self.run(id, params, timeout_ms)
    }

    fn resolve(&self, name: &str) -> Result<ToolId, ToolError> {
        self.registry.resolve(name)
    }

    fn invoke_id(&self, id: ToolId, params: &Value, timeout_ms: Option<u64>) -> ToolResult {
        self.check_size(params)?;
        // An id from another registry names its tool; here it is looked up by name.
        let id = if self.registry.holds(id) {
            id
        } else {
            self.registry.resolve(id.name())?
        };
        self.run(id, params, timeout_ms)
    }

    fn batch(&self, calls: &[(String, Value)]) -> Vec<ToolResult> {
        let blocking = calls.iter().any(|(name, _)| {
            self.registry
                .get(name)
                .is_some_and(|tool| tool.spec().blocking)
        });
        let threads = self.workers.min(calls.len());
        if threads <= 1 || (!blocking && calls.len() < INLINE_BATCH) {
            return calls
                .iter()
                .map(|(name, params)| self.invoke(name, params, None))
                .collect();
        }
        let next = AtomicUsize::new(0);
        let slots: Vec<OnceLock<ToolResult>> = calls.iter().map(|_| OnceLock::new()).collect();
        std::thread::scope(|scope| {
            for _ in 1..threads {
                // If a thread cannot start, the others (this one at least) take its share.
                let _ = std::thread::Builder::new()
                    .spawn_scoped(scope, || self.drain(calls, &next, &slots));
            }
            self.drain(calls, &next, &slots);
        });
        slots
            .into_iter()
            .map(|slot| {
                slot.into_inner().unwrap_or_else(|| {
                    Err(ToolError::new(
                        ToolErrorKind::Internal,
                        "a batch call was lost",
                    ))
                })
            })
            .collect()
    }
}
