//! The registry: tools by name, list, info, search, validation and direct invocation.
//!
//! Tools are kept sorted by name, each with its parameter schema compiled once (when it is
//! registered, or when first needed), and its [`FastSchema`] built on its first
//! validation. Lookups are binary searches; nothing here allocates on the success path of
//! [`Registry::validate`] and [`Registry::invoke`].

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::search::{Query, SearchKeys};
use super::{
    FastSchema, Tool, ToolContext, ToolError, ToolErrorKind, ToolId, ToolResult, ToolSpec,
};

/// Most names [`Registry::suggest`] returns.
const MAX_SUGGESTIONS: usize = 3;

/// One registered tool.
struct Entry {
    /// Its name, the sort key (the same as `tool.spec().name`).
    name: &'static str,
    /// The tool.
    tool: Arc<dyn Tool>,
    /// Its parameter schema, compiled when first needed (see [`Registry::register_lazy`]).
    validator: OnceLock<Result<Validator, String>>,
    /// The quick check of its parameters, built on the first validation; `None` inside if
    /// the schema is not of the simple kind (see [`FastSchema`]).
    fast: OnceLock<Option<FastSchema>>,
    /// What search compares queries against.
    keys: SearchKeys,
}

/// Every registered tool, with compiled parameter schemas.
#[derive(Default)]
pub struct Registry {
    /// Sorted by name, names unique.
    entries: Vec<Entry>,
}

