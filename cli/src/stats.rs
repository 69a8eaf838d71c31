//! Measurements for `llmspell stress`: a scenario's outcome, percentiles, RSS.

use serde_json::{json, Value};

/// What one scenario measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The scenario.
    pub name: &'static str,
    /// Operations done.
    pub ops: usize,
    /// Operations planned (more than `ops` when the time limit stopped it).
    pub planned: usize,
    /// Operations that behaved as expected.
    pub succeeded: usize,
    /// Wall time of the loop.
    pub seconds: f64,
    /// Median latency.
    pub p50_ns: u64,
    /// 99th percentile latency.
    pub p99_ns: u64,
    /// VmRSS of the tool process before the loop, KiB.
    pub rss_start_kb: Option<u64>,
    /// VmRSS after the loop, KiB.
    pub rss_end_kb: Option<u64>,
    /// The first thing that went wrong.
    pub first_failure: Option<String>,
    /// Whether the time limit or transport failures ended the loop.
    pub stopped_early: bool,
    /// The guide's figure for the same test.
    pub guide: &'static str,
}

impl Outcome {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ops as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The fraction of operations that behaved as expected (0 when none ran).
    pub fn success_rate(&self) -> f64 {
        if self.ops == 0 {
            0.0
        } else {
            self.succeeded as f64 / self.ops as f64
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.name,
            "ops": self.ops,
            "planned": self.planned,
            "succeeded": self.succeeded,
            "seconds": self.seconds,
            "ops_per_sec": self.ops_per_sec(),
            "p50_us": self.p50_ns as f64 / 1_000.0,
            "p99_us": self.p99_ns as f64 / 1_000.0,
            "success_rate": self.success_rate(),
            "rss_start_kb": self.rss_start_kb,
            "rss_end_kb": self.rss_end_kb,
            "first_failure": self.first_failure,
            "stopped_early": self.stopped_early,
            "guide": self.guide,
        })
    }
}

/// The `p`-th percentile (nearest rank) of sorted values; 0 for none.
pub fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * p.min(100)).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or(0)
}

/// A latency for people: `850ns`, `12.3µs`, `4.56ms`, `1.20s`.
pub fn format_latency(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", f / 1e6)
    } else {
        format!("{:.2}s", f / 1e9)
    }
}

/// `VmRSS` of a process in KiB, from `/proc/<pid>/status` (Linux; `None` elsewhere or if
/// the process is gone).
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vmrss(&status)
}

fn parse_vmrss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&v, 100), 100);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[1, 2], 0), 1);
    }

    #[test]
    fn latencies_read_well() {
        assert_eq!(format_latency(850), "850ns");
        assert_eq!(format_latency(12_340), "12.3µs");
        assert_eq!(format_latency(4_560_000), "4.56ms");
        assert_eq!(format_latency(1_200_000_000), "1.20s");
    }

    #[test]
    fn rss_of_this_process() {
        assert_eq!(parse_vmrss("Name:\tx\nVmRSS:\t  1234 kB\n"), Some(1234));
        assert_eq!(parse_vmrss("Name:\tx\n"), None);
        if cfg!(target_os = "linux") {
            assert!(rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
        }
    }

    #[test]
    fn outcome_rates() {
        let o = Outcome {
            name: "x",
            ops: 4,
            planned: 4,
            succeeded: 3,
            seconds: 2.0,
            p50_ns: 1_000,
            p99_ns: 2_000,
            rss_start_kb: None,
            rss_end_kb: None,
            first_failure: None,
            stopped_early: false,
            guide: "",
        };
        assert_eq!(o.ops_per_sec(), 2.0);
        assert_eq!(o.success_rate(), 0.75);
        let j = o.to_json();
        assert_eq!(j["p50_us"], 1.0);
        assert_eq!(j["rss_start_kb"], Value::Null);
    }
}
