//! `template-creator`: renders Jinja2 templates with minijinja, under a fuel budget so a
//! runaway loop ends with an error instead of running on.

use super::{object, opt_bool, opt_choice, req_str, spec};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::{json, Value};

/// Instructions (and about 64 bytes of allocation each) one render may spend.
pub const FUEL: u64 = 2_000_000;

/// Renders templates.
pub struct TemplateCreator {
    spec: ToolSpec,
}

impl TemplateCreator {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "template": {"type": "string",
                    "description": "Jinja2 template text, e.g. `Hello {{ name }}!`"},
                "variables": {"type": "object", "description": "The values the template uses"},
                "context": {"type": "object", "description": "Another name for `variables`"},
                "engine": {"type": "string", "enum": ["minijinja"], "default": "minijinja"},
                "strict": {"type": "boolean", "default": false,
                    "description": "Fail on undefined variables instead of rendering them empty"},
                "autoescape": {"type": "string", "enum": ["none", "html", "json"],
                    "default": "none"}
            },
            "required": ["template"],
            "additionalProperties": false
        });
        TemplateCreator {
            spec: spec(
                "template-creator",
                "text",
                "Renders a Jinja2 template (variables, loops, conditions, filters, macros) with \
                 the given variables.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for TemplateCreator {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for TemplateCreator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let template = req_str(params, "template")?;
        opt_choice(params, "engine", &["minijinja"], "minijinja")?;
        let fields = object(params)?;
        let empty = Value::Object(Default::default());
        let pick = |name: &str| match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v)),
            Some(v) => Err(super::wrong_type(name, "an object", v)),
        };
        let variables = match pick("variables")? {
            Some(v) => v,
            None => pick("context")?.unwrap_or(&empty),
        };
        let strict = opt_bool(params, "strict", false)?;
        let escape = match opt_choice(params, "autoescape", &["none", "html", "json"], "none")? {
            "html" => AutoEscape::Html,
            "json" => AutoEscape::Json,
            _ => AutoEscape::None,
        };
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(move |_| escape.clone());
        env.set_undefined_behavior(if strict {
            UndefinedBehavior::Strict
        } else {
            UndefinedBehavior::Lenient
        });
        let output = env
            .render_str(template, minijinja::Value::from(Serde(variables)))
            .map_err(render_error)?;
        Ok(ToolOutput {
            data: json!({"output": output, "engine": "minijinja"}),
            text: output,
        })
    }
}

/// A template's fault is the caller's (InvalidParams); running out of fuel or failing
/// otherwise while rendering is the tool failing.
fn render_error(err: minijinja::Error) -> ToolError {
    let line = err
        .line()
        .map(|line| format!(" (line {line})"))
        .unwrap_or_default();
    let what = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    match err.kind() {
        ErrorKind::OutOfFuel => ToolError::failed(format!(
            "template rendering stopped: it used more than its budget of {FUEL} steps{line}"
        )),
        ErrorKind::SyntaxError
        | ErrorKind::UndefinedError
        | ErrorKind::UnknownFilter
        | ErrorKind::UnknownTest
        | ErrorKind::UnknownFunction
        | ErrorKind::UnknownMethod
        | ErrorKind::TooManyArguments
        | ErrorKind::MissingArgument
        | ErrorKind::BadEscape
        | ErrorKind::TemplateNotFound
        | ErrorKind::UnknownBlock
        | ErrorKind::InvalidOperation
        | ErrorKind::CannotUnpack
        | ErrorKind::NonKey
        | ErrorKind::NonPrimitive => {
            ToolError::invalid(format!("parameter `template`: {what}{line}"))
        }
        _ => ToolError::failed(format!("template rendering failed: {what}{line}")),
    }
}
