//! Tests of the report: number formats and ratios, and the rows, notes and JSON of the tool
//! scenarios.

use super::*;
use crate::results::{Machine, Settings};

#[test]
fn formats_numbers() {
    assert_eq!(format_micros(867.4), "867 µs");
    assert_eq!(format_micros(3310.0), "3.31 ms");
    assert_eq!(format_micros(20.83), "20.8 µs");
    assert_eq!(format_micros(272_000.0), "272 ms");
    assert_eq!(format_rate(233_000.4, "msg/s"), "233,000 msg/s");
    assert_eq!(format_rate(371.0, "msg/s"), "371 msg/s");
    assert_eq!(format_rate(1_234_567.0, "calls/s"), "1,234,567 calls/s");
    assert_eq!(format_rate(88.0, "msg/s"), "88.0 msg/s");
}

#[test]
fn ratios_mean_times_slower() {
    assert_eq!(ratio(Cell::Micros(300.0), Cell::Micros(100.0)), "3.00×");
    assert_eq!(
        ratio(Cell::Rate(100.0, "calls/s"), Cell::Rate(2500.0, "msg/s")),
        "25.0×"
    );
    assert_eq!(ratio(Cell::Rate(100.0, "msg/s"), Cell::Empty), "—");
    assert_eq!(ratio(Cell::Micros(1.0), Cell::Micros(0.0)), "—");
}

fn settings(scenarios: &[&str]) -> Settings {
    Settings {
        cold_runs: 1,
        cold_budget_s: 1.0,
        cold_timeout_s: 1.0,
        requests: 4,
        warmup: 0,
        scenario_budget_s: 1.0,
        depth: 8,
        pipeline_total: 10,
        pipeline_budget_s: 1.0,
        client: ClientKind::Native,
        floor_clients: vec![ClientKind::Native],
        floor_requests: 4,
        floor_warmup: 0,
        floor_total: 10,
        rounds: 1,
        timeout_s: 1.0,
        pin_kernel: None,
        pin_client: None,
        scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        tool_request: r#"{"command":"invoke"}"#.to_string(),
    }
}

/// A run of the tool scenarios: a floor at 10 µs and 100k msg/s, a kernel that speaks
/// the tool protocol at 30 µs and 25k calls/s, and one skipped with a note.
fn tool_run() -> Results {
    let micros = |us: u64| Summary::from_nanos(&[us * 1000; 4]);
    let throughput = |per_sec: usize| {
        Some(Throughput::new(
            per_sec,
            per_sec,
            per_sec,
            8,
            std::time::Duration::from_secs(1),
        ))
    };
    Results {
        machine: Machine {
            cpus: 2,
            cpu_model: "test".into(),
            kernel_release: "6".into(),
        },
        settings: settings(&["tool-invoke", "pipelined-tools"]),
        floors: vec![FloorResult {
            client: ClientKind::Native,
            round_trip: micros(10),
            pipelined: throughput(100_000),
            ..FloorResult::default()
        }],
        kernels: vec![
            KernelResult {
                name: "llmspell".into(),
                tool_support: Some(true),
                tool_invoke: micros(30),
                pipelined_tools: throughput(25_000),
                ..KernelResult::default()
            },
            KernelResult {
                name: "ipykernel".into(),
                tool_support: Some(false),
                notes: vec![
                    "tool-invoke and pipelined-tools skipped: no tool_reply within 1000 ms".into(),
                ],
                ..KernelResult::default()
            },
        ],
        interrupted: false,
        total_s: 1.0,
    }
}

#[test]
fn tool_rows_with_ratios_and_skip_notes() {
    let text = markdown(&tool_run());
    let row = |label: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("| {label}")))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{text}"))
            .to_string()
    };
    // Columns: floor, llmspell, ipykernel, llmspell ÷ floor, ipykernel ÷ floor, ipykernel ÷ llmspell.
    assert_eq!(
        row("tool invoke, tool_reply + iopub idle, p50"),
        "| tool invoke, tool_reply + iopub idle, p50 | 10.0 µs | 30.0 µs | — | 3.00× | — | — |"
    );
    assert!(row("tool invoke, tool_reply + iopub idle, p99.9").contains("| 3.00× |"));
    assert_eq!(
        row("pipelined tool calls, 8 in flight"),
        "| pipelined tool calls, 8 in flight | 100,000 msg/s | 25,000 calls/s | — | 4.00× | — | — |"
    );
    // Only the scenarios asked for have rows.
    for other in [
        "| execute, reply",
        "| pipelined executes",
        "| cold start",
        "| kernel_info",
    ] {
        assert!(!text.contains(other), "{other} in\n{text}");
    }
    assert!(text.contains("- ipykernel: tool-invoke and pipelined-tools skipped: no tool_reply"));
    assert!(text.contains("3 messages per call (busy, tool_reply, idle)"));
    assert!(text.contains(r#"content `{"command":"invoke"}`"#));
    assert!(
        text.contains("0 executes, 4 tool invokes; pipelined tools 25000 of 25000"),
        "{text}"
    );
}

#[test]
fn tool_results_serialize() {
    let json = serde_json::to_value(tool_run()).unwrap();
    let k = &json["kernels"][0];
    assert_eq!(k["tool_support"], true);
    assert_eq!(k["tool_invoke"]["p50_us"], 30.0);
    assert_eq!(k["pipelined_tools"]["per_sec"], 25_000.0);
    assert_eq!(json["kernels"][1]["tool_support"], false);
    assert_eq!(json["kernels"][1]["tool_invoke"], serde_json::Value::Null);
    assert!(json["kernels"][1]["notes"][0]
        .as_str()
        .unwrap()
        .contains("skipped"));
    assert_eq!(json["settings"]["scenarios"][1], "pipelined-tools");
}

#[test]
fn default_rows_cover_every_scenario() {
    let mut run = tool_run();
    run.settings = settings(&crate::results::SCENARIOS);
    let text = markdown(&run);
    for label in [
        "cold start",
        "kernel_info round trip",
        "execute, reply",
        "pipelined executes",
        "tool invoke",
        "pipelined tool calls",
    ] {
        assert!(text.contains(&format!("| {label}")), "{label} in\n{text}");
    }
}
