//! The CLI's errors: typed by cause, each with its exit code, printed as text or JSON.

use std::fmt;
use std::io::Write;

use serde_json::json;

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
}

impl CliError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
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
            ErrorKind::Usage => 2,
            _ => 1,
        }
    }

    /// The JSON form: `{"error": {"kind": ..., "message": ...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({"error": {"kind": self.kind.as_str(), "message": self.message}})
    }

    /// Prints the error: as JSON on stdout when `format` is JSON and stdout may be used,
    /// else as `error: message` on stderr.
    pub fn report(&self, format: OutputFormat, stdout_allowed: bool) {
        if format.is_json() && stdout_allowed {
            crate::output::print_json(&self.to_json(), format);
        } else if format.is_json() {
            let _ = writeln!(std::io::stderr(), "{}", self.to_json());
        } else {
            let _ = writeln!(std::io::stderr(), "error: {}", self.message);
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
            json!({"error": {"kind": "not_found", "message": "no kernel abc"}})
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(CliError::usage("bad").exit_code(), 2);
    }
}
