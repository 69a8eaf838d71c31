//! Tests of the registry and of search ranking, with fake tools.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::super::{
    Policy, SecurityLevel, Tool, ToolContext, ToolError, ToolErrorKind, ToolOutput, ToolResult,
    ToolSpec,
};
use super::Registry;

/// A tool that runs a plain function and counts its calls.
struct Fake {
    spec: ToolSpec,
    run: fn(&Value) -> ToolResult,
    calls: AtomicUsize,
}

impl Tool for Fake {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.run)(params)
    }
}

fn echo(params: &Value) -> ToolResult {
    Ok(ToolOutput {
        text: params.to_string(),
        data: params.clone(),
    })
}

fn fake(
    name: &'static str,
    category: &'static str,
    description: &'static str,
    parameters: Value,
) -> Arc<Fake> {
    Arc::new(Fake {
        spec: ToolSpec {
            name,
            category,
            description,
            parameters,
            security: SecurityLevel::Safe,
            cacheable: true,
            blocking: false,
        },
        run: echo,
        calls: AtomicUsize::new(0),
    })
}

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
        "additionalProperties": false
    })
}

/// A registry of five tools, registered out of order.
fn registry() -> Registry {
    let mut r = Registry::new();
    let tools = [
        fake(
            "hash-calculator",
            "utility",
            "Computes MD5, SHA-1 and SHA-256 digests of text.",
            input_schema(),
        ),
        fake(
            "calculator",
            "utility",
            "Evaluates arithmetic expressions.",
            input_schema(),
        ),
        fake(
            "json-processor",
            "data",
            "Runs jq queries on JSON documents.",
            json!({"type": "object"}),
        ),
        fake(
            "file-operations",
            "filesystem",
            "Reads, writes, copies and deletes files.",
            json!({
                "type": "object",
                "properties": {
                    "options": {
                        "type": "object",
                        "properties": {"depth": {"type": "integer", "minimum": 0}},
                        "required": ["mode"]
                    },
                    "items": {"type": "array", "items": {"type": "string"}}
                }
            }),
        ),
        fake("csv-analyzer", "data", "Summarises CSV tables.", json!({})),
    ];
    for tool in tools {
        r.register(tool).expect("registers");
    }
    r
}

fn policy() -> Policy {
    Policy::default()
}

#[test]
fn register_checks_names_duplicates_and_schemas() {
    let mut r = Registry::new();
    assert!(r.is_empty());
    for bad in [
        "Calc",
        "my_tool",
        "-a",
        "a-",
        "a--b",
        "1abc",
        "",
        "calc ulator",
        "é",
    ] {
        let err = r.register(fake(bad, "x", "x", json!({}))).unwrap_err();
        assert_eq!(
            err,
            format!(
                "tool name `{bad}` is not kebab-case (lowercase letters and digits in words \
                 joined by single hyphens, starting with a letter)"
            )
        );
    }
    r.register(fake("a1-b2-c", "x", "x", json!({}))).unwrap();
    assert_eq!(
        r.register(fake("a1-b2-c", "y", "y", json!({})))
            .unwrap_err(),
        "a tool named `a1-b2-c` is already registered"
    );
    let err = r
        .register(fake("bad-schema", "x", "x", json!({"type": 42})))
        .unwrap_err();
    assert!(
        err.starts_with("the parameters schema of tool `bad-schema` does not compile: "),
        "{err}"
    );
    assert_eq!(r.len(), 1);
}

#[test]
fn list_categories_get_and_info() {
    let r = registry();
    assert_eq!(r.len(), 5);
    let names: Vec<&str> = r.list(None).iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "calculator",
            "csv-analyzer",
            "file-operations",
            "hash-calculator",
            "json-processor"
        ]
    );
    let data: Vec<&str> = r.list(Some("data")).iter().map(|s| s.name).collect();
    assert_eq!(data, ["csv-analyzer", "json-processor"]);
    assert!(r.list(Some("nosuch")).is_empty());
    assert_eq!(r.categories(), ["data", "filesystem", "utility"]);
    assert_eq!(r.get("calculator").unwrap().spec().name, "calculator");
    assert!(r.get("calc").is_none());
    let spec = r.info("json-processor").unwrap();
    assert_eq!(spec.description, "Runs jq queries on JSON documents.");
}

#[test]
fn unknown_tools_name_the_closest_matches() {
    let r = registry();
    let err = r.info("calculater").unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::UnknownTool);
    assert_eq!(
        err.message,
        "unknown tool `calculater`; did you mean `calculator` or `hash-calculator`?"
    );
    assert_eq!(
        r.info("jsn").unwrap_err().message,
        "unknown tool `jsn`; did you mean `json-processor`?"
    );
    assert_eq!(
        r.info("zzzzzz").unwrap_err(),
        ToolError::new(ToolErrorKind::UnknownTool, "unknown tool `zzzzzz`")
    );
    let mut many = registry();
    for name in ["calc-a", "calc-b"] {
        many.register(fake(name, "x", "x", json!({}))).unwrap();
    }
    assert_eq!(
        many.info("calc").unwrap_err().message,
        "unknown tool `calc`; did you mean `calc-a`, `calc-b` or `calculator`?"
    );
}

