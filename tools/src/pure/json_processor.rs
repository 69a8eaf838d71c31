//! `json-processor`: jq queries on JSON, with jaq (jaq-core, jaq-std, jaq-json). The
//! standard library is jq's, less the filters that reach outside the parameters: `env`
//! (the process environment) and `now` (the clock), so results depend on the parameters
//! alone and may be cached.

use super::{object, opt_bool, opt_str, spec};
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::load::{lex, parse, Arena, File, Loader};
use jaq_core::path::Part;
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde::Deserialize as _;
use serde_json::{json, Value};

/// Most results one query may give; past it the rest are dropped and `truncated` is set.
pub const MAX_RESULTS: usize = 10_000;
/// Longest query accepted, in bytes.
const MAX_QUERY: usize = 64 * 1024;
/// Deepest result accepted: serde_json's parser stops at 128 levels.
const MAX_DEPTH: usize = 127;
/// Stack of the thread a query runs on.
const JQ_STACK: usize = 256 << 20;
/// Native filters left out: they read the environment or the clock.
const IMPURE: [&str; 2] = ["env", "now"];

/// Runs jq queries on JSON.
pub struct JsonProcessor {
    spec: ToolSpec,
}

impl JsonProcessor {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "input": {"description": "A JSON value, or a string holding JSON text"},
                "query": {"type": "string", "maxLength": MAX_QUERY, "default": ".",
                    "description": "A jq filter, e.g. `.items[] | select(.price > 10) | .name`"},
                "compact": {"type": "boolean", "default": false,
                    "description": "One line per result instead of indented JSON"},
                "raw_output": {"type": "boolean", "default": false,
                    "description": "Print string results without quotes, like jq -r"}
            },
            "required": ["input"],
            "additionalProperties": false
        });
        JsonProcessor {
            spec: spec(
                "json-processor",
                "data",
                "Queries and transforms JSON with jq filters: select, map, group, sort and \
                 reshape values.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for JsonProcessor {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for JsonProcessor {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let input = object(params)?
            .get("input")
            .ok_or_else(|| ToolError::invalid("missing required parameter `input`"))?;
        let query = opt_str(params, "query")?.unwrap_or(".");
        if query.len() > MAX_QUERY {
            return Err(ToolError::invalid(format!(
                "parameter `query` is longer than {MAX_QUERY} bytes"
            )));
        }
        let compact = opt_bool(params, "compact", false)?;
        let raw = opt_bool(params, "raw_output", false)?;
        let parsed;
        let input = match input {
            Value::String(text) => {
                parsed = serde_json::from_str::<Value>(text).map_err(|err| {
                    ToolError::invalid(format!(
                        "parameter `input` is a string but not JSON text: {err}"
                    ))
                })?;
                &parsed
            }
            value => value,
        };
        let (results, truncated) = run(query, input)?;
        let mut lines = Vec::with_capacity(results.len());
        for result in &results {
            lines.push(match result {
                Value::String(s) if raw => s.clone(),
                value if compact => value.to_string(),
                // Serialising a Value to a String cannot fail.
                value => serde_json::to_string_pretty(value).unwrap_or_default(),
            });
        }
        Ok(ToolOutput {
            text: lines.join("\n"),
            data: json!({
                "results": results,
                "count": results.len(),
                "truncated": truncated,
            }),
        })
    }
}

/// Compiles `query` and runs it on `input`: its results, and whether some were dropped.
///
/// jaq evaluates, prints and drops values recursively, and a query can build values
/// nested far deeper than any JSON input (`reduce range(1e6) as $i (0; [.])`). So the
/// query runs on a thread of its own with a large stack (reserved, and only touched as
/// used), and only JSON, whose parser stops at 128 levels, comes back from it.
pub fn run(query: &str, input: &Value) -> Result<(Vec<Value>, bool), ToolError> {
    let (query, input) = (query.to_owned(), input.clone());
    let worker = std::thread::Builder::new()
        .name("json-processor".into())
        .stack_size(JQ_STACK)
        .spawn(move || run_here(&query, &input))
        .map_err(|err| ToolError::failed(format!("cannot start the jq thread: {err}")))?;
    worker.join().unwrap_or_else(|_| {
        Err(ToolError::new(
            llmspell_core::tools::ToolErrorKind::Internal,
            "the jq evaluation panicked",
        ))
    })
}

