//! process-executor (policy, output, limits, timeout kill), environment-reader (secret
//! filtering, allowlist) and system-monitor.

mod common;

use common::{call, kind};
use llmspell_core::tools::{Policy, ToolErrorKind};
use llmspell_tools::io::{EnvironmentReader, ProcessExecutor, SystemMonitor};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn process_policy(programs: &[&str]) -> Policy {
    Policy {
        process_enabled: true,
        process_allowlist: programs.iter().map(|p| p.to_string()).collect(),
        ..Policy::default()
    }
}

#[test]
fn processes_are_refused_unless_enabled_and_allowlisted() {
    let tool = ProcessExecutor::new();
    let off = Policy {
        process_allowlist: vec!["echo".into()],
        ..Policy::default()
    };
    assert_eq!(
        kind(call(&tool, &off, json!({"program": "echo"}))),
        ToolErrorKind::PermissionDenied
    );
    let policy = process_policy(&["echo"]);
    for program in ["sh", "/bin/echo", "echo ", "ECHO"] {
        let out = call(&tool, &policy, json!({"program": program, "args": ["x"]}));
        assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "{program}");
    }
    let out = call(
        &tool,
        &policy,
        json!({"program": "echo", "args": ["a b", "$HOME;", "*"]}),
    );
    let out = out.unwrap();
    assert_eq!(
        out.text, "a b $HOME; *\n",
        "arguments reach the program unchanged, no shell"
    );
    assert_eq!(out.data["exit_code"], 0);
}

#[cfg(unix)]
#[test]
fn stdin_stderr_exit_code_and_output_limit() {
    let tool = ProcessExecutor::new();
    let policy = process_policy(&["cat", "sh", "head", "no-such-program-xyz"]);
    let out = call(
        &tool,
        &policy,
        json!({"program": "cat", "stdin": "through\ncat"}),
    );
    assert_eq!(out.unwrap().text, "through\ncat");

    let script = "echo out; echo err >&2; exit 3";
    let out = call(
        &tool,
        &policy,
        json!({"program": "sh", "args": ["-c", script]}),
    )
    .unwrap();
    assert_eq!(out.data["exit_code"], 3);
    assert_eq!(out.data["success"], false);
    assert_eq!(out.data["stdout"], "out\n");
    assert_eq!(out.data["stderr"], "err\n");

    let out = call(
        &tool,
        &policy,
        json!({"program": "head", "args": ["-c", "100000", "/dev/zero"], "max_output_bytes": 1000}),
    )
    .unwrap();
    assert_eq!(out.data["stdout"].as_str().unwrap().len(), 1000);
    assert_eq!(out.data["stdout_truncated"], true);
    assert_eq!(
        out.data["exit_code"], 0,
        "the rest was drained, so head did not block"
    );

    let out = call(&tool, &policy, json!({"program": "no-such-program-xyz"}));
    assert_eq!(kind(out), ToolErrorKind::Failed);
}

/// Whether a process is gone or a zombie awaiting its reaper: dead either way.
#[cfg(target_os = "linux")]
fn dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z')),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_timeout_kills_the_program_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let tool = ProcessExecutor::new();
    let policy = process_policy(&["sh"]);
    // The shell starts a background sleep, records both pids, then waits.
    let script = format!("sleep 60 & echo $$ $! > {}; wait", pids.display());
    let out = call(
        &tool,
        &policy,
        json!({"program": "sh", "args": ["-c", script], "timeout_ms": 1000}),
    );
    assert_eq!(kind(out), ToolErrorKind::Timeout);
    let recorded = std::fs::read_to_string(&pids).unwrap();
    let ids: Vec<&str> = recorded.split_whitespace().collect();
    assert_eq!(ids.len(), 2);
    // The shell was reaped before the call returned; the orphaned sleep is reaped by init.
    assert!(
        !Path::new(&format!("/proc/{}", ids[0])).exists(),
        "shell still there"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dead(ids[1]) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(dead(ids[1]), "the background child survived the timeout");
}

#[test]
fn environment_secrets_are_hidden_unless_allowlisted() {
    // Names unique to this test; set before anything reads them.
    std::env::set_var("LLMSPELL_T_PLAIN", "visible");
    std::env::set_var("LLMSPELL_T_API_KEY", "hunter2");
    std::env::set_var("LLMSPELL_T_AUTH_TOKEN", "hunter3");
    std::env::set_var("llmspell_t_db_password", "hunter4");
    let tool = EnvironmentReader::new();
    let open = Policy::default();

    let out = call(&tool, &open, json!({"name": "LLMSPELL_T_PLAIN"})).unwrap();
    assert_eq!(out.text, "visible");
    for name in [
        "LLMSPELL_T_API_KEY",
        "LLMSPELL_T_AUTH_TOKEN",
        "llmspell_t_db_password",
    ] {
        let out = call(&tool, &open, json!({"name": name}));
        assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "{name}");
    }
    let out = call(&tool, &open, json!({"prefix": "LLMSPELL_T_"})).unwrap();
    assert_eq!(out.text, "LLMSPELL_T_PLAIN=visible\n");
    assert_eq!(out.data["hidden"], 2);
    let out = call(&tool, &open, json!({})).unwrap();
    assert!(
        !out.text.contains("hunter"),
        "a secret leaked into the full listing"
    );
    let out = call(&tool, &open, json!({"name": "LLMSPELL_T_UNSET"}));
    assert_eq!(kind(out), ToolErrorKind::Failed);

    let listed = Policy {
        env_allowlist: vec!["LLMSPELL_T_API_KEY".into()],
        ..Policy::default()
    };
    let out = call(&tool, &listed, json!({"name": "LLMSPELL_T_API_KEY"}));
    assert_eq!(
        out.unwrap().text,
        "hunter2",
        "an allowlisted name is shown even if secret-looking"
    );
    let out = call(&tool, &listed, json!({"name": "LLMSPELL_T_PLAIN"}));
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    let out = call(&tool, &listed, json!({})).unwrap();
    assert_eq!(out.text, "LLMSPELL_T_API_KEY=hunter2\n");
}

#[test]
fn system_monitor_reports_each_part() {
    let tool = SystemMonitor::new();
    let p = Policy::default();
    let out = call(&tool, &p, json!({"what": "memory"})).unwrap();
    assert!(out.data["total_bytes"].as_u64().unwrap() > 0);
    let out = call(&tool, &p, json!({"what": "cpu"})).unwrap();
    assert!(out.data["logical_cores"].as_u64().unwrap() >= 1);
    let out = call(&tool, &p, json!({"what": "load"})).unwrap();
    assert!(out.data["one"].is_number());
    let out = call(&tool, &p, json!({"what": "disks"})).unwrap();
    assert!(out.data["disks"].is_array());
    let out = call(&tool, &p, json!({"what": "processes", "limit": 3})).unwrap();
    let procs = out.data["processes"].as_array().unwrap();
    assert!(!procs.is_empty() && procs.len() <= 3);
    assert!(out.data["count"].as_u64().unwrap() >= 1);
    let out = call(&tool, &p, json!({})).unwrap();
    assert!(out.data["memory"]["total_bytes"].as_u64().unwrap() > 0);
    assert!(out.text.contains("load average"));
    let out = call(&tool, &p, json!({"what": "gpu"}));
    assert_eq!(kind(out), ToolErrorKind::InvalidParams);
}
