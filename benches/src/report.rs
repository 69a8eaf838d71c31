//! The report: one markdown table (rows are scenarios, columns the floor per client and
//! each kernel, each labelled with the client that measured it, then ratios) with notes on
//! counts and errors, and the full results as JSON. A kernel's ratio to the floor uses the
//! floor measured by the same client, so that the client's own cost cancels out.

use std::fmt::Write;
use std::path::Path;

use crate::client::ClientKind;
use crate::results::{FloorResult, KernelResult, Results};
use crate::stats::{Summary, Throughput};

/// One table cell.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    /// A latency in microseconds: smaller is better.
    Micros(f64),
    /// A rate per second, with its unit ("msg/s", "calls/s"): larger is better.
    Rate(f64, &'static str),
    /// Not measured.
    Empty,
}

/// A table row: its scenario, its label, a floor's cell and a kernel's cell.
struct Row {
    scenario: &'static str,
    label: String,
    floor: Box<dyn Fn(&FloorResult) -> Cell>,
    kernel: Box<dyn Fn(&KernelResult) -> Cell>,
}

/// Picks one statistic of a summary.
type Pick = fn(&Summary) -> f64;

fn lat(summary: Option<&Summary>, pick: Pick) -> Cell {
    summary.map_or(Cell::Empty, |s| Cell::Micros(pick(s)))
}

fn rate(t: Option<&Throughput>, unit: &'static str) -> Cell {
    t.filter(|t| t.completed > 0)
        .map_or(Cell::Empty, |t| Cell::Rate(t.per_sec, unit))
}

/// Formats microseconds with three significant digits, in µs or ms.
pub fn format_micros(us: f64) -> String {
    if us >= 100_000.0 {
        format!("{:.0} ms", us / 1000.0)
    } else if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else if us >= 10.0 {
        format!("{us:.1} µs")
    } else {
        format!("{us:.2} µs")
    }
}

