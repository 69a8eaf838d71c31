//! Which kernel remote commands talk to: `--connect TARGET`, or the target saved by
//! `llmspell kernel connect TARGET` (in `<runtime dir>/connect.json`) until
//! `llmspell kernel disconnect`.
//!
//! A TARGET is, in this order of trial:
//! 1. a connection file path;
//! 2. `HOST:PORT`: the registered kernel whose shell port is PORT on that host lends its
//!    connection file (for the key and the other ports), and HOST is dialled;
//! 3. a kernel id, or an unambiguous prefix, from `kernel status`.
//!
//! The saved target is resolved again at each use, so it follows a kernel whose key or
//! ports change, and a kernel that is gone is an error rather than a long wait.

use std::path::{Path, PathBuf};
use std::time::Duration;

use llmspell_core::connection::{Channel, ConnectionInfo, Transport};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::{ConnectArgs, OutputFormat};
use crate::config::ZeromqConfig;
use crate::error::{CliError, ErrorKind};
use crate::registry::KernelRecord;
use crate::remote::Client;
use crate::{connfile, fsutil, kernel_cmd, output, paths};

/// How long `kernel connect` waits for the kernel's `kernel_info_reply`.
const CONNECT_CHECK: Duration = Duration::from_secs(5);
/// The file in the runtime directory that holds the saved target.
const SAVED_FILE: &str = "connect.json";

/// A kernel to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// What the user wrote.
    pub spec: String,
    /// The connection file used.
    pub connection_file: PathBuf,
    /// Its contents (with `ip` replaced by the host of a `HOST:PORT` target).
    pub info: ConnectionInfo,
    /// The registry record of the kernel, when it is one of ours on this machine.
    pub record: Option<KernelRecord>,
}

impl Target {
    /// The shell endpoint, for messages.
    pub fn endpoint(&self) -> String {
        self.info.endpoint(Channel::Shell)
    }

    /// Connects a client.
    pub fn client(&self, options: &ZeromqConfig) -> Result<Client, CliError> {
        Client::connect(&self.info, options)
    }
}

/// What `kernel connect` saves.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    target: String,
}

/// `HOST:PORT`, if `spec` is one.
fn host_port(spec: &str) -> Option<(&str, u16)> {
    let (host, port) = spec.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty() && !host.contains('/'))
        .then_some(())
        .and(port.parse().ok().map(|p| (host, p)))
}

/// Whether a kernel bound to `bound` is reachable as `host` for our purposes.
fn same_host(host: &str, bound: &str) -> bool {
    let local = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1" | "0.0.0.0" | "*");
    host == bound || (local(host) && local(bound))
}

/// Reads a connection file that must exist.
fn read_connection_file(path: &Path) -> Result<ConnectionInfo, CliError> {
    connfile::read_if_exists(path)?.ok_or_else(|| {
        CliError::new(
            ErrorKind::NotFound,
            format!("no connection file {}", path.display()),
        )
    })
}

/// Resolves a TARGET among the running kernels `records`.
pub fn resolve_among(spec: &str, records: &[KernelRecord]) -> Result<Target, CliError> {
    let path = Path::new(spec);
    if path.is_file() {
        let path = paths::absolutize(path)?;
        let info = read_connection_file(&path)?;
        let record = records.iter().find(|r| r.connection_file == path).cloned();
        return Ok(Target {
            spec: spec.to_string(),
            connection_file: path,
            info,
            record,
        });
    }
    if let Some((host, port)) = host_port(spec) {
        let found = records.iter().find(|r| {
            r.transport == Transport::Tcp && r.ports.shell == port && same_host(host, &r.ip)
        });
        let Some(record) = found else {
            return Err(CliError::new(
                ErrorKind::NotFound,
                format!(
                    "no registered kernel has its shell on {host}:{port}, so its key is \
                     unknown; pass its connection file instead (running: {})",
                    describe(records)
                ),
            ));
        };
        let mut info = read_connection_file(&record.connection_file)?;
        info.ip = host.to_string();
        return Ok(Target {
            spec: spec.to_string(),
            connection_file: record.connection_file.clone(),
            info,
            record: Some(record.clone()),
        });
    }
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_hexdigit()) {
        let record = kernel_cmd::resolve(records, &spec.to_ascii_lowercase())?;
        return Ok(Target {
            spec: spec.to_string(),
            connection_file: record.connection_file.clone(),
            info: read_connection_file(&record.connection_file)?,
            record: Some(record.clone()),
        });
    }
    Err(CliError::new(
        ErrorKind::NotFound,
        format!("{spec:?} is not a connection file, a kernel id or HOST:PORT"),
    ))
}

