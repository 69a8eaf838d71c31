//! `llmspell kernel start --daemon`: start the kernel detached and report where it is.
//!
//! The parent re-executes this binary as `kernel start` without `--daemon`, with a kernel
//! id, a log file and a pid file of its choosing, in a new session (`setsid`), with stdin
//! and stdout on /dev/null and stderr on the log. It then waits, at most 10 s, for the
//! child's registry record and prints it; if the child exits first, it shows the log.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{OutputFormat, RuntimeArg, StartArgs, TransportArg};
use crate::error::{CliError, ErrorKind};
use crate::registry::{KernelRecord, Registry};
use crate::{connfile, output, paths, process};

/// How long the parent waits for the kernel to register.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many log lines to show when the kernel fails to start.
const LOG_TAIL_LINES: usize = 20;

/// Starts a detached kernel; returns the parent's exit code.
pub fn start(
    args: &StartArgs,
    config: Option<&Path>,
    format: OutputFormat,
) -> Result<i32, CliError> {
    let registry = Registry::new(paths::ensure_runtime_dir()?);
    let id = registry.new_id()?;
    let log_file = match &args.log_file {
        Some(path) => paths::absolutize(path)?,
        None => registry.log_file(&id),
    };
    let pid_file = registry.pid_file(&id);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_file)
        .map_err(|e| {
            CliError::io(
                format_args!("cannot open log file {}", log_file.display()),
                e,
            )
        })?;
    let log_start = log.metadata().map_or(0, |m| m.len());
    let exe = std::env::current_exe()
        .map_err(|e| CliError::io("cannot locate the llmspell binary", e))?;

    let mut command = Command::new(exe);
    command
        .args(child_args(args, &id, &log_file, &pid_file, config)?)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    // SAFETY: the closure runs in the forked child before exec and only calls setsid,
    // which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| {
        CliError::new(
            ErrorKind::Runtime,
            format!("cannot start the kernel process: {e}"),
        )
    })?;

    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(record) = registry.read(&id) {
            print_started(&record, format);
            return Ok(0);
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                show_log_tail(&log_file, log_start);
                return Err(CliError::new(
                    ErrorKind::Runtime,
                    format!(
                        "the kernel exited during startup ({status}); log: {}",
                        log_file.display()
                    ),
                ));
            }
            Ok(None) => {}
            Err(e) => return Err(CliError::io("cannot watch the kernel process", e)),
        }
        if Instant::now() >= deadline {
            // Half-started kernels are not left behind: stop it, and let it clean up.
            let _ = process::send_signal(child.id(), libc::SIGTERM);
            show_log_tail(&log_file, log_start);
            return Err(CliError::new(
                ErrorKind::Timeout,
                format!(
                    "the kernel (pid {}) did not start within {} s; stopped it; log: {}",
                    child.id(),
                    STARTUP_TIMEOUT.as_secs(),
                    log_file.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child's arguments: the same start options without `--daemon`, with absolute paths.
fn child_args(
    args: &StartArgs,
    id: &str,
    log_file: &Path,
    pid_file: &Path,
    config: Option<&Path>,
) -> Result<Vec<OsString>, CliError> {
    fn push(out: &mut Vec<OsString>, flag: &str, value: impl Into<OsString>) {
        out.push(flag.into());
        out.push(value.into());
    }
    let mut out: Vec<OsString> = Vec::new();
    if let Some(config) = config {
        push(&mut out, "--config", paths::absolutize(config)?);
    }
    out.extend(["kernel".into(), "start".into()]);
    if let Some(path) = &args.connection_file {
        push(&mut out, "--connection-file", paths::absolutize(path)?);
    }
    if let Some(ip) = &args.ip {
        push(&mut out, "--ip", ip);
    }
    push(&mut out, "--port", args.port.to_string());
    let transport = match args.transport {
        TransportArg::Tcp => "tcp",
        TransportArg::Ipc => "ipc",
    };
    push(&mut out, "--transport", transport);
    if let Some(mb) = args.max_message_size_mb {
        push(&mut out, "--max-message-size-mb", mb.to_string());
    }
    if let Some(port) = args.metrics_port {
        push(&mut out, "--metrics-port", port.to_string());
    }
    if let Some(runtime) = args.runtime {
        let name = match runtime {
            RuntimeArg::Tokio => "tokio",
            RuntimeArg::Glommio => "glommio",
        };
        push(&mut out, "--runtime", name);
    }
    if let Some(cpus) = &args.cpus {
        push(&mut out, "--cpus", cpus);
    }
    if let Some(cores) = args.cores {
        push(&mut out, "--cores", cores.to_string());
    }
    push(&mut out, "--log-file", log_file);
    push(&mut out, "--kernel-id", id);
    push(&mut out, "--pid-file", pid_file);
    Ok(out)
}

fn print_started(record: &KernelRecord, format: OutputFormat) {
    let log = record.log_file.as_ref().map(|p| p.display().to_string());
    if format.is_json() {
        let value = json!({
            "id": record.id,
            "pid": record.pid,
            "connection_file": record.connection_file.display().to_string(),
            "log_file": log,
            "transport": record.transport,
            "ip": record.ip,
            "ports": record.ports,
        });
        output::print_json(&value, format);
    } else {
        output::print_text(&format!(
            "started kernel {}\n  pid:             {}\n  ports:           {}\n  connection file: {}\n  log file:        {}",
            record.id,
            record.pid,
            connfile::describe_port_list(&record.ports.to_list()),
            record.connection_file.display(),
            log.as_deref().unwrap_or("-"),
        ));
    }
}

/// Prints the last lines the child wrote to its log (from `offset` on) to stderr.
fn show_log_tail(log_file: &Path, offset: u64) {
    let tail = read_tail(log_file, offset, LOG_TAIL_LINES).unwrap_or_default();
    if !tail.is_empty() {
        eprintln!("--- last lines of {} ---\n{tail}", log_file.display());
    }
}

/// The last `lines` lines of `path` after byte `offset`.
fn read_tail(path: &Path, offset: u64, lines: usize) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    // Bounded: a failed startup writes little, and we keep only the end anyway.
    file.take(1 << 20).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command as Cmd, KernelCommand};
    use crate::testutil::TempDir;
    use clap::Parser;

    fn start_args(argv: &[&str]) -> StartArgs {
        let mut full = vec!["llmspell", "kernel", "start"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Cmd::Kernel {
                command: KernelCommand::Start(s),
            } => s,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn child_args_drop_daemon_and_parse_back() {
        let args = start_args(&[
            "--daemon",
            "--port",
            "6000",
            "--transport",
            "ipc",
            "--ip",
            "/s/k",
            "-f",
            "c.json",
            "--runtime",
            "glommio",
            "--cpus",
            "0,1",
        ]);
        let argv = child_args(
            &args,
            "ab12",
            Path::new("/r/k.log"),
            Path::new("/r/k.pid"),
            Some(Path::new("/etc/l.toml")),
        )
        .unwrap();
        assert!(!argv.iter().any(|a| a == "--daemon"));
        let mut full: Vec<OsString> = vec!["llmspell".into()];
        full.extend(argv);
        let cli = Cli::try_parse_from(full).unwrap();
        assert_eq!(cli.config.as_deref(), Some(Path::new("/etc/l.toml")));
        let Cmd::Kernel {
            command: KernelCommand::Start(child),
        } = cli.command
        else {
            panic!("not a start command");
        };
        assert!(!child.daemon);
        assert_eq!(child.port, 6000);
        assert_eq!(child.transport, TransportArg::Ipc);
        assert_eq!(child.ip.as_deref(), Some("/s/k"));
        assert_eq!(child.kernel_id.as_deref(), Some("ab12"));
        assert_eq!(child.log_file.as_deref(), Some(Path::new("/r/k.log")));
        assert_eq!(child.pid_file.as_deref(), Some(Path::new("/r/k.pid")));
        let conn = child.connection_file.unwrap();
        assert!(conn.is_absolute() && conn.ends_with("c.json"));
        assert_eq!(child.max_message_size_mb, None);
        assert_eq!(child.runtime, Some(RuntimeArg::Glommio));
        assert_eq!(child.cpus.as_deref(), Some("0,1"));
        assert_eq!(child.cores, None);
    }

    #[test]
    fn log_tail_starts_at_the_offset_and_keeps_the_last_lines() {
        let tmp = TempDir::new("daemon");
        let path = tmp.path().join("k.log");
        let old = "old line\n";
        let new: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, format!("{old}{new}")).unwrap();
        let tail = read_tail(&path, old.len() as u64, 3).unwrap();
        assert_eq!(tail, "line 28\nline 29\nline 30");
        let all = read_tail(&path, old.len() as u64, 100).unwrap();
        assert!(!all.contains("old line") && all.starts_with("line 1\n"));
    }
}
