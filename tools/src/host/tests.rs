//! The pool on its own, with test tools: timeouts, abandonment, cancellation, panics and
//! parallelism. (The whole host, through the registry, is tested in tests/host.rs.)

use super::pool::{run_caught, Pool};
use crossbeam_channel::{unbounded, Receiver, Sender};
use llmspell_core::tools::{
    Policy, SecurityLevel, Tool, ToolContext, ToolErrorKind, ToolOutput, ToolResult, ToolSpec,
};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spec(name: &'static str) -> ToolSpec {
    ToolSpec {
        name,
        category: "test",
        description: "a test tool",
        parameters: json!({"type": "object"}),
        security: SecurityLevel::Safe,
        cacheable: false,
        blocking: true,
    }
}

/// Says it started, then waits to be released (30 s at most, so no test can hang).
struct Gate {
    spec: ToolSpec,
    started: Sender<()>,
    release: Receiver<()>,
}

impl Tool for Gate {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn invoke(&self, _: &Value, _: &ToolContext<'_>) -> ToolResult {
        let _ = self.started.send(());
        let _ = self.release.recv_timeout(Duration::from_secs(30));
        Ok(ToolOutput {
            text: "released".into(),
            data: Value::Null,
        })
    }
}

/// Counts its calls and panics when asked to.
struct Quick {
    spec: ToolSpec,
    calls: AtomicUsize,
}

impl Tool for Quick {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn invoke(&self, params: &Value, _: &ToolContext<'_>) -> ToolResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if params.get("panic").is_some() {
            panic!("asked to panic");
        }
        Ok(ToolOutput {
            text: "quick".into(),
            data: Value::Null,
        })
    }
}

struct Fixture {
    gate: Arc<Gate>,
    started: Receiver<()>,
    release: Sender<()>,
    quick: Arc<Quick>,
    policy: Arc<Policy>,
}

fn fixture() -> Fixture {
    let (started_tx, started) = unbounded();
    let (release, release_rx) = unbounded();
    Fixture {
        gate: Arc::new(Gate {
            spec: spec("gate"),
            started: started_tx,
            release: release_rx,
        }),
        started,
        release,
        quick: Arc::new(Quick {
            spec: spec("quick"),
            calls: AtomicUsize::new(0),
        }),
        policy: Arc::new(Policy::default()),
    }
}

const LONG: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(50);

/// Waits (10 s at most) until the pool has no abandoned thread left.
fn settle(pool: &Pool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.abandoned() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(pool.abandoned(), 0);
}

#[test]
fn a_runaway_call_is_abandoned_and_its_worker_replaced() {
    let f = fixture();
    let pool = Pool::new(1, 8);
    let err = pool
        .run(f.gate.clone(), Value::Null, f.policy.clone(), SHORT)
        .unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::Timeout);
    assert!(err.message.contains("abandoned"), "{}", err.message);
    assert_eq!(pool.abandoned(), 1);
    // One worker allowed, and it is stuck: a new one takes this call.
    let out = pool.run(f.quick.clone(), json!({}), f.policy.clone(), LONG);
    assert_eq!(out.unwrap().text, "quick");
    f.release.send(()).unwrap();
    settle(&pool);
    let out = pool.run(f.quick.clone(), json!({}), f.policy.clone(), LONG);
    assert!(out.is_ok());
}

#[test]
fn a_call_that_times_out_in_the_queue_never_runs() {
    let f = fixture();
    let pool = Arc::new(Pool::new(1, 8));
    let busy = {
        let (pool, gate, policy) = (pool.clone(), f.gate.clone(), f.policy.clone());
        std::thread::spawn(move || pool.run(gate, Value::Null, policy, LONG))
    };
    f.started.recv_timeout(LONG).unwrap();
    let err = pool
        .run(f.quick.clone(), json!({}), f.policy.clone(), SHORT)
        .unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::Timeout);
    assert!(err.message.contains("waited"), "{}", err.message);
    f.release.send(()).unwrap();
    assert_eq!(busy.join().unwrap().unwrap().text, "released");
    let out = pool.run(f.quick.clone(), json!({}), f.policy.clone(), LONG);
    assert!(out.is_ok());
    // Only the last call ran: the cancelled one was skipped by the worker.
    assert_eq!(f.quick.calls.load(Ordering::SeqCst), 1);
    assert_eq!(pool.abandoned(), 0);
}

