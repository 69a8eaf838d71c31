//! `llmspell stress`: the performance guide's stress tests (its sections 1.1 and 5.2),
//! in-process by default or against a kernel over ZeroMQ with `--remote TARGET`.
//!
//! | scenario        | what                                           | guide        |
//! |-----------------|------------------------------------------------|--------------|
//! | rapid-list      | 1,000 `list`                                   | 87.91 ops/s  |
//! | registry-stress | 100 `info` of every tool (guide: 30 x 100)     | 88.63 ops/s  |
//! | rapid-invoke    | 500 calculator invocations                     | 88.38 ops/s  |
//! | sustained       | 10,000 calculator invocations, RSS start/end   | 88.36 ops/s  |
//! | rapid-search    | 500 searches                                   | 88.36 ops/s  |
//! | large-payload   | 20 json-processor calls on a 1 MiB JSON input  | 12 ms per op |
//! | error-recovery  | 100 valid and 100 invalid calls, interleaved   |              |
//!
//! Each prints ops, seconds, ops/s, p50/p99 latency, the success rate (a valid call that
//! succeeds or an invalid one that fails cleanly) and the RSS of the process running the
//! tools (this one, or a local kernel's). Every loop is bounded by its count and by
//! `--time-limit-s`; a scenario also stops after three transport failures in a row.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::{OutputFormat, Scenario, StressArgs};
use crate::config::Config;
use crate::error::{CliError, ErrorKind};
use crate::output;
use crate::stats::{format_latency, percentile, rss_kb, Outcome};
use crate::target;
use crate::tool_cmd::Backend;
use llmspell_core::tools::protocol::{is_ok, ToolRequest};

/// The tool the payload scenario sends 1 MiB to, and its parameters around the input.
const PAYLOAD_TOOL: &str = "json-processor";
/// Transport failures in a row that end a scenario.
const MAX_TRANSPORT_FAILURES: usize = 3;
/// Search queries, cycled.
const QUERIES: [&str; 10] = [
    "calc", "file", "json", "hash", "text", "time", "http", "csv", "uuid", "archive",
];

/// Every scenario, in the guide's order.
const ALL: [Scenario; 7] = [
    Scenario::RapidList,
    Scenario::RegistryStress,
    Scenario::RapidInvoke,
    Scenario::Sustained,
    Scenario::RapidSearch,
    Scenario::LargePayload,
    Scenario::ErrorRecovery,
];

/// A scenario's name, base count and the guide's figure.
fn describe(s: Scenario) -> (&'static str, usize, &'static str) {
    match s {
        Scenario::All => ("all", 0, ""),
        Scenario::RapidList => ("rapid-list", 1_000, "87.91 ops/s"),
        Scenario::RegistryStress => ("registry-stress", 100, "88.63 ops/s"),
        Scenario::RapidInvoke => ("rapid-invoke", 500, "88.38 ops/s"),
        Scenario::Sustained => ("sustained", 10_000, "88.36 ops/s"),
        Scenario::RapidSearch => ("rapid-search", 500, "88.36 ops/s"),
        Scenario::LargePayload => ("large-payload", 20, "12 ms/op"),
        Scenario::ErrorRecovery => ("error-recovery", 200, "-"),
    }
}

/// `llmspell stress`; exits 1 when any scenario fell short of 100% success.
pub fn run(
    args: &StressArgs,
    format: OutputFormat,
    config_path: Option<&Path>,
    connect: Option<&str>,
) -> Result<i32, CliError> {
    let config = Config::load_from_process(config_path)?;
    let mut backend = match args.remote.as_deref().or(connect) {
        Some(spec) => Backend::remote(target::resolve(spec)?, &config)?,
        None => Backend::embedded(&config)?,
    };
    let scenarios: Vec<Scenario> = match args.scenario {
        Scenario::All => ALL.to_vec(),
        one => vec![one],
    };
    // One unmeasured request first: connections, the iopub subscription, lazy setup.
    let warm_up = backend.call(&ToolRequest::List { category: None })?;
    if !is_ok(&warm_up) {
        return Err(CliError::from_reply(&warm_up));
    }
    let limit = Duration::from_secs(args.time_limit_s);
    let mut outcomes = Vec::new();
    for scenario in scenarios {
        outcomes.push(run_scenario(&mut backend, scenario, args.scale, limit)?);
    }
    let all_ok = outcomes.iter().all(|o| o.succeeded == o.ops && o.ops > 0);
    if format.is_json() {
        let items: Vec<Value> = outcomes.iter().map(Outcome::to_json).collect();
        output::print_json(
            &json!({"backend": backend.describe(), "scale": args.scale, "scenarios": items}),
            format,
        );
    } else {
        output::print_text(&report(&backend.describe(), args.scale, &outcomes));
    }
    Ok(if all_ok { 0 } else { 1 })
}