/// [`run`] on the calling thread.
fn run_here(query: &str, input: &Value) -> Result<(Vec<Value>, bool), ToolError> {
    let input = Val::deserialize(input)
        .map_err(|err| ToolError::invalid(format!("parameter `input`: {err}")))?;
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs().filter(|(name, _, _)| !IMPURE.contains(name)))
        .chain(jaq_json::funs());
    if let Some(name) = recursive_def(query) {
        return Err(ToolError::invalid(format!(
            "parameter `query`: `{name}` calls itself; recursive definitions are refused, as \
             they can exhaust the stack (use recurse, until, while, limit or reduce)"
        )));
    }
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let program = File {
        code: query,
        path: (),
    };
    let modules = loader
        .load(&arena, program)
        .map_err(|errs| query_error(query, load_messages(query, errs)))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let messages = errs
                .into_iter()
                .flat_map(|(_, errs)| errs)
                .map(|(name, undefined)| format!("undefined {} `{name}`", undefined.as_str()))
                .collect();
            query_error(query, messages)
        })?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut results = Vec::new();
    for result in filter.id.run((ctx, input)).map(unwrap_valr) {
        if results.len() == MAX_RESULTS {
            return Ok((results, true));
        }
        let value = result.map_err(|err| ToolError::failed(format!("jq error: {err}")))?;
        if deeper_than(&value, MAX_DEPTH) {
            dismantle(value);
            return Err(ToolError::failed(format!(
                "a result is nested deeper than {MAX_DEPTH} levels, more than JSON output allows"
            )));
        }
        results.push(to_json(&value));
    }
    Ok((results, false))
}

/// Whether `value` holds an array or object below `limit` enclosing ones. Iterative: the
/// value may be nested far deeper than the stack allows recursion.
fn deeper_than(value: &Val, limit: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Val::Arr(_) | Val::Obj(_) if depth > limit => return true,
            Val::Arr(items) => stack.extend(items.iter().map(|item| (item, depth + 1))),
            Val::Obj(map) => stack.extend(
                map.iter()
                    .flat_map(|(k, v)| [(k, depth + 1), (v, depth + 1)]),
            ),
            _ => {}
        }
    }
    false
}

/// Drops `value` without recursion, taking apart what nothing else shares.
fn dismantle(value: Val) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Val::Arr(items) => {
                if let Ok(items) = jaq_json::Rc::try_unwrap(items) {
                    stack.extend(items);
                }
            }
            Val::Obj(map) => {
                if let Ok(map) = jaq_json::Rc::try_unwrap(map) {
                    stack.extend(map.into_iter().flat_map(|(k, v)| [k, v]));
                }
            }
            _ => {}
        }
    }
}

