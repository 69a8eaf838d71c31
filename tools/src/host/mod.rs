//! [`Host`]: the [`ToolHost`] that runs tools with the policy, the result cache, timeouts
//! and parallel batches.
//!
//! One call, [`ToolHost::invoke`], goes:
//! 1. the parameters' serialized size against [`HostConfig::max_params_bytes`] (TooLarge),
//!    counted without building the string;
//! 2. [`Registry::validate`]: UnknownTool with suggestions, or InvalidParams naming the
//!    parameter;
//! 3. for a cacheable tool, the cache (time read from the system clock here, as core
//!    takes it as an input);
//! 4. the run: a tool that does not block (`blocking: false`, pure computation) runs on
//!    the caller's thread with no timeout, which keeps the fast path free of thread hops
//!    and allocations; a blocking tool runs on the worker pool with its timeout (the
//!    `timeout_ms` given, else [`HostConfig::tool_timeouts_ms`], else
//!    [`HostConfig::default_timeout_ms`]). On timeout the caller gets Timeout at once and
//!    the call is abandoned (see the pool). A panic becomes Internal either way;
//! 5. a success of a cacheable tool is stored in the cache.

mod pool;
#[cfg(test)]
mod tests;

use llmspell_core::time::Timestamp;
use llmspell_core::tools::cache::{CacheConfig, ToolCache};
use llmspell_core::tools::{
    Policy, Registry, ToolError, ToolErrorKind, ToolHost, ToolHostRef, ToolResult,
};
use pool::Pool;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    default_timeout_ms: u64,
    tool_timeouts_ms: HashMap<String, u64>,
    max_params_bytes: usize,
    workers: usize,
    pool: Pool,
    /// Cacheable tools by name, with a moving average of their calls' cost in nanoseconds
    /// (`u64::MAX` until the first call). A calculator call costs less than the cache's own
    /// key and lock, so the cache is consulted only for tools whose average call takes
    /// [`CACHE_PAYS_AFTER`] or more; one call slowed by preemption does not tip it.
    worth_caching: HashMap<&'static str, AtomicU64>,
}

/// A call this long makes its tool worth caching.
pub const CACHE_PAYS_AFTER: std::time::Duration = std::time::Duration::from_micros(20);
/// No call of the tool has finished yet.
const UNSEEN: u64 = u64::MAX;

/// The next moving average of a tool's call cost: the first real sample replaces
/// [`UNSEEN`] after a warm-up call; then each sample weighs 1/8.
fn next_average(old: u64, sample_ns: u64) -> u64 {
    if old == UNSEEN {
        // The first call pays for warm-up (lazy schema, first allocations): not judged.
        return 0;
    }
    old - old / 8 + sample_ns / 8
}

impl Host {
    /// A host for `registry`. Starts no thread: workers start with the first blocking call.
    pub fn new(registry: Registry, config: HostConfig) -> Host {
        let workers = config.workers.max(1);
        let worth_caching = registry
            .list(None)
            .into_iter()
            .filter(|spec| spec.cacheable)
            .map(|spec| (spec.name, AtomicU64::new(UNSEEN)))
            .collect();
        Host {
            worth_caching,
            registry,
            policy: Arc::new(config.policy),
            cache: config
                .cache
                .enabled
                .then(|| Mutex::new(ToolCache::new(config.cache))),
            default_timeout_ms: config.default_timeout_ms,
            tool_timeouts_ms: config.tool_timeouts_ms,
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

    fn check_size(&self, params: &Value) -> Result<(), ToolError> {
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
        self.registry.validate(name, params)?;
        let Some(tool) = self.registry.get(name) else {
            // validate knows every name get knows; this is for a registry that disagrees.
            return Err(self.registry.info(name).err().unwrap_or_else(|| {
                ToolError::new(ToolErrorKind::UnknownTool, format!("no tool named {name}"))
            }));
        };
        let spec = tool.spec();
        let worth = self
            .worth_caching
            .get(name)
            .filter(|_| self.cache.is_some());
        let threshold = CACHE_PAYS_AFTER.as_nanos() as u64;
        let cached = worth.is_some_and(|w| {
            let avg = w.load(Ordering::Relaxed);
            avg != UNSEEN && avg >= threshold
        });
        if cached {
            if let Some(Some(hit)) = self.cache_op(|cache, now| cache.get(now, name, params)) {
                return Ok(hit);
            }
        }
        let started = worth.map(|_| std::time::Instant::now());
        let result = if spec.blocking {
            let timeout = self.timeout_for(name, timeout_ms);
            let policy = Arc::clone(&self.policy);
            self.pool
                .run(Arc::clone(tool), params.clone(), policy, timeout)
        } else {
            pool::run_caught(tool.as_ref(), params, &self.policy)
        };
        if let (Some(worth), Some(started), Ok(output)) = (worth, started, &result) {
            let sample = started.elapsed().as_nanos().min(u64::MAX as u128 / 2) as u64;
            // A lost race between two updates loses one sample: harmless for an average.
            let avg = next_average(worth.load(Ordering::Relaxed), sample);
            worth.store(avg, Ordering::Relaxed);
            if avg >= threshold {
                self.cache_op(|cache, now| cache.put(now, name, params, output));
            }
        }
        result
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
