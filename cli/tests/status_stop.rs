//! `llmspell kernel status` and `kernel stop` against registry records written by the
//! test: one whose process is dead (stale), and real `sleep` processes started here and
//! stopped by pid.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use common::{
    dead_pid, json_stdout, now_ms, pid_alive, stderr, stdout, wait_until, write_record, Reaped,
    Sandbox,
};

#[test]
fn status_removes_stale_records_and_their_files() {
    let sb = Sandbox::new("st-stale");
    let rt = sb.runtime_dir();
    let record = write_record(&rt, "deadbeef", dead_pid(), now_ms(), true);
    let conn = rt.join("kernel-deadbeef.json");
    let pid_file = rt.join("kernel-deadbeef.pid");
    std::fs::write(&pid_file, "1\n").unwrap();

    let out = sb.run(&["kernel", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "no running kernels");
    assert!(!record.exists() && !conn.exists() && !pid_file.exists());

    let out = sb.run(&["kernel", "status", "--output", "json"]);
    assert_eq!(json_stdout(&out), serde_json::json!([]));
}

#[test]
fn stale_record_of_a_foreign_connection_file_keeps_that_file() {
    let sb = Sandbox::new("st-foreign");
    let rt = sb.runtime_dir();
    let record = write_record(&rt, "0badf00d", dead_pid(), now_ms(), false);
    let out = sb.run(&["kernel", "status", "--output", "json"]);
    assert_eq!(json_stdout(&out), serde_json::json!([]));
    assert!(!record.exists());
    assert!(
        rt.join("kernel-0badf00d.json").exists(),
        "Jupyter's file is Jupyter's to remove"
    );
}

#[test]
fn status_lists_a_live_process_and_stop_terminates_it() {
    let sb = Sandbox::new("st-live");
    let rt = sb.runtime_dir();
    let mut guard = Reaped(Some(Command::new("sleep").arg("30").spawn().unwrap()));
    let pid = guard.0.as_ref().unwrap().id();
    let started = now_ms();
    let record = write_record(&rt, "a1b2c3d4", pid, started, true);
    write_record(&rt, "ffff0000", dead_pid(), started, true);

    let out = sb.run(&["kernel", "status", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = json_stdout(&out);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 1, "the stale record is gone: {list}");
    assert_eq!(items[0]["id"], "a1b2c3d4");
    assert_eq!(items[0]["pid"], pid);
    assert_eq!(items[0]["ports"]["shell"], 5000);
    assert!(items[0]["uptime_secs"].is_u64());

    let out = sb.run(&["kernel", "status"]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for column in [
        "ID",
        "PID",
        "PORTS",
        "TRANSPORT",
        "CONNECTION FILE",
        "LOG FILE",
        "UPTIME",
    ] {
        assert!(lines[0].contains(column), "{column} in {text}");
    }
    assert!(lines[1].starts_with("a1b2c3d4") && lines[1].contains(&pid.to_string()));
    assert!(lines[1].contains("5000-5004") && lines[1].contains("tcp"));

    // Stop by an unambiguous prefix. The sleep is our child: reap it as soon as it dies.
    let mut child = guard.0.take().unwrap();
    let waiter = std::thread::spawn(move || child.wait().unwrap());
    let out = sb.run(&["kernel", "stop", "a1b2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("stopped kernel a1b2c3d4"),
        "{}",
        stdout(&out)
    );
    let status = waiter.join().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(!record.exists() && !rt.join("kernel-a1b2c3d4.json").exists());

    let out = sb.run(&["kernel", "status", "--output", "json"]);
    assert_eq!(json_stdout(&out), serde_json::json!([]));
}

#[cfg(target_os = "linux")]
#[test]
fn stop_kills_a_process_that_ignores_sigterm() {
    let sb = Sandbox::new("st-kill");
    let rt = sb.runtime_dir();
    // An ignored signal stays ignored across exec: this sleep shrugs off SIGTERM.
    let child = Command::new("sh")
        .args(["-c", "trap '' TERM; exec sleep 30"])
        .spawn()
        .unwrap();
    let mut guard = Reaped(Some(child));
    let pid = guard.0.as_ref().unwrap().id();
    // Wait until sh has exec'd sleep (with TERM ignored), so the signal meets sleep.
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    }));
    write_record(&rt, "c0ffee00", pid, now_ms(), true);
    let mut child = guard.0.take().unwrap();
    let waiter = std::thread::spawn(move || child.wait().unwrap());

    let out = sb.run(&["--output", "json", "kernel", "stop", "c0ffee00"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json_stdout(&out),
        serde_json::json!([{"id": "c0ffee00", "pid": pid, "result": "killed"}])
    );
    assert_eq!(waiter.join().unwrap().signal(), Some(libc::SIGKILL));
    assert!(!rt.join("c0ffee00.json").exists());
}

#[test]
fn stop_all_stops_every_kernel() {
    let sb = Sandbox::new("st-all");
    let rt = sb.runtime_dir();
    let mut waiters = Vec::new();
    let mut pids = Vec::new();
    for id in ["11111111", "22222222"] {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        pids.push(child.id());
        write_record(&rt, id, child.id(), now_ms(), true);
        waiters.push(std::thread::spawn(move || child.wait().unwrap()));
    }
    // Without an id, several running kernels are ambiguous.
    let out = sb.run(&["kernel", "stop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("11111111") && stderr(&out).contains("22222222"));

    let out = sb.run(&["kernel", "stop", "--all"]);
    // Whatever happened, do not leave the sleeps behind.
    for pid in &pids {
        if pid_alive(*pid) {
            // SAFETY: a positive pid of our own child.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
    }
    for w in waiters {
        w.join().unwrap();
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("stopped kernel 11111111") && text.contains("stopped kernel 22222222"),
        "{text}"
    );
    let out = sb.run(&["kernel", "stop", "--all"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "no running kernels");
}

#[test]
fn stop_unknown_id_names_the_known_ones() {
    let sb = Sandbox::new("st-unknown");
    let rt = sb.runtime_dir();
    let guard = Reaped(Some(Command::new("sleep").arg("30").spawn().unwrap()));
    let pid = guard.0.as_ref().unwrap().id();
    write_record(&rt, "abcd1234", pid, now_ms(), true);

    let out = sb.run(&["kernel", "stop", "9999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("abcd1234"), "{}", stderr(&out));
    let out = sb.run(&["--output", "json", "kernel", "stop", "9999"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("abcd1234"));
    assert!(pid_alive(pid), "nothing was signalled");
    drop(guard);
}

#[cfg(target_os = "linux")]
#[test]
fn a_reused_pid_is_not_taken_for_the_kernel() {
    let sb = Sandbox::new("st-reuse");
    let rt = sb.runtime_dir();
    let guard = Reaped(Some(Command::new("sleep").arg("30").spawn().unwrap()));
    let pid = guard.0.as_ref().unwrap().id();
    // The record says the kernel registered a day before this process started.
    let record = write_record(&rt, "abcdabcd", pid, now_ms() - 86_400_000, true);
    let out = sb.run(&["kernel", "stop", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "no running kernels");
    assert!(pid_alive(pid), "an unrelated process must not be signalled");
    assert!(!record.exists(), "the stale record is removed");
    drop(guard);
}
