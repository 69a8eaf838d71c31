//! `llmspell kernel status` and `llmspell kernel stop`: the registry's running kernels.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{OutputFormat, StopArgs};
use crate::error::{CliError, ErrorKind};
use crate::output::{self, format_uptime};
use crate::registry::{KernelRecord, Registry};
use crate::{connfile, paths, process};

/// How long `stop` waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long `stop` waits for a SIGKILLed process to disappear.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// The registry of this process's runtime directory.
pub fn registry() -> Result<Registry, CliError> {
    Ok(Registry::new(paths::runtime_dir(&paths::process_env)?))
}

/// The running kernels; records of dead processes are removed.
pub fn live_records(registry: &Registry) -> Result<Vec<KernelRecord>, CliError> {
    let (live, _stale) =
        registry.partition_live(|r| process::is_registered_process(r.pid, r.started_unix_ms))?;
    Ok(live)
}

/// Seconds since a record was written.
fn uptime_secs(record: &KernelRecord, now_ms: u64) -> u64 {
    now_ms.saturating_sub(record.started_unix_ms) / 1_000
}

/// `llmspell kernel status`.
pub fn status(format: OutputFormat) -> Result<i32, CliError> {
    let records = live_records(&registry()?)?;
    let now = process::now_unix_ms();
    if format.is_json() {
        let items: Vec<Value> = records.iter().map(|r| record_json(r, now)).collect();
        output::print_json(&Value::Array(items), format);
    } else {
        output::print_text(&status_table(&records, now));
    }
    Ok(0)
}

/// A record as JSON, with `uptime_secs`.
fn record_json(record: &KernelRecord, now_ms: u64) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("uptime_secs".into(), json!(uptime_secs(record, now_ms)));
    }
    value
}

/// The text form of `status`.
fn status_table(records: &[KernelRecord], now_ms: u64) -> String {
    if records.is_empty() {
        return "no running kernels".to_string();
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.pid.to_string(),
                connfile::describe_port_list(&r.ports.to_list()),
                serde_json::to_value(r.transport)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                r.connection_file.display().to_string(),
                r.log_file
                    .as_ref()
                    .map_or("-".to_string(), |p| p.display().to_string()),
                format_uptime(uptime_secs(r, now_ms)),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "PID",
            "PORTS",
            "TRANSPORT",
            "CONNECTION FILE",
            "LOG FILE",
            "UPTIME",
        ],
        &rows,
    )
}

/// The records `id` names: itself, or the one record whose id starts with it.
pub fn resolve<'a>(records: &'a [KernelRecord], id: &str) -> Result<&'a KernelRecord, CliError> {
    if let Some(exact) = records.iter().find(|r| r.id == id) {
        return Ok(exact);
    }
    let matches: Vec<&KernelRecord> = records.iter().filter(|r| r.id.starts_with(id)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(CliError::new(
            ErrorKind::NotFound,
            format!(
                "no running kernel with id {id:?}; running: {}",
                id_list(records)
            ),
        )),
        many => Err(CliError::usage(format!(
            "kernel id {id:?} is ambiguous: it matches {}",
            id_list_of(many.iter().copied())
        ))),
    }
}

fn id_list(records: &[KernelRecord]) -> String {
    id_list_of(records.iter())
}

fn id_list_of<'a>(records: impl Iterator<Item = &'a KernelRecord>) -> String {
    let ids: Vec<&str> = records.map(|r| r.id.as_str()).collect();
    if ids.is_empty() {
        "none".to_string()
    } else {
        ids.join(", ")
    }
}

/// How a kernel was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stopped {
    /// It exited after SIGTERM.
    Terminated,
    /// It needed SIGKILL.
    Killed,
    /// It was gone before we could signal it.
    AlreadyGone,
    /// It outlived SIGKILL too (e.g. stuck in the kernel); its files are left.
    StillRunning,
}

impl Stopped {
    fn as_str(self) -> &'static str {
        match self {
            Stopped::Terminated => "terminated",
            Stopped::Killed => "killed",
            Stopped::AlreadyGone => "already_gone",
            Stopped::StillRunning => "still_running",
        }
    }
}

/// `llmspell kernel stop`.
pub fn stop(args: &StopArgs, format: OutputFormat) -> Result<i32, CliError> {
    let registry = registry()?;
    let records = live_records(&registry)?;
    let targets: Vec<KernelRecord> = match (&args.id, args.all) {
        (_, true) => records.clone(),
        (Some(id), false) => vec![resolve(&records, id)?.clone()],
        (None, false) => match records.as_slice() {
            [one] => vec![one.clone()],
            [] => return Err(CliError::new(ErrorKind::NotFound, "no running kernels")),
            _ => {
                return Err(CliError::usage(format!(
                    "several kernels are running ({}): name one, or use --all",
                    id_list(&records)
                )))
            }
        },
    };
    let results = stop_all(&registry, &targets);
    let failed = results.iter().any(|(_, s)| *s == Stopped::StillRunning);
    if format.is_json() {
        let items: Vec<Value> = results
            .iter()
            .map(|(r, s)| json!({"id": r.id, "pid": r.pid, "result": s.as_str()}))
            .collect();
        output::print_json(&Value::Array(items), format);
    } else if results.is_empty() {
        output::print_text("no running kernels");
    } else {
        let lines: Vec<String> = results.iter().map(|(r, s)| stop_line(r, *s)).collect();
        output::print_text(&lines.join("\n"));
    }
    Ok(if failed { 1 } else { 0 })
}

