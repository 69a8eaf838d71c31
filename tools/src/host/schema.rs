//! A quick validity check for simple parameter schemas, in front of the registry's
//! jsonschema validation.
//!
//! [`FastSchema::compile`] reads a tool's parameter schema and gives `None` unless every
//! keyword in it is one of those below, each in the plain form the built-in tools use:
//! `type` (a name or a list of names), `properties`, `required`, `additionalProperties`
//! (`true`, `false` or a schema), `items` (a schema), `enum` (of strings), `minLength`,
//! `maxLength`, `minItems`, `maxItems`, `minimum` and `maximum` (integers within 2^53), and
//! the annotations `description`, `title`, `default`, `examples` and `$comment`. A schema
//! with anything else (`pattern`, `format`, `$ref`, `if`, `$schema`, ...) keeps going
//! through jsonschema alone.
//!
//! [`FastSchema::accepts`] answers as jsonschema does (draft 2020-12) for those keywords:
//! lengths count characters, an integer is any number without a fraction (`2.0` too), and
//! `number` takes integers. It is a filter, not a judge: when it accepts, the call goes
//! on without jsonschema; when it refuses, the host asks the registry, whose error names
//! the parameter, and which stays the authority. So the common, valid call costs a walk of
//! the parameters, and a tool's jsonschema validator is compiled only when some call of it
//! is invalid.

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

/// A compiled schema of the supported subset.
#[derive(Debug, Default)]
pub(crate) struct FastSchema {
    /// The types allowed, as bits (`NUMBER` takes integers too).
    types: u8,
    /// `enum`: the strings allowed.
    strings: Option<Vec<String>>,
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
    pub(crate) fn compile(schema: &Value) -> Option<FastSchema> {
        let Value::Object(map) = schema else {
            return None;
        };
        let mut fast = FastSchema {
            types: ANY,
            ..FastSchema::default()
        };
        for (keyword, value) in map {
            match keyword.as_str() {
                "description" | "title" | "default" | "examples" | "$comment" => {}
                "type" => fast.types = types(value)?,
                "enum" => fast.strings = Some(strings(value, false)?),
                "required" => fast.required = strings(value, true)?,
                "minLength" => fast.length.0 = Some(value.as_u64()?),
                "maxLength" => fast.length.1 = Some(value.as_u64()?),
                "minItems" => fast.count.0 = Some(value.as_u64()?),
                "maxItems" => fast.count.1 = Some(value.as_u64()?),
                "minimum" => fast.range.0 = Some(exact_integer(value)?),
                "maximum" => fast.range.1 = Some(exact_integer(value)?),
                "items" => fast.items = Some(Box::new(FastSchema::compile(value)?)),
                "properties" => {
                    for (name, schema) in value.as_object()? {
                        fast.properties
                            .push((name.clone(), FastSchema::compile(schema)?));
                    }
                }
                "additionalProperties" => {
                    fast.additional = match value {
                        Value::Bool(true) => None,
                        Value::Bool(false) => Some(Additional::Forbidden),
                        schema => Some(Additional::Schema(Box::new(FastSchema::compile(schema)?))),
                    }
                }
                _ => return None,
            }
        }
        Some(fast)
    }

    /// Whether `value` is valid (see the module docs).
    pub(crate) fn accepts(&self, value: &Value) -> bool {
        if !self.has_type(value) {
            return false;
        }
        if let Some(allowed) = &self.strings {
            match value {
                Value::String(s) if allowed.contains(s) => {}
                _ => return false,
            }
        }
        match value {
            Value::String(s) => within_length(s, self.length),
            Value::Number(n) => self.within_range(n),
            Value::Array(items) => self.accepts_items(items),
            Value::Object(map) => self.accepts_object(map),
            Value::Null | Value::Bool(_) => true,
        }
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
#[path = "schema_tests.rs"]
mod tests;
