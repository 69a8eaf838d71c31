//! The registry of running kernels: one `<id>.json` record per kernel in the runtime
//! directory, written when a kernel starts and removed when it exits.
//!
//! Connection files (`kernel-<id>.json`), pid files and logs live in the same directory;
//! only files named `<id>.json` with a hex id are records.

use std::io;
use std::path::{Path, PathBuf};

use llmspell_core::connection::{ConnectionInfo, Transport};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, ErrorKind};
use crate::fsutil;

/// The five ports of a kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    /// Shell.
    pub shell: u16,
    /// IOPub.
    pub iopub: u16,
    /// Stdin.
    pub stdin: u16,
    /// Control.
    pub control: u16,
    /// Heartbeat.
    pub hb: u16,
}

impl Ports {
    /// The ports of a connection info.
    pub fn of(info: &ConnectionInfo) -> Ports {
        Ports {
            shell: info.shell_port,
            iopub: info.iopub_port,
            stdin: info.stdin_port,
            control: info.control_port,
            hb: info.hb_port,
        }
    }

    /// In connection-file order: shell, iopub, stdin, control, hb.
    pub fn to_list(&self) -> [u16; 5] {
        [self.shell, self.iopub, self.stdin, self.control, self.hb]
    }
}

/// One running kernel, as it registered itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelRecord {
    /// Short hex id.
    pub id: String,
    /// The kernel's process id.
    pub pid: u32,
    /// Its connection file.
    pub connection_file: PathBuf,
    /// Its log file, if it logs to one.
    pub log_file: Option<PathBuf>,
    /// Address (tcp) or socket path prefix (ipc).
    pub ip: String,
    /// tcp or ipc.
    pub transport: Transport,
    /// The bound ports.
    pub ports: Ports,
    /// When it registered, in ms since the Unix epoch.
    pub started_unix_ms: u64,
    /// Whether the kernel wrote the connection file itself (and so removes it on exit).
    pub created_connection_file: bool,
}

/// Whether `id` can name a registry record: 1 to 32 lowercase hex digits.
pub fn is_valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The socket paths of an ipc kernel, `{ip}-{port}` for each port; none for tcp.
pub fn ipc_socket_paths(ip: &str, transport: Transport, ports: &[u16]) -> Vec<PathBuf> {
    match transport {
        Transport::Ipc => ports
            .iter()
            .map(|p| PathBuf::from(format!("{ip}-{p}")))
            .collect(),
        Transport::Tcp => Vec::new(),
    }
}

