//! The plots of a `compare` run, as SVG files (`--plot-dir`):
//!
//! - `latency-{scenario}.svg`: the latency percentiles (p50 to p99.9, on a tail axis) of
//!   the single-client round trips (kernel_info, execute, tool invoke), one line per
//!   kernel and one (dashed) per floor client;
//! - `latency-clients-{request}-{column}-{client}.svg`: the same for each series of the
//!   multi-client sweep, one line per client count;
//! - `throughput-clients-{request}.svg`: requests per second of all clients together
//!   against the number of clients, one line per kernel and per floor client.

use std::path::{Path, PathBuf};

use crate::results::{Results, SweepSeries};
use crate::stats::Summary;
use crate::svg::{Axis, Chart, Scale, Series, Unit};

/// The round-trip scenarios that get a latency plot, with their titles.
const ROUND_TRIPS: [(&str, &str); 3] = [
    ("kernel-info", "kernel_info round trip"),
    ("execute", "execute, reply + iopub idle"),
    ("tool-invoke", "tool invoke, tool_reply + iopub idle"),
];

/// A file-name part: lowercase letters, digits and `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// The p50..p99.9 axis of latency plots.
fn percentile_axis() -> Axis {
    Axis {
        label: "percentile (log scale of 1 / (1 - p))".into(),
        scale: Scale::Tail,
        unit: Unit::Percentile,
        range: Some((50.0, 99.9)),
        ticks: None,
    }
}

fn latency_axis() -> Axis {
    Axis {
        label: "latency (log scale)".into(),
        scale: Scale::Log,
        unit: Unit::Micros,
        range: None,
        ticks: None,
    }
}

/// The percentile curve of a summary, as points.
fn curve(summary: Option<&Summary>) -> Vec<(f64, f64)> {
    summary.map_or_else(Vec::new, |s| s.curve.iter().map(|c| (c.p, c.us)).collect())
}

/// The machine, for subtitles.
fn machine(r: &Results) -> String {
    format!("{} CPUs, {}", r.machine.cpus, r.machine.cpu_model)
}

/// A request's name in titles.
fn request_title(request: &str) -> &str {
    match request {
        "kernel-info" => "kernel_info",
        "tool-invoke" => "tool invoke",
        "echo" => "echo",
        _ => "execute",
    }
}

/// Every chart of the run, with its file name. Charts without any data are left out.
pub fn charts(r: &Results) -> Vec<(String, Chart)> {
    let s = &r.settings;
    let mut out = Vec::new();
    for (scenario, title) in ROUND_TRIPS {
        if !s.wants(scenario) {
            continue;
        }
        let mut series: Vec<Series> = r
            .floors
            .iter()
            .map(|f| Series {
                name: format!("libzmq floor ({})", f.client.name()),
                points: curve(f.round_trip.as_ref()),
                dashed: true,
            })
            .collect();
        for k in &r.kernels {
            let summary = match scenario {
                "kernel-info" => k.kernel_info.as_ref(),
                "execute" => k.execute.as_ref(),
                _ => k.tool_invoke.as_ref(),
            };
            series.push(Series {
                name: format!("{} ({})", k.name, k.client.name()),
                points: curve(summary),
                dashed: false,
            });
        }
        series.retain(|s| !s.points.is_empty());
        // The floors alone make no plot of this scenario (they are in the first one).
        if series.iter().all(|s| s.dashed) {
            continue;
        }
        out.push((
            format!("latency-{scenario}.svg"),
            Chart {
                title: format!("{title}: latency percentiles"),
                subtitle: format!("1 client, 1 in flight; {}", machine(r)),
                x: percentile_axis(),
                y: latency_axis(),
                series,
            },
        ));
    }
    for line in &r.sweep {
        if let Some(chart) = sweep_latency(r, line) {
            let name = format!(
                "latency-clients-{}-{}-{}.svg",
                slug(&line.request),
                slug(&line.column),
                line.client.name()
            );
            out.push((name, chart));
        }
    }
    for request in &s.sweep_requests {
        if !s.sweeps(request) {
            continue;
        }
        let lines: Vec<&SweepSeries> = r
            .sweep
            .iter()
            .filter(|l| l.floor || &l.request == request)
            .collect();
        if lines.iter().all(|l| l.floor) {
            continue;
        }
        let series = lines
            .iter()
            .map(|l| Series {
                name: l.label(),
                points: l
                    .steps
                    .iter()
                    .filter(|st| st.throughput.completed > 0)
                    .map(|st| (st.clients as f64, st.throughput.per_sec))
                    .collect(),
                dashed: l.floor,
            })
            .collect();
        let counts: Vec<f64> = s.clients.iter().map(|&m| m as f64).collect();
        let range = match (counts.first(), counts.last()) {
            (Some(&lo), Some(&hi)) if hi > lo => Some((lo, hi)),
            _ => None,
        };
        out.push((
            format!("throughput-clients-{}.svg", slug(request)),
            Chart {
                title: format!("{}: throughput against clients", request_title(request)),
                subtitle: format!(
                    "{} in flight per client, all clients on the bench's one thread; {}",
                    s.sweep_depth,
                    machine(r)
                ),
                x: Axis {
                    label: "clients (log scale)".into(),
                    scale: Scale::Log,
                    unit: Unit::Count,
                    range,
                    ticks: Some(counts),
                },
                y: Axis {
                    label: "requests/s, all clients (log scale)".into(),
                    scale: Scale::Log,
                    unit: Unit::Rate,
                    range: None,
                    ticks: None,
                },
                series,
            },
        ));
    }
    out
}

/// The latency percentiles of one sweep series, one line per client count.
fn sweep_latency(r: &Results, line: &SweepSeries) -> Option<Chart> {
    let series: Vec<Series> = line
        .steps
        .iter()
        .filter(|st| st.latency.is_some())
        .map(|st| Series {
            name: format!(
                "{} client{}, {} in flight",
                st.clients,
                if st.clients == 1 { "" } else { "s" },
                st.clients * st.depth
            ),
            points: curve(st.latency.as_ref()),
            dashed: false,
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    Some(Chart {
        title: format!(
            "{}: {} latency with M clients",
            line.label(),
            request_title(&line.request)
        ),
        subtitle: format!(
            "M clients × K in flight each, send to completion; {}",
            machine(r)
        ),
        x: percentile_axis(),
        y: latency_axis(),
        series,
    })
}

/// Writes every chart into `dir` (created if missing); returns the paths written.
pub fn write_all(r: &Results, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, chart) in charts(r) {
        let path = dir.join(name);
        std::fs::write(&path, chart.render())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
