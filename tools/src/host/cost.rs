//! What a cacheable tool's calls cost: the moving average that decides whether the cache
//! pays for it (see the host's module docs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A call this long makes its tool worth caching.
pub const CACHE_PAYS_AFTER: Duration = Duration::from_micros(20);
/// Every one of a cacheable tool's first calls is timed ...
pub const TIME_ALL_FIRST: u64 = 16;
/// ... then one call in this many (a power of two), unless the tool is worth caching.
pub const TIME_ONE_IN: u64 = 16;
/// Samples of a call's cost count at most this much: one sample this long makes a tool
/// worth caching, which is as far as a single slow call can go.
pub const SAMPLE_CAP: Duration = Duration::from_micros(8 * 20);
/// No call of the tool has been timed yet.
const UNSEEN: u64 = u64::MAX;

/// A moving average of a cacheable tool's call cost, in nanoseconds.
pub(super) struct CostMeter {
    /// The average (`UNSEEN` until the first timed call).
    average_ns: AtomicU64,
    /// Calls so far, to pick which are timed. Races lose counts, which is harmless.
    calls: AtomicU64,
}

impl CostMeter {
    pub(super) fn new() -> Self {
        CostMeter {
            average_ns: AtomicU64::new(UNSEEN),
            calls: AtomicU64::new(0),
        }
    }

    /// Whether the tool's calls cost enough for the cache to pay.
    pub(super) fn worth_caching(&self) -> bool {
        let average = self.average_ns.load(Ordering::Relaxed);
        average != UNSEEN && average >= CACHE_PAYS_AFTER.as_nanos() as u64
    }

    /// Whether to time this call, given whether the tool is now worth caching: counts it,
    /// without a locked instruction.
    pub(super) fn time_this_call(&self, worth_caching: bool) -> bool {
        let n = self.calls.load(Ordering::Relaxed);
        self.calls.store(n.wrapping_add(1), Ordering::Relaxed);
        worth_caching || n < TIME_ALL_FIRST || n & (TIME_ONE_IN - 1) == 0
    }

    /// Adds a timed call to the average.
    pub(super) fn record(&self, elapsed: Duration) {
        let sample = elapsed.min(SAMPLE_CAP).as_nanos() as u64;
        // A lost race between two updates loses one sample: harmless for an average.
        let average = next_average(self.average_ns.load(Ordering::Relaxed), sample);
        self.average_ns.store(average, Ordering::Relaxed);
    }
}

/// The next moving average of a tool's call cost: the first real sample replaces
/// [`UNSEEN`] after a warm-up call; then each sample weighs 1/8.
fn next_average(old: u64, sample_ns: u64) -> u64 {
    if old == UNSEEN {
        // The first call pays for warm-up (lazy schema, first allocations): not judged.
        return 0;
    }
    old - old / 8 + sample_ns / 8
}
