//! Counters for Prometheus: requests by type, request durations, active connections,
//! tool invocations and errors by tool, dropped messages by reason.
//!
//! A [`Metrics`] is plain relaxed atomics: the thread that serves the sockets writes it
//! (a few uncontended adds per request, no locks), and whoever serves `/metrics` reads it.
//! A runtime with several shards gives each its own `Metrics`; [`render`] sums them.
//! Metrics are off unless the runtime passes them in [`crate::kernel::KernelConfig`]; off,
//! they cost one `Option` check per event.
//!
//! Durations run from the moment the kernel read a request to the moment it produced the
//! reply, on the runtime's clock, at microsecond resolution: the kernel's own time, without
//! the network or the client.

pub mod http;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde_json::Value;

use crate::tools::{Registry, ToolHost, ToolResult};

/// The request types counted by name; anything else counts as `other`.
const KINDS: [&str; 16] = [
    "execute_request",
    "kernel_info_request",
    "complete_request",
    "inspect_request",
    "history_request",
    "is_complete_request",
    "comm_info_request",
    "comm_open",
    "comm_msg",
    "comm_close",
    "shutdown_request",
    "interrupt_request",
    "debug_request",
    "tool_request",
    "input_reply",
    "other",
];

/// The index of `msg_type` in [`KINDS`].
fn kind_index(msg_type: &str) -> usize {
    KINDS
        .iter()
        .position(|k| *k == msg_type)
        .unwrap_or(KINDS.len() - 1)
}

/// The index of the request type a reply answers (`execute_reply` → `execute_request`).
fn reply_kind_index(reply_type: &str) -> usize {
    match reply_type.strip_suffix("_reply") {
        Some(stem) => KINDS
            .iter()
            .position(|k| k.strip_suffix("_request") == Some(stem))
            .unwrap_or(KINDS.len() - 1),
        None => KINDS.len() - 1,
    }
}

/// Upper bounds of the duration histogram, in microseconds.
const BUCKETS_US: [u64; 14] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000, 100_000, 1_000_000, 10_000_000, 60_000_000,
];

/// Why a message was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// A missing or wrong HMAC signature.
    BadSignature,
    /// A signature seen before.
    Replayed,
    /// Not a Jupyter message: no delimiter, too few frames, a bad header.
    Malformed,
    /// Over the size limit.
    Oversize,
    /// A connection closed for a ZMTP protocol error.
    BadConnection,
    /// A reply for a peer that is gone.
    Unroutable,
    /// A message for a peer with `sndhwm` messages unread.
    Hwm,
    /// A connection refused at `max_concurrent_clients`.
    ConnectionLimit,
}

const REASONS: [&str; 8] = [
    "bad_signature",
    "replayed",
    "malformed",
    "oversize",
    "bad_connection",
    "unroutable",
    "hwm",
    "connection_limit",
];

impl DropReason {
    fn index(self) -> usize {
        self as usize
    }
}

/// One tool's counters.
#[derive(Debug, Default)]
struct ToolCounters {
    calls: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket (not cumulative); the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

/// The counters of one kernel (or one shard). See the [module docs](self).
#[derive(Debug)]
pub struct Metrics {
    requests: [AtomicU64; KINDS.len()],
    durations: [Histogram; KINDS.len()],
    drops: [AtomicU64; REASONS.len()],
    connections: AtomicU64,
    /// Sorted by name; calls to other names count under `other`.
    tool_names: Vec<String>,
    tools: Vec<ToolCounters>,
}

impl Metrics {
    /// Counters for the tools named (calls to other names count under `other`).
    pub fn new<'a>(tool_names: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut names: Vec<String> = tool_names.into_iter().map(str::to_string).collect();
        names.push("other".to_string());
        names.sort();
        names.dedup();
        Metrics {
            requests: Default::default(),
            durations: Default::default(),
            drops: Default::default(),
            connections: AtomicU64::new(0),
            tools: names.iter().map(|_| ToolCounters::default()).collect(),
            tool_names: names,
        }
    }

    /// Counts a request of type `msg_type`.
    pub fn request(&self, msg_type: &str) {
        self.requests[kind_index(msg_type)].fetch_add(1, Relaxed);
    }

