//! [`FastSchema`] on the built-in tools' schemas: it compiles every one (so valid calls
//! of built-ins never need jsonschema), and answers as jsonschema does on every value
//! tried. Its keywords one by one are tested in `llmspell-core`.

use llmspell_core::tools::FastSchema;
use serde_json::{json, Map, Value};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A value near what `schema` asks for: often valid, often just past a bound or of
/// another type.
fn near(schema: &Value, rng: &mut Rng, depth: usize) -> Value {
    if depth > 4 || rng.chance(8) {
        return anything(rng, depth);
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if rng.chance(80) {
            return rng.pick(options).clone();
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => rng.pick(ts).as_str().unwrap_or("null").to_owned(),
        _ => rng
            .pick(&[
                "string", "integer", "number", "object", "array", "boolean", "null",
            ])
            .to_string(),
    };
    let bound = |key: &str| schema.get(key).and_then(Value::as_i64);
    match kind.as_str() {
        "string" => {
            let target = [bound("minLength"), bound("maxLength")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            let len = match target.as_slice() {
                [] => rng.below(6) as i64,
                some => (*rng.pick(some) + rng.below(3) as i64 - 1).max(0),
            };
            let unit = *rng.pick(&["a", "\u{e9}", "\u{1f600}", " "]);
            Value::String(unit.repeat(len as usize))
        }
        "integer" | "number" => {
            let base = [bound("minimum"), bound("maximum")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            let at = match base.as_slice() {
                [] => rng.below(20) as i64 - 10,
                some => *rng.pick(some),
            };
            match rng.below(6) {
                0 => json!(at - 1),
                1 => json!(at + 1),
                2 => json!(at as f64 + 0.5),
                3 => json!(at as f64),
                4 => json!(u64::MAX),
                _ => json!(at),
            }
        }
        "boolean" => json!(rng.chance(50)),
        "null" => Value::Null,
        "array" => {
            let len = match [bound("minItems"), bound("maxItems")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .as_slice()
            {
                [] => rng.below(4) as i64,
                some => (*rng.pick(some) + rng.below(3) as i64 - 1).max(0),
            };
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            Value::Array((0..len).map(|_| near(&items, rng, depth + 1)).collect())
        }
        _ => {
            let mut map = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in properties {
                    if rng.chance(75) {
                        map.insert(name.clone(), near(sub, rng, depth + 1));
                    }
                }
            }
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) && rng.chance(70) {
                        map.insert(name.to_owned(), anything(rng, depth + 1));
                    }
                }
            }
            if rng.chance(20) {
                let extra = schema
                    .get("additionalProperties")
                    .cloned()
                    .unwrap_or(json!({}));
                map.insert("extra".into(), near(&extra, rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// Any value at all.
fn anything(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(rng.below(200) as i64 - 100),
        3 => json!(rng.below(200) as f64 / 7.0 - 10.0),
        4 => json!("x".repeat(rng.below(5))),
        5 => json!(-0.0),
        6 => Value::Array(vec![anything(rng, depth + 1), anything(rng, depth + 1)]),
        _ => json!({"k": anything(rng, depth + 1)}),
    }
}

/// Checks that the fast schema and jsonschema agree on `tries` values near `schema`, and
/// on `extra`.
fn agree(schema: &Value, tries: usize, extra: &[Value]) {
    let fast = FastSchema::compile(schema).unwrap_or_else(|| panic!("compiles: {schema}"));
    let full = jsonschema::validator_for(schema).expect("a valid schema");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = [0usize; 2];
    let values = (0..tries).map(|_| near(schema, &mut rng, 0));
    for value in values.chain(extra.iter().cloned()) {
        let expected = full.is_valid(&value);
        assert_eq!(
            fast.accepts(&value),
            expected,
            "schema {schema}\nvalue {value}"
        );
        seen[usize::from(expected)] += 1;
    }
    // Both answers came up, so the values probe the schema.
    assert!(seen[0] > 0 && seen[1] > 0, "{schema}: {seen:?}");
}

#[test]
fn every_builtin_schema_compiles_and_answers_as_jsonschema_does() {
    for tool in crate::pure::tools().into_iter().chain(crate::io::tools()) {
        let spec = tool.spec();
        agree(&spec.parameters, 300, &[json!({}), json!(null), json!([])]);
    }
}
