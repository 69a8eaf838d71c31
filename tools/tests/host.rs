//! The whole host through the registry: size limit, validation, cache, inline and pooled
//! runs, timeouts that abandon, panics, batches in order and in parallel, and the I/O
//! tools registered and run through it.
//!
//! These need core's Registry and ToolCache. While those are stubs (`todo!()`), every test
//! here says so on stderr and returns early; they run in full once the stubs are replaced.

mod common;

use crossbeam_channel::{unbounded, Receiver, Sender};
use llmspell_core::tools::cache::CacheConfig;
use llmspell_core::tools::{
    Registry, SecurityLevel, Tool, ToolContext, ToolErrorKind, ToolHost, ToolOutput, ToolResult,
    ToolSpec,
};
use llmspell_tools::host::{Host, HostConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Body = dyn Fn(&Value) -> ToolResult + Send + Sync;

/// A test tool: a spec and a closure.
struct TestTool {
    spec: ToolSpec,
    body: Box<Body>,
}

impl Tool for TestTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn invoke(&self, params: &Value, _: &ToolContext<'_>) -> ToolResult {
        (self.body)(params)
    }
}

fn tool(
    name: &'static str,
    blocking: bool,
    cacheable: bool,
    body: impl Fn(&Value) -> ToolResult + Send + Sync + 'static,
) -> Arc<dyn Tool> {
    let parameters = if name == "strict" {
        json!({"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]})
    } else {
        json!({"type": "object"})
    };
    Arc::new(TestTool {
        spec: ToolSpec {
            name,
            category: "test",
            description: "a test tool",
            parameters,
            security: SecurityLevel::Safe,
            cacheable,
            blocking,
        },
        body: Box::new(body),
    })
}

fn text(s: impl Into<String>) -> ToolResult {
    Ok(ToolOutput {
        text: s.into(),
        data: Value::Null,
    })
}

/// The test tools, and the handles tests use to watch and steer them.
struct Rig {
    host: Host,
    started: Receiver<()>,
    release: Sender<()>,
    counted: Arc<AtomicUsize>,
    quick: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
}

fn rig(config: HostConfig) -> Rig {
    let (started_tx, started) = unbounded();
    let (release, release_rx) = unbounded::<()>();
    let counted = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let max_running = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let count = counted.clone();
    let quick_count = Arc::new(AtomicUsize::new(0));
    let quick = quick_count.clone();
    let (run, max) = (running.clone(), max_running.clone());
    let tools = [
        tool("echo", false, false, |p| text(p.to_string())),
        tool("strict", false, false, |p| text(p["x"].to_string())),
        tool("counted", false, true, move |p| {
            count.fetch_add(1, Ordering::SeqCst);
            // Slow enough for the cache to pay after one judged call (the average weighs 1/8).
            std::thread::sleep(llmspell_tools::host::CACHE_PAYS_AFTER * 8);
            text(p.to_string())
        }),
        tool("quick", false, true, move |p| {
            quick.fetch_add(1, Ordering::SeqCst);
            text(p.to_string())
        }),
        tool("boom", false, false, |_| panic!("inline boom")),
        tool("boom-blocking", true, false, |_| panic!("pooled boom")),
        tool("nap", true, false, |p| {
            let ms = p["ms"].as_u64().unwrap_or(0).min(2_000);
            std::thread::sleep(Duration::from_millis(ms));
            text(p["id"].to_string())
        }),
        tool("gate", true, false, move |_| {
            let _ = started_tx.send(());
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
            text("released")
        }),
        // Waits (5 s at most) until two calls have been inside it at once, recording the
        // most seen.
        tool("meet", true, false, move |_| {
            let now = run.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(5);
            while max.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
                max.fetch_max(run.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            run.fetch_sub(1, Ordering::SeqCst);
            text("met")
        }),
    ];
    for t in tools {
        registry.register(t).unwrap();
    }
    Rig {
        host: Host::new(registry, config),
        started,
        release,
        counted,
        quick: quick_count,
        max_running,
    }
}

fn kind(result: ToolResult) -> ToolErrorKind {
    common::kind(result)
}

#[test]
fn size_validation_and_unknown_tools() {
    let r = rig(HostConfig {
        max_params_bytes: 100,
        ..HostConfig::default()
    });
    let out = r.host.invoke("echo", &json!({"a": 1}), None).unwrap();
    assert_eq!(out.text, r#"{"a":1}"#);
    let big = json!({"a": "x".repeat(200)});
    assert_eq!(
        kind(r.host.invoke("echo", &big, None)),
        ToolErrorKind::TooLarge
    );
    let err = r.host.invoke("ecko", &json!({}), None).unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::UnknownTool);
    assert_eq!(
        kind(r.host.invoke("strict", &json!({"x": "1"}), None)),
        ToolErrorKind::InvalidParams
    );
    assert_eq!(
        r.host
            .invoke("strict", &json!({"x": 1}), None)
            .unwrap()
            .text,
        "1"
    );
}

#[test]
fn a_panicking_tool_is_internal_and_the_host_lives_on() {
    let r = rig(HostConfig::default());
    assert_eq!(
        kind(r.host.invoke("boom", &json!({}), None)),
        ToolErrorKind::Internal
    );
    assert_eq!(
        kind(r.host.invoke("boom-blocking", &json!({}), None)),
        ToolErrorKind::Internal
    );
    assert!(r.host.invoke("echo", &json!({}), None).is_ok());
    assert!(r.host.invoke("nap", &json!({"id": 1}), None).is_ok());
}

#[test]
fn a_timeout_abandons_the_call_and_the_host_stays_responsive() {
    let r = rig(HostConfig {
        workers: 1,
        tool_timeouts_ms: HashMap::from([("gate".to_owned(), 50)]),
        ..HostConfig::default()
    });
    // The per-tool timeout applies without an explicit one.
    assert_eq!(
        kind(r.host.invoke("gate", &json!({}), None)),
        ToolErrorKind::Timeout
    );
    assert_eq!(
        kind(r.host.invoke("gate", &json!({}), Some(50))),
        ToolErrorKind::Timeout
    );
    assert_eq!(r.host.abandoned(), 2);
    // One worker allowed, two stuck: blocking calls still run, on replacements.
    assert_eq!(
        r.host.invoke("nap", &json!({"id": 7}), None).unwrap().text,
        "7"
    );
    assert!(r.host.invoke("echo", &json!({}), None).is_ok());
    for _ in 0..2 {
        r.release.send(()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.host.abandoned() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(r.host.abandoned(), 0);
    // An explicit timeout overrides the tool's.
    let host = Arc::new(r.host);
    let h = host.clone();
    let waiting = std::thread::spawn(move || h.invoke("gate", &json!({}), Some(30_000)));
    // Two `started` from the abandoned calls, then this one's.
    for _ in 0..3 {
        r.started.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    r.release.send(()).unwrap();
    assert_eq!(waiting.join().unwrap().unwrap().text, "released");
}

#[test]
fn past_the_abandoned_limit_blocking_calls_are_refused() {
    let r = rig(HostConfig::default());
    let host = r.host.with_max_abandoned(1);
    assert_eq!(
        kind(host.invoke("gate", &json!({}), Some(20))),
        ToolErrorKind::Timeout
    );
    let err = host.invoke("nap", &json!({}), None).unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::Failed);
    assert!(err.message.contains("still running"), "{}", err.message);
    assert!(
        host.invoke("echo", &json!({}), None).is_ok(),
        "inline tools are unaffected"
    );
    r.release.send(()).unwrap();
}

#[test]
fn cacheable_results_are_cached_when_enabled() {
    let r = rig(HostConfig::default());
    // The first call of a tool pays for warm-up and is not judged; the next slow calls
    // raise its average cost past the threshold, and then results are stored and hit.
    for _ in 0..3 {
        assert_eq!(
            r.host
                .invoke("counted", &json!({"x": 1}), None)
                .unwrap()
                .text,
            r#"{"x":1}"#
        );
    }
    assert_eq!(r.counted.load(Ordering::SeqCst), 2);
    r.host.invoke("counted", &json!({"x": 2}), None).unwrap();
    r.host.invoke("counted", &json!({"x": 2}), None).unwrap();
    assert_eq!(r.counted.load(Ordering::SeqCst), 3);
    // A cacheable tool faster than the cache itself is never looked up or stored.
    for _ in 0..3 {
        r.host.invoke("quick", &json!({"x": 1}), None).unwrap();
    }
    assert_eq!(r.quick.load(Ordering::SeqCst), 3);

    let off = rig(HostConfig {
        cache: CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        },
        ..HostConfig::default()
    });
    for _ in 0..3 {
        off.host.invoke("counted", &json!({"x": 1}), None).unwrap();
    }
    assert_eq!(off.counted.load(Ordering::SeqCst), 3);
}

#[test]
fn batch_results_come_back_in_order() {
    let r = rig(HostConfig {
        workers: 4,
        ..HostConfig::default()
    });
    // Later calls finish first.
    let mut calls: Vec<(String, Value)> = (0..6)
        .map(|i| ("nap".to_owned(), json!({"id": i, "ms": (6 - i) * 20})))
        .collect();
    calls.insert(3, ("nope".to_owned(), json!({})));
    let results = r.host.batch(&calls);
    assert_eq!(results.len(), 7);
    let texts: Vec<String> = results
        .into_iter()
        .map(|r| {
            r.map(|o| o.text)
                .unwrap_or_else(|e| e.kind.as_str().to_owned())
        })
        .collect();
    assert_eq!(texts, ["0", "1", "2", "unknown_tool", "3", "4", "5"]);
    // Inline-only batches too, small and large.
    let small: Vec<(String, Value)> = (0..3).map(|i| ("echo".into(), json!({"i": i}))).collect();
    let large: Vec<(String, Value)> = (0..100).map(|i| ("echo".into(), json!({"i": i}))).collect();
    for calls in [small, large] {
        let texts: Vec<String> = r
            .host
            .batch(&calls)
            .into_iter()
            .map(|r| r.unwrap().text)
            .collect();
        let want: Vec<String> = (0..calls.len())
            .map(|i| format!(r#"{{"i":{i}}}"#))
            .collect();
        assert_eq!(texts, want);
    }
}

#[test]
fn batch_calls_overlap() {
    let r = rig(HostConfig {
        workers: 4,
        ..HostConfig::default()
    });
    let calls: Vec<(String, Value)> = (0..4).map(|_| ("meet".to_owned(), json!({}))).collect();
    let results = r.host.batch(&calls);
    assert!(results.iter().all(|r| r.is_ok()));
    assert!(
        r.max_running.load(Ordering::SeqCst) >= 2,
        "the batch ran one call at a time"
    );
}

#[test]
fn io_tools_register_and_run_through_the_host() {
    let mut registry = Registry::new();
    llmspell_tools::io::register(&mut registry);
    assert_eq!(registry.len(), 7);
    for name in [
        "file-operations",
        "file-search",
        "archive-handler",
        "environment-reader",
        "process-executor",
        "system-monitor",
        "http-requester",
    ] {
        assert!(registry.get(name).is_some(), "{name}");
    }
    let sb = common::Sandbox::new();
    let host = Host::new(
        registry,
        HostConfig {
            policy: sb.policy.clone(),
            ..HostConfig::default()
        },
    );
    let write = json!({"operation": "write", "path": "a.txt", "content": "hi"});
    host.invoke("file-operations", &write, None).unwrap();
    let read = json!({"operation": "read", "path": "a.txt"});
    assert_eq!(
        host.invoke("file-operations", &read, None).unwrap().text,
        "hi"
    );
    // The schema requires content for write, and the registry says so before the tool runs.
    let bad = json!({"operation": "write", "path": "b.txt"});
    assert_eq!(
        kind(host.invoke("file-operations", &bad, None)),
        ToolErrorKind::InvalidParams
    );
    let bad = json!({"operation": "shred", "path": "a.txt"});
    assert_eq!(
        kind(host.invoke("file-operations", &bad, None)),
        ToolErrorKind::InvalidParams
    );
    let outside = json!({"operation": "write", "path": "../x.txt", "content": "x"});
    assert_eq!(
        kind(host.invoke("file-operations", &outside, None)),
        ToolErrorKind::PermissionDenied
    );
    let closed = json!({"program": "echo"});
    assert_eq!(
        kind(host.invoke("process-executor", &closed, None)),
        ToolErrorKind::PermissionDenied
    );
    assert!(host.invoke("environment-reader", &json!({}), None).is_ok());
}

#[test]
fn resolved_calls_get_every_check_of_named_ones() {
    let r = rig(HostConfig {
        max_params_bytes: 100,
        workers: 1,
        tool_timeouts_ms: HashMap::from([("gate".to_owned(), 50)]),
        ..HostConfig::default()
    });
    let strict = r.host.resolve("strict").unwrap();
    assert_eq!(strict.name(), "strict");
    assert_eq!(
        r.host.resolve("strikt").unwrap_err().kind,
        ToolErrorKind::UnknownTool
    );
    // Validation, naming the parameter.
    let err = r
        .host
        .invoke_id(strict, &json!({"x": "1"}), None)
        .unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::InvalidParams);
    assert!(err.message.contains("`x`"), "{}", err.message);
    assert_eq!(
        r.host
            .invoke_id(strict, &json!({"x": 1}), None)
            .unwrap()
            .text,
        "1"
    );
    // The size limit.
    let echo = r.host.resolve("echo").unwrap();
    let big = json!({"a": "x".repeat(200)});
    assert_eq!(
        kind(r.host.invoke_id(echo, &big, None)),
        ToolErrorKind::TooLarge
    );
    // Panics, inline and pooled.
    for name in ["boom", "boom-blocking"] {
        let id = r.host.resolve(name).unwrap();
        assert_eq!(
            kind(r.host.invoke_id(id, &json!({}), None)),
            ToolErrorKind::Internal
        );
    }
    // A blocking tool keeps its timeout, its own or the one given.
    let gate = r.host.resolve("gate").unwrap();
    assert_eq!(
        kind(r.host.invoke_id(gate, &json!({}), None)),
        ToolErrorKind::Timeout
    );
    assert_eq!(
        kind(r.host.invoke_id(gate, &json!({}), Some(30))),
        ToolErrorKind::Timeout
    );
    for _ in 0..2 {
        r.release.send(()).unwrap();
    }
    // An id from another registry is looked up here by name.
    let mut other = Registry::new();
    other
        .register(tool("aaa", false, false, |_| text("aaa")))
        .unwrap();
    other
        .register(tool("strict", false, false, |_| text("other")))
        .unwrap();
    let foreign = other.id("strict").unwrap();
    assert_eq!(
        r.host
            .invoke_id(foreign, &json!({"x": 2}), None)
            .unwrap()
            .text,
        "2"
    );
    let missing = other.id("aaa").unwrap();
    assert_eq!(
        kind(r.host.invoke_id(missing, &json!({}), None)),
        ToolErrorKind::UnknownTool
    );
}

#[test]
fn a_cheap_cacheable_tool_stays_uncached_over_many_calls() {
    let r = rig(HostConfig::default());
    let quick = r.host.resolve("quick").unwrap();
    for _ in 0..100 {
        r.host.invoke_id(quick, &json!({"x": 1}), None).unwrap();
    }
    assert_eq!(r.quick.load(Ordering::SeqCst), 100);
    // A slow one is cached from its third call on, by id as by name.
    let counted = r.host.resolve("counted").unwrap();
    for _ in 0..5 {
        r.host.invoke_id(counted, &json!({"x": 1}), None).unwrap();
    }
    assert_eq!(r.counted.load(Ordering::SeqCst), 2);
}