#[test]
fn past_the_abandoned_limit_calls_are_refused_until_they_end() {
    let f = fixture();
    let pool = Pool::new(2, 1);
    let err = pool
        .run(f.gate.clone(), Value::Null, f.policy.clone(), SHORT)
        .unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::Timeout);
    let err = pool
        .run(f.quick.clone(), json!({}), f.policy.clone(), LONG)
        .unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::Failed);
    assert!(err.message.contains("still running"), "{}", err.message);
    assert_eq!(f.quick.calls.load(Ordering::SeqCst), 0);
    f.release.send(()).unwrap();
    settle(&pool);
    assert!(pool
        .run(f.quick.clone(), json!({}), f.policy.clone(), LONG)
        .is_ok());
}

#[test]
fn a_panic_becomes_internal_and_the_worker_lives_on() {
    let f = fixture();
    let pool = Pool::new(1, 8);
    let err = pool
        .run(
            f.quick.clone(),
            json!({"panic": true}),
            f.policy.clone(),
            LONG,
        )
        .unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::Internal);
    assert!(err.message.contains("asked to panic"), "{}", err.message);
    assert!(pool
        .run(f.quick.clone(), json!({}), f.policy.clone(), LONG)
        .is_ok());
    let err = run_caught(f.quick.as_ref(), &json!({"panic": 1}), &f.policy).unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::Internal);
}

#[test]
fn calls_run_in_parallel_up_to_the_worker_count() {
    let f = fixture();
    let pool = Arc::new(Pool::new(4, 8));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (pool, gate, policy) = (pool.clone(), f.gate.clone(), f.policy.clone());
            std::thread::spawn(move || pool.run(gate, Value::Null, policy, LONG))
        })
        .collect();
    // All four are inside the tool at once before any is released.
    for _ in 0..4 {
        f.started.recv_timeout(LONG).unwrap();
    }
    for _ in 0..4 {
        f.release.send(()).unwrap();
    }
    for caller in callers {
        assert!(caller.join().unwrap().is_ok());
    }
}

#[test]
fn the_size_bound_is_never_below_the_serialized_size() {
    let values = [
        json!(null),
        json!(true),
        json!(-9_223_372_036_854_775_808_i64),
        json!(u64::MAX),
        json!(-1.797_693_134_862_315_7e308),
        json!(5e-324),
        json!(""),
        json!("\u{0}\u{1f}\"\\\n\t"),
        json!("h\u{e9}llo \u{1f600}"),
        json!([]),
        json!({}),
        json!([1, [2, [3, {"a": null}]], "x"]),
        json!({"\u{1}key": {"nested": [1.5, -2, "\u{7f}"]}, "b": false}),
    ];
    for value in values {
        let exact = serde_json::to_string(&value).unwrap().len();
        let bound = super::size_bound(&value, usize::MAX);
        assert!(bound >= exact, "{value}: bound {bound} < {exact}");
    }
    // Past the limit it stops early, and says so.
    let big = json!(vec!["x".repeat(100); 1000]);
    assert!(super::size_bound(&big, 500) > 500);
}

#[test]
fn cost_is_timed_on_early_calls_then_one_in_sixteen_unless_worth_caching() {
    let meter = super::cost::CostMeter::new();
    let timed: Vec<bool> = (0..64).map(|_| meter.time_this_call(false)).collect();
    assert!(timed[..16].iter().all(|&t| t));
    let later: Vec<usize> = (16..64).filter(|&i| timed[i]).collect();
    assert_eq!(later, [16, 32, 48]);
    assert!((64..80).all(|_| meter.time_this_call(true)));
    assert!(!meter.worth_caching());
    meter.record(Duration::from_millis(1)); // warm-up: not judged
    assert!(!meter.worth_caching());
    // One slow call (a preemption, or a slow tool) makes it worth caching ...
    meter.record(Duration::from_millis(50));
    assert!(meter.worth_caching());
    // ... and, capped, one fast call after it undoes that, unless calls stay slow.
    meter.record(Duration::from_micros(1));
    assert!(!meter.worth_caching());
    for _ in 0..3 {
        meter.record(Duration::from_millis(50));
    }
    meter.record(Duration::from_micros(1));
    assert!(meter.worth_caching());
}
