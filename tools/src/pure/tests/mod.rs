//! Tests of the pure tools, calling each tool's `invoke` directly.

mod calculator;
mod data;
mod encoding;
mod text;
mod time;

use llmspell_core::tools::{Policy, Tool, ToolContext, ToolErrorKind, ToolOutput};
use serde_json::Value;

/// Runs `tool` on `params`, which must succeed.
fn ok(tool: &dyn Tool, params: Value) -> ToolOutput {
    let policy = Policy::default();
    match tool.invoke(&params, &ToolContext { policy: &policy }) {
        Ok(output) => output,
        Err(err) => panic!("{} {params} failed: {err}", tool.spec().name),
    }
}

/// Runs `tool` on `params`, which must fail: the error's kind and message.
fn err(tool: &dyn Tool, params: Value) -> (ToolErrorKind, String) {
    let policy = Policy::default();
    match tool.invoke(&params, &ToolContext { policy: &policy }) {
        Ok(output) => panic!("{} {params} succeeded: {}", tool.spec().name, output.text),
        Err(err) => (err.kind, err.message),
    }
}

#[test]
fn every_tool_has_a_distinct_kebab_name_and_an_object_schema() {
    let tools = super::tools();
    assert_eq!(tools.len(), 13);
    let mut names: Vec<&str> = tools.iter().map(|t| t.spec().name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), tools.len());
    for tool in &tools {
        let spec = tool.spec();
        assert!(spec
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        assert!(["utility", "data", "text", "time"].contains(&spec.category));
        assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
        assert!(spec.parameters["properties"].is_object(), "{}", spec.name);
        assert!(!spec.blocking);
        assert!(spec.description.ends_with('.'));
        // Every schema compiles as a JSON Schema.
        assert!(
            jsonschema::validator_for(&spec.parameters).is_ok(),
            "{}",
            spec.name
        );
        let cacheable = !matches!(spec.name, "uuid-generator" | "datetime-handler");
        assert_eq!(spec.cacheable, cacheable, "{}", spec.name);
    }
}

#[test]
fn non_object_parameters_are_invalid_not_a_panic() {
    for tool in super::tools() {
        for params in [Value::Null, Value::from(3), Value::from("x")] {
            let policy = Policy::default();
            let result = tool.invoke(&params, &ToolContext { policy: &policy });
            // uuid-generator needs no parameters, so any object-less call may default.
            if let Err(e) = result {
                assert_eq!(e.kind, ToolErrorKind::InvalidParams, "{}", tool.spec().name);
            }
        }
    }
}