    /// Records that a reply of type `reply_type` was produced `micros` after its request.
    pub fn replied(&self, reply_type: &str, micros: u64) {
        let h = &self.durations[reply_kind_index(reply_type)];
        let slot = BUCKETS_US
            .iter()
            .position(|&le| micros <= le)
            .unwrap_or(BUCKETS_US.len());
        h.buckets[slot].fetch_add(1, Relaxed);
        h.sum_us.fetch_add(micros, Relaxed);
    }

    /// Counts a dropped message.
    pub fn dropped(&self, reason: DropReason) {
        self.drops[reason.index()].fetch_add(1, Relaxed);
    }

    /// Sets the number of open connections.
    pub fn set_connections(&self, n: usize) {
        self.connections.store(n as u64, Relaxed);
    }

    /// Counts a tool call and whether it failed.
    pub fn tool_call(&self, name: &str, ok: bool) {
        let i = match self.tool_names.binary_search_by(|n| n.as_str().cmp(name)) {
            Ok(i) => i,
            // `other` is always present (pushed in `new`).
            Err(_) => self
                .tool_names
                .binary_search_by(|n| n.as_str().cmp("other"))
                .unwrap_or(0),
        };
        let c = &self.tools[i];
        c.calls.fetch_add(1, Relaxed);
        if !ok {
            c.errors.fetch_add(1, Relaxed);
        }
    }

    /// How many requests of type `msg_type` were counted.
    pub fn requests_of(&self, msg_type: &str) -> u64 {
        self.requests[kind_index(msg_type)].load(Relaxed)
    }

    /// How many messages were dropped for `reason`.
    pub fn drops_of(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()].load(Relaxed)
    }
}

/// Writes the sum of `parts` in the Prometheus text format (version 0.0.4).
pub fn render(parts: &[&Metrics], out: &mut String) {
    let sum = |f: &dyn Fn(&Metrics) -> &AtomicU64| -> u64 {
        parts.iter().map(|m| f(m).load(Relaxed)).sum()
    };
    // `write!` to a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP llmspell_kernel_requests_total Requests received, by message type.\n\
         # TYPE llmspell_kernel_requests_total counter"
    );
    for (i, kind) in KINDS.iter().enumerate() {
        let n = sum(&|m| &m.requests[i]);
        let _ = writeln!(out, "llmspell_kernel_requests_total{{type=\"{kind}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP llmspell_kernel_request_duration_seconds From reading a request to producing \
         its reply.\n# TYPE llmspell_kernel_request_duration_seconds histogram"
    );
    for (i, kind) in KINDS.iter().enumerate() {
        let mut cumulative = 0;
        for (b, le) in BUCKETS_US.iter().enumerate() {
            cumulative += sum(&|m| &m.durations[i].buckets[b]);
            let _ = writeln!(
                out,
                "llmspell_kernel_request_duration_seconds_bucket{{type=\"{kind}\",le=\"{}\"}} {cumulative}",
                *le as f64 / 1e6
            );
        }
        cumulative += sum(&|m| &m.durations[i].buckets[BUCKETS_US.len()]);
        let sum_us = sum(&|m| &m.durations[i].sum_us);
        let _ = writeln!(
            out,
            "llmspell_kernel_request_duration_seconds_bucket{{type=\"{kind}\",le=\"+Inf\"}} {cumulative}\n\
             llmspell_kernel_request_duration_seconds_sum{{type=\"{kind}\"}} {}\n\
             llmspell_kernel_request_duration_seconds_count{{type=\"{kind}\"}} {cumulative}",
            sum_us as f64 / 1e6
        );
    }
    let _ = writeln!(
        out,
        "# HELP llmspell_kernel_active_connections Open client connections, all channels.\n\
         # TYPE llmspell_kernel_active_connections gauge\n\
         llmspell_kernel_active_connections {}",
        sum(&|m| &m.connections)
    );
    let _ = writeln!(
        out,
        "# HELP llmspell_kernel_messages_dropped_total Messages refused, by reason.\n\
         # TYPE llmspell_kernel_messages_dropped_total counter"
    );
    for (i, reason) in REASONS.iter().enumerate() {
        let n = sum(&|m| &m.drops[i]);
        let _ = writeln!(
            out,
            "llmspell_kernel_messages_dropped_total{{reason=\"{reason}\"}} {n}"
        );
    }
    let names: &[String] = parts.first().map_or(&[], |m| &m.tool_names);
    for (metric, help, errors) in [
        (
            "llmspell_tool_invocations_total",
            "Tool calls, by tool.",
            false,
        ),
        (
            "llmspell_tool_errors_total",
            "Failed tool calls, by tool.",
            true,
        ),
    ] {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
        for (i, name) in names.iter().enumerate() {
            let n: u64 = parts
                .iter()
                .filter_map(|m| m.tools.get(i))
                .map(|c| if errors { &c.errors } else { &c.calls }.load(Relaxed))
                .sum();
            let _ = writeln!(out, "{metric}{{tool=\"{name}\"}} {n}");
        }
    }
}

