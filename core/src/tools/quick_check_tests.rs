//! The quick check against jsonschema itself: on many schemas and many instances (listed
//! and generated), a Valid or Invalid verdict always agrees with the compiled schema.

use super::*;
use serde_json::json;

/// Schemas over the keywords the walk evaluates, and some it leaves to jsonschema.
fn schemas() -> Vec<Value> {
    vec![
        json!(true),
        json!(false),
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
                "n": {"type": "integer", "minimum": -1, "exclusiveMaximum": 3},
                "x": {"type": ["number", "null"], "exclusiveMinimum": 0.5, "maximum": 2},
                "mode": {"enum": ["a", 1, [1, {"k": null}], {"k": 2.0}]},
                "fixed": {"const": {"a": [1, true]}},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 2},
                         "minItems": 1, "maxItems": 2},
                "meta": {"type": "object", "minProperties": 1, "maxProperties": 2},
                "big": {"maximum": 9007199254740993u64}
            },
            "additionalProperties": {"type": "boolean"}
        }),
        json!({
            "type": "object",
            "properties": {"operation": {"type": "string"}, "path": {"type": "string"}},
            "allOf": [
                {"if": {"properties": {"operation": {"const": "write"}}, "required": ["operation"]},
                 "then": {"required": ["path"]},
                 "else": {"not": {"required": ["path"]}}}
            ],
            "oneOf": [{"required": ["operation"]}, {"required": ["n"]}],
            "anyOf": [{"type": "object", "maxProperties": 2}, {"required": ["path"]}]
        }),
        json!({"type": "integer", "not": {"enum": [0, 2]}}),
        json!({"anyOf": [{"type": "string", "pattern": "^a"}, {"type": "integer"}]}),
        json!({"oneOf": [{"type": "number"}, {"type": "integer"}]}),
        json!({"type": "string", "format": "email"}),
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "array",
               "uniqueItems": true, "items": [{"type": "string"}]}),
        json!({"type": "object", "patternProperties": {"^x": {"type": "string"}},
               "additionalProperties": false}),
        json!({"type": "number", "multipleOf": 0.5}),
        json!({"$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}}),
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
        json!({"n": 2, "x": 1, "mode": 1.0, "fixed": {"a": [1.0, true]}}),
        json!({"n": 3, "x": 0.5, "mode": [1, {"k": null}], "meta": {}}),
        json!({"n": 1.0, "x": null, "mode": {"k": 2}, "tags": ["ab"], "other": false}),
        json!({"n": -2, "tags": [], "meta": {"a": 1, "b": 2, "c": 3}, "other": 1}),
        json!({"big": 9007199254740993u64}),
        json!({"big": 9007199254740994u64}),
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
                    "meta",
                    "operation",
                    "path",
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
fn every_verdict_agrees_with_jsonschema() {
    let mut generator = Gen(7);
    let mut instances = listed();
    instances.extend((0..3000).map(|_| generator.value(0)));
    let (mut valid, mut invalid, mut unknown) = (0, 0, 0);
    for schema in schemas() {
        let compiled = jsonschema::validator_for(&schema).unwrap();
        for instance in &instances {
            let expected = compiled.is_valid(instance);
            match check(&schema, instance) {
                Verdict::Valid => {
                    valid += 1;
                    assert!(expected, "quick says valid: {schema} / {instance}");
                }
                Verdict::Invalid => {
                    invalid += 1;
                    assert!(!expected, "quick says invalid: {schema} / {instance}");
                }
                Verdict::Unknown => unknown += 1,
            }
        }
    }
    // The walk decides most cases, both ways, and leaves some to jsonschema.
    assert!(
        valid > 1000 && invalid > 1000 && unknown > 1000,
        "{valid} {invalid} {unknown}"
    );
}

#[test]
fn plain_valid_parameters_need_no_compile() {
    let calculator = &schemas()[3];
    for params in [
        json!({"input": "2+2"}),
        json!({"input": "x", "variables": {"x": 1.5}}),
    ] {
        assert_eq!(check(calculator, &params), Verdict::Valid, "{params}");
    }
    assert_eq!(check(calculator, &json!({"input": 1})), Verdict::Invalid);
    // What the walk does not evaluate is left to jsonschema.
    assert_eq!(
        check(&json!({"pattern": "^a"}), &json!("a")),
        Verdict::Unknown
    );
    assert_eq!(
        check(&json!({"type": "integer"}), &json!(1.0)),
        Verdict::Unknown
    );
    assert_eq!(
        check(&json!({"maxLength": 2.5}), &json!("a")),
        Verdict::Unknown
    );
    assert_eq!(
        check(&json!({"items": [true]}), &json!([1])),
        Verdict::Unknown
    );
    // Nesting past the limit is not walked.
    let mut deep = json!({"type": "string"});
    for _ in 0..MAX_DEPTH {
        deep = json!({"not": {"not": deep}});
    }
    assert_eq!(check(&deep, &json!("a")), Verdict::Unknown);
}