/// Formats a rate with thousands separators, then its unit.
pub fn format_rate(per_sec: f64, unit: &str) -> String {
    if per_sec < 100.0 {
        return format!("{per_sec:.1} {unit}");
    }
    let digits = format!("{per_sec:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out + " " + unit
}

fn format_cell(cell: Cell) -> String {
    match cell {
        Cell::Micros(us) => format_micros(us),
        Cell::Rate(r, unit) => format_rate(r, unit),
        Cell::Empty => "—".to_string(),
    }
}

/// How many times slower `a` is than `b`: a time ratio, or the inverse rate ratio.
fn ratio(a: Cell, b: Cell) -> String {
    let x = match (a, b) {
        (Cell::Micros(a), Cell::Micros(b)) if b > 0.0 => a / b,
        (Cell::Rate(a, _), Cell::Rate(b, _)) if a > 0.0 => b / a,
        _ => return "—".to_string(),
    };
    if x >= 100.0 {
        format!("{x:.0}×")
    } else if x >= 10.0 {
        format!("{x:.1}×")
    } else {
        format!("{x:.2}×")
    }
}

fn rows(r: &Results) -> Vec<Row> {
    let stats: [(&str, Pick); 4] = [
        ("p50", |s| s.p50_us),
        ("p99", |s| s.p99_us),
        ("p99.9", |s| s.p999_us),
        ("mean", |s| s.mean_us),
    ];
    let mut rows = Vec::new();
    for (name, pick) in &stats[..2] {
        let pick = *pick;
        rows.push(Row {
            scenario: "cold",
            label: format!("cold start, spawn to kernel_info_reply, {name}"),
            floor: Box::new(|_| Cell::Empty),
            kernel: Box::new(move |k| lat(k.cold_start.as_ref(), pick)),
        });
    }
    for (name, pick) in stats {
        rows.push(Row {
            scenario: "kernel-info",
            label: format!("kernel_info round trip, {name}"),
            floor: Box::new(move |f| lat(f.round_trip.as_ref(), pick)),
            kernel: Box::new(move |k| lat(k.kernel_info.as_ref(), pick)),
        });
    }
    for (name, pick) in stats {
        rows.push(Row {
            scenario: "execute",
            label: format!("execute, reply + iopub idle, {name}"),
            floor: Box::new(move |f| lat(f.round_trip.as_ref(), pick)),
            kernel: Box::new(move |k| lat(k.execute.as_ref(), pick)),
        });
    }
    rows.push(Row {
        scenario: "pipelined",
        label: format!("pipelined executes, {} in flight", r.settings.depth),
        floor: Box::new(|f| rate(f.pipelined.as_ref(), "msg/s")),
        kernel: Box::new(|k| rate(k.pipelined.as_ref(), "msg/s")),
    });
    for (name, pick) in stats {
        rows.push(Row {
            scenario: "tool-invoke",
            label: format!("tool invoke, tool_reply + iopub idle, {name}"),
            floor: Box::new(move |f| lat(f.round_trip.as_ref(), pick)),
            kernel: Box::new(move |k| lat(k.tool_invoke.as_ref(), pick)),
        });
    }
    rows.push(Row {
        scenario: "pipelined-tools",
        label: format!("pipelined tool calls, {} in flight", r.settings.depth),
        floor: Box::new(|f| rate(f.pipelined.as_ref(), "msg/s")),
        kernel: Box::new(|k| rate(k.pipelined_tools.as_ref(), "calls/s")),
    });
    rows.push(Row {
        scenario: "pipelined-kernel-info",
        label: format!("pipelined kernel_info, {} in flight", r.settings.depth),
        floor: Box::new(|f| rate(f.pipelined.as_ref(), "msg/s")),
        kernel: Box::new(|k| rate(k.pipelined_kernel_info.as_ref(), "msg/s")),
    });
    // CPU per request from /proc, in the pipelined runs: the server's (every thread of
    // the kernel or echo process) and the client's (the bench process).
    type Of = fn(&KernelResult) -> Option<&Throughput>;
    let cpu_rows: [(&'static str, &str, Of); 3] = [
        ("pipelined", "executes", |k| k.pipelined.as_ref()),
        ("pipelined-tools", "tool calls", |k| {
            k.pipelined_tools.as_ref()
        }),
        ("pipelined-kernel-info", "kernel_info", |k| {
            k.pipelined_kernel_info.as_ref()
        }),
    ];
    for (scenario, what, of) in cpu_rows {
        for (side, server) in [("server", true), ("client", false)] {
            let pick = move |t: Option<&Throughput>| {
                let us = t.and_then(|t| {
                    if server {
                        t.server_cpu_us
                    } else {
                        t.client_cpu_us
                    }
                });
                us.map_or(Cell::Empty, Cell::Micros)
            };
            rows.push(Row {
                scenario,
                label: format!("{side} CPU per request, pipelined {what}"),
                floor: Box::new(move |f| pick(f.pipelined.as_ref())),
                kernel: Box::new(move |k| pick(of(k))),
            });
        }
    }
    // Only the scenarios asked for.
    rows.retain(|row| r.settings.wants(row.scenario));
    rows
}

/// The floor measured with `client`, if any.
fn floor_of(r: &Results, client: ClientKind) -> Option<&FloorResult> {
    r.floors.iter().find(|f| f.client == client)
}

/// The markdown report: the table, then notes.
pub fn markdown(r: &Results) -> String {
    let mut header = vec!["scenario".to_string()];
    header.extend(
        r.floors
            .iter()
            .map(|f| format!("libzmq floor ({})", f.client.name())),
    );
    header.extend(
        r.kernels
            .iter()
            .map(|k| format!("{} ({})", k.name, k.client.name())),
    );
    // Kernel ÷ floor, for the kernels whose client also measured the floor.
    let with_floor: Vec<(usize, &FloorResult)> = r
        .kernels
        .iter()
        .enumerate()
        .filter_map(|(i, k)| floor_of(r, k.client).map(|f| (i, f)))
        .collect();
    header.extend(
        with_floor
            .iter()
            .map(|(i, f)| format!("{} ÷ floor ({})", r.kernels[*i].name, f.client.name())),
    );
    header.extend(
        r.kernels
            .iter()
            .skip(1)
            .map(|k| format!("{} ÷ {}", k.name, r.kernels[0].name)),
    );

    let mut out = String::new();
    let rows = rows(r);
    // Writing to a String cannot fail, here and below.
    if !rows.is_empty() {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
    }
    let mut out_rows = 0;
    for row in rows {
        let cells: Vec<Cell> = r.kernels.iter().map(|k| (row.kernel)(k)).collect();
        let mut line = vec![row.label.clone()];
        line.extend(r.floors.iter().map(|f| format_cell((row.floor)(f))));
        line.extend(cells.iter().map(|c| format_cell(*c)));
        line.extend(
            with_floor
                .iter()
                .map(|(i, f)| ratio(cells[*i], (row.floor)(f))),
        );
        if let Some(first) = cells.first() {
            line.extend(cells.iter().skip(1).map(|c| ratio(*c, *first)));
        }
        let _ = writeln!(out, "| {} |", line.join(" | "));
        out_rows += 1;
    }
    if out_rows > 0 {
        out.push('\n');
    }
    notes(r, &mut out);
    sweep::section(r, &mut out);
    out
}

fn notes(r: &Results, out: &mut String) {
    let s = &r.settings;
    let m = &r.machine;
    let _ = writeln!(out, "- A ÷ B: how many times slower A is than B (time ratio; for msg/s, the inverse rate ratio).");
    let _ = writeln!(
        out,
        "- Machine: {} CPUs, {}, Linux {}. Pinning: kernel {}, client {}. Run took {:.1} s{}.",
        m.cpus,
        m.cpu_model,
        m.kernel_release,
        s.pin_kernel
            .map_or("none".to_string(), |c| format!("CPU {c}")),
        s.pin_client
            .map_or("none".to_string(), |c| format!("CPU {c}")),
        r.total_s,
        if r.interrupted { ", INTERRUPTED" } else { "" }
    );
    let _ = writeln!(
        out,
        "- Round trips: {} per kernel and scenario after {} warmup, in {} alternating rounds; timeout {} s per reply.",
        s.requests, s.warmup, s.rounds, s.timeout_s
    );
    let _ = writeln!(
        out,
        "- Clients: (native) is llmspell-core's sans-IO ZMTP over non-blocking TCP on the bench's one thread; (zmq) is libzmq through the zmq crate, with its I/O thread. A kernel ÷ floor ratio uses the floor of the kernel's client."
    );
    if s.wants_tools() {
        let _ = writeln!(
            out,
            "- Tool calls: `tool_request` with content `{}`, done when both its tool_reply (shell) and its status: idle (iopub) have arrived. The kernel sends 3 messages per call (busy, tool_reply, idle) where the floor echoes 1 per request, so a tool ÷ floor ratio weighs 3 messages out against 1. calculator is cacheable: with the kernel's result cache on (the default), calls after the first are cache hits.",
            s.tool_request
        );
    }
    for f in &r.floors {
        let n = f.round_trip.as_ref().map_or(0, |x| x.count);
        let _ = writeln!(
            out,
            "- Floor ({}): DEALER -> ROUTER echo child on {}, frames {:?} bytes, {n} round trips{}.",
            f.client.name(),
            f.endpoint,
            f.frame_sizes,
            f.pipelined.as_ref().map_or(String::new(), pipelined_note)
        );
        for e in &f.errors {
            let _ = writeln!(
                out,
                "- Floor ({}) error: {}",
                f.client.name(),
                e.replace('\n', "\n  ")
            );
        }
    }
    for k in &r.kernels {
        let n = |x: &Option<Summary>| x.as_ref().map_or(0, |x| x.count);
        let _ = writeln!(
            out,
            "- {} ({} client): `{}`, code `{}`; {} cold starts, {} kernel_info, {} executes, {} tool invokes{}{}.",
            k.name,
            k.client.name(),
            k.command,
            k.code,
            n(&k.cold_start),
            n(&k.kernel_info),
            n(&k.execute),
            n(&k.tool_invoke),
            k.pipelined.as_ref().map_or(String::new(), pipelined_note),
            k.pipelined_tools
                .as_ref()
                .map_or(String::new(), |t| pipelined_note(t).replacen("pipelined", "pipelined tools", 1))
        );
        if k.execute_errors + k.tool_errors + k.bad_signatures + k.malformed > 0 {
            let _ = writeln!(
                out,
                "- {}: {} execute replies not ok, {} tool replies not ok, {} bad signatures, {} malformed messages.",
                k.name, k.execute_errors, k.tool_errors, k.bad_signatures, k.malformed
            );
        }
        for note in &k.notes {
            let _ = writeln!(out, "- {}: {note}", k.name);
        }
        for e in &k.errors {
            let _ = writeln!(out, "- {} error: {}", k.name, e.replace('\n', "\n  "));
        }
    }
}

fn pipelined_note(t: &Throughput) -> String {
    format!(
        "; pipelined {} of {} requested ({} sent) in {:.2} s{}{}",
        t.completed,
        t.requested,
        t.sent,
        t.elapsed_s,
        if t.budget_hit {
            ", time budget hit"
        } else {
            ""
        },
        if t.timed_out { ", TIMED OUT" } else { "" }
    )
}

/// Writes the results as pretty JSON.
pub fn write_json(r: &Results, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

/// Reads the results of a run back from its JSON file.
pub fn read_json(path: &Path) -> std::io::Result<Results> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

mod sweep;

#[cfg(test)]
pub(crate) mod tests;
