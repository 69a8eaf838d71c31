//! `llmspell tune check` as a process: JSON shape and `--strict`'s exit code.

mod common;

use common::{json_stdout, stderr, stdout, Sandbox};

#[test]
fn tune_check_reports_every_check_and_strict_fails_on_warnings() {
    let sb = Sandbox::new("tune");
    let out = sb.run(&["--output", "json", "tune", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json_stdout(&out);
    let checks = v["checks"].as_array().expect("checks");
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    for id in [
        "ulimit.nofile",
        "net.core.somaxconn",
        "io_uring",
        "cpu.governor",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    for c in checks {
        let status = c["status"].as_str().expect("status");
        assert!(["ok", "warn", "info"].contains(&status), "{c}");
        if status == "warn" {
            assert!(!c["advice"].as_str().unwrap_or("").is_empty(), "{c}");
        }
    }
    let warned = v["summary"]["warn"].as_u64().expect("summary.warn") > 0;
    let strict = sb.run(&["tune", "check", "--strict"]);
    assert_eq!(
        strict.status.code(),
        Some(i32::from(warned)),
        "{}",
        stderr(&strict)
    );
    assert!(
        stdout(&strict).starts_with("status  check"),
        "{}",
        stdout(&strict)
    );
}