/// The registry in one directory.
#[derive(Clone, Debug)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// The registry kept in `dir` (the runtime directory).
    pub fn new(dir: PathBuf) -> Registry {
        Registry { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<id>.json`.
    pub fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// `<dir>/kernel-<id>.pid`, the pid file of a daemon.
    pub fn pid_file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("kernel-{id}.pid"))
    }

    /// `<dir>/kernel-<id>.json`, the default connection file.
    pub fn connection_file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("kernel-{id}.json"))
    }

    /// `<dir>/kernel-<id>.log`, the default log of a daemon.
    pub fn log_file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("kernel-{id}.log"))
    }

    /// A fresh 8-hex-digit id that no record or connection file in the directory uses.
    pub fn new_id(&self) -> Result<String, CliError> {
        for _ in 0..16 {
            let id = fsutil::random_hex(4)
                .map_err(|e| CliError::new(ErrorKind::Runtime, e.to_string()))?;
            if !self.record_path(&id).exists() && !self.connection_file(&id).exists() {
                return Ok(id);
            }
        }
        Err(CliError::new(
            ErrorKind::Runtime,
            "could not find an unused kernel id",
        ))
    }

    /// Writes (or replaces) a record atomically, mode 0600.
    pub fn write(&self, record: &KernelRecord) -> Result<(), CliError> {
        let path = self.record_path(&record.id);
        let text = serde_json::to_string_pretty(record).map_err(|e| {
            CliError::new(ErrorKind::Runtime, format!("cannot serialize record: {e}"))
        })?;
        fsutil::write_atomic(&path, text.as_bytes(), 0o600)
            .map_err(|e| CliError::io(format_args!("cannot write {}", path.display()), e))
    }

    /// The record of `id`, if there is a readable one.
    pub fn read(&self, id: &str) -> Option<KernelRecord> {
        let text = std::fs::read_to_string(self.record_path(id)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Every readable record, oldest first. Unreadable `<id>.json` files are skipped
    /// (a record is written atomically, so one that does not parse is not ours).
    pub fn list(&self) -> Result<Vec<KernelRecord>, CliError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(CliError::io(
                    format_args!("cannot list {}", self.dir.display()),
                    e,
                ))
            }
        };
        let mut records: Vec<KernelRecord> = entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                let id = name.to_str()?.strip_suffix(".json")?;
                if !is_valid_id(id) {
                    return None;
                }
                self.read(id).filter(|r| r.id == id)
            })
            .collect();
        records.sort_by(|a, b| (a.started_unix_ms, &a.id).cmp(&(b.started_unix_ms, &b.id)));
        Ok(records)
    }

    /// Splits the records into live ones and stale ones (by `alive`), removing the stale
    /// ones' files. Returns `(live, removed)`.
    pub fn partition_live(
        &self,
        alive: impl Fn(&KernelRecord) -> bool,
    ) -> Result<(Vec<KernelRecord>, Vec<KernelRecord>), CliError> {
        let (live, stale): (Vec<_>, Vec<_>) = self.list()?.into_iter().partition(|r| alive(r));
        for record in &stale {
            tracing::info!(id = %record.id, pid = record.pid, "removing stale kernel record");
            self.cleanup(record);
        }
        Ok((live, stale))
    }

    /// Removes a kernel's files: its record, its pid file, its connection file if the
    /// kernel created it, and its ipc sockets. Errors are logged, not returned: cleanup is
    /// best effort. Call it only once the kernel's process is gone.
    pub fn cleanup(&self, record: &KernelRecord) {
        for path in ipc_socket_paths(&record.ip, record.transport, &record.ports.to_list()) {
            if let Err(e) = fsutil::remove_socket_if_exists(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove kernel socket");
            }
        }
        let mut paths = vec![self.record_path(&record.id), self.pid_file(&record.id)];
        if record.created_connection_file {
            paths.push(record.connection_file.clone());
        }
        for path in paths {
            if let Err(e) = fsutil::remove_if_exists(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove kernel file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn record(id: &str, pid: u32, dir: &Path, created: bool) -> KernelRecord {
        KernelRecord {
            id: id.to_string(),
            pid,
            connection_file: dir.join(format!("kernel-{id}.json")),
            log_file: None,
            ip: "127.0.0.1".into(),
            transport: Transport::Tcp,
            ports: Ports {
                shell: 1,
                iopub: 2,
                stdin: 3,
                control: 4,
                hb: 5,
            },
            started_unix_ms: 1_000,
            created_connection_file: created,
        }
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("0a1b2c3d"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("../x"));
        assert!(!is_valid_id("kernel-ab"));
        assert!(!is_valid_id("ABCD"));
        let tmp = TempDir::new("registry");
        let id = Registry::new(tmp.path().into()).new_id().unwrap();
        assert_eq!(id.len(), 8);
        assert!(is_valid_id(&id));
    }

    #[test]
    fn write_list_and_read_skip_non_records() {
        let tmp = TempDir::new("registry");
        let reg = Registry::new(tmp.path().into());
        let mut a = record("aaaa0001", 10, tmp.path(), true);
        a.started_unix_ms = 5;
        let b = record("bbbb0002", 11, tmp.path(), false);
        reg.write(&b).unwrap();
        reg.write(&a).unwrap();
        // A connection file, a junk file and a record whose id disagrees with its name.
        std::fs::write(tmp.path().join("kernel-aaaa0001.json"), "{}").unwrap();
        std::fs::write(tmp.path().join("cccc.json"), "not json").unwrap();
        let wrong = record("dddd", 12, tmp.path(), false);
        std::fs::write(
            tmp.path().join("eeee.json"),
            serde_json::to_string(&wrong).unwrap(),
        )
        .unwrap();
        assert_eq!(reg.list().unwrap(), vec![a.clone(), b]);
        assert_eq!(reg.read("aaaa0001"), Some(a));
        assert_eq!(reg.read("ffff"), None);
    }

    #[test]
    fn record_json_shape() {
        let mut r = record("ab", 7, Path::new("/r"), true);
        r.log_file = Some("/r/kernel-ab.log".into());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["transport"], "tcp");
        assert_eq!(v["ports"]["hb"], 5);
        assert_eq!(v["log_file"], "/r/kernel-ab.log");
        assert_eq!(v["created_connection_file"], true);
        assert_eq!(v["connection_file"], "/r/kernel-ab.json");
    }

    #[test]
    fn stale_records_and_their_files_are_removed() {
        let tmp = TempDir::new("registry");
        let reg = Registry::new(tmp.path().into());
        let live = record("aaaa", 10, tmp.path(), true);
        let stale = record("bbbb", 11, tmp.path(), true);
        let stale_foreign = record("cccc", 12, tmp.path(), false);
        for r in [&live, &stale, &stale_foreign] {
            reg.write(r).unwrap();
            std::fs::write(&r.connection_file, "{}").unwrap();
            std::fs::write(reg.pid_file(&r.id), r.pid.to_string()).unwrap();
        }
        let (l, removed) = reg.partition_live(|r| r.pid == 10).unwrap();
        assert_eq!(l, vec![live.clone()]);
        assert_eq!(removed.len(), 2);
        assert!(reg.record_path("aaaa").exists() && live.connection_file.exists());
        assert!(!reg.record_path("bbbb").exists());
        assert!(
            !stale.connection_file.exists(),
            "the kernel's own connection file goes"
        );
        assert!(!reg.pid_file("bbbb").exists());
        assert!(
            stale_foreign.connection_file.exists(),
            "a file Jupyter wrote stays"
        );
        assert!(!reg.record_path("cccc").exists());
    }

    #[test]
    fn cleanup_removes_ipc_sockets() {
        let tmp = TempDir::new("registry");
        let reg = Registry::new(tmp.path().into());
        let mut r = record("abab", 10, tmp.path(), true);
        r.transport = Transport::Ipc;
        r.ip = tmp.path().join("kernel-abab").display().to_string();
        let sockets = ipc_socket_paths(&r.ip, r.transport, &r.ports.to_list());
        assert_eq!(sockets.len(), 5);
        assert!(sockets[4].ends_with("kernel-abab-5"));
        let _listeners: Vec<_> = sockets
            .iter()
            .map(|p| std::os::unix::net::UnixListener::bind(p).unwrap())
            .collect();
        reg.write(&r).unwrap();
        reg.cleanup(&r);
        assert!(sockets.iter().all(|p| !p.exists()));
        assert!(!reg.record_path("abab").exists());
        assert!(ipc_socket_paths("x", Transport::Tcp, &[1]).is_empty());
    }

    #[test]
    fn missing_directory_lists_nothing() {
        let reg = Registry::new("/nonexistent/llmspell-registry-test".into());
        assert_eq!(reg.list().unwrap(), vec![]);
    }
}
