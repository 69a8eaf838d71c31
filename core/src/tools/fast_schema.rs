//! [`FastSchema`]: a quick, exact check of parameters for simple schemas, in front of the
//! registry's jsonschema validation.

use serde_json::{Map, Value};

const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const INTEGER: u8 = 4;
const NUMBER: u8 = 8;
const STRING: u8 = 16;
const ARRAY: u8 = 32;
const OBJECT: u8 = 64;
const ANY: u8 = 127;

/// Bounds `minimum` and `maximum` may have: every integer within it is exact as an `f64`.
const EXACT: i64 = 1 << 53;

/// Deepest schema nesting compiled; deeper schemas are left to jsonschema.
const MAX_DEPTH: usize = 32;

/// A parameter schema of a simple subset, compiled for a quick, exact check.
/// [`FastSchema::compile`] reads a tool's parameter schema and gives `None` unless every
/// keyword in it is one of those below, each in the plain form the built-in tools use:
/// `type` (a name or a list of names), `properties`, `required`, `additionalProperties`
/// (`true`, `false` or a schema), `items` (a schema), `enum` (of strings), `const` (a
/// string), `minLength`, `maxLength`, `minItems`, `maxItems`, `minimum` and `maximum`
/// (integers within 2^53), the combinators `allOf`, `anyOf`, `oneOf` (non-empty lists),
/// `not`, `if`/`then`/`else`, and the annotations `description`, `title`, `$comment`
/// (strings), `default` and `examples` (a list). A schema with anything else (`pattern`,
/// `format`, `$ref`, `$schema`, a boolean subschema, nesting deeper than 32, ...) keeps
/// going through jsonschema alone.
///
/// [`FastSchema::accepts`] answers as jsonschema does (Draft 7 and 2020-12 agree on these
/// keywords): lengths count characters, an integer is any number without a fraction (`2.0`
/// too), and `number` takes integers. Because each keyword is answered exactly, the
/// combinators are too. The registry uses it as a filter, not a judge: when it accepts,
/// the call goes on without jsonschema; when it refuses, jsonschema decides and writes the
/// error, naming the parameter. So a valid call costs a walk of the parameters, and a
/// tool's jsonschema validator is compiled only when some call of it is refused here, or
/// its schema is not of this kind.
#[derive(Debug, Default)]
pub struct FastSchema {
    /// The types allowed, as bits (`NUMBER` takes integers too).
    types: u8,
    /// `enum`: the strings allowed.
    strings: Option<Vec<String>>,
    /// `const`: the one string allowed.
    constant: Option<String>,
    /// `minLength`, `maxLength`, in characters.
    length: (Option<u64>, Option<u64>),
    /// `minimum`, `maximum`.
    range: (Option<i64>, Option<i64>),
    /// `minItems`, `maxItems`.
    count: (Option<u64>, Option<u64>),
    /// `items`.
    items: Option<Box<FastSchema>>,
    /// `properties`, in the order of the schema.
    properties: Vec<(String, FastSchema)>,
    /// `required`.
    required: Vec<String>,
    /// `additionalProperties`: `None` for `true` or absent.
    additional: Option<Additional>,
    /// `allOf`, `anyOf`, `oneOf`, `not`, `if`: what the value must also satisfy.
    combinators: Vec<Combinator>,
}

/// A combinator of subschemas.
#[derive(Debug)]
enum Combinator {
    /// `allOf`: all of them.
    All(Vec<FastSchema>),
    /// `anyOf`: one or more.
    Any(Vec<FastSchema>),
    /// `oneOf`: exactly one.
    One(Vec<FastSchema>),
    /// `not`: not this one.
    Not(Box<FastSchema>),
    /// `if`: `then` where `condition` holds, else `otherwise`; absent ones hold.
    If {
        condition: Box<FastSchema>,
        then: Option<Box<FastSchema>>,
        otherwise: Option<Box<FastSchema>>,
    },
}

/// What `additionalProperties` asks of properties not in `properties`.
#[derive(Debug)]
enum Additional {
    /// `false`: none allowed.
    Forbidden,
    /// A schema they must match.
    Schema(Box<FastSchema>),
}