// The registry is shared between the engine's thread, the kernel and the host's workers.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Registry>();
};

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a tool. Fails if the name is taken or not kebab-case, or its schema does not compile.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<(), String> {
        let compiled = compile(tool.spec())?;
        self.insert(tool, OnceLock::from(Ok(compiled)))
    }

    /// Adds a tool whose schema is compiled when first needed, not now: for the built-in
    /// tools, whose schemas their own tests compile, so that a one-shot command (`llmspell
    /// tool invoke calculator`) compiles one schema, not twenty, and none at all while its
    /// parameters are valid and its schema is simple (see [`FastSchema`]). Fails if the
    /// name is taken or not kebab-case.
    pub fn register_lazy(&mut self, tool: Arc<dyn Tool>) -> Result<(), String> {
        self.insert(tool, OnceLock::new())
    }

    fn insert(
        &mut self,
        tool: Arc<dyn Tool>,
        validator: OnceLock<Result<Validator, String>>,
    ) -> Result<(), String> {
        let spec = tool.spec();
        let name = spec.name;
        if !is_kebab_case(name) {
            return Err(format!(
                "tool name `{name}` is not kebab-case (lowercase letters and digits in words \
                 joined by single hyphens, starting with a letter)"
            ));
        }
        let at = match self.position(name) {
            Ok(_) => return Err(format!("a tool named `{name}` is already registered")),
            Err(at) => at,
        };
        let keys = SearchKeys::new(spec);
        self.entries.insert(
            at,
            Entry {
                name,
                tool,
                validator,
                fast: OnceLock::new(),
                keys,
            },
        );
        Ok(())
    }

    /// How many tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Specs sorted by name, optionally of one category.
    pub fn list(&self, category: Option<&str>) -> Vec<&ToolSpec> {
        self.entries
            .iter()
            .map(|e| e.tool.spec())
            .filter(|spec| category.is_none_or(|c| spec.category == c))
            .collect()
    }

    /// The categories in use, sorted.
    pub fn categories(&self) -> Vec<&'static str> {
        let mut categories: Vec<&'static str> = self
            .entries
            .iter()
            .map(|e| e.tool.spec().category)
            .collect();
        categories.sort_unstable();
        categories.dedup();
        categories
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.entry(name).map(|e| &e.tool)
    }

    /// The spec of `name`, or an UnknownTool error naming the closest matches.
    pub fn info(&self, name: &str) -> Result<&ToolSpec, ToolError> {
        match self.entry(name) {
            Some(e) => Ok(e.tool.spec()),
            None => Err(self.unknown(name)),
        }
    }

    /// Names closest to `name` (edit distance and substring), best first, at most 3.
    ///
    /// Names that contain the query, or are contained in it, come first, closest first;
    /// then names (or words of names) within a small edit distance: 1 for queries of up to
    /// 4 characters, 2 up to 8, 3 beyond. Ties go by name. The query is case-insensitive.
    pub fn suggest(&self, name: &str) -> Vec<&'static str> {
        let query = name.trim().to_lowercase();
        if query.is_empty() {
            return Vec::new();
        }
        let limit = match query.chars().count() {
            0..=4 => 1,
            5..=8 => 2,
            _ => 3,
        };
        let mut ranked: Vec<(u8, usize, &'static str)> = self
            .entries
            .iter()
            .filter_map(|e| {
                let candidate = e.name;
                let whole = strsim::damerau_levenshtein(&query, candidate);
                if candidate.contains(query.as_str()) || query.contains(candidate) {
                    return Some((0, whole, candidate));
                }
                let distance = candidate
                    .split('-')
                    .map(|w| strsim::damerau_levenshtein(&query, w))
                    .fold(whole, usize::min);
                (distance <= limit).then_some((1, distance, candidate))
            })
            .collect();
        ranked.sort_unstable();
        ranked
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|(_, _, n)| n)
            .collect()
    }

    /// Tools matching `query`, best first with their scores: name matches rank above
    /// description matches, which rank above category matches. Equal scores go by name;
    /// an empty query lists every tool (score 1.0). See the `search` module for the scores.
    pub fn search(&self, query: &str, limit: usize) -> Vec<(f32, &ToolSpec)> {
        let query = Query::new(query);
        let mut hits: Vec<(f32, &ToolSpec)> = self
            .entries
            .iter()
            .map(|e| (query.score(&e.keys), e.tool.spec()))
            .filter(|(score, _)| *score > 0.0 || query.is_empty())
            .collect();
        // Entries are sorted by name, and the sort is stable: ties stay in name order.
        hits.sort_by(|a, b| b.0.total_cmp(&a.0));
        hits.truncate(limit);
        hits
    }

    /// Checks `params` against the schema of `name`: which parameter and why on failure.
    pub fn validate(&self, name: &str, params: &Value) -> Result<(), ToolError> {
        let entry = self.entry(name).ok_or_else(|| self.unknown(name))?;
        check(entry, params)
    }

    /// Validates and runs `name` on the caller's thread, turning a panic into an Internal
    /// error. No timeout and no cache: [`super::ToolHost`] adds those.
    pub fn invoke(&self, name: &str, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        let entry = self.entry(name).ok_or_else(|| self.unknown(name))?;
        check(entry, params)?;
        match catch_unwind(AssertUnwindSafe(|| entry.tool.invoke(params, ctx))) {
            Ok(result) => result,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)");
                Err(ToolError::new(
                    ToolErrorKind::Internal,
                    format!("tool `{name}` panicked: {why}"),
                ))
            }
        }
    }

    /// The UnknownTool error for `name`, naming the closest matches.
    fn unknown(&self, name: &str) -> ToolError {
        let message = match self.suggest(name).as_slice() {
            [] => format!("unknown tool `{name}`"),
            [one] => format!("unknown tool `{name}`; did you mean `{one}`?"),
            [first @ .., last] => {
                let first: Vec<String> = first.iter().map(|n| format!("`{n}`")).collect();
                format!(
                    "unknown tool `{name}`; did you mean {} or `{last}`?",
                    first.join(", ")
                )
            }
        };
        ToolError::new(ToolErrorKind::UnknownTool, message)
    }

    /// The index of `name`, or where it would go.
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.name.cmp(name))
    }

    /// The entry of `name`.
    fn entry(&self, name: &str) -> Option<&Entry> {
        self.position(name).ok().map(|i| &self.entries[i])
    }
}

