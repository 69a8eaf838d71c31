//! A sound, partial check of parameters against a schema, without compiling it.
//!
//! [`check`] walks the schema for one instance and answers [`Verdict::Valid`] or
//! [`Verdict::Invalid`] only where every keyword involved is one it evaluates exactly as
//! jsonschema does (types, bounds, `required`, `properties`, `additionalProperties`,
//! `items`, `enum`, `const`, the combinators); anything else (`pattern`, `format`,
//! `$ref`, `multipleOf`, `uniqueItems`, floats near integer checks, an unknown keyword, a
//! malformed keyword value) makes it [`Verdict::Unknown`], and the caller compiles the
//! schema with jsonschema, which has the last word and writes the error messages.
//!
//! Why: compiling the first schema of a process costs about a million instructions (the
//! meta-schema check), half of a one-shot `llmspell tool invoke`; the registry answers a
//! first call whose parameters are plainly valid with this walk instead.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// What the walk could tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// jsonschema would accept the instance.
    Valid,
    /// jsonschema would reject the instance.
    Invalid,
    /// The walk cannot tell; ask jsonschema.
    Unknown,
}

use Verdict::{Invalid, Unknown, Valid};

/// Deepest schema nesting walked; deeper is [`Verdict::Unknown`].
const MAX_DEPTH: usize = 32;

/// The verdict on `instance` against `schema`.
pub(super) fn check(schema: &Value, instance: &Value) -> Verdict {
    walk(schema, instance, 0)
}

impl Verdict {
    /// Both hold: Invalid wins over Unknown, which wins over Valid.
    fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    fn of(holds: bool) -> Verdict {
        if holds {
            Valid
        } else {
            Invalid
        }
    }
}

fn walk(schema: &Value, instance: &Value, depth: usize) -> Verdict {
    let map = match schema {
        Value::Bool(b) => return Verdict::of(*b),
        Value::Object(map) if depth < MAX_DEPTH => map,
        _ => return Unknown,
    };
    let mut verdict = Valid;
    for (keyword, value) in map {
        verdict = verdict.and(keyword_verdict(map, keyword, value, instance, depth + 1));
        if verdict == Invalid {
            break;
        }
    }
    verdict
}

fn keyword_verdict(
    schema: &Map<String, Value>,
    keyword: &str,
    value: &Value,
    instance: &Value,
    depth: usize,
) -> Verdict {
    let sub = |s: &Value, i: &Value| walk(s, i, depth);
    match keyword {
        "title" | "description" | "default" | "examples" | "$comment" | "readOnly"
        | "writeOnly" => Valid,
        "type" => type_verdict(value, instance),
        "enum" => match value {
            Value::Array(options) => options.iter().fold(Invalid, |acc, option| {
                match (acc, equal(option, instance)) {
                    (Valid, _) | (_, Valid) => Valid,
                    (Unknown, _) | (_, Unknown) => Unknown,
                    _ => Invalid,
                }
            }),
            _ => Unknown,
        },
        "const" => equal(value, instance),
        "required" => match (value, instance) {
            (Value::Array(names), Value::Object(obj)) => names.iter().fold(Valid, |acc, n| {
                acc.and(
                    n.as_str()
                        .map_or(Unknown, |n| Verdict::of(obj.contains_key(n))),
                )
            }),
            (Value::Array(_), _) => Valid,
            _ => Unknown,
        },
        "properties" => match (value, instance) {
            (Value::Object(props), Value::Object(obj)) => obj.iter().fold(Valid, |acc, (k, v)| {
                acc.and(props.get(k).map_or(Valid, |s| sub(s, v)))
            }),
            (Value::Object(_), _) => Valid,
            _ => Unknown,
        },
        "additionalProperties" => match instance {
            _ if schema.contains_key("patternProperties") => Unknown,
            Value::Object(obj) => {
                let known = match schema.get("properties") {
                    None => None,
                    Some(Value::Object(props)) => Some(props),
                    Some(_) => return Unknown,
                };
                obj.iter()
                    .filter(|(k, _)| !known.is_some_and(|p| p.contains_key(*k)))
                    .fold(Valid, |acc, (_, v)| acc.and(sub(value, v)))
            }
            _ => Valid,
        },
        "items" => match (value, instance) {
            (Value::Array(_), _) => Unknown,
            (_, Value::Array(items)) => items.iter().fold(Valid, |acc, i| acc.and(sub(value, i))),
            _ => Valid,
        },
        "minLength" | "maxLength" => match instance {
            Value::String(s) => bound(keyword, value, s.chars().count()),
            _ => Valid,
        },
        "minItems" | "maxItems" => match instance {
            Value::Array(a) => bound(keyword, value, a.len()),
            _ => Valid,
        },
        "minProperties" | "maxProperties" => match instance {
            Value::Object(o) => bound(keyword, value, o.len()),
            _ => Valid,
        },
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
            match (value, instance) {
                (Value::Number(limit), Value::Number(n)) => match compare(n, limit) {
                    Some(order) => Verdict::of(match keyword {
                        "minimum" => order != Ordering::Less,
                        "maximum" => order != Ordering::Greater,
                        "exclusiveMinimum" => order == Ordering::Greater,
                        _ => order == Ordering::Less,
                    }),
                    None => Unknown,
                },
                (Value::Number(_), _) => Valid,
                _ => Unknown,
            }
        }
        "allOf" | "anyOf" | "oneOf" => match value {
            Value::Array(subs) if !subs.is_empty() => {
                let verdicts = subs.iter().map(|s| sub(s, instance));
                combine(keyword, verdicts)
            }
            _ => Unknown,
        },
        "not" => match sub(value, instance) {
            Valid => Invalid,
            Invalid => Valid,
            Unknown => Unknown,
        },
        "if" => match sub(value, instance) {
            Valid => schema.get("then").map_or(Valid, |s| sub(s, instance)),
            Invalid => schema.get("else").map_or(Valid, |s| sub(s, instance)),
            Unknown => Unknown,
        },
        // Read with `if`; alone they assert nothing.
        "then" | "else" => Valid,
        _ => Unknown,
    }
}

