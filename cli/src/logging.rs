//! Logging: tracing-subscriber, set up once in `main`.
//!
//! - Filter: `RUST_LOG` (e.g. `warn`, `llmspell_runtime_tokio=debug,warn`); default `warn`.
//! - Format: `LOG_FORMAT=compact|json|pretty|text` (`text`, the default, is the full format).
//! - Destination: stderr, or the `--log-file` (appended to). Never stdout.
//! - Colours only when writing to a terminal.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

use crate::error::{CliError, ErrorKind};

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One short line per event.
    Compact,
    /// One JSON object per line.
    Json,
    /// Multi-line, for reading.
    Pretty,
    /// The default full format.
    Text,
}

impl LogFormat {
    /// Parses `LOG_FORMAT`; unset means text.
    pub fn parse(value: Option<&str>) -> Result<LogFormat, String> {
        match value.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("text") | Some("full") => Ok(LogFormat::Text),
            Some("compact") => Ok(LogFormat::Compact),
            Some("json") => Ok(LogFormat::Json),
            Some("pretty") => Ok(LogFormat::Pretty),
            Some(other) => Err(format!(
                "LOG_FORMAT={other:?} is not one of compact, json, pretty, text"
            )),
        }
    }
}

/// Installs the global subscriber. Call once, before anything logs. An invalid
/// `RUST_LOG` or `LOG_FORMAT` falls back to the default with a warning: a typo in the
/// environment should not keep a kernel from starting. Only an unopenable log file fails.
pub fn init(log_file: Option<&Path>) -> Result<(), CliError> {
    let mut warnings = Vec::new();
    let format_var = std::env::var("LOG_FORMAT").ok();
    let format = LogFormat::parse(format_var.as_deref()).unwrap_or_else(|e| {
        warnings.push(format!("{e}; using text"));
        LogFormat::Text
    });
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            warnings.push(format!("RUST_LOG={spec:?} is invalid ({e}); using warn"));
            EnvFilter::new("warn")
        }),
        _ => EnvFilter::new("warn"),
    };
    let (writer, ansi) = match log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| {
                    CliError::io(format_args!("cannot open log file {}", path.display()), e)
                })?;
            (BoxMakeWriter::new(Mutex::new(file)), false)
        }
        None => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let result = match format {
        LogFormat::Compact => builder.compact().try_init(),
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| CliError::new(ErrorKind::Runtime, format!("cannot set up logging: {e}")))?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("text")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("JSON")), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(Some("compact")), Ok(LogFormat::Compact));
        assert_eq!(LogFormat::parse(Some("pretty")), Ok(LogFormat::Pretty));
        assert!(LogFormat::parse(Some("xml")).unwrap_err().contains("xml"));
    }
}
