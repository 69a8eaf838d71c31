//! The CLI's errors: typed by cause, each with its exit code, printed as text or JSON.

use std::fmt;
use std::io::Write;

use llmspell_core::tools::ToolErrorKind;
use serde_json::{json, Value};

use crate::cli::OutputFormat;

/// What went wrong, by who is at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line asks for something impossible (exit code 2, like clap's own errors).
    Usage,
    /// A named thing (kernel id, file) does not exist.
    NotFound,
    /// A file or directory could not be read or written.
    Io,
    /// A file's contents are invalid (connection file, registry record).
    InvalidData,
    /// The environment lacks something we need (HOME, VIRTUAL_ENV).
    Environment,
    /// The kernel runtime failed (bind, run, startup).
    Runtime,
    /// Something did not happen in the time allowed.
    Timeout,
    /// The configuration file or a `LLMSPELL_*` override is invalid (exit code 2).
    Config,
    /// A tool call failed: unknown tool, bad or too large parameters (exit code 2), or
    /// the tool's own failure, a refusal by policy, a timeout (exit code 1).
    Tool(ToolErrorKind),
}

impl ErrorKind {
    /// The name printed in JSON errors.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Io => "io",
            ErrorKind::InvalidData => "invalid_data",
            ErrorKind::Environment => "environment",
            ErrorKind::Runtime => "runtime",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Config => "config",
            ErrorKind::Tool(kind) => kind.as_str(),
        }
    }
}

/// An error that ends a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    /// The cause.
    pub kind: ErrorKind,
    /// The message for the user, without a trailing newline.
    pub message: String,
    /// Names the user may have meant (closest tool names), best first.
    pub suggestions: Vec<String>,
}

impl CliError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            suggestions: Vec::new(),
        }
    }

    /// The error of a `tool_reply` whose status is `error`. A kind this CLI does not know
    /// is reported as `internal`.
    pub fn from_reply(reply: &Value) -> Self {
        let error = &reply["error"];
        let kind = serde_json::from_value::<ToolErrorKind>(error["kind"].clone())
            .unwrap_or(ToolErrorKind::Internal);
        let message = error["message"]
            .as_str()
            .or_else(|| reply["evalue"].as_str())
            .unwrap_or("the kernel gave no reason")
            .to_string();
        let suggestions = error["suggestions"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        CliError {
            kind: ErrorKind::Tool(kind),
            message,
            suggestions,
        }
    }

    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// An I/O error on `what`, e.g. `io("cannot write /x", err)`.
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{what}: {err}"))
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage
            | ErrorKind::Config
            | ErrorKind::Tool(
                ToolErrorKind::UnknownTool | ToolErrorKind::InvalidParams | ToolErrorKind::TooLarge,
            ) => 2,
            _ => 1,
        }
    }

    /// The JSON form: `{"error": {"kind": ..., "message": ..., "suggestions": [...]}}`.
    pub fn to_json(&self) -> Value {
        json!({"error": {
            "kind": self.kind.as_str(),
            "message": self.message,
            "suggestions": self.suggestions,
        }})
    }

    /// The text form: the message, and the suggestions unless the message names them.
    pub fn to_text(&self) -> String {
        let named = self
            .suggestions
            .iter()
            .all(|s| self.message.contains(s.as_str()));
        if named {
            format!("error: {}", self.message)
        } else {
            format!(
                "error: {} (did you mean: {}?)",
                self.message,
                self.suggestions.join(", ")
            )
        }
    }

    /// Prints the error: as JSON on stdout when `format` is JSON and stdout may be used,
    /// else as `error: message` on stderr.
    pub fn report(&self, format: OutputFormat, stdout_allowed: bool) {
        if format.is_json() && stdout_allowed {
            crate::output::print_json(&self.to_json(), format);
        } else if format.is_json() {
            let _ = writeln!(std::io::stderr(), "{}", self.to_json());
        } else {
            let _ = writeln!(std::io::stderr(), "{}", self.to_text());
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_and_exit_codes() {
        let e = CliError::new(ErrorKind::NotFound, "no kernel abc");
        assert_eq!(
            e.to_json(),
            json!({"error": {"kind": "not_found", "message": "no kernel abc", "suggestions": []}})
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(CliError::usage("bad").exit_code(), 2);
        assert_eq!(CliError::new(ErrorKind::Config, "x").exit_code(), 2);
    }

    #[test]
    fn tool_errors_exit_2_for_the_callers_fault_and_1_for_the_tools() {
        let code = |kind| CliError::new(ErrorKind::Tool(kind), "m").exit_code();
        assert_eq!(code(ToolErrorKind::UnknownTool), 2);
        assert_eq!(code(ToolErrorKind::InvalidParams), 2);
        assert_eq!(code(ToolErrorKind::TooLarge), 2);
        assert_eq!(code(ToolErrorKind::PermissionDenied), 1);
        assert_eq!(code(ToolErrorKind::Timeout), 1);
        assert_eq!(code(ToolErrorKind::Failed), 1);
        assert_eq!(code(ToolErrorKind::Internal), 1);
    }

    #[test]
    fn reply_errors_keep_kind_message_and_suggestions() {
        let reply = json!({"status": "error", "command": "info", "evalue": "unknown tool calc",
            "error": {"kind": "unknown_tool", "message": "unknown tool calc",
                      "suggestions": ["calculator", "csv-analyzer"]}});
        let e = CliError::from_reply(&reply);
        assert_eq!(e.kind, ErrorKind::Tool(ToolErrorKind::UnknownTool));
        assert_eq!(e.suggestions, ["calculator", "csv-analyzer"]);
        assert_eq!(e.to_json()["error"]["kind"], "unknown_tool");
        assert_eq!(
            e.to_text(),
            "error: unknown tool calc (did you mean: calculator, csv-analyzer?)"
        );
        let odd = CliError::from_reply(&json!({"status": "error", "error": {"kind": "new"}}));
        assert_eq!(odd.kind, ErrorKind::Tool(ToolErrorKind::Internal));
        assert_eq!(odd.message, "the kernel gave no reason");
        let named = CliError {
            suggestions: vec!["calculator".into()],
            ..CliError::new(ErrorKind::NotFound, "no calc; closest: calculator")
        };
        assert_eq!(named.to_text(), "error: no calc; closest: calculator");
    }
}
