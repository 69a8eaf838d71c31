//! Tests of the report: number formats and ratios, and the rows, notes and JSON of the tool
//! scenarios.

use super::*;
use crate::results::{Machine, Settings, SweepSeries, SweepStep};

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

/// Settings of a small run of `scenarios`.
pub(crate) fn settings(scenarios: &[&str]) -> Settings {
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
        clients: vec![1, 2, 4],
        sweep_requests: vec!["kernel-info".into(), "execute".into()],
        sweep_depth: 8,
        sweep_total: 100,
        sweep_warmup: 10,
        sweep_budget_s: 1.0,
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
        sweep: Vec::new(),
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

/// A step of `m` clients at `per_sec` requests/s and `us` µs each.
fn step(m: usize, per_sec: usize, us: u64) -> SweepStep {
    SweepStep {
        clients: m,
        depth: 8,
        throughput: Throughput::new(
            per_sec,
            per_sec,
            per_sec,
            8 * m,
            std::time::Duration::from_secs(1),
        ),
        latency: Summary::from_nanos(&[us * 1000, us * 2000]),
        reply_errors: 0,
        server_cpu_us_per_request: Some(12.5),
        bench_cpu_share: 0.5,
    }
}

/// A run with the sweep: the floor at 100k, 150k, 200k req/s for 1, 2, 4 clients, and
/// llmspell's kernel_info at a quarter of that (its 4-client step failed) and execute.
pub(crate) fn sweep_run() -> Results {
    let mut r = tool_run();
    r.settings = settings(&["kernel-info", "execute", "clients"]);
    let micros = |us: u64| Summary::from_nanos(&[us * 1000; 4]);
    r.kernels[0].kernel_info = micros(40);
    r.kernels[0].execute = micros(60);
    r.kernels[1].execute = micros(3000);
    r.sweep = vec![
        SweepSeries {
            column: "libzmq floor".into(),
            floor: true,
            request: "echo".into(),
            steps: vec![
                step(1, 100_000, 20),
                step(2, 150_000, 25),
                step(4, 200_000, 40),
            ],
            ..SweepSeries::default()
        },
        SweepSeries {
            column: "llmspell".into(),
            request: "kernel-info".into(),
            steps: vec![step(1, 25_000, 80), step(2, 37_500, 100)],
            errors: vec!["4 clients: timeout waiting for the warmup".into()],
            ..SweepSeries::default()
        },
        SweepSeries {
            column: "llmspell".into(),
            request: "execute".into(),
            steps: vec![step(1, 20_000, 90)],
            ..SweepSeries::default()
        },
    ];
    r
}

#[test]
fn sweep_rows_with_ratios_to_the_floor() {
    let text = markdown(&sweep_run());
    assert!(
        text.contains("### Clients: M sessions on one kernel, 8 in flight each"),
        "{text}"
    );
    assert!(text.contains(
        "| kernel-info | llmspell (native) | 2 | 16 | 37,500 req/s | 100 µs | 200 µs | 200 µs | 4.00× | 12.5 µs | 50% |"
    ), "{text}");
    assert!(text.contains(
        "| echo | libzmq floor (native) | 4 | 32 | 200,000 req/s | 40.0 µs | 80.0 µs | 80.0 µs | — |"
    ), "{text}");
    assert!(text.contains("| execute | llmspell (native) | 1 | 8 | 20,000 req/s |"));
    assert!(text.contains("- llmspell (native) kernel-info error: 4 clients: timeout"));
    assert!(text.contains("multiplexed on the bench's one thread"));
    // The run's main table is still there, for the scenarios asked for.
    assert!(text.contains("| kernel_info round trip, p50 | 10.0 µs | 40.0 µs |"));
    assert!(!markdown(&tool_run()).contains("### Clients"));
    // The sweep alone: no empty main table above it.
    let mut alone = sweep_run();
    alone.settings.scenarios = vec!["clients".into()];
    let text = markdown(&alone);
    assert!(text.starts_with("- A ÷ B"), "{text}");
    assert!(text.contains("| kernel-info | llmspell (native) | 1 |"));
}

#[test]
fn sweep_results_serialize() {
    let json = serde_json::to_value(sweep_run()).unwrap();
    let floor = &json["sweep"][0];
    assert_eq!(floor["floor"], true);
    assert_eq!(floor["steps"][2]["clients"], 4);
    assert_eq!(floor["steps"][2]["throughput"]["per_sec"], 200_000.0);
    assert_eq!(floor["steps"][0]["latency"]["p50_us"], 20.0);
    assert_eq!(floor["steps"][0]["latency"]["curve"][0]["p"], 50.0);
    assert_eq!(json["sweep"][1]["request"], "kernel-info");
    assert_eq!(json["settings"]["clients"], serde_json::json!([1, 2, 4]));
    assert_eq!(json["settings"]["sweep_depth"], 8);
    // The fields from before the sweep are all still there.
    for key in [
        "machine",
        "settings",
        "floors",
        "kernels",
        "interrupted",
        "total_s",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(json["kernels"][0]["kernel_info"]["p99_us"], 40.0);
}