#[test]
fn suggest_by_substring_then_edit_distance() {
    let r = registry();
    assert_eq!(r.suggest("calc"), ["calculator", "hash-calculator"]);
    assert_eq!(r.suggest("CALCULATOR"), ["calculator", "hash-calculator"]);
    assert_eq!(r.suggest("calculater"), ["calculator", "hash-calculator"]);
    assert_eq!(r.suggest("fiel"), ["file-operations"]);
    assert_eq!(r.suggest("csv-analyser"), ["csv-analyzer"]);
    assert_eq!(
        r.suggest("hash-calculator-x"),
        ["hash-calculator", "calculator"]
    );
    assert!(r.suggest("").is_empty());
    assert!(r.suggest("network").is_empty());
    // At most three.
    assert_eq!(r.suggest("a").len(), 3);
}

#[test]
fn validate_names_the_parameter_and_why() {
    let r = registry();
    let invalid = |name: &str, params: Value| {
        let err = r.validate(name, &params).unwrap_err();
        assert_eq!(err.kind, ToolErrorKind::InvalidParams, "{err}");
        err.message
    };
    assert_eq!(r.validate("calculator", &json!({"input": "2+2"})), Ok(()));
    assert_eq!(
        invalid("calculator", json!({"input": 42})),
        "parameter `input`: 42 is not of type \"string\""
    );
    assert_eq!(
        invalid("calculator", json!({})),
        "parameter `input` is required"
    );
    assert_eq!(
        invalid("calculator", json!({"input": "1", "extra": true})),
        "parameters: Additional properties are not allowed ('extra' was unexpected)"
    );
    assert_eq!(
        invalid("calculator", json!(42)),
        "parameters: 42 is not of type \"object\""
    );
    assert_eq!(
        invalid(
            "file-operations",
            json!({"options": {"mode": "r", "depth": -1}})
        ),
        "parameter `options.depth`: -1 is less than the minimum of 0"
    );
    assert_eq!(
        invalid("file-operations", json!({"options": {}})),
        "parameter `options.mode` is required"
    );
    assert_eq!(
        invalid("file-operations", json!({"items": ["a", 2]})),
        "parameter `items[1]`: 2 is not of type \"string\""
    );
    let err = r.validate("calculater", &json!({})).unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::UnknownTool);
}

#[test]
fn invoke_validates_runs_and_catches_panics() {
    let mut r = registry();
    let policy = policy();
    let ctx = ToolContext { policy: &policy };
    let out = r
        .invoke("calculator", &json!({"input": "1"}), &ctx)
        .unwrap();
    assert_eq!(out.data, json!({"input": "1"}));
    assert_eq!(out.text, r#"{"input":"1"}"#);

    let counted = fake("counted", "x", "x", input_schema());
    r.register(counted.clone()).unwrap();
    let err = r.invoke("counted", &json!({"input": 1}), &ctx).unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::InvalidParams);
    assert_eq!(counted.calls.load(Ordering::SeqCst), 0, "not run");
    r.invoke("counted", &json!({"input": "x"}), &ctx).unwrap();
    assert_eq!(counted.calls.load(Ordering::SeqCst), 1);

    let failing = Arc::new(Fake {
        run: |_| Err(ToolError::failed("no such file")),
        ..Arc::into_inner(fake("failing", "x", "x", json!({}))).unwrap()
    });
    r.register(failing).unwrap();
    assert_eq!(
        r.invoke("failing", &json!({}), &ctx),
        Err(ToolError::failed("no such file"))
    );

    let panicking = Arc::new(Fake {
        run: |p| match p["how"].as_str() {
            Some("string") => panic!("kaboom {}", 42),
            _ => std::panic::panic_any(7_u8),
        },
        ..Arc::into_inner(fake("boom", "x", "x", json!({}))).unwrap()
    });
    r.register(panicking).unwrap();
    assert_eq!(
        r.invoke("boom", &json!({"how": "string"}), &ctx),
        Err(ToolError::new(
            ToolErrorKind::Internal,
            "tool `boom` panicked: kaboom 42"
        ))
    );
    assert_eq!(
        r.invoke("boom", &json!({}), &ctx).unwrap_err().message,
        "tool `boom` panicked: (no message)"
    );
    // Still usable after a panic.
    assert!(r.invoke("calculator", &json!({"input": "1"}), &ctx).is_ok());
    assert_eq!(
        r.invoke("nosuch", &json!({}), &ctx).unwrap_err().kind,
        ToolErrorKind::UnknownTool
    );
}

