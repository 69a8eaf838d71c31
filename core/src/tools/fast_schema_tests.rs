//! [`FastSchema`] against jsonschema itself: on every schema it compiles, and many
//! instances (listed and generated), it accepts exactly what the compiled schema accepts;
//! schemas beyond its subset it does not compile. The built-in tools' schemas are checked
//! in `llmspell-tools`.

use super::*;
use serde_json::json;

/// Schemas of the subset: each keyword, in the forms the built-in tools use and others.
fn simple() -> Vec<Value> {
    vec![
        json!({}),
        json!({
            "type": "object",
            "properties": {
                "input": {"type": "string", "maxLength": 4, "description": "x"},
                "variables": {"type": "object", "additionalProperties": {"type": "number"}}
            },
            "required": ["input"],
            "additionalProperties": false
        }),
        json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": -1, "maximum": 2},
                "x": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
                "mode": {"enum": ["a", "b\u{e9}"], "default": "a", "title": "t"},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 2},
                         "minItems": 1, "maxItems": 2, "examples": [["ab"]]}
            },
            "additionalProperties": {"type": "boolean", "$comment": "c"}
        }),
        // Shaped like file-operations and archive-handler.
        json!({
            "type": "object",
            "properties": {"operation": {"type": "string"}, "path": {"type": "string"}},
            "allOf": [
                {"if": {"properties": {"operation": {"const": "write"}}, "required": ["operation"]},
                 "then": {"required": ["path"]},
                 "else": {"not": {"required": ["path"]}}},
                {"if": {"properties": {"operation": {"enum": ["read", "ab"]}}},
                 "then": {"required": ["content"]}}
            ],
            "oneOf": [{"required": ["operation"]}, {"required": ["n"]}],
            "anyOf": [{"type": "object", "maxItems": 0}, {"required": ["path"]}]
        }),
        // Shaped like file-search; `then` without `if` asserts nothing.
        json!({"anyOf": [{"required": ["path"]}, {"required": ["content"]}],
               "then": {"required": ["x"]}}),
        json!({"type": "string", "not": {"enum": ["a", "ab"]}}),
        json!({"oneOf": [{"type": "number"}, {"type": "integer"}]}),
        json!({"type": "string", "minLength": 2, "maxLength": 3}),
        json!({"type": ["string", "null"], "enum": ["a", "b\u{e9}"]}),
        json!({"type": "integer", "minimum": -3, "maximum": 5}),
        json!({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}),
        json!({"properties": {"a": {"type": "boolean"}}, "required": ["a"]}),
        json!({"type": "object", "properties": {"o": {"type": "object",
               "properties": {"d": {"type": "integer", "minimum": 0}}, "required": ["d"]}}}),
    ]
}

/// Schemas beyond the subset, or malformed: left to jsonschema.
fn beyond() -> Vec<Value> {
    vec![
        json!(true),
        json!(false),
        json!({"type": "string", "pattern": "^a"}),
        json!({"type": "string", "format": "uri"}),
        json!({"$ref": "#/$defs/x", "$defs": {"x": {}}}),
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "array"}),
        json!({"enum": [1, 2]}),
        json!({"const": 1}),
        json!({"type": "integer", "minimum": 1.5}),
        json!({"type": "integer", "maximum": 9_007_199_254_740_993_i64}),
        json!({"exclusiveMinimum": 0}),
        json!({"multipleOf": 0.5}),
        json!({"maxProperties": 2}),
        json!({"required": ["a", "a"]}),
        json!({"type": ["string", "string"]}),
        json!({"type": "strin"}),
        json!({"items": [{"type": "string"}]}),
        json!({"properties": {"a": true}}),
        json!({"patternProperties": {"^x": {}}}),
        json!({"allOf": []}),
        json!({"anyOf": [{"pattern": "^a"}]}),
        json!({"if": {"format": "email"}}),
        json!({"then": {"format": "email"}}),
        json!({"description": 5}),
        json!({"examples": "a"}),
    ]
}

