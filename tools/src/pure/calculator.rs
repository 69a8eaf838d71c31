//! `calculator`: arithmetic expressions on fasteval, with variables, constants and the
//! usual functions. The benchmark tool: one evaluation is a parse into a reused
//! thread-local slab and a walk, well under a microsecond for short expressions.

use super::{number, object, req_str, spec};
use fasteval::{EvalNamespace, Evaler, Parser, Slab};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Map, Value};
use std::cell::RefCell;

/// Longest expression accepted, in bytes (fasteval's own limit is 4 KB).
pub const MAX_EXPRESSION: usize = 4096;
/// Deepest nesting of parentheses and calls accepted.
const MAX_DEPTH: usize = 32;
/// Values and sub-expressions one expression may hold.
const SLAB_CAPACITY: usize = 512;

thread_local! {
    // A slab per thread, cleared by each parse, so evaluations allocate almost nothing.
    static SLAB: RefCell<Slab> = RefCell::new(Slab::with_capacity(SLAB_CAPACITY));
}

/// Evaluates arithmetic expressions.
pub struct Calculator {
    spec: ToolSpec,
}

impl Calculator {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "input": {
                    "type": "string",
                    "maxLength": MAX_EXPRESSION,
                    "description": "Expression: + - * / % ^ (a leading minus binds tighter \
                        than ^: -3^2 is 9), parentheses, comparisons; \
                        functions sqrt cbrt exp ln log log2 log10 pow hypot atan2 sin cos tan \
                        asin acos atan sinh cosh tanh abs sign int floor ceil round min max; \
                        constants pi, e, tau"
                },
                "variables": {
                    "type": "object",
                    "additionalProperties": {"type": "number"},
                    "description": "Values for the variables the expression names"
                }
            },
            "required": ["input"],
            "additionalProperties": false
        });
        Calculator {
            spec: spec(
                "calculator",
                "utility",
                "Evaluates an arithmetic expression with precedence, parentheses, powers, \
                 functions such as sqrt, sin, log, min and max, constants and variables.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for Calculator {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for Calculator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let input = req_str(params, "input")?;
        let variables = match object(params)?.get("variables") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(check_variables(map)?),
            Some(_) => return Err(ToolError::invalid("`variables` must be an object")),
        };
        // Finite, so a JSON number: an integer when it is one, so 2+2 prints `4`.
        let result = number(evaluate(input, variables)?);
        let text = match result.as_i64() {
            // The integer formatter, without Display's machinery: the common case.
            Some(i) => i.to_string(),
            None => result.to_string(),
        };
        let mut data = Map::new();
        data.insert("result".to_owned(), result);
        data.insert("expression".to_owned(), Value::String(input.to_owned()));
        Ok(ToolOutput {
            text,
            data: Value::Object(data),
        })
    }
}

/// Checks that every variable is a number.
fn check_variables(map: &Map<String, Value>) -> Result<&Map<String, Value>, ToolError> {
    for (name, value) in map {
        if !value.is_number() {
            return Err(ToolError::invalid(format!(
                "variable `{name}` must be a number, not {}",
                super::type_name(value)
            )));
        }
    }
    Ok(map)
}

/// Evaluates `input` to a finite number.
pub fn evaluate(input: &str, variables: Option<&Map<String, Value>>) -> Result<f64, ToolError> {
    if input.len() > MAX_EXPRESSION {
        return Err(ToolError::new(
            llmspell_core::tools::ToolErrorKind::TooLarge,
            format!(
                "expression is {} bytes, above the limit of {MAX_EXPRESSION}",
                input.len()
            ),
        ));
    }
    if input.trim().is_empty() {
        return Err(ToolError::invalid("`input` is an empty expression"));
    }
    if names_print(input) {
        // fasteval's print() writes to stderr: not something a safe tool may do.
        return Err(ToolError::invalid("unknown function `print`"));
    }
    let mut ns = Namespace {
        variables,
        arity_error: None,
    };
    let value = eval_raw(input, &mut ns).map_err(|err| describe(err, ns.arity_error))?;
    if value.is_finite() {
        Ok(value)
    } else if divides_by_zero(input, variables) {
        Err(ToolError::invalid("division by zero"))
    } else if value.is_nan() {
        Err(ToolError::invalid(
            "the result is not a number (a function outside its domain, such as sqrt(-1))",
        ))
    } else {
        Err(ToolError::invalid(
            "the result is infinite (overflow, or a function at a pole such as ln(0))",
        ))
    }
}

/// Parses and evaluates `input` in the thread's slab.
fn eval_raw(input: &str, ns: &mut Namespace<'_>) -> Result<f64, fasteval::Error> {
    SLAB.with(|slab| {
        // Never borrowed twice: nothing called while it is held evaluates again.
        let mut slab = slab.borrow_mut();
        let parser = Parser {
            expr_len_limit: MAX_EXPRESSION,
            expr_depth_limit: MAX_DEPTH,
        };
        let expr = parser.parse(input, &mut slab.ps)?;
        expr.from(&slab.ps).eval(&slab, ns)
    })
}