/// A [`ToolHost`] that counts every call (from the wire and from Lua alike) in a
/// [`Metrics`] before passing it on.
pub struct CountedHost {
    inner: Arc<dyn ToolHost>,
    metrics: Arc<Metrics>,
}

impl CountedHost {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ToolHost>, metrics: Arc<Metrics>) -> CountedHost {
        CountedHost { inner, metrics }
    }
}

impl ToolHost for CountedHost {
    fn registry(&self) -> &Registry {
        self.inner.registry()
    }

    fn invoke(&self, name: &str, params: &Value, timeout_ms: Option<u64>) -> ToolResult {
        let result = self.inner.invoke(name, params, timeout_ms);
        self.metrics.tool_call(name, result.is_ok());
        result
    }

    fn batch(&self, calls: &[(String, Value)]) -> Vec<ToolResult> {
        let results = self.inner.batch(calls);
        for ((name, _), result) in calls.iter().zip(&results) {
            self.metrics.tool_call(name, result.is_ok());
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text_summed_over_parts() {
        let a = Metrics::new(["calculator", "uuid-generator"]);
        let b = Metrics::new(["calculator", "uuid-generator"]);
        a.request("execute_request");
        b.request("execute_request");
        a.request("no_such_request");
        a.replied("execute_reply", 3);
        b.replied("execute_reply", 200);
        a.replied("kernel_info_reply", 120_000_000);
        a.dropped(DropReason::BadSignature);
        b.dropped(DropReason::Oversize);
        a.set_connections(3);
        b.set_connections(2);
        a.tool_call("calculator", true);
        b.tool_call("calculator", false);
        a.tool_call("nope", false);
        let mut text = String::new();
        render(&[&a, &b], &mut text);
        for line in [
            "llmspell_kernel_requests_total{type=\"execute_request\"} 2",
            "llmspell_kernel_requests_total{type=\"other\"} 1",
            "llmspell_kernel_request_duration_seconds_bucket{type=\"execute_request\",le=\"0.000005\"} 1",
            "llmspell_kernel_request_duration_seconds_bucket{type=\"execute_request\",le=\"0.00025\"} 2",
            "llmspell_kernel_request_duration_seconds_count{type=\"execute_request\"} 2",
            "llmspell_kernel_request_duration_seconds_sum{type=\"execute_request\"} 0.000203",
            "llmspell_kernel_request_duration_seconds_bucket{type=\"kernel_info_request\",le=\"60\"} 0",
            "llmspell_kernel_request_duration_seconds_bucket{type=\"kernel_info_request\",le=\"+Inf\"} 1",
            "llmspell_kernel_active_connections 5",
            "llmspell_kernel_messages_dropped_total{reason=\"bad_signature\"} 1",
            "llmspell_kernel_messages_dropped_total{reason=\"oversize\"} 1",
            "llmspell_tool_invocations_total{tool=\"calculator\"} 2",
            "llmspell_tool_errors_total{tool=\"calculator\"} 1",
            "llmspell_tool_invocations_total{tool=\"other\"} 1",
            "llmspell_tool_errors_total{tool=\"uuid-generator\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        // Every sample line is `name{labels} value` or `name value`, with a numeric value.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let value = l.rsplit(' ').next().unwrap_or("");
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn reply_types_map_to_their_requests() {
        assert_eq!(KINDS[reply_kind_index("execute_reply")], "execute_request");
        assert_eq!(KINDS[reply_kind_index("tool_reply")], "tool_request");
        assert_eq!(
            KINDS[reply_kind_index("comm_info_reply")],
            "comm_info_request"
        );
        assert_eq!(KINDS[reply_kind_index("status")], "other");
        assert_eq!(KINDS[kind_index("comm_msg")], "comm_msg");
    }
}
