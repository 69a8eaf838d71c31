//! `process-executor`: runs an allowlisted program, without a shell, and captures its output.
//!
//! Refused unless [`Policy::process_enabled`] and the program, exactly as given, is on
//! [`Policy::process_allowlist`] (`echo` does not allow `/bin/echo`, nor the reverse). The
//! child runs in a process group of its own; on timeout the whole group is killed and
//! reaped before the call returns, and so is anything it left holding its output pipes.
//! Output beyond the limit is read and dropped, so the child never blocks on a full pipe.
//!
//! [`Policy::process_enabled`]: llmspell_core::tools::Policy::process_enabled
//! [`Policy::process_allowlist`]: llmspell_core::tools::Policy::process_allowlist

use super::params::{opt_str, opt_u64, req_str, str_array};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use llmspell_core::tools::{
    SecurityLevel, Tool, ToolContext, ToolError, ToolErrorKind, ToolOutput, ToolResult, ToolSpec,
};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Timeout unless `timeout_ms` says otherwise.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Bytes kept of each of stdout and stderr unless `max_output_bytes` says otherwise.
pub const DEFAULT_MAX_OUTPUT: u64 = 1 << 20;
/// How long output pipes may stay open after the program exits (a background child
/// holding them) before its process group is killed.
const PIPE_GRACE: Duration = Duration::from_millis(100);

/// The `process-executor` tool.
pub struct ProcessExecutor {
    spec: ToolSpec,
}

impl ProcessExecutor {
    /// The tool with its spec.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "program": {"type": "string", "minLength": 1, "description": "Program name, as on the allowlist"},
                "args": {"type": "array", "items": {"type": "string"}},
                "stdin": {"type": "string", "description": "Text written to its standard input"},
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 3_600_000, "description": "Default 10000"},
                "max_output_bytes": {"type": "integer", "minimum": 0, "maximum": 67_108_864, "description": "Per stream; default 1 MiB"}
            },
            "required": ["program"],
            "additionalProperties": false
        });
        ProcessExecutor {
            spec: ToolSpec {
                name: "process-executor",
                category: "system",
                description: "Run an allowlisted program without a shell and capture its output and exit code",
                parameters,
                security: SecurityLevel::Privileged,
                cacheable: false,
                blocking: true,
            },
        }
    }
}

impl Default for ProcessExecutor {
    fn default() -> Self {
        Self::new()
    }
}

/// One output stream, read on its own thread into a bounded buffer.
struct Capture {
    buf: Arc<Mutex<(Vec<u8>, bool)>>,
    done: Receiver<()>,
}

impl Capture {
    fn start(pipe: Option<impl Read + Send + 'static>, limit: usize) -> Capture {
        let buf = Arc::new(Mutex::new((Vec::new(), false)));
        let (tx, done) = bounded(1);
        let shared = Arc::clone(&buf);
        thread::spawn(move || {
            if let Some(mut pipe) = pipe {
                let mut chunk = [0u8; 8192];
                loop {
                    let n = match pipe.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                    let (kept, truncated) = &mut *guard;
                    let room = limit.saturating_sub(kept.len()).min(n);
                    kept.extend_from_slice(&chunk[..room]);
                    *truncated |= room < n;
                }
            }
            let _ = tx.send(());
        });
        Capture { buf, done }
    }

    /// Whether the stream reached its end by `deadline` (at once if it already had).
    fn finished_by(&self, deadline: Instant) -> bool {
        !matches!(
            self.done.recv_deadline(deadline),
            Err(RecvTimeoutError::Timeout)
        )
    }

    fn take(&self) -> (String, bool) {
        let guard = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        (String::from_utf8_lossy(&guard.0).into_owned(), guard.1)
    }
}

/// Kills the child's process group (the child leads it), or the child alone elsewhere.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is shared.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
    let _ = child.kill();
}

fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

impl Tool for ProcessExecutor {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        let program = req_str(params, "program")?;
        let args = str_array(params, "args")?;
        let stdin = opt_str(params, "stdin")?;
        let timeout = opt_u64(params, "timeout_ms", DEFAULT_TIMEOUT_MS, 3_600_000)?;
        let limit = opt_u64(params, "max_output_bytes", DEFAULT_MAX_OUTPUT, 64 << 20)? as usize;
        if !ctx.policy.process_enabled {
            return Err(ToolError::denied(
                "process execution is disabled by configuration",
            ));
        }
        if !ctx.policy.process_allowlist.iter().any(|p| p == program) {
            return Err(ToolError::denied(format!(
                "{program} is not on the process allowlist"
            )));
        }

        let mut command = Command::new(program);
        command
            .args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| ToolError::failed(format!("cannot start {program}: {e}")))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let input = input.as_bytes().to_vec();
            // A child that does not read its input must not block us: write on a thread.
            thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let out = Capture::start(child.stdout.take(), limit);
        let err = Capture::start(child.stderr.take(), limit);

        let status = match wait_until(&mut child, started + Duration::from_millis(timeout)) {
            Ok(Some(status)) => status,
            Ok(None) => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(ToolError::new(
                    ToolErrorKind::Timeout,
                    format!("{program} ran past {timeout} ms and was killed"),
                ));
            }
            Err(e) => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(ToolError::failed(format!("waiting for {program}: {e}")));
            }
        };
        let grace = Instant::now() + PIPE_GRACE;
        if !(out.finished_by(grace) && err.finished_by(grace)) {
            kill_group(&mut child);
            let again = Instant::now() + PIPE_GRACE;
            let _ = out.finished_by(again) && err.finished_by(again);
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (stdout, stdout_truncated) = out.take();
        let (stderr, stderr_truncated) = err.take();
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        #[cfg(not(unix))]
        let signal: Option<i32> = None;
        let data = json!({
            "exit_code": status.code(),
            "signal": signal,
            "success": status.success(),
            "stdout": stdout,
            "stderr": stderr,
            "stdout_truncated": stdout_truncated,
            "stderr_truncated": stderr_truncated,
            "elapsed_ms": elapsed_ms,
        });
        Ok(ToolOutput { text: stdout, data })
    }
}