/// `n` scaled, at least 1.
fn scaled(n: usize, scale: f64) -> usize {
    // Counts are small (at most 10,000 x 100), so the float round trip is exact enough.
    ((n as f64 * scale).round() as usize).max(1)
}

/// The `i`-th request of a scenario, with whether it should succeed.
type Make = Box<dyn Fn(usize) -> (ToolRequest, bool)>;

/// How many requests a scenario makes, and how to make each (lazily: the payload
/// scenario's requests are a megabyte each).
fn plan(backend: &mut Backend, scenario: Scenario, scale: f64) -> Result<(usize, Make), CliError> {
    let (_, base, _) = describe(scenario);
    let n = scaled(base, scale);
    fn calc(i: usize) -> ToolRequest {
        ToolRequest::Invoke {
            name: "calculator".into(),
            params: json!({"input": format!("{i} + {}", i + 1)}),
            timeout_ms: None,
        }
    }
    Ok(match scenario {
        Scenario::All => (
            0,
            Box::new(|_| (ToolRequest::List { category: None }, true)),
        ),
        Scenario::RapidList => (
            n,
            Box::new(|_| (ToolRequest::List { category: None }, true)),
        ),
        Scenario::RegistryStress => {
            let names = tool_names(backend)?;
            let count = n * names.len();
            let make = move |i: usize| {
                let name = names[i % names.len()].clone();
                (ToolRequest::Info { name }, true)
            };
            (count, Box::new(make))
        }
        Scenario::RapidInvoke | Scenario::Sustained => (n, Box::new(|i| (calc(i), true))),
        Scenario::RapidSearch => (
            n,
            Box::new(|i| {
                let query = QUERIES[i % QUERIES.len()].to_string();
                (ToolRequest::Search { query, limit: 10 }, true)
            }),
        ),
        Scenario::LargePayload => {
            let input = payload(1 << 20);
            let make = move |_| {
                let params = json!({"input": input.clone(), "query": "length"});
                let name = PAYLOAD_TOOL.to_string();
                (
                    ToolRequest::Invoke {
                        name,
                        params,
                        timeout_ms: None,
                    },
                    true,
                )
            };
            (n, Box::new(make))
        }
        Scenario::ErrorRecovery => (
            n,
            Box::new(|i| match i % 2 {
                0 => (calc(i), true),
                _ => (invalid_call(i / 2), false),
            }),
        ),
    })
}

/// The names of all tools, from a `list` request.
fn tool_names(backend: &mut Backend) -> Result<Vec<String>, CliError> {
    let reply = backend.call(&ToolRequest::List { category: None })?;
    if !is_ok(&reply) {
        return Err(CliError::from_reply(&reply));
    }
    let names: Vec<String> = reply["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        return Err(CliError::new(
            ErrorKind::Runtime,
            "the registry lists no tools",
        ));
    }
    Ok(names)
}

/// The `k`-th kind of invalid call: unknown tools, missing or mistyped parameters, a bad
/// expression.
fn invalid_call(k: usize) -> ToolRequest {
    let invoke = |name: &str, params: Value| ToolRequest::Invoke {
        name: name.to_string(),
        params,
        timeout_ms: None,
    };
    match k % 5 {
        0 => invoke("no-such-tool", json!({})),
        1 => invoke("calculator", json!({})),
        2 => invoke("calculator", json!({"input": 42})),
        3 => invoke("calculator", json!({"input": "2 +* 2"})),
        _ => ToolRequest::Info {
            name: "no-such-tool".into(),
        },
    }
}

/// A JSON array of records whose compact form is at least `bytes` long.
pub fn payload(bytes: usize) -> Value {
    let mut items = Vec::new();
    let mut size = 2;
    let mut i = 0u64;
    while size < bytes {
        let item =
            json!({"id": i, "name": format!("item-{i}"), "value": i * 3, "tags": ["a", "b"]});
        size += item.to_string().len() + 1;
        items.push(item);
        i += 1;
    }
    Value::Array(items)
}