impl FastSchema {
    /// The fast form of `schema`, if it keeps to the supported subset.
    pub fn compile(schema: &Value) -> Option<FastSchema> {
        FastSchema::compile_at(schema, 0)
    }

    fn compile_at(schema: &Value, depth: usize) -> Option<FastSchema> {
        let Value::Object(map) = schema else {
            return None;
        };
        if depth >= MAX_DEPTH {
            return None;
        }
        let sub = |value: &Value| FastSchema::compile_at(value, depth + 1);
        let boxed = |value: &Value| sub(value).map(Box::new);
        let list = |value: &Value| match value {
            Value::Array(subs) if !subs.is_empty() => subs.iter().map(sub).collect(),
            _ => None,
        };
        let mut fast = FastSchema {
            types: ANY,
            ..FastSchema::default()
        };
        let (mut then, mut otherwise) = (None, None);
        for (keyword, value) in map {
            match keyword.as_str() {
                "description" | "title" | "$comment" => {
                    value.as_str()?;
                }
                "examples" => {
                    value.as_array()?;
                }
                "default" => {}
                "type" => fast.types = types(value)?,
                "enum" => fast.strings = Some(strings(value, false)?),
                "const" => fast.constant = Some(value.as_str()?.to_owned()),
                "required" => fast.required = strings(value, true)?,
                "minLength" => fast.length.0 = Some(value.as_u64()?),
                "maxLength" => fast.length.1 = Some(value.as_u64()?),
                "minItems" => fast.count.0 = Some(value.as_u64()?),
                "maxItems" => fast.count.1 = Some(value.as_u64()?),
                "minimum" => fast.range.0 = Some(exact_integer(value)?),
                "maximum" => fast.range.1 = Some(exact_integer(value)?),
                "items" => fast.items = Some(boxed(value)?),
                "properties" => {
                    for (name, schema) in value.as_object()? {
                        fast.properties.push((name.clone(), sub(schema)?));
                    }
                }
                "additionalProperties" => {
                    fast.additional = match value {
                        Value::Bool(true) => None,
                        Value::Bool(false) => Some(Additional::Forbidden),
                        schema => Some(Additional::Schema(boxed(schema)?)),
                    }
                }
                "allOf" => fast.combinators.push(Combinator::All(list(value)?)),
                "anyOf" => fast.combinators.push(Combinator::Any(list(value)?)),
                "oneOf" => fast.combinators.push(Combinator::One(list(value)?)),
                "not" => fast.combinators.push(Combinator::Not(boxed(value)?)),
                // Read with `if` below; without it they assert nothing.
                "then" => then = Some(boxed(value)?),
                "else" => otherwise = Some(boxed(value)?),
                "if" => {}
                _ => return None,
            }
        }
        if let Some(condition) = map.get("if") {
            fast.combinators.push(Combinator::If {
                condition: boxed(condition)?,
                then,
                otherwise,
            });
        }
        Some(fast)
    }

    /// Whether `value` is valid, exactly as jsonschema would answer.
    pub fn accepts(&self, value: &Value) -> bool {
        if !self.has_type(value) {
            return false;
        }
        if let Some(allowed) = &self.strings {
            match value {
                Value::String(s) if allowed.contains(s) => {}
                _ => return false,
            }
        }
        if let Some(constant) = &self.constant {
            if value.as_str() != Some(constant) {
                return false;
            }
        }
        let own = match value {
            Value::String(s) => within_length(s, self.length),
            Value::Number(n) => self.within_range(n),
            Value::Array(items) => self.accepts_items(items),
            Value::Object(map) => self.accepts_object(map),
            Value::Null | Value::Bool(_) => true,
        };
        own && self.combinators.iter().all(|c| c.accepts(value))
    }

    fn has_type(&self, value: &Value) -> bool {
        let bits = match value {
            Value::Null => NULL,
            Value::Bool(_) => BOOLEAN,
            Value::Number(n) if is_integer(n) => INTEGER | NUMBER,
            Value::Number(_) => NUMBER,
            Value::String(_) => STRING,
            Value::Array(_) => ARRAY,
            Value::Object(_) => OBJECT,
        };
        self.types & bits != 0
    }

