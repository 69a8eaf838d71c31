//! Compiling parameter schemas as Draft 7 where that means the same as Draft 2020-12: which
//! schemas qualify, and that both drafts then give the same answers and the same errors.

use super::*;
use serde_json::json;

/// Schemas made only of keywords that mean the same in both drafts.
fn equivalent_schemas() -> Vec<Value> {
    vec![
        json!(true),
        json!({}),
        json!({
            "type": "object",
            "properties": {
                "input": {"type": "string", "maxLength": 8, "description": "text"},
                "n": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10, "default": 1},
                "mode": {"enum": ["a", "b"]},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"},
                         "minItems": 1, "uniqueItems": true},
                "vars": {"type": "object", "additionalProperties": {"type": "number"}},
                "fixed": {"const": 3}
            },
            "required": ["input"],
            "additionalProperties": false
        }),
        json!({
            "type": "object",
            "properties": {"operation": {"type": "string"}, "path": {"type": "string"}},
            "allOf": [
                {"if": {"properties": {"operation": {"const": "write"}}, "required": ["operation"]},
                 "then": {"required": ["path"]}},
                {"not": {"required": ["forbidden"]}}
            ],
            "oneOf": [{"required": ["operation"]}, {"required": ["path"]}],
            "anyOf": [{"type": "object"}]
        }),
        json!({"type": "array", "contains": {"type": "integer"}, "maxItems": 3}),
        json!({"type": "object", "patternProperties": {"^x-": {"type": "string"}},
               "propertyNames": {"maxLength": 5}, "maxProperties": 2}),
    ]
}

#[test]
fn plain_schemas_qualify_and_others_do_not() {
    for schema in equivalent_schemas() {
        assert!(is_draft7_equivalent(&schema, 0), "{schema}");
    }
    for schema in [
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"}),
        json!({"$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}}),
        json!({"type": "string", "format": "email"}),
        json!({"type": "array", "items": [{"type": "string"}]}),
        json!({"type": "array", "prefixItems": [{"type": "string"}]}),
        json!({"dependentRequired": {"a": ["b"]}}),
        json!({"dependencies": {"a": ["b"]}}),
        json!({"unevaluatedProperties": false}),
        json!({"properties": {"a": {"type": "string", "x-custom": 1}}}),
        json!({"properties": {"a": {"minContains": 1}}}),
        json!({"properties": 3}),
        json!({"allOf": {"type": "string"}}),
        json!(42),
    ] {
        assert!(!is_draft7_equivalent(&schema, 0), "{schema}");
    }
    // Nesting past the limit takes the default path rather than a deep walk.
    let mut deep = json!({"type": "string"});
    for _ in 0..MAX_SCHEMA_DEPTH + 1 {
        deep = json!({"not": deep});
    }
    assert!(!is_draft7_equivalent(&deep, 0));
}

#[test]
fn both_drafts_accept_the_same_instances_with_the_same_errors() {
    let instances = [
        json!(null),
        json!(42),
        json!("text"),
        json!([]),
        json!([1, "a"]),
        json!([1, 2, 3, 4]),
        json!({}),
        json!({"input": "ok"}),
        json!({"input": "far too long"}),
        json!({"input": "ok", "n": 10}),
        json!({"input": "ok", "n": 1.0, "mode": "c"}),
        json!({"input": "ok", "tags": ["a", "a"]}),
        json!({"input": "ok", "tags": ["A"]}),
        json!({"input": "ok", "vars": {"x": "1"}}),
        json!({"input": "ok", "fixed": 4}),
        json!({"input": "ok", "extra": true}),
        json!({"operation": "write"}),
        json!({"operation": "write", "path": "p"}),
        json!({"forbidden": 1, "operation": "x"}),
        json!({"x-a": "1", "x-b": 2}),
        json!({"toolong": "1"}),
    ];
    for schema in equivalent_schemas() {
        let draft7 = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&schema)
            .unwrap();
        let default = jsonschema::validator_for(&schema).unwrap();
        let ours = compile_schema(&schema).unwrap();
        for instance in &instances {
            let errors = |v: &Validator| -> Vec<String> {
                v.iter_errors(instance)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect()
            };
            let expected = errors(&default);
            assert_eq!(errors(&draft7), expected, "{schema} / {instance}");
            assert_eq!(errors(&ours), expected, "{schema} / {instance}");
            assert_eq!(ours.is_valid(instance), default.is_valid(instance));
        }
    }
}

#[test]
fn broken_schemas_are_still_refused_on_either_path() {
    for schema in [
        json!({"type": "strin"}),
        json!({"type": "object", "properties": {"a": {"type": 3}}}),
        json!({"required": "input"}),
        json!({"maxLength": -1}),
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "strin"}),
    ] {
        assert!(compile_schema(&schema).is_err(), "{schema}");
    }
}