/// A jaq value as JSON. jaq values are a superset of JSON (byte strings, non-string keys,
/// NaN); what JSON cannot hold comes back as its jq text in a string.
fn to_json(value: &Val) -> Value {
    let text = value.to_string();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// An InvalidParams error listing what is wrong with the query.
fn query_error(query: &str, messages: Vec<String>) -> ToolError {
    ToolError::invalid(format!(
        "parameter `query`: cannot compile `{query}`: {}",
        messages.join("; ")
    ))
}

/// Lexer and parser errors, each with its byte offset in the query.
fn load_messages(query: &str, errs: jaq_core::load::Errors<&str, ()>) -> Vec<String> {
    let mut messages = Vec::new();
    for (_, err) in errs {
        match err {
            jaq_core::load::Error::Io(items) => {
                messages.extend(
                    items
                        .into_iter()
                        .map(|(path, why)| format!("{path}: {why}")),
                );
            }
            jaq_core::load::Error::Lex(items) => {
                for (expect, found) in items {
                    let what = match expect {
                        lex::Expect::Delim(open) => format!("a match for `{open}`"),
                        other => other.as_str().to_string(),
                    };
                    messages.push(at(query, found, &what));
                }
            }
            jaq_core::load::Error::Parse(items) => {
                for (expect, found) in items {
                    let what = match expect {
                        parse::Expect::Just(token) => format!("`{token}`"),
                        other => other.as_str().to_string(),
                    };
                    messages.push(at(query, found, &what));
                }
            }
        }
    }
    messages
}

/// "expected WHAT at offset N" for the slice `found` of `query`.
fn at(query: &str, found: &str, what: &str) -> String {
    let offset = (found.as_ptr() as usize)
        .checked_sub(query.as_ptr() as usize)
        .filter(|offset| *offset <= query.len())
        .unwrap_or(query.len());
    let token: String = found.chars().take(20).collect();
    if token.is_empty() {
        format!("expected {what} at the end (offset {offset})")
    } else {
        format!("expected {what} at offset {offset}, found `{token}`")
    }
}

/// The name of the first definition in `query` that calls itself, directly or through a
/// definition nested in it. (Siblings cannot call each other in a cycle: a definition
/// sees only those before it.) A query that does not parse gives `None`: the loader
/// reports it.
fn recursive_def(query: &str) -> Option<&str> {
    let tokens = lex::Lexer::new(query).lex().ok()?;
    let term = parse::Parser::new(&tokens).parse(|p| p.term()).ok()?;
    find_recursion(&term, &mut Vec::new())
}

/// A call, within `term`, to one of the `enclosing` definitions.
fn find_recursion<'s>(term: &Term<&'s str>, enclosing: &mut Vec<&'s str>) -> Option<&'s str> {
    let mut walk = |t: &Term<&'s str>| find_recursion(t, enclosing);
    match term {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Var(_) | Term::Break(_) => None,
        Term::Str(_, parts) => parts.iter().find_map(|part| match part {
            lex::StrPart::Term(t) => walk(t),
            _ => None,
        }),
        Term::Arr(t) => t.as_deref().and_then(walk),
        Term::Obj(entries) => entries
            .iter()
            .find_map(|(k, v)| walk(k).or_else(|| v.as_ref().and_then(&mut walk))),
        Term::Neg(t) | Term::Label(_, t) => walk(t),
        Term::BinOp(l, op, r) => {
            let pattern = match op {
                BinaryOp::Pipe(Some(p)) => in_pattern(p, enclosing),
                _ => None,
            };
            pattern
                .or_else(|| find_recursion(l, enclosing).or_else(|| find_recursion(r, enclosing)))
        }
        Term::Fold(_, t, p, ts) => walk(t)
            .or_else(|| ts.iter().find_map(|t| find_recursion(t, enclosing)))
            .or_else(|| in_pattern(p, enclosing)),
        Term::TryCatch(t, c) => walk(t).or_else(|| c.as_deref().and_then(&mut walk)),
        Term::IfThenElse(branches, other) => branches
            .iter()
            .find_map(|(cond, then)| walk(cond).or_else(|| walk(then)))
            .or_else(|| other.as_deref().and_then(&mut walk)),
        Term::Def(defs, body) => {
            for def in defs {
                enclosing.push(def.name);
                let found = find_recursion(&def.body, enclosing);
                enclosing.pop();
                if found.is_some() {
                    return found;
                }
            }
            find_recursion(body, enclosing)
        }
        Term::Call(name, args) => {
            if enclosing.contains(name) {
                return Some(name);
            }
            args.iter().find_map(|t| find_recursion(t, enclosing))
        }
        Term::Path(t, path) => walk(t).or_else(|| {
            path.0.iter().find_map(|(part, _)| match part {
                Part::Index(i) => walk(i),
                Part::Range(from, to) => from
                    .as_ref()
                    .and_then(&mut walk)
                    .or_else(|| to.as_ref().and_then(&mut walk)),
            })
        }),
    }
}

/// A call to one of the `enclosing` definitions within a destructuring pattern.
fn in_pattern<'s>(pattern: &Pattern<&'s str>, enclosing: &mut Vec<&'s str>) -> Option<&'s str> {
    match pattern {
        Pattern::Var(_) => None,
        Pattern::Arr(items) => items.iter().find_map(|p| in_pattern(p, enclosing)),
        Pattern::Obj(entries) => entries
            .iter()
            .find_map(|(k, p)| find_recursion(k, enclosing).or_else(|| in_pattern(p, enclosing))),
    }
}