fn describe(records: &[KernelRecord]) -> String {
    if records.is_empty() {
        return "none".to_string();
    }
    let items: Vec<String> = records
        .iter()
        .map(|r| format!("{} on {}:{}", r.id, r.ip, r.ports.shell))
        .collect();
    items.join(", ")
}

/// Resolves a TARGET among the kernels running now.
pub fn resolve(spec: &str) -> Result<Target, CliError> {
    let records = kernel_cmd::live_records(&kernel_cmd::registry()?)?;
    resolve_among(spec, &records)
}

fn saved_path() -> Result<PathBuf, CliError> {
    Ok(paths::runtime_dir(&paths::process_env)?.join(SAVED_FILE))
}

/// The saved target's spec, if `kernel connect` saved one.
fn saved_spec() -> Result<Option<String>, CliError> {
    let path = saved_path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::io(
                format_args!("cannot read {}", path.display()),
                e,
            ))
        }
    };
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            ErrorKind::InvalidData,
            format!("{}: {e}; run `llmspell kernel disconnect`", path.display()),
        )
    })?;
    Ok(Some(saved.target))
}

/// The kernel for remote commands: `explicit` (`--connect`), else the saved target,
/// else none (run in-process).
pub fn current(explicit: Option<&str>) -> Result<Option<Target>, CliError> {
    if let Some(spec) = explicit {
        return resolve(spec).map(Some);
    }
    let Some(spec) = saved_spec()? else {
        return Ok(None);
    };
    resolve(&spec).map(Some).map_err(|e| CliError {
        message: format!(
            "the kernel saved by `llmspell kernel connect {spec}` cannot be reached: {}; \
             run `llmspell kernel disconnect` to run tools in-process again",
            e.message
        ),
        ..e
    })
}

/// `llmspell kernel connect TARGET`: checks that the kernel answers, then saves it.
pub fn connect(
    args: &ConnectArgs,
    options: &ZeromqConfig,
    format: OutputFormat,
) -> Result<i32, CliError> {
    let target = resolve(&args.target)?;
    let mut client = target.client(options)?;
    let info = client.request(
        "kernel_info_request",
        "{}",
        "kernel_info_reply",
        CONNECT_CHECK,
    )?;
    // A connection file given by a relative path is saved absolute.
    let spec = if Path::new(&target.spec).is_file() {
        target.connection_file.display().to_string()
    } else {
        target.spec.clone()
    };
    let dir = paths::ensure_runtime_dir()?;
    let path = dir.join(SAVED_FILE);
    let text = serde_json::to_string(&Saved {
        target: spec.clone(),
    })
    .unwrap_or_default();
    fsutil::write_atomic(&path, text.as_bytes(), 0o600)
        .map_err(|e| CliError::io(format_args!("cannot write {}", path.display()), e))?;
    let implementation = info["implementation"].as_str().unwrap_or("unknown");
    let kernel_id = target.record.as_ref().map(|r| r.id.clone());
    if format.is_json() {
        output::print_json(
            &json!({
                "connected": true,
                "target": spec,
                "kernel_id": kernel_id,
                "connection_file": target.connection_file,
                "shell": target.endpoint(),
                "implementation": implementation,
            }),
            format,
        );
    } else {
        output::print_text(&format!(
            "connected to {} ({implementation}{}) at {}; tool commands go there until \
             `llmspell kernel disconnect`",
            spec,
            kernel_id.map_or(String::new(), |id| format!(", kernel {id}")),
            target.endpoint()
        ));
    }
    Ok(0)
}

/// `llmspell kernel disconnect`.
pub fn disconnect(format: OutputFormat) -> Result<i32, CliError> {
    let previous = saved_spec().ok().flatten();
    let path = saved_path()?;
    fsutil::remove_if_exists(&path)
        .map_err(|e| CliError::io(format_args!("cannot remove {}", path.display()), e))?;
    if format.is_json() {
        output::print_json(
            &json!({"disconnected": previous.is_some(), "target": previous}),
            format,
        );
    } else {
        output::print_text(&match previous {
            Some(spec) => format!("disconnected from {spec}; tool commands run in-process"),
            None => "not connected; tool commands run in-process".to_string(),
        });
    }
    Ok(0)
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
