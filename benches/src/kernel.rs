//! Kernels under test: `NAME=COMMAND_TEMPLATE` specs, connection files with free ports,
//! and child processes that are always stopped by pid (SIGTERM, SIGKILL after 2 s), also
//! when the bench unwinds.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use llmspell_core::connection::{ConnectionInfo, Transport};

use crate::client::BenchError;
use crate::sys;

/// The placeholder a command template must contain.
pub const PLACEHOLDER: &str = "{connection_file}";

/// How long a kernel gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// A kernel to drive: a name for the table, a command template and the code to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSpec {
    /// The column name.
    pub name: String,
    /// The command template as given.
    pub template: String,
    /// The command, split into words; one of them contains [`PLACEHOLDER`].
    pub words: Vec<String>,
    /// The code of the execute scenarios.
    pub code: String,
}

impl KernelSpec {
    /// Parses `NAME=COMMAND_TEMPLATE`; the code defaults to `1+1`.
    pub fn parse(arg: &str) -> Result<KernelSpec, BenchError> {
        let (name, template) = arg
            .split_once('=')
            .ok_or_else(|| BenchError::Usage(format!("--kernel {arg:?}: expected NAME=COMMAND")))?;
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case("floor") {
            return Err(BenchError::Usage(format!(
                "--kernel {arg:?}: bad name {name:?}"
            )));
        }
        let words = split_words(template)?;
        if words.is_empty() || !words.iter().any(|w| w.contains(PLACEHOLDER)) {
            return Err(BenchError::Usage(format!(
                "--kernel {name}: the command must contain {PLACEHOLDER}"
            )));
        }
        Ok(KernelSpec {
            name: name.to_string(),
            template: template.trim().to_string(),
            words,
            code: "1+1".to_string(),
        })
    }
}

/// Splits a command line into words: blanks separate words, single quotes keep everything,
/// double quotes keep everything but a backslash escape, a backslash outside quotes escapes.
pub fn split_words(line: &str) -> Result<Vec<String>, BenchError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(BenchError::Usage(format!("unclosed ' in {line:?}"))),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.extend(chars.next()),
                        Some(c) => word.push(c),
                        None => return Err(BenchError::Usage(format!("unclosed \" in {line:?}"))),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Finds `n` distinct free TCP ports on 127.0.0.1 by binding port 0, holding every
/// listener until all are found.
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// A private directory for connection files and kernel logs, removed on drop.
pub struct Workdir {
    /// The directory.
    pub path: PathBuf,
}

impl Workdir {
    /// Creates `$TMPDIR/llmspell-bench-PID`.
    pub fn create() -> std::io::Result<Workdir> {
        let path = std::env::temp_dir().join(format!("llmspell-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Workdir { path })
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A kernel ready to spawn: its connection file is written and its command built, so
/// that a cold start times the spawn and nothing before it.
pub struct KernelLaunch {
    /// The connection the kernel is told to bind.
    pub info: ConnectionInfo,
    command: Command,
    log: PathBuf,
}

impl KernelLaunch {
    /// Writes `NAME-SEQ.json` (fresh ports, a random key) into `dir` and prepares the
    /// command, its output going to `NAME-SEQ.log`, pinned to `pin` if given.
    pub fn prepare(
        spec: &KernelSpec,
        dir: &Path,
        seq: usize,
        pin: Option<usize>,
    ) -> Result<KernelLaunch, BenchError> {
        let io = |e: std::io::Error| BenchError::Io(e.to_string());
        let ports = free_ports(5).map_err(io)?;
        let info = ConnectionInfo {
            shell_port: ports[0],
            iopub_port: ports[1],
            stdin_port: ports[2],
            control_port: ports[3],
            hb_port: ports[4],
            ip: "127.0.0.1".to_string(),
            key: sys::random_hex(16).map_err(io)?,
            transport: Transport::Tcp,
            signature_scheme: "hmac-sha256".to_string(),
            kernel_name: spec.name.clone(),
        };
        let file = dir.join(format!("{}-{seq}.json", spec.name));
        let json =
            serde_json::to_string_pretty(&info).map_err(|e| BenchError::Io(e.to_string()))?;
        std::fs::write(&file, json).map_err(io)?;
        let file_text = file.to_string_lossy();
        let words: Vec<String> = spec
            .words
            .iter()
            .map(|w| w.replace(PLACEHOLDER, &file_text))
            .collect();
        let log = dir.join(format!("{}-{seq}.log", spec.name));
        let out = File::create(&log).map_err(io)?;
        let err = out.try_clone().map_err(io)?;
        let mut command = Command::new(&words[0]);
        command
            .args(&words[1..])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        sys::configure_child(&mut command, pin).map_err(io)?;
        Ok(KernelLaunch { info, command, log })
    }

    /// Starts the kernel.
    pub fn spawn(mut self) -> Result<KernelProcess, BenchError> {
        let child = self.command.spawn().map_err(|e| {
            BenchError::Io(format!(
                "cannot start {:?}: {e}",
                self.command.get_program()
            ))
        })?;
        Ok(KernelProcess {
            child,
            info: self.info,
            log: self.log,
        })
    }
}

/// A running kernel, stopped by pid when dropped.
pub struct KernelProcess {
    /// The process.
    pub child: Child,
    /// Its connection.
    pub info: ConnectionInfo,
    log: PathBuf,
}

impl KernelProcess {
    /// SIGTERM, SIGKILL after [`GRACE`], reap. True when SIGTERM was enough.
    pub fn stop(&mut self) -> bool {
        sys::terminate(&mut self.child, GRACE)
    }

    /// The last `n` lines of the kernel's output, for error reports.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for KernelProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        let words = split_words(r#"a  'b c' "d \"e\"" f\ g {connection_file}"#).unwrap();
        assert_eq!(words, ["a", "b c", "d \"e\"", "f g", "{connection_file}"]);
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("''").unwrap(), [""]);
        assert!(split_words("'open").is_err());
    }

    #[test]
    fn parses_kernel_specs() {
        let spec =
            KernelSpec::parse("py=python -m ipykernel_launcher -f {connection_file}").unwrap();
        assert_eq!(spec.name, "py");
        assert_eq!(spec.words.len(), 5);
        assert_eq!(spec.code, "1+1");
        assert!(KernelSpec::parse("py=python -m ipykernel_launcher").is_err());
        assert!(KernelSpec::parse("python {connection_file}").is_err());
        assert!(KernelSpec::parse("floor=x {connection_file}").is_err());
    }

    #[test]
    fn free_ports_are_distinct() {
        let mut ports = free_ports(5).unwrap();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 5);
    }
}