fn ranked(r: &Registry, query: &str) -> Vec<(f32, &'static str)> {
    r.search(query, usize::MAX)
        .into_iter()
        .map(|(score, spec)| (score, spec.name))
        .collect()
}

#[test]
fn search_ranks_name_over_description_over_category() {
    let r = registry();
    // Exact name, then a name prefix, then a word of a name.
    assert_eq!(
        ranked(&r, "calculator"),
        [(1.0, "calculator"), (0.7, "hash-calculator")]
    );
    assert_eq!(ranked(&r, "Hash Calculator")[0], (1.0, "hash-calculator"));
    assert_eq!(ranked(&r, "hash-calculator")[0], (1.0, "hash-calculator"));
    assert_eq!(
        ranked(&r, "calc"),
        [(0.8, "calculator"), (0.7, "hash-calculator")]
    );
    // A substring of a name.
    assert_eq!(
        ranked(&r, "ulat"),
        [(0.6, "calculator"), (0.6, "hash-calculator")]
    );
    // A word of a description, then the start of one.
    assert_eq!(ranked(&r, "jq"), [(0.4, "json-processor")]);
    assert_eq!(ranked(&r, "digest"), [(0.3, "hash-calculator")]);
    // The category.
    assert_eq!(ranked(&r, "filesys"), [(0.2, "file-operations")]);
    // "json" is in a name (0.8) and in a description word ("JSON", 0.4) of the same tool;
    // "data" is a category of two tools.
    assert_eq!(
        ranked(&r, "DATA"),
        [(0.2, "csv-analyzer"), (0.2, "json-processor")]
    );
    // Several words: the mean, so matching both ranks first.
    let both = ranked(&r, "json queries");
    assert_eq!(both[0].1, "json-processor");
    assert!((both[0].0 - 0.6).abs() < 1e-6, "{both:?}");
    assert!(ranked(&r, "nothing-matches").is_empty());
}

#[test]
fn search_empty_query_lists_all_and_limit_applies() {
    let r = registry();
    let all = ranked(&r, "  ");
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|(score, _)| *score == 1.0));
    assert_eq!(all[0].1, "calculator");
    assert_eq!(r.search("calc", 1).len(), 1);
    assert!(r.search("calc", 0).is_empty());
    for query in ["a", "e", "calc json", "x y z", "utility"] {
        for (score, _) in r.search(query, 10) {
            assert!(score > 0.0 && score <= 1.0, "{query}: {score}");
        }
    }
}

#[test]
fn ids_resolve_once_and_survive_later_registrations() {
    let mut r = registry();
    let calc = r.id("calculator").expect("registered");
    assert_eq!(calc.name(), "calculator");
    assert_eq!(r.resolve("calculator"), Ok(calc));
    assert_eq!(
        r.resolve("calculater").unwrap_err(),
        ToolError::new(
            ToolErrorKind::UnknownTool,
            "unknown tool `calculater`; did you mean `calculator` or `hash-calculator`?"
        )
    );
    assert_eq!(r.id("nope"), None);
    // `ids` follows the indexes, by name.
    let names: Vec<&str> = r.ids().map(|id| id.name()).collect();
    let listed: Vec<&str> = r.list(None).iter().map(|s| s.name).collect();
    assert_eq!(names, listed);
    assert!(r
        .ids()
        .enumerate()
        .all(|(i, id)| id.index() == i && r.holds(id)));
    // Validation and the tool through the id, as through the name.
    let tool = r.validate_id(calc, &json!({"input": "1"})).expect("valid");
    assert_eq!(tool.spec().name, "calculator");
    assert_eq!(
        r.validate_id(calc, &json!({"input": 1})).err(),
        r.validate("calculator", &json!({"input": 1})).err()
    );
    // A registration sorted before it moves calculator: the old id still names it.
    r.register(fake("add", "utility", "Adds.", json!({})))
        .expect("registers");
    assert!(!r.holds(calc));
    assert_eq!(r.get_id(calc).map(|t| t.spec().name), Some("calculator"));
    assert!(r.validate_id(calc, &json!({"input": "1"})).is_ok());
    let moved = r.id("calculator").expect("registered");
    assert_eq!(moved.index(), calc.index() + 1);
    assert!(r.holds(moved));
    // An id from another registry names its tool too, or no tool.
    let other = registry();
    assert_eq!(
        other.get_id(r.id("add").unwrap()).map(|t| t.spec().name),
        None
    );
    assert_eq!(
        other
            .validate_id(r.id("add").unwrap(), &json!({}))
            .err()
            .map(|e| e.kind),
        Some(ToolErrorKind::UnknownTool)
    );
    assert!(other.validate_id(moved, &json!({"input": "1"})).is_ok());
}