/// Tools resolved once ([`ToolId`]): the hot path of a tool object in Lua, and of hosts that
/// keep per-tool settings by index.
impl Registry {
    /// The id of `name`, for repeated calls: valid until the next registration, and still
    /// naming the tool after it (see [`ToolId`]).
    pub fn id(&self, name: &str) -> Option<ToolId> {
        let index = self.position(name).ok()?;
        Some(ToolId {
            index,
            name: self.entries[index].name,
        })
    }

    /// [`Registry::id`], or the UnknownTool error naming the closest matches.
    pub fn resolve(&self, name: &str) -> Result<ToolId, ToolError> {
        self.id(name).ok_or_else(|| self.unknown(name))
    }

    /// The ids of every tool, in the order of their indexes (by name).
    pub fn ids(&self) -> impl Iterator<Item = ToolId> + '_ {
        self.entries.iter().enumerate().map(|(index, e)| ToolId {
            index,
            name: e.name,
        })
    }

    /// Whether `id` is in the place it says in this registry, so that
    /// [`ToolId::index`] may index per-tool settings built from [`Registry::ids`].
    pub fn holds(&self, id: ToolId) -> bool {
        self.entry_at(id).is_some()
    }

    /// The tool of `id`.
    pub fn get_id(&self, id: ToolId) -> Option<&Arc<dyn Tool>> {
        self.entry_of(id).map(|e| &e.tool)
    }

    /// [`Registry::validate`] of a resolved tool; the tool, to run, if `params` are valid.
    pub fn validate_id(&self, id: ToolId, params: &Value) -> Result<&Arc<dyn Tool>, ToolError> {
        let entry = self.entry_of(id).ok_or_else(|| self.unknown(id.name))?;
        check(entry, params)?;
        Ok(&entry.tool)
    }

    /// The entry of `id` if it is in the place the id says: one comparison of name
    /// pointers, no search.
    fn entry_at(&self, id: ToolId) -> Option<&Entry> {
        self.entries
            .get(id.index)
            .filter(|e| std::ptr::eq(e.name, id.name))
    }

    /// The entry of `id`: in its place, else found by name.
    fn entry_of(&self, id: ToolId) -> Option<&Entry> {
        self.entry_at(id).or_else(|| self.entry(id.name))
    }
}

/// The compiled parameter schema of `spec`.
fn compile(spec: &ToolSpec) -> Result<Validator, String> {
    compile_schema(&spec.parameters).map_err(|e| {
        format!(
            "the parameters schema of tool `{}` does not compile: {e}",
            spec.name
        )
    })
}

/// Compiles `schema` as Draft 7 when that means the same as the default Draft 2020-12
/// (see [`is_draft7_equivalent`]), else with the draft it declares or the default.
///
/// Why: compiling checks the schema against its draft's meta-schema, and the first
/// check in a process builds that meta-schema's validator. Draft 2020-12's, spread over
/// vocabularies and `$dynamicRef`s, costs about 4 M instructions (a millisecond, most of
/// a one-shot `llmspell tool invoke`); Draft 7's costs about a quarter of that.
fn compile_schema(schema: &Value) -> Result<Validator, ValidationError<'static>> {
    if is_draft7_equivalent(schema, 0) {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(schema)
    } else {
        jsonschema::validator_for(schema)
    }
}

/// Deepest nesting [`is_draft7_equivalent`] looks into; deeper schemas take the default.
const MAX_SCHEMA_DEPTH: usize = 32;