/// Runs one scenario.
fn run_scenario(
    backend: &mut Backend,
    scenario: Scenario,
    scale: f64,
    limit: Duration,
) -> Result<Outcome, CliError> {
    let (name, _, guide) = describe(scenario);
    let (planned, make) = plan(backend, scenario, scale)?;
    let pid = backend.tool_pid();
    let rss_start_kb = pid.and_then(rss_kb);
    let mut latencies_ns = Vec::with_capacity(planned);
    let (mut succeeded, mut transport_failures) = (0usize, 0usize);
    let mut first_failure: Option<String> = None;
    let mut stopped_early = false;
    let started = Instant::now();
    for i in 0..planned {
        let (request, expect_ok) = make(i);
        if started.elapsed() >= limit || transport_failures >= MAX_TRANSPORT_FAILURES {
            stopped_early = true;
            break;
        }
        let t0 = Instant::now();
        let result = backend.call(&request);
        latencies_ns.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
        let failure = match result {
            Ok(reply) if is_ok(&reply) == expect_ok => {
                transport_failures = 0;
                None
            }
            Ok(reply) => {
                transport_failures = 0;
                Some(if expect_ok {
                    CliError::from_reply(&reply).message
                } else {
                    format!("{} succeeded but should have failed", request.command())
                })
            }
            Err(e) => {
                transport_failures += 1;
                Some(e.message)
            }
        };
        match failure {
            None => succeeded += 1,
            Some(message) => {
                first_failure.get_or_insert(message);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_ns.sort_unstable();
    Ok(Outcome {
        name,
        ops: latencies_ns.len(),
        planned,
        succeeded,
        seconds,
        p50_ns: percentile(&latencies_ns, 50),
        p99_ns: percentile(&latencies_ns, 99),
        rss_start_kb,
        rss_end_kb: pid.and_then(rss_kb),
        first_failure,
        stopped_early,
        guide,
    })
}

/// The text report: a table, then the first failure of each scenario that had one.
fn report(backend: &str, scale: f64, outcomes: &[Outcome]) -> String {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let rss = match (o.rss_start_kb, o.rss_end_kb) {
                (Some(a), Some(b)) => {
                    format!("{:.1}->{:.1} MiB", a as f64 / 1024.0, b as f64 / 1024.0)
                }
                _ => "-".to_string(),
            };
            vec![
                o.name.to_string(),
                o.ops.to_string(),
                format!("{:.4}", o.seconds),
                format!("{:.0}", o.ops_per_sec()),
                format_latency(o.p50_ns),
                format_latency(o.p99_ns),
                format!("{:.1}%", o.success_rate() * 100.0),
                rss,
                o.guide.to_string(),
            ]
        })
        .collect();
    let mut text = format!("stress: {backend}, scale {scale}\n");
    text.push_str(&output::table(
        &[
            "SCENARIO", "OPS", "SECONDS", "OPS/S", "P50", "P99", "SUCCESS", "RSS", "GUIDE",
        ],
        &rows,
    ));
    for o in outcomes {
        if o.stopped_early {
            text.push_str(&format!(
                "{}: stopped after {} of {} operations\n",
                o.name, o.ops, o.planned
            ));
        }
        if let Some(failure) = &o.first_failure {
            text.push_str(&format!("{}: first failure: {failure}\n", o.name));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_scale_but_never_reach_zero() {
        assert_eq!(scaled(10_000, 1.0), 10_000);
        assert_eq!(scaled(10_000, 0.01), 100);
        assert_eq!(scaled(20, 0.001), 1);
    }

    #[test]
    fn payload_is_at_least_the_size_asked() {
        let p = payload(1 << 20);
        let len = p.to_string().len();
        assert!((1 << 20..(1 << 20) + 200).contains(&len), "{len}");
    }

    #[test]
    fn invalid_calls_cover_each_kind() {
        let cmds: Vec<String> = (0..5).map(|k| invalid_call(k).to_json()).collect();
        assert!(cmds[0].contains("no-such-tool"));
        assert!(cmds[1].contains(r#""params":{}"#));
        assert!(cmds[2].contains("42"));
        assert!(cmds[4].starts_with(r#"{"command":"info""#));
    }

    #[test]
    fn report_lists_each_scenario_and_failures() {
        let o = Outcome {
            name: "rapid-list",
            ops: 10,
            planned: 20,
            succeeded: 9,
            seconds: 0.5,
            p50_ns: 1_500,
            p99_ns: 2_000_000,
            rss_start_kb: Some(2048),
            rss_end_kb: Some(3072),
            first_failure: Some("boom".into()),
            stopped_early: true,
            guide: "87.91 ops/s",
        };
        let text = report("in-process", 1.0, &[o]);
        assert!(
            text.contains("rapid-list") && text.contains("90.0%"),
            "{text}"
        );
        assert!(
            text.contains("2.0->3.0 MiB") && text.contains("1.5µs"),
            "{text}"
        );
        assert!(text.contains("stopped after 10 of 20"), "{text}");
        assert!(text.contains("first failure: boom"), "{text}");
    }
}
