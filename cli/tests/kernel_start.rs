//! `llmspell kernel start`, foreground and `--daemon`.
//!
//! The tests that reach `Server::run` need the tokio runtime (a stub on this branch) and
//! are ignored until it is integrated; run them with
//! `cargo test -p llmspell-cli --test kernel_start -- --include-ignored`.
//! The failure paths before `run` work now and always run.

mod common;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{json_stdout, pid_alive, stderr, stdout, wait_until, Reaped, Sandbox};
use serde_json::Value;

/// The registry records in a runtime dir (files named `<hex>.json`).
fn records(rt: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(rt) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let id = name.strip_suffix(".json")?;
            if id.starts_with("kernel-") {
                return None;
            }
            serde_json::from_str(&std::fs::read_to_string(rt.join(&name)).ok()?).ok()
        })
        .collect()
}

fn file_mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn invalid_connection_file_fails_without_stdout_or_leftovers() {
    let sb = Sandbox::new("ks-badfile");
    let conn = sb.root().join("conn.json");
    std::fs::write(&conn, "{not json").unwrap();
    let out = sb.run(&[
        "--output",
        "json",
        "kernel",
        "start",
        "-f",
        conn.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).is_empty(),
        "the kernel process never writes to stdout"
    );
    assert!(stderr(&out).contains("conn.json"), "{}", stderr(&out));
    assert!(records(&sb.runtime_dir()).is_empty());
    assert_eq!(
        std::fs::read_to_string(&conn).unwrap(),
        "{not json",
        "Jupyter's file is untouched"
    );
}

#[test]
fn unsupported_signature_scheme_is_refused() {
    let sb = Sandbox::new("ks-scheme");
    let conn = sb.root().join("conn.json");
    std::fs::write(
        &conn,
        r#"{"shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5,
            "ip":"127.0.0.1","key":"k","transport":"tcp","signature_scheme":"hmac-md5"}"#,
    )
    .unwrap();
    let out = sb.run(&["kernel", "start", "-f", conn.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("hmac-md5"), "{}", stderr(&out));
}

#[test]
fn daemon_that_dies_at_startup_shows_its_log_and_exits_1() {
    let sb = Sandbox::new("ks-daemon-bad");
    let conn = sb.root().join("conn.json");
    std::fs::write(&conn, "[]").unwrap();
    let out = sb.run(&["kernel", "start", "--daemon", "-f", conn.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("exited during startup"), "{err}");
    assert!(
        err.contains("invalid connection file"),
        "the log tail is shown: {err}"
    );
    assert!(stdout(&out).is_empty());
    assert!(records(&sb.runtime_dir()).is_empty());
}

/// Waits (at most 10 s) until the kernel's heartbeat channel sends its first ZMTP greeting
/// byte, which it does only once `Server::run` is serving: from then on the kernel handles
/// SIGTERM itself. `endpoint` is `host:port` (tcp) or a socket path (ipc).
fn wait_until_serving(endpoint: &str, ipc: bool) -> bool {
    use std::io::Read;
    wait_until(Duration::from_secs(10), || {
        let mut byte = [0u8; 1];
        let timeout = Some(Duration::from_millis(200));
        if ipc {
            std::os::unix::net::UnixStream::connect(endpoint)
                .and_then(|mut s| {
                    s.set_read_timeout(timeout)?;
                    s.read(&mut byte)
                })
                .is_ok_and(|n| n == 1)
        } else {
            std::net::TcpStream::connect(endpoint)
                .and_then(|mut s| {
                    s.set_read_timeout(timeout)?;
                    s.read(&mut byte)
                })
                .is_ok_and(|n| n == 1)
        }
    })
}

/// Five free TCP ports (bound and released; another process could take them, rarely).
fn free_ports() -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..5)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