/// Whether `schema` uses only keywords whose meaning and meta-schema rules are the same in
/// Draft 7 and Draft 2020-12, and declares no `$schema`: then both drafts accept the same
/// instances with the same errors. Anything else (`$ref`, `$defs`, `format`, whose
/// default differs, `items` as an array, `dependencies`, 2019+ keywords, unknown ones) is
/// left to the default draft.
fn is_draft7_equivalent(schema: &Value, depth: usize) -> bool {
    let map = match schema {
        Value::Bool(_) => return true,
        Value::Object(map) if depth < MAX_SCHEMA_DEPTH => map,
        _ => return false,
    };
    let sub = |v: &Value| is_draft7_equivalent(v, depth + 1);
    map.iter().all(|(keyword, value)| match keyword.as_str() {
        "type" | "enum" | "const" | "required" | "minimum" | "maximum" | "exclusiveMinimum"
        | "exclusiveMaximum" | "multipleOf" | "minLength" | "maxLength" | "pattern"
        | "minItems" | "maxItems" | "uniqueItems" | "minProperties" | "maxProperties" | "title"
        | "description" | "default" | "examples" | "$comment" | "readOnly" | "writeOnly" => true,
        "properties" | "patternProperties" => {
            value.as_object().is_some_and(|m| m.values().all(sub))
        }
        "allOf" | "anyOf" | "oneOf" => value.as_array().is_some_and(|a| a.iter().all(sub)),
        "items" => !value.is_array() && sub(value),
        "additionalProperties" | "propertyNames" | "contains" | "not" | "if" | "then" | "else" => {
            sub(value)
        }
        _ => false,
    })
}

/// Validates `params` against the entry's schema: every path ([`Registry::validate`],
/// [`Registry::validate_id`], [`Registry::invoke`]) comes here.
///
/// The entry's [`FastSchema`], if its schema is simple, answers first: what it accepts
/// jsonschema accepts too, so a valid call needs no compiled schema. What it refuses, and
/// every call of a tool whose schema is not simple, goes to jsonschema (compiled on first
/// need), which decides and writes the error naming the parameter.
fn check(entry: &Entry, params: &Value) -> Result<(), ToolError> {
    let fast = entry
        .fast
        .get_or_init(|| FastSchema::compile(&entry.tool.spec().parameters));
    if fast.as_ref().is_some_and(|fast| fast.accepts(params)) {
        return Ok(());
    }
    let validator = match entry.validator.get_or_init(|| compile(entry.tool.spec())) {
        Ok(v) => v,
        Err(e) => return Err(ToolError::new(ToolErrorKind::Internal, e.clone())),
    };
    // `is_valid` is the fast path; `validate` builds the error only when there is one.
    if validator.is_valid(params) {
        return Ok(());
    }
    match validator.validate(params) {
        Ok(()) => Ok(()),
        Err(error) => Err(ToolError::invalid(describe(&error))),
    }
}

/// A schema violation for a person: `parameter `input`: 42 is not of type "string"`, with
/// the parameter as a path (`options.depth`, `items[2]`) when it is nested.
fn describe(error: &ValidationError<'_>) -> String {
    let mut path = String::new();
    for segment in error.instance_path().iter() {
        match segment {
            LocationSegment::Property(p) if path.is_empty() => path.push_str(&p),
            LocationSegment::Property(p) => {
                path.push('.');
                path.push_str(&p);
            }
            LocationSegment::Index(i) => {
                // Writing to a String cannot fail.
                let _ = write!(path, "[{i}]");
            }
        }
    }
    match (error.kind(), path.is_empty()) {
        (ValidationErrorKind::Required { property }, true) => match property.as_str() {
            Some(p) => format!("parameter `{p}` is required"),
            None => format!("parameter {property} is required"),
        },
        (ValidationErrorKind::Required { property }, false) => match property.as_str() {
            Some(p) => format!("parameter `{path}.{p}` is required"),
            None => format!("parameter `{path}`: {error}"),
        },
        (_, true) => format!("parameters: {error}"),
        (_, false) => format!("parameter `{path}`: {error}"),
    }
}

/// Whether `name` is kebab-case: `[a-z][a-z0-9]*(-[a-z0-9]+)*`.
fn is_kebab_case(name: &str) -> bool {
    let starts_with_letter = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    starts_with_letter
        && name.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "schema_tests.rs"]
mod schema_tests;
