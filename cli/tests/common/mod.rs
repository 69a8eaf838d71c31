//! Shared helpers for the CLI's integration tests: a private sandbox per test (HOME,
//! runtime dir and Jupyter data dir all in a temp dir) and a runner for the built binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_llmspell");

/// A temp directory holding HOME, the runtime dir and the Jupyter data dir of one test;
/// removed on drop.
pub struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    /// A fresh sandbox, named after the test.
    pub fn new(tag: &str) -> Sandbox {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let root = std::env::temp_dir().join(format!(
            "llmspell-it-{tag}-{}-{nanos:x}",
            std::process::id()
        ));
        std::fs::create_dir_all(root.join("home")).unwrap();
        Sandbox { root }
    }

    /// The sandbox directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `$HOME`.
    pub fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    /// `$LLMSPELL_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// `$JUPYTER_DATA_DIR` (when a test sets it).
    pub fn jupyter_dir(&self) -> PathBuf {
        self.root.join("jupyter")
    }

    /// The binary with a clean environment pointing into the sandbox.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("HOME", self.home())
            .env("LLMSPELL_RUNTIME_DIR", self.runtime_dir())
            .env("JUPYTER_DATA_DIR", self.jupyter_dir())
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_DATA_HOME")
            .env_remove("VIRTUAL_ENV")
            .env_remove("CONDA_PREFIX")
            .env_remove("LLMSPELL_CONFIG")
            .env_remove("RUST_LOG")
            .env_remove("LOG_FORMAT")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run llmspell")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout parsed as JSON.
pub fn json_stdout(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", stdout(out)))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A child process that is killed and reaped on drop, whatever the test did.
pub struct Reaped(pub Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `cond` every 20 ms for at most `timeout`; returns whether it became true.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process exists (signal 0) and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 delivers nothing; pid is positive.
    let exists = pid > 1 && unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    exists && !zombie
}

/// Writes a registry record the way a kernel does.
pub fn write_record(
    runtime_dir: &Path,
    id: &str,
    pid: u32,
    started_unix_ms: u64,
    created: bool,
) -> PathBuf {
    std::fs::create_dir_all(runtime_dir).unwrap();
    let conn = runtime_dir.join(format!("kernel-{id}.json"));
    std::fs::write(&conn, "{}").unwrap();
    let record = serde_json::json!({
        "id": id,
        "pid": pid,
        "connection_file": conn,
        "log_file": null,
        "ip": "127.0.0.1",
        "transport": "tcp",
        "ports": {"shell": 5000, "iopub": 5001, "stdin": 5002, "control": 5003, "hb": 5004},
        "started_unix_ms": started_unix_ms,
        "created_connection_file": created,
    });
    let path = runtime_dir.join(format!("{id}.json"));
    std::fs::write(&path, record.to_string()).unwrap();
    path
}

/// The pid of a process that has already exited (and been reaped).
pub fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// The registry records in a runtime dir (files named `<hex>.json`).
pub fn kernel_records(rt: &Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(rt) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let id = name.strip_suffix(".json")?;
            if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            serde_json::from_str(&std::fs::read_to_string(rt.join(&name)).ok()?).ok()
        })
        .collect()
}

/// A foreground kernel (`kernel start -f FILE`) in a sandbox, killed and reaped on drop.
pub struct TestKernel {
    /// The child, reaped on drop.
    pub child: Reaped,
    /// Its connection file.
    pub connection_file: PathBuf,
    /// Its registry record.
    pub record: serde_json::Value,
}

impl TestKernel {
    /// Starts a kernel with a connection file it writes itself, and waits (at most 10 s)
    /// for its record and its file.
    pub fn start(sb: &Sandbox) -> TestKernel {
        let conn = sb.root().join("kernel.json");
        let child = sb
            .cmd(&["kernel", "start", "-f", conn.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a kernel");
        let child = Reaped(Some(child));
        let rt = sb.runtime_dir();
        assert!(
            wait_until(Duration::from_secs(10), || {
                !kernel_records(&rt).is_empty() && conn.exists()
            }),
            "the kernel registers and writes its connection file"
        );
        let record = kernel_records(&rt).remove(0);
        TestKernel {
            child,
            connection_file: conn,
            record,
        }
    }

    /// The kernel's id.
    pub fn id(&self) -> String {
        self.record["id"].as_str().unwrap().to_string()
    }

    /// `127.0.0.1:<shell port>`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.record["ports"]["shell"])
    }

    /// Stops it with SIGTERM and waits for it to exit (and unregister).
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.0.take() {
            // SAFETY: a positive pid of our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}
