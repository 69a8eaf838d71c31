//! The report's section on the multi-client sweep: one row per series and client count,
//! with throughput, latency percentiles, the ratio to the floor at the same client count
//! (same client kind), and the CPU that the server and the bench spent.

use std::fmt::Write;

use super::{format_micros, format_rate, ratio, Cell};
use crate::results::{Results, SweepSeries, SweepStep};

/// The floor's step with `clients` clients measured with the client of `line`.
fn floor_step<'a>(r: &'a Results, line: &SweepSeries, clients: usize) -> Option<&'a SweepStep> {
    r.sweep
        .iter()
        .find(|f| f.floor && f.client == line.client)?
        .steps
        .iter()
        .find(|st| st.clients == clients)
}

fn rate(st: &SweepStep) -> Cell {
    if st.throughput.completed > 0 {
        Cell::Rate(st.throughput.per_sec, "req/s")
    } else {
        Cell::Empty
    }
}

/// Appends the sweep's table and notes to `out`; nothing when the sweep did not run.
pub fn section(r: &Results, out: &mut String) {
    if r.sweep.is_empty() {
        return;
    }
    let s = &r.settings;
    // Writing to a String cannot fail, here and below.
    let _ = writeln!(
        out,
        "\n### Clients: M sessions on one kernel, {} in flight each\n",
        s.sweep_depth
    );
    let _ = writeln!(
        out,
        "| requests | column | clients | in flight | throughput | p50 | p99 | p99.9 | ÷ floor | server CPU / request | bench CPU |"
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(11));
    for line in &r.sweep {
        for st in &line.steps {
            let pick = |f: fn(&crate::stats::Summary) -> f64| {
                st.latency
                    .as_ref()
                    .map_or("—".to_string(), |l| format_micros(f(l)))
            };
            let floor = if line.floor {
                "—".to_string()
            } else {
                floor_step(r, line, st.clients)
                    .map_or("—".to_string(), |f| ratio(rate(st), rate(f)))
            };
            let throughput = match rate(st) {
                Cell::Rate(v, unit) => format_rate(v, unit),
                _ => "—".to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0}% |",
                line.request,
                line.label(),
                st.clients,
                st.clients * st.depth,
                throughput,
                pick(|l| l.p50_us),
                pick(|l| l.p99_us),
                pick(|l| l.p999_us),
                floor,
                st.server_cpu_us_per_request
                    .map_or("—".to_string(), format_micros),
                st.bench_cpu_share * 100.0
            );
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "- Clients: each of the M clients has its own shell and iopub connections and session id; all M run multiplexed on the bench's one thread (non-blocking sockets, one zmq_poll), so a bench CPU near 100% means the bench, not the kernel, set the pace. Each client drops other clients' iopub messages unchecked (their parent header does not name its session) and verifies its own."
    );
    let _ = writeln!(
        out,
        "- Per step: {} untimed requests (at most {:.2} s), then up to {} requests or {} s of sending; latency is send to completion (the reply; for execute and tool invoke also status: idle) over all clients; throughput is completions over first send to last completion. Floor: the same with the 6-frame echo. ÷ floor: how many times lower the throughput is than the floor's with as many clients of the same kind. Server CPU: the kernel's (or echo server's) process group, from /proc, per completed request.",
        s.sweep_warmup,
        s.sweep_budget_s / 4.0,
        s.sweep_total,
        s.sweep_budget_s
    );
    for line in &r.sweep {
        for e in &line.errors {
            let _ = writeln!(
                out,
                "- {} {} error: {}",
                line.label(),
                line.request,
                e.replace('\n', "\n  ")
            );
        }
        if line.steps.iter().any(|st| st.reply_errors > 0) {
            let n: u64 = line.steps.iter().map(|st| st.reply_errors).sum();
            let _ = writeln!(
                out,
                "- {} {}: {n} replies not ok.",
                line.label(),
                line.request
            );
        }
    }
}