/// `allOf`, `anyOf` or `oneOf` over the verdicts of the subschemas.
fn combine(keyword: &str, verdicts: impl Iterator<Item = Verdict>) -> Verdict {
    let (mut valid, mut unknown, mut count) = (0usize, 0usize, 0usize);
    for v in verdicts {
        count += 1;
        match v {
            Valid => valid += 1,
            Unknown => unknown += 1,
            Invalid => {}
        }
    }
    match keyword {
        "allOf" if valid == count => Valid,
        "allOf" if valid + unknown == count => Unknown,
        "allOf" => Invalid,
        "anyOf" if valid > 0 => Valid,
        "anyOf" if unknown > 0 => Unknown,
        "anyOf" => Invalid,
        _ if valid > 1 => Invalid,
        _ if unknown > 0 => Unknown,
        _ => Verdict::of(valid == 1),
    }
}

/// `type`: one name or a list of names.
fn type_verdict(value: &Value, instance: &Value) -> Verdict {
    let one = |name: &Value| -> Verdict {
        let Some(name) = name.as_str() else {
            return Unknown;
        };
        match (name, instance) {
            ("null", Value::Null)
            | ("boolean", Value::Bool(_))
            | ("string", Value::String(_))
            | ("array", Value::Array(_))
            | ("object", Value::Object(_))
            | ("number", Value::Number(_)) => Valid,
            // 1.0 counts as an integer: leave floats to jsonschema.
            ("integer", Value::Number(n)) if n.is_f64() => Unknown,
            ("integer", Value::Number(_)) => Valid,
            ("null" | "boolean" | "string" | "array" | "object" | "number" | "integer", _) => {
                Invalid
            }
            _ => Unknown,
        }
    };
    match value {
        Value::String(_) => one(value),
        Value::Array(names) if !names.is_empty() => combine("anyOf", names.iter().map(one)),
        _ => Unknown,
    }
}

/// A `min*`/`max*` count bound; the keyword's value must be a non-negative integer.
fn bound(keyword: &str, value: &Value, len: usize) -> Verdict {
    let (Some(limit), Ok(len)) = (value.as_u64(), u64::try_from(len)) else {
        return Unknown;
    };
    Verdict::of(if keyword.starts_with("min") {
        len >= limit
    } else {
        len <= limit
    })
}

/// An integer's exact value.
fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// A number as an f64, if that is exact.
fn exact_f64(n: &Number) -> Option<f64> {
    match integer(n) {
        // Integers up to 2^53 convert exactly.
        Some(i) if i.unsigned_abs() <= 1 << 53 => Some(i as f64),
        Some(_) => None,
        None => n.as_f64(),
    }
}

/// `a` against `b`, when the comparison is exact.
fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => exact_f64(a)?.partial_cmp(&exact_f64(b)?),
    }
}

/// JSON equality as jsonschema's `enum` and `const` see it (1 equals 1.0).
fn equal(a: &Value, b: &Value) -> Verdict {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            compare(x, y).map_or(Unknown, |o| Verdict::of(o.is_eq()))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .fold(Valid, |acc, (x, y)| acc.and(equal(x, y))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            x.iter().fold(Valid, |acc, (k, xv)| {
                acc.and(y.get(k).map_or(Invalid, |yv| equal(xv, yv)))
            })
        }
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => Invalid,
        _ => Verdict::of(a == b),
    }
}

#[cfg(test)]
#[path = "quick_check_tests.rs"]
mod tests;
