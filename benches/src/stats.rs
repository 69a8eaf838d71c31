//! Latency and throughput summaries: nearest-rank percentiles over raw samples.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A latency distribution, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many samples were taken.
    pub count: usize,
    /// The arithmetic mean.
    pub mean_us: f64,
    /// The smallest sample.
    pub min_us: f64,
    /// The median (nearest rank).
    pub p50_us: f64,
    /// The 99th percentile (nearest rank).
    pub p99_us: f64,
    /// The 99.9th percentile (nearest rank); equal to the maximum below 1,000 samples.
    pub p999_us: f64,
    /// The largest sample.
    pub max_us: f64,
    /// The percentile curve: the latency at each of [`CURVE_PERCENTILES`] (nearest rank),
    /// for plots of the distribution. Absent from files written before it existed.
    #[serde(default)]
    pub curve: Vec<Percentile>,
}

/// One point of a percentile curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentile {
    /// The percentile, 0 < p <= 100.
    pub p: f64,
    /// The latency at it, in microseconds.
    pub us: f64,
}

/// The percentiles of [`Summary::curve`]: dense towards the tail, so that a plot on a
/// log(1 / (1 - p)) axis gets evenly spread points from p50 to p99.99.
pub const CURVE_PERCENTILES: [f64; 24] = [
    50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 92.5, 95.0, 96.0, 97.0, 98.0, 99.0, 99.25, 99.5,
    99.75, 99.9, 99.925, 99.95, 99.975, 99.99, 99.995, 99.999, 100.0,
];

impl Summary {
    /// Summarizes samples given in nanoseconds; `None` when there are none.
    pub fn from_nanos(samples: &[u64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let sum: u128 = sorted.iter().map(|&s| u128::from(s)).sum();
        let us = |ns: u64| ns as f64 / 1_000.0;
        Some(Summary {
            count: sorted.len(),
            mean_us: sum as f64 / sorted.len() as f64 / 1_000.0,
            min_us: us(sorted[0]),
            p50_us: us(percentile(&sorted, 50.0)),
            p99_us: us(percentile(&sorted, 99.0)),
            p999_us: us(percentile(&sorted, 99.9)),
            max_us: us(sorted[sorted.len() - 1]),
            curve: CURVE_PERCENTILES
                .iter()
                .map(|&p| Percentile {
                    p,
                    us: us(percentile(&sorted, p)),
                })
                .collect(),
        })
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted, non-empty samples: the
/// smallest sample such that at least p% of the samples are at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    debug_assert!(!sorted.is_empty());
    let n = sorted.len();
    // Round before ceil so that 99.9% of 1000 is rank 999, not 1000 through float error.
    let exact = (p / 100.0 * n as f64 * 1e6).round() / 1e6;
    let rank = (exact.ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

/// What a pipelined run achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Requests asked for.
    pub requested: usize,
    /// Requests sent.
    pub sent: usize,
    /// Requests completed (for executes: reply and idle both seen).
    pub completed: usize,
    /// Requests kept in flight.
    pub depth: usize,
    /// Seconds from the first send to the last completion.
    pub elapsed_s: f64,
    /// Completions per second.
    pub per_sec: f64,
    /// The time budget ran out before all requests were sent.
    pub budget_hit: bool,
    /// Some requests never completed within the timeout.
    pub timed_out: bool,
    /// CPU time of the server process (every thread, from /proc) per completed request,
    /// in microseconds; None where it could not be read.
    pub server_cpu_us: Option<f64>,
    /// CPU time of the bench process (the client) per completed request, in microseconds.
    pub client_cpu_us: Option<f64>,
}

impl Throughput {
    /// Sets the CPU per completed request from CPU nanoseconds spent by the server and by
    /// the client during the run (None where unknown).
    pub fn with_cpu(mut self, server_ns: Option<u64>, client_ns: Option<u64>) -> Throughput {
        let per =
            |ns: u64| (self.completed > 0).then(|| ns as f64 / 1000.0 / self.completed as f64);
        self.server_cpu_us = server_ns.and_then(per);
        self.client_cpu_us = client_ns.and_then(per);
        self
    }

    /// Builds the record and computes the rate.
    pub fn new(
        requested: usize,
        sent: usize,
        completed: usize,
        depth: usize,
        elapsed: Duration,
    ) -> Throughput {
        let elapsed_s = elapsed.as_secs_f64();
        Throughput {
            requested,
            sent,
            completed,
            depth,
            elapsed_s,
            per_sec: if elapsed_s > 0.0 {
                completed as f64 / elapsed_s
            } else {
                0.0
            },
            budget_hit: sent < requested,
            timed_out: completed < sent,
            server_cpu_us: None,
            client_cpu_us: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u64> = (1..=1000).rev().collect();
        let s = Summary::from_nanos(&samples).unwrap();
        assert_eq!(s.count, 1000);
        assert_eq!(s.p50_us, 0.5);
        assert_eq!(s.p99_us, 0.99);
        assert_eq!(s.p999_us, 0.999);
        assert_eq!(s.min_us, 0.001);
        assert_eq!(s.max_us, 1.0);
        assert!((s.mean_us - 0.5005).abs() < 1e-12);
        assert_eq!(s.curve.len(), CURVE_PERCENTILES.len());
        assert_eq!(s.curve[0], Percentile { p: 50.0, us: 0.5 });
        let at = |p: f64| s.curve.iter().find(|c| c.p == p).unwrap().us;
        assert_eq!((at(99.0), at(99.9), at(100.0)), (0.99, 0.999, 1.0));
        // A curve never goes down.
        assert!(s
            .curve
            .windows(2)
            .all(|w| w[0].p < w[1].p && w[0].us <= w[1].us));
    }

    #[test]
    fn cpu_per_completed_request() {
        let t =
            Throughput::new(100, 100, 50, 8, Duration::from_secs(1)).with_cpu(Some(500_000), None);
        assert_eq!(t.server_cpu_us, Some(10.0));
        assert_eq!(t.client_cpu_us, None);
        let none = Throughput::new(10, 10, 0, 8, Duration::ZERO).with_cpu(Some(1), Some(1));
        assert_eq!((none.server_cpu_us, none.client_cpu_us), (None, None));
    }

    #[test]
    fn small_sample_percentiles() {
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[7], 99.9), 7);
        assert_eq!(percentile(&[1, 2], 50.0), 1);
        assert_eq!(percentile(&[1, 2], 50.1), 2);
        assert_eq!(percentile(&[10, 20, 30, 40], 99.0), 40);
        assert_eq!(percentile(&[10, 20, 30, 40], 25.0), 10);
        assert!(Summary::from_nanos(&[]).is_none());
    }

    #[test]
    fn throughput_rates() {
        let t = Throughput::new(100, 80, 70, 8, Duration::from_secs(2));
        assert_eq!(t.per_sec, 35.0);
        assert!(t.budget_hit && t.timed_out);
        let t = Throughput::new(10, 10, 10, 8, Duration::ZERO);
        assert_eq!(t.per_sec, 0.0);
        assert!(!t.budget_hit && !t.timed_out);
    }
}
