use super::{err, ok};
use crate::pure::{CsvAnalyzer, DataValidator, JsonProcessor};
use llmspell_core::tools::ToolErrorKind;
use serde_json::{json, Value};

fn jq(input: Value, query: &str) -> Value {
    ok(
        &JsonProcessor::new(),
        json!({"input": input, "query": query}),
    )
    .data["results"]
        .clone()
}

#[test]
fn jq_queries() {
    let doc = json!({"items": [
        {"name": "pen", "price": 2, "tags": ["office"]},
        {"name": "lamp", "price": 25, "tags": ["home", "office"]},
        {"name": "mug", "price": 12.5, "tags": ["home"]}
    ]});
    assert_eq!(jq(doc.clone(), ".items | length"), json!([3]));
    assert_eq!(
        jq(doc.clone(), ".items[] | select(.price > 10) | .name"),
        json!(["lamp", "mug"])
    );
    assert_eq!(jq(doc.clone(), "[.items[].price] | add"), json!([39.5]));
    assert_eq!(
        jq(doc.clone(), ".items | map(.name) | sort"),
        json!([["lamp", "mug", "pen"]])
    );
    assert_eq!(
        jq(
            doc.clone(),
            "[.items[] | .tags[]] | group_by(.) | map({(.[0]): length}) | add"
        ),
        json!([{"home": 2, "office": 2}])
    );
    assert_eq!(jq(doc.clone(), ".missing"), json!([null]));
    assert_eq!(jq(json!([1, 2, 3]), ".[] * 2"), json!([2, 4, 6]));
    // A string input is read as JSON text.
    assert_eq!(jq(json!("{\"a\": {\"b\": 7}}"), ".a.b"), json!([7]));
}

#[test]
fn jq_text_output() {
    let tool = JsonProcessor::new();
    let out = ok(
        &tool,
        json!({"input": {"a": [1, 2]}, "query": ".a", "compact": true}),
    );
    assert_eq!(out.text, "[1,2]");
    let out = ok(&tool, json!({"input": {"a": [1, 2]}, "query": ".a"}));
    assert_eq!(out.text, "[\n  1,\n  2\n]");
    let out = ok(
        &tool,
        json!({"input": ["x", "y"], "query": ".[]", "raw_output": true}),
    );
    assert_eq!(out.text, "x\ny");
}