#[test]
fn daemon_start_status_stop() {
    let sb = Sandbox::new("ks-daemon");
    let out = sb.run(&["--output", "json", "kernel", "start", "--daemon"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let started = json_stdout(&out);
    let id = started["id"].as_str().unwrap().to_string();
    let pid = started["pid"].as_u64().unwrap() as u32;
    // Whatever happens below, do not leave the daemon running.
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            if pid_alive(self.0) {
                // SAFETY: a positive pid of the daemon this test started.
                unsafe { libc::kill(self.0 as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
    let _kill = Kill(pid);
    assert_eq!(id.len(), 8);
    let conn = PathBuf::from(started["connection_file"].as_str().unwrap());
    let log = PathBuf::from(started["log_file"].as_str().unwrap());
    let rt = sb.runtime_dir();
    assert_eq!(conn, rt.join(format!("kernel-{id}.json")));
    assert_eq!(log, rt.join(format!("kernel-{id}.log")));
    assert_eq!(file_mode(&conn), 0o600);
    assert_eq!(
        std::fs::read_to_string(rt.join(format!("kernel-{id}.pid")))
            .unwrap()
            .trim(),
        pid.to_string()
    );
    let info: Value = serde_json::from_str(&std::fs::read_to_string(&conn).unwrap()).unwrap();
    for port in [
        "shell_port",
        "iopub_port",
        "stdin_port",
        "control_port",
        "hb_port",
    ] {
        assert_ne!(info[port], 0, "{port} is the real bound port");
    }
    assert_eq!(info["key"].as_str().unwrap().len(), 64);
    assert_eq!(started["ports"]["shell"], info["shell_port"]);

    assert!(wait_until_serving(
        &format!("127.0.0.1:{}", info["hb_port"]),
        false
    ));

    let out = sb.run(&["kernel", "status", "--output", "json"]);
    let list = json_stdout(&out);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["pid"], pid);
    assert_eq!(list[0]["created_connection_file"], true);

    let out = sb.run(&["kernel", "stop", &id[..4]]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("stopped kernel {id}")),
        "{}",
        stdout(&out)
    );
    assert!(!pid_alive(pid));
    assert!(
        !conn.exists(),
        "the kernel removes the connection file it created"
    );
    assert!(!rt.join(format!("kernel-{id}.pid")).exists());
    assert!(records(&rt).is_empty());
    let out = sb.run(&["kernel", "status", "--output", "json"]);
    assert_eq!(json_stdout(&out), serde_json::json!([]));
}

#[test]
fn jupyter_style_start_keeps_the_connection_file_and_cleans_up_on_sigterm() {
    let sb = Sandbox::new("ks-jupyter");
    let conn = sb.root().join("kernel-jupyter.json");
    let ports = free_ports();
    let info = serde_json::json!({
        "shell_port": ports[0], "iopub_port": ports[1], "stdin_port": ports[2],
        "control_port": ports[3], "hb_port": ports[4], "ip": "127.0.0.1",
        "key": "a0b1c2d3", "transport": "tcp", "signature_scheme": "hmac-sha256",
        "kernel_name": "llmspell",
    });
    std::fs::write(&conn, info.to_string()).unwrap();
    let child = sb
        .cmd(&["kernel", "start", "-f", conn.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Reaped(Some(child));
    let pid = guard.0.as_ref().unwrap().id();
    let rt = sb.runtime_dir();
    assert!(
        wait_until(Duration::from_secs(10), || !records(&rt).is_empty()),
        "the kernel registers"
    );
    let rec = records(&rt).remove(0);
    assert_eq!(rec["pid"], pid);
    assert_eq!(rec["created_connection_file"], false);
    assert_eq!(rec["ports"]["hb"], ports[4]);
    assert_eq!(rec["connection_file"], conn.to_str().unwrap());
    assert!(wait_until_serving(
        &format!("127.0.0.1:{}", ports[4]),
        false
    ));

    // SAFETY: a positive pid of our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let out = guard.0.take().unwrap().wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "signal {:?}: {}",
        out.status.signal(),
        stderr(&out)
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {:?}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(conn.to_str().unwrap()),
        "one line names the file"
    );
    assert!(records(&rt).is_empty());
    assert!(
        conn.exists(),
        "Jupyter's connection file is Jupyter's to remove"
    );
}

#[test]
fn foreground_start_writes_a_private_connection_file_at_the_given_path() {
    let sb = Sandbox::new("ks-fg");
    let conn = sb.root().join("new.json");
    let child = sb
        .cmd(&[
            "kernel",
            "start",
            "-f",
            conn.to_str().unwrap(),
            "--transport",
            "ipc",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Reaped(Some(child));
    let pid = guard.0.as_ref().unwrap().id();
    let rt = sb.runtime_dir();
    assert!(
        wait_until(Duration::from_secs(10), || !records(&rt).is_empty()),
        "the kernel registers"
    );
    assert_eq!(file_mode(&conn), 0o600);
    let info: Value = serde_json::from_str(&std::fs::read_to_string(&conn).unwrap()).unwrap();
    assert_eq!(info["transport"], "ipc");
    assert_eq!(info["shell_port"], 1);
    assert_eq!(info["hb_port"], 5);
    let id = records(&rt)[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        info["ip"],
        rt.join(format!("kernel-{id}")).to_str().unwrap()
    );
    assert!(wait_until_serving(
        &format!("{}-5", info["ip"].as_str().unwrap()),
        true
    ));

    // SAFETY: a positive pid of our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let out = guard.0.take().unwrap().wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(!conn.exists(), "the file we created is removed");
    assert!(records(&rt).is_empty());
    let prefix = info["ip"].as_str().unwrap();
    for port in 1..=5 {
        assert!(
            !Path::new(&format!("{prefix}-{port}")).exists(),
            "ipc socket {port} is removed"
        );
    }
}

#[test]
fn jupyter_launch_survives_an_unusable_runtime_dir() {
    let sb = Sandbox::new("ks-nort");
    let conn = sb.root().join("conn.json");
    let blocker = sb.root().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let child = sb
        .cmd(&["kernel", "start", "-f", conn.to_str().unwrap()])
        .env("LLMSPELL_RUNTIME_DIR", blocker.join("run"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Reaped(Some(child));
    let pid = guard.0.as_ref().unwrap().id();
    let hb = || -> Option<u64> {
        let info: Value = serde_json::from_str(&std::fs::read_to_string(&conn).ok()?).ok()?;
        info["hb_port"].as_u64()
    };
    assert!(
        wait_until(Duration::from_secs(10), || hb().is_some()),
        "the connection file is written"
    );
    assert!(wait_until_serving(
        &format!("127.0.0.1:{}", hb().unwrap()),
        false
    ));
    // SAFETY: a positive pid of our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let out = guard.0.take().unwrap().wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(!conn.exists(), "the file we created is removed");
}
