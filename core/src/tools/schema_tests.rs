//! Compiling parameter schemas as Draft 7 where that means the same as Draft 2020-12: which
//! schemas qualify, and that both drafts then give the same answers and the same errors;
//! and when a lazily registered schema gets compiled at all (see [`FastSchema`]).

use super::super::{Policy, SecurityLevel, ToolOutput};
use super::*;
use serde_json::json;

/// A tool with `parameters` that echoes them.
struct Echo(ToolSpec);

impl Tool for Echo {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        Ok(ToolOutput {
            text: params.to_string(),
            data: params.clone(),
        })
    }
}

fn echo(name: &'static str, parameters: Value) -> Arc<Echo> {
    Arc::new(Echo(ToolSpec {
        name,
        category: "utility",
        description: "echo",
        parameters,
        security: SecurityLevel::Safe,
        cacheable: true,
        blocking: false,
    }))
}

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
        "additionalProperties": false
    })
}

fn compiled(r: &Registry, name: &str) -> bool {
    r.entry(name).is_some_and(|e| e.validator.get().is_some())
}

#[test]
fn a_lazy_schema_is_compiled_only_when_its_fast_schema_refuses_or_has_none() {
    let mut r = Registry::new();
    for name in ["one", "two", "three"] {
        r.register_lazy(echo(name, input_schema())).unwrap();
    }
    let pattern = json!({"type": "object", "properties": {"input": {"pattern": "^a"}}});
    r.register_lazy(echo("not-simple", pattern)).unwrap();
    r.register(echo("eager", input_schema())).unwrap();
    assert!(compiled(&r, "eager"));

    // Valid calls of a simple schema never compile it, through any path.
    assert_eq!(r.validate("one", &json!({"input": "x"})), Ok(()));
    assert_eq!(r.validate("one", &json!({"input": "y"})), Ok(()));
    let id = r.id("one").unwrap();
    assert!(r.validate_id(id, &json!({"input": "z"})).is_ok());
    assert!(!compiled(&r, "one"));

    // Invalid: compiled, and jsonschema's message as always.
    let err = r.validate("two", &json!({"input": 42})).unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::InvalidParams);
    assert_eq!(
        err.message,
        "parameter `input`: 42 is not of type \"string\""
    );
    assert!(compiled(&r, "two"));
    // Later valid calls still pass, and later invalid ones are still described.
    assert_eq!(r.validate("two", &json!({"input": "x"})), Ok(()));
    let err = r
        .validate("two", &json!({"input": "x", "more": 1}))
        .unwrap_err();
    assert_eq!(err.kind, ToolErrorKind::InvalidParams);

    // Through invoke too: the tool runs on checked parameters, not on bad ones.
    let policy = Policy::default();
    let ctx = ToolContext { policy: &policy };
    assert!(r.invoke("three", &json!({"input": "z"}), &ctx).is_ok());
    assert!(!compiled(&r, "three"));
    let err = r.invoke("three", &json!({}), &ctx).unwrap_err();
    assert_eq!(err.message, "parameter `input` is required");

    // A schema beyond the fast subset is compiled on its first call, valid or not.
    assert_eq!(r.validate("not-simple", &json!({"input": "ab"})), Ok(()));
    assert!(compiled(&r, "not-simple"));
    let err = r
        .validate("not-simple", &json!({"input": "b"}))
        .unwrap_err();
    assert!(err.message.starts_with("parameter `input`: "), "{err:?}");
}

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