/// Hand-picked instances: edges of numbers, strings and containers.
fn listed() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(1),
        json!(1.0),
        json!(2.5),
        json!(-1),
        json!(3),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(9007199254740993u64),
        json!(""),
        json!("ab"),
        json!("éééé"),
        json!("ééééé"),
        json!([]),
        json!(["ab", "cd", "ef"]),
        json!({}),
        json!({"input": "2+2"}),
        json!({"input": "2+2", "variables": {"x": 1, "y": 2.5}}),
        json!({"input": "2+2", "variables": {"x": "1"}}),
        json!({"input": "too long"}),
        json!({"input": 42}),
        json!({"input": "1", "extra": true}),
        json!({"n": 2, "x": 1, "mode": "b\u{e9}", "tags": ["ab", "cd"]}),
        json!({"n": 3, "x": 0.5, "mode": "c", "tags": ["a"]}),
        json!({"n": 1.0, "x": null, "mode": "a", "tags": ["ab"], "other": false}),
        json!({"n": -2, "tags": [], "other": 1}),
        json!({"input": "\u{1f600}\u{1f600}\u{1f600}\u{1f600}"}),
        json!({"a": true, "o": {"d": 0}}),
        json!({"a": 1, "o": {"d": -1}}),
        json!({"o": {}}),
        json!(-3.5),
        json!(-0.0),
        json!("\u{e9}\u{e9}"),
        json!([1, 2.0]),
        json!({"operation": "write", "path": "p"}),
        json!({"operation": "write"}),
        json!({"operation": "read", "path": "p"}),
        json!({"operation": "read"}),
        json!({"n": 1, "path": "p"}),
        json!({"x-a": "s", "x-b": 1}),
    ]
}

/// A small deterministic generator of instances (an LCG: no dependency, same every run).
struct Gen(u64);

impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn value(&mut self, depth: usize) -> Value {
        let leaf = depth >= 3;
        match self.next(if leaf { 6 } else { 8 }) {
            0 => Value::Null,
            1 => json!(self.next(2) == 1),
            2 => json!(self.next(7) as i64 - 2),
            3 => json!([0.5, 1.0, 2.0, 2.5, -0.0][self.next(5) as usize]),
            4 => json!(["", "a", "ab", "abcde", "é", "write", "read"][self.next(7) as usize]),
            5 => json!(["p", "x"][self.next(2) as usize]),
            6 => Value::Array((0..self.next(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let keys = [
                    "input",
                    "variables",
                    "n",
                    "x",
                    "mode",
                    "tags",
                    "operation",
                    "path",
                    "content",
                    "a",
                    "o",
                    "d",
                    "other",
                ];
                let mut map = Map::new();
                for _ in 0..self.next(4) {
                    let key = keys[self.next(keys.len() as u64) as usize];
                    map.insert(key.to_string(), self.value(depth + 1));
                }
                Value::Object(map)
            }
        }
    }
}

#[test]
fn every_answer_agrees_with_jsonschema() {
    let mut generator = Gen(7);
    let mut instances = listed();
    instances.extend((0..3000).map(|_| generator.value(0)));
    for schema in simple() {
        let fast = FastSchema::compile(&schema).unwrap_or_else(|| panic!("compiles: {schema}"));
        let compiled = jsonschema::validator_for(&schema).unwrap();
        let mut seen = [0usize; 2];
        for instance in &instances {
            let expected = compiled.is_valid(instance);
            assert_eq!(
                fast.accepts(instance),
                expected,
                "schema {schema}\ninstance {instance}"
            );
            seen[usize::from(expected)] += 1;
        }
        // Both answers came up (`{}` refuses nothing), so the instances probe the schema.
        let refuses = seen[0] > 0 || schema == json!({});
        assert!(refuses && seen[1] > 0, "{schema}: {seen:?}");
    }
}

#[test]
fn schemas_beyond_the_subset_are_left_to_jsonschema() {
    for schema in beyond() {
        assert!(FastSchema::compile(&schema).is_none(), "{schema}");
    }
    // Nesting past the limit is not compiled.
    let mut deep = json!({"type": "string"});
    for _ in 0..MAX_DEPTH {
        deep = json!({"not": deep});
    }
    assert!(FastSchema::compile(&deep).is_none());
    assert!(FastSchema::compile(&deep["not"]).is_some());
}