fn stop_line(r: &KernelRecord, s: Stopped) -> String {
    match s {
        Stopped::Terminated => format!("stopped kernel {} (pid {})", r.id, r.pid),
        Stopped::Killed => format!(
            "killed kernel {} (pid {}): it did not exit within {} s of SIGTERM",
            r.id,
            r.pid,
            STOP_GRACE.as_secs()
        ),
        Stopped::AlreadyGone => format!("kernel {} (pid {}) had already exited", r.id, r.pid),
        Stopped::StillRunning => format!("kernel {} (pid {}) survived SIGKILL", r.id, r.pid),
    }
}

/// SIGTERM to every target, one shared grace period, SIGKILL to the survivors, then the
/// files of every kernel that is gone are removed.
fn stop_all(registry: &Registry, targets: &[KernelRecord]) -> Vec<(KernelRecord, Stopped)> {
    let mut results: Vec<(KernelRecord, Stopped)> = Vec::new();
    let mut signalled = Vec::new();
    for r in targets {
        match process::send_signal(r.pid, libc::SIGTERM) {
            Ok(()) => signalled.push(r.pid),
            Err(e) => tracing::info!(id = %r.id, pid = r.pid, error = %e, "SIGTERM not delivered"),
        }
    }
    let survivors = process::wait_gone(&signalled, STOP_GRACE);
    for pid in &survivors {
        if let Err(e) = process::send_signal(*pid, libc::SIGKILL) {
            tracing::warn!(pid, error = %e, "SIGKILL not delivered");
        }
    }
    let unkillable = process::wait_gone(&survivors, KILL_GRACE);
    for r in targets {
        let outcome = if unkillable.contains(&r.pid) {
            Stopped::StillRunning
        } else if survivors.contains(&r.pid) {
            Stopped::Killed
        } else if signalled.contains(&r.pid) {
            Stopped::Terminated
        } else {
            Stopped::AlreadyGone
        };
        if outcome != Stopped::StillRunning {
            // A kernel removes its own files on SIGTERM; this covers SIGKILL and crashes.
            registry.cleanup(r);
        }
        results.push((r.clone(), outcome));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Ports;
    use llmspell_core::connection::Transport;

    fn rec(id: &str) -> KernelRecord {
        KernelRecord {
            id: id.into(),
            pid: 99,
            connection_file: format!("/r/kernel-{id}.json").into(),
            log_file: None,
            ip: "127.0.0.1".into(),
            transport: Transport::Tcp,
            ports: Ports {
                shell: 5000,
                iopub: 5001,
                stdin: 5002,
                control: 5003,
                hb: 5004,
            },
            started_unix_ms: 1_000,
            created_connection_file: true,
        }
    }

    #[test]
    fn ids_resolve_by_unambiguous_prefix() {
        let records = [rec("ab12cd34"), rec("ab99ffff"), rec("cc000000")];
        assert_eq!(resolve(&records, "cc").unwrap().id, "cc000000");
        assert_eq!(resolve(&records, "ab12cd34").unwrap().id, "ab12cd34");
        let ambiguous = resolve(&records, "ab").unwrap_err();
        assert_eq!(ambiguous.kind, ErrorKind::Usage);
        assert!(ambiguous.message.contains("ab12cd34") && ambiguous.message.contains("ab99ffff"));
        let unknown = resolve(&records, "ff").unwrap_err();
        assert_eq!(unknown.kind, ErrorKind::NotFound);
        assert!(unknown.message.contains("ab12cd34, ab99ffff, cc000000"));
        assert!(resolve(&[], "ff")
            .unwrap_err()
            .message
            .contains("running: none"));
    }

    #[test]
    fn status_text_and_json() {
        let r = rec("ab12cd34");
        let now = 1_000 + 192_000;
        let table = status_table(std::slice::from_ref(&r), now);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("ID") && lines[0].ends_with("UPTIME"));
        assert!(lines[1].contains("5000-5004") && lines[1].contains("tcp"));
        assert!(lines[1].contains("/r/kernel-ab12cd34.json") && lines[1].ends_with("3m12s"));
        assert_eq!(status_table(&[], now), "no running kernels");
        let v = record_json(&r, now);
        assert_eq!(v["uptime_secs"], 192);
        assert_eq!(v["id"], "ab12cd34");
        assert_eq!(v["log_file"], Value::Null);
    }
}