#[test]
fn jq_errors_and_limits() {
    let tool = JsonProcessor::new();
    let (kind, message) = err(&tool, json!({"input": {}, "query": ".a | "}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("query"), "{message}");
    let (kind, message) = err(&tool, json!({"input": {}, "query": "nosuchfn(1)"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("undefined filter `nosuchfn`"), "{message}");
    // Filters that would read the environment or the clock are not there.
    let (kind, message) = err(&tool, json!({"input": {}, "query": "env"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("env"), "{message}");
    let (kind, message) = err(&tool, json!({"input": {"a": "x"}, "query": ".a + 1"}));
    assert_eq!(kind, ToolErrorKind::Failed);
    assert!(message.starts_with("jq error"), "{message}");
    let (kind, _) = err(&tool, json!({"input": "{not json", "query": "."}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    // An endless stream stops at the limit.
    let out = ok(&tool, json!({"input": null, "query": "repeat(1)"}));
    assert_eq!(out.data["count"], crate::pure::json_processor::MAX_RESULTS);
    assert_eq!(out.data["truncated"], true);
}

#[test]
fn jq_definitions_but_not_recursive_ones() {
    let tool = JsonProcessor::new();
    assert_eq!(
        jq(
            json!([1, 2]),
            "def double: . * 2; def quad: double | double; map(quad)"
        ),
        json!([[4, 8]])
    );
    // Library recursion is fine: recurse, until and paths are bounded by the data or
    // the result limit.
    assert_eq!(jq(json!(0), "until(. >= 5; . + 1)"), json!([5]));
    assert_eq!(jq(json!({"a": {"b": 1}}), "[paths] | length"), json!([2]));
    // A definition that calls itself could exhaust the stack and abort the process.
    for query in [
        "def f: 1 + f; f",
        "def f: def g: f; g; f",
        "def f($n): if $n > 0 then f($n - 1) else . end; f(3)",
        "def f: [.[] | {a: f}]; f",
    ] {
        let (kind, message) = err(&tool, json!({"input": [], "query": query}));
        assert_eq!(kind, ToolErrorKind::InvalidParams, "{query}");
        assert!(message.contains("`f` calls itself"), "{query}: {message}");
    }
    // Values built deeper than JSON allows are refused, not printed or dropped
    // recursively.
    let (kind, message) = err(
        &tool,
        json!({"input": [],
        "query": "reduce range(200000) as $i ([]; [.])"}),
    );
    assert_eq!(kind, ToolErrorKind::Failed);
    assert!(message.contains("nested deeper"), "{message}");
    assert_eq!(
        jq(json!(0), "reduce range(100) as $i (.; [.]) | flatten"),
        json!([[0]])
    );
    // Deeply nested queries parse on the evaluation thread's large stack.
    let deep = format!("{}.{}", "(".repeat(5000), ")".repeat(5000));
    assert_eq!(jq(json!(7), &deep), json!([7]));
}

#[test]
fn schema_violations_name_their_paths() {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "age": {"type": "integer", "minimum": 0},
            "email": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["name", "age"]
    });
    let tool = DataValidator::new();
    let good = ok(
        &tool,
        json!({"data": {"name": "Ada", "age": 36, "tags": ["x"]},
        "schema": schema}),
    );
    assert_eq!(good.text, "valid");
    assert_eq!(
        good.data,
        json!({"valid": true, "error_count": 0, "errors": []})
    );
    let bad = ok(
        &tool,
        json!({
            "data": {"age": -1, "email": "not an email", "tags": ["ok", 3]},
            "schema": schema,
        }),
    );
    assert_eq!(bad.data["valid"], false);
    let mut paths: Vec<&str> = bad.data["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["instance_path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    assert_eq!(paths, ["", "/age", "/email", "/tags/1"]);
    assert!(bad.text.starts_with("invalid: 4 errors"), "{}", bad.text);
    assert!(
        bad.text.contains("/tags/1: 3 is not of type \"string\""),
        "{}",
        bad.text
    );
    assert!(
        bad.text.contains("/: \"name\" is a required property"),
        "{}",
        bad.text
    );
    // Formats are not checked when asked not to.
    let lax = ok(
        &tool,
        json!({"data": {"name": "a", "age": 1, "email": "nope"},
        "schema": schema, "validate_formats": false}),
    );
    assert_eq!(lax.data["valid"], true);
    let capped = ok(
        &tool,
        json!({"data": [1, 2, 3], "max_errors": 1,
        "schema": {"items": {"type": "string"}}}),
    );
    assert_eq!(capped.data["error_count"], 3);
    assert_eq!(capped.data["errors"].as_array().unwrap().len(), 1);
    assert!(capped.text.ends_with("... and 2 more"), "{}", capped.text);
}

#[test]
fn unusable_schemas_are_invalid_params() {
    let tool = DataValidator::new();
    let (kind, message) = err(&tool, json!({"data": 1, "schema": {"type": "nonsense"}}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("schema"), "{message}");
    // No network: a remote reference cannot be resolved.
    let (kind, _) = err(
        &tool,
        json!({"data": 1,
        "schema": {"$ref": "http://example.com/schema.json"}}),
    );
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let (kind, _) = err(&tool, json!({"data": 1, "schema": 5}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let (kind, _) = err(&tool, json!({"schema": {}}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
}

const PEOPLE: &str = "name,age,score,member\nada,36,9.5,true\nbob,25,7,false\ncy,41,,true\n";

#[test]
fn csv_stats() {
    let out = ok(&CsvAnalyzer::new(), json!({"input": PEOPLE}));
    assert_eq!(out.data["rows"], 3);
    assert_eq!(out.data["columns"], 4);
    let cols = &out.data["column_stats"];
    assert_eq!(cols[0]["type"], "string");
    assert_eq!(cols[0]["unique"], 3);
    assert_eq!(cols[1]["type"], "integer");
    assert_eq!(cols[1]["min"], 25);
    assert_eq!(cols[1]["max"], 41);
    assert_eq!(cols[1]["mean"], 34);
    assert_eq!(cols[2]["type"], "float");
    assert_eq!(cols[2]["count"], 2);
    assert_eq!(cols[2]["empty"], 1);
    assert_eq!(cols[2]["mean"], 8.25);
    assert_eq!(cols[3]["type"], "boolean");
    assert!(cols[3].get("mean").is_none());
    assert!(
        out.text.starts_with("rows: 3, columns: 4\nname (string)"),
        "{}",
        out.text
    );
    assert!(out
        .text
        .contains("age (integer): 3 values, 3 unique, min 25, max 41, mean 34"));
}

#[test]
fn csv_head_filter_columns() {
    let tool = CsvAnalyzer::new();
    let out = ok(
        &tool,
        json!({"input": PEOPLE, "operation": "head", "limit": 1}),
    );
    assert_eq!(
        out.data["rows"],
        json!([{"name": "ada", "age": "36", "score": "9.5",
        "member": "true"}])
    );
    assert_eq!(out.text, "name,age,score,member\nada,36,9.5,true\n");
    let out = ok(
        &tool,
        json!({"input": PEOPLE, "operation": "filter", "column": "age",
        "operator": "gt", "value": 30}),
    );
    assert_eq!(out.data["count"], 2);
    assert_eq!(out.data["rows"][1]["name"], "cy");
    let out = ok(
        &tool,
        json!({"input": PEOPLE, "operation": "filter", "column": 0,
        "operator": "contains", "value": "b"}),
    );
    assert_eq!(out.data["rows"][0]["name"], "bob");
    let out = ok(
        &tool,
        json!({"input": "a;b\n1;2\n", "delimiter": ";", "has_headers": false,
        "operation": "columns"}),
    );
    assert_eq!(out.text, "column_1\ncolumn_2");
    assert_eq!(out.data["columns"][0]["type"], "string");
    let (kind, message) = err(
        &tool,
        json!({"input": PEOPLE, "operation": "filter",
        "column": "height", "value": 1}),
    );
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("name, age, score, member"), "{message}");
    let (kind, _) = err(&tool, json!({"input": "a,b\n\"1,2\n", "delimiter": ",,"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
}