    fn within_range(&self, n: &serde_json::Number) -> bool {
        // Integers compare exactly; a float against an integer bound within 2^53 is exact too.
        let above = |min: i64| match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i >= min,
            (None, Some(_), _) => true,
            (None, None, Some(f)) => f >= min as f64,
            _ => false,
        };
        let below = |max: i64| match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i <= max,
            (None, Some(_), _) => false,
            (None, None, Some(f)) => f <= max as f64,
            _ => false,
        };
        self.range.0.is_none_or(above) && self.range.1.is_none_or(below)
    }

    fn accepts_items(&self, items: &[Value]) -> bool {
        let n = items.len() as u64;
        self.count.0.is_none_or(|min| n >= min)
            && self.count.1.is_none_or(|max| n <= max)
            && self
                .items
                .as_ref()
                .is_none_or(|schema| items.iter().all(|item| schema.accepts(item)))
    }

    fn accepts_object(&self, map: &Map<String, Value>) -> bool {
        if !self.required.iter().all(|name| map.contains_key(name)) {
            return false;
        }
        map.iter().all(|(name, value)| {
            match self.properties.iter().find(|(known, _)| known == name) {
                Some((_, schema)) => schema.accepts(value),
                None => match &self.additional {
                    None => true,
                    Some(Additional::Forbidden) => false,
                    Some(Additional::Schema(schema)) => schema.accepts(value),
                },
            }
        })
    }
}

impl Combinator {
    fn accepts(&self, value: &Value) -> bool {
        match self {
            Combinator::All(subs) => subs.iter().all(|s| s.accepts(value)),
            Combinator::Any(subs) => subs.iter().any(|s| s.accepts(value)),
            Combinator::One(subs) => subs.iter().filter(|s| s.accepts(value)).take(2).count() == 1,
            Combinator::Not(sub) => !sub.accepts(value),
            Combinator::If {
                condition,
                then,
                otherwise,
            } => match condition.accepts(value) {
                true => then.as_ref().is_none_or(|s| s.accepts(value)),
                false => otherwise.as_ref().is_none_or(|s| s.accepts(value)),
            },
        }
    }
}

/// `type`: one name or a non-empty list of distinct names.
fn types(value: &Value) -> Option<u8> {
    let bit = |name: &Value| match name.as_str()? {
        "null" => Some(NULL),
        "boolean" => Some(BOOLEAN),
        "integer" => Some(INTEGER),
        "number" => Some(NUMBER),
        "string" => Some(STRING),
        "array" => Some(ARRAY),
        "object" => Some(OBJECT),
        _ => None,
    };
    match value {
        Value::Array(names) if !names.is_empty() => names.iter().try_fold(0, |bits, name| {
            let b = bit(name)?;
            (bits & b == 0).then_some(bits | b)
        }),
        name => bit(name),
    }
}

/// A list of strings: distinct if `unique` (as `required` must be), non-empty otherwise
/// (as `enum` is in practice).
fn strings(value: &Value, unique: bool) -> Option<Vec<String>> {
    let list: Vec<String> = value
        .as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    let distinct = list.iter().enumerate().all(|(i, s)| !list[..i].contains(s));
    match unique {
        true if !distinct => None,
        false if list.is_empty() => None,
        _ => Some(list),
    }
}

/// A bound that is an integer exact as an `f64`.
fn exact_integer(value: &Value) -> Option<i64> {
    value.as_i64().filter(|i| i.abs() <= EXACT)
}

/// jsonschema's integer: any number without a fraction.
fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// Whether `s` has between `min` and `max` characters: bytes bound characters from above,
/// so most checks need no count.
fn within_length(s: &str, (min, max): (Option<u64>, Option<u64>)) -> bool {
    let bytes = s.len() as u64;
    let fits_max = max.is_none_or(|max| bytes <= max);
    let fits_min = min.is_none_or(|min| min == 0);
    if fits_max && fits_min {
        return true;
    }
    let chars = s.chars().count() as u64;
    max.is_none_or(|max| chars <= max) && min.is_none_or(|min| chars >= min)
}

#[cfg(test)]
#[path = "fast_schema_tests.rs"]
mod tests;