/// Whether `input` names the identifier `print`. A scan for `p` first: a substring
/// searcher costs more to set up than short expressions take to scan.
fn names_print(input: &str) -> bool {
    let bytes = input.as_bytes();
    (0..bytes.len()).any(|at| {
        bytes[at] == b'p' && bytes[at..].starts_with(b"print") && {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(at + 5).copied();
            !before.is_some_and(is_name_byte) && !after.is_some_and(is_name_byte)
        }
    })
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether some `/` or `%` in `input` has a right operand that evaluates to zero. Only
/// called once a result came out infinite or NaN, to name the cause.
fn divides_by_zero(input: &str, variables: Option<&Map<String, Value>>) -> bool {
    // Each check parses at most the rest of a 4 KB input, so this stays in milliseconds.
    input.match_indices(['/', '%']).any(|(at, _)| {
        let operand = right_operand(&input[at + 1..]);
        let mut ns = Namespace {
            variables,
            arity_error: None,
        };
        !operand.trim().is_empty() && eval_raw(operand, &mut ns).is_ok_and(|d| d == 0.0)
    })
}

/// The operand that starts `rest`: signs, then a parenthesised group, or a number or
/// name with an optional call's parentheses. Binds like `/` does, ignoring `^`.
fn right_operand(rest: &str) -> &str {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() && (bytes[i].is_ascii_whitespace() || b"+-".contains(&bytes[i])) {
        i += 1;
    }
    while i < bytes.len() && (is_name_byte(bytes[i]) || bytes[i] == b'.') {
        i += 1;
    }
    if bytes.get(i) == Some(&b'(') {
        let mut depth = 0usize;
        while i < bytes.len() {
            match bytes[i] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return &rest[..=i];
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    &rest[..i]
}

/// Turns a fasteval error into a tool error that says what was wrong.
fn describe(err: fasteval::Error, arity_error: Option<String>) -> ToolError {
    use fasteval::Error as E;
    let message = match err {
        E::Undefined(_) if arity_error.is_some() => arity_error.unwrap_or_default(),
        E::Undefined(name) => format!("unknown variable or function `{name}`"),
        E::TooLong => format!("expression longer than {MAX_EXPRESSION} bytes"),
        E::TooDeep => format!("expression nested deeper than {MAX_DEPTH} levels"),
        E::SlabOverflow => "expression has too many terms".to_string(),
        E::EOF | E::EofWhileParsing(_) => "syntax error: unexpected end of expression".into(),
        E::UnparsedTokensRemaining(rest) => format!("syntax error: unexpected `{rest}`"),
        E::InvalidValue => "syntax error: expected a number, name or `(`".to_string(),
        E::ParseF64(s) => format!("syntax error: `{s}` is not a number"),
        E::Expected(what) => format!("syntax error: expected {what}"),
        E::WrongArgs(what) => format!("wrong arguments: {what}"),
        other => format!("cannot evaluate: {other}"),
    };
    ToolError::invalid(message)
}

/// Variables, constants and the functions fasteval lacks.
struct Namespace<'a> {
    variables: Option<&'a Map<String, Value>>,
    /// Set when a known function got the wrong number of arguments.
    arity_error: Option<String>,
}

impl EvalNamespace for Namespace<'_> {
    fn lookup(&mut self, name: &str, args: Vec<f64>, _keybuf: &mut String) -> Option<f64> {
        if args.is_empty() {
            if let Some(value) = self.variables.and_then(|vars| vars.get(name)) {
                return value.as_f64();
            }
            match name {
                "pi" => return Some(std::f64::consts::PI),
                "e" => return Some(std::f64::consts::E),
                "tau" => return Some(std::f64::consts::TAU),
                _ => {}
            }
        }
        let (arity, f): (usize, fn(&[f64]) -> f64) = match name {
            "sqrt" => (1, |a| a[0].sqrt()),
            "cbrt" => (1, |a| a[0].cbrt()),
            "exp" => (1, |a| a[0].exp()),
            "ln" => (1, |a| a[0].ln()),
            "log2" => (1, |a| a[0].log2()),
            "log10" => (1, |a| a[0].log10()),
            "trunc" => (1, |a| a[0].trunc()),
            "pow" => (2, |a| a[0].powf(a[1])),
            "hypot" => (2, |a| a[0].hypot(a[1])),
            "atan2" => (2, |a| a[0].atan2(a[1])),
            _ => return None,
        };
        if args.len() == arity {
            Some(f(&args))
        } else {
            let plural = if arity == 1 { "" } else { "s" };
            self.arity_error = Some(format!(
                "function `{name}` takes {arity} argument{plural}, not {}",
                args.len()
            ));
            None
        }
    }
}
