//! `llmspell exec CODE` and `llmspell run FILE [ARGS...]`: Lua in an embedded kernel.
//!
//! Both run in script mode (`os.exit(n)` ends the process with `n`). Streams go to the
//! process's stdout and stderr as they happen; results print their `text/plain` form on
//! stdout; errors print their traceback on stderr. SIGINT interrupts the running code.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use llmspell_core::embedded::{EmbeddedKernel, Output, Status};
use llmspell_core::engine::{EngineConfig, MimeBundle, StreamName};

use crate::cli::{ExecArgs, RunArgs};
use crate::error::{CliError, ErrorKind};

/// The exit code of a script stopped by SIGINT, as shells report it (128 + 2).
const EXIT_INTERRUPTED: i32 = 130;
/// The exit code when stdout was closed under us, as if SIGPIPE had ended us (128 + 13).
const EXIT_STDOUT_CLOSED: i32 = 141;

/// `llmspell exec`.
pub fn exec(args: &ExecArgs, config_path: Option<&std::path::Path>) -> Result<i32, CliError> {
    let code = if args.code == "-" {
        let mut code = String::new();
        std::io::stdin()
            .read_to_string(&mut code)
            .map_err(|e| CliError::io("cannot read code from stdin", e))?;
        code
    } else {
        args.code.clone()
    };
    run_code(&code, "=exec", Vec::new(), config_path)
}

/// `llmspell run`.
pub fn run(args: &RunArgs, config_path: Option<&std::path::Path>) -> Result<i32, CliError> {
    let name = args.file();
    let code = std::fs::read_to_string(name)
        .map_err(|e| CliError::usage(format!("cannot read script {name}: {e}")))?;
    let mut script_args = vec![name.to_string()];
    script_args.extend(args.args().iter().cloned());
    run_code(&code, &format!("@{name}"), script_args, config_path)
}

fn run_code(
    code: &str,
    chunk_name: &str,
    script_args: Vec<String>,
    config_path: Option<&std::path::Path>,
) -> Result<i32, CliError> {
    let config = crate::config::Config::load_from_process(config_path)?;
    let tools = crate::host::embedded_host(config.host_config());
    let mut kernel = EmbeddedKernel::new(EngineConfig {
        kernel_mode: false,
        script_args,
        tools: Some(llmspell_core::tools::ToolHostRef(tools)),
    })
    .map_err(|e| {
        CliError::new(
            ErrorKind::Runtime,
            format!("cannot start the Lua engine: {e}"),
        )
    })?;
    let interrupt = kernel.interrupt_flag();
    install_sigint_handler(interrupt.clone());
    let mut sink = OutputSink::new(interrupt);
    let status = kernel.execute(code, chunk_name, &mut |output| sink.handle(output));
    sink.finish();
    if sink.stdout_closed {
        return Ok(EXIT_STDOUT_CLOSED);
    }
    Ok(exit_code(&status, sink.interrupted_error))
}

/// The process exit code for how a run ended.
fn exit_code(status: &Status, interrupted: bool) -> i32 {
    match status {
        Status::Ok => 0,
        Status::Error if interrupted => EXIT_INTERRUPTED,
        Status::Error => 1,
        Status::Exit(code) => *code,
    }
}

/// Writes the outputs of a run to the process's stdout and stderr.
struct OutputSink {
    stdout: std::io::StdoutLock<'static>,
    /// Set when stdout is closed (`| head`): the run is interrupted and the rest discarded.
    stdout_closed: bool,
    interrupt: Arc<AtomicBool>,
    /// Whether the run ended in a KeyboardInterrupt.
    interrupted_error: bool,
}

impl OutputSink {
    fn new(interrupt: Arc<AtomicBool>) -> Self {
        OutputSink {
            stdout: std::io::stdout().lock(),
            stdout_closed: false,
            interrupt,
            interrupted_error: false,
        }
    }

    fn handle(&mut self, output: Output) {
        match output {
            Output::Stream(StreamName::Stdout, text) => self.write_stdout(text.as_bytes()),
            Output::Stream(StreamName::Stderr, text) => {
                // Flush stdout first so that the two streams interleave as the script wrote them.
                self.flush_stdout();
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
            Output::Data(bundle) => {
                if let Some(text) = plain_text(&bundle) {
                    self.write_stdout(text.as_bytes());
                    if !text.ends_with('\n') {
                        self.write_stdout(b"\n");
                    }
                }
            }
            Output::Error(error) => {
                self.interrupted_error = error.ename == "KeyboardInterrupt";
                self.flush_stdout();
                if self.stdout_closed {
                    return;
                }
                let mut err = std::io::stderr().lock();
                if error.traceback.is_empty() {
                    let _ = writeln!(err, "{}: {}", error.ename, error.evalue);
                } else {
                    for line in &error.traceback {
                        let _ = writeln!(err, "{line}");
                    }
                }
            }
        }
    }

    fn write_stdout(&mut self, bytes: &[u8]) {
        if self.stdout_closed {
            return;
        }
        if self
            .stdout
            .write_all(bytes)
            .and_then(|()| self.stdout.flush())
            .is_err()
        {
            self.stdout_closed = true;
            self.interrupt.store(true, Ordering::SeqCst);
        }
    }

    fn flush_stdout(&mut self) {
        if !self.stdout_closed && self.stdout.flush().is_err() {
            self.stdout_closed = true;
        }
    }

    fn finish(&mut self) {
        self.flush_stdout();
    }
}

/// The text to print for a result: `text/plain`, else the first other `text/*` entry,
/// else the JSON of `application/json`.
fn plain_text(bundle: &MimeBundle) -> Option<String> {
    let as_text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(v) = bundle.get("text/plain") {
        return Some(as_text(v));
    }
    bundle
        .iter()
        .find(|(mime, _)| mime.starts_with("text/"))
        .or_else(|| {
            bundle
                .iter()
                .find(|(mime, _)| mime.as_str() == "application/json")
        })
        .map(|(_, v)| as_text(v))
}

/// The flag the SIGINT handler sets; a static because a signal handler takes no arguments.
static INTERRUPT: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn on_sigint(_signal: libc::c_int) {
    // Only an atomic load and an atomic store: async-signal-safe.
    if let Some(flag) = INTERRUPT.get() {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Makes SIGINT set `flag` instead of killing the process.
fn install_sigint_handler(flag: Arc<AtomicBool>) {
    if INTERRUPT.set(flag).is_err() {
        return; // Already installed for this process's one kernel.
    }
    // SAFETY: `action` is fully initialised before use; the handler only touches atomics.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) != 0 {
            tracing::warn!(
                "cannot install the SIGINT handler: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bundle(v: serde_json::Value) -> MimeBundle {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn result_text() {
        assert_eq!(
            plain_text(&bundle(json!({"text/html": "<b>", "text/plain": "2"}))),
            Some("2".into())
        );
        assert_eq!(
            plain_text(&bundle(json!({"text/markdown": "*x*"}))),
            Some("*x*".into())
        );
        assert_eq!(
            plain_text(&bundle(json!({"application/json": {"a": 1}}))),
            Some(r#"{"a":1}"#.into())
        );
        assert_eq!(plain_text(&bundle(json!({"image/png": "..."}))), None);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(&Status::Ok, false), 0);
        assert_eq!(exit_code(&Status::Error, false), 1);
        assert_eq!(exit_code(&Status::Error, true), 130);
        assert_eq!(exit_code(&Status::Exit(3), false), 3);
    }

    #[test]
    fn sigint_sets_the_flag() {
        let flag = Arc::new(AtomicBool::new(false));
        install_sigint_handler(flag.clone());
        // SAFETY: raising a signal whose handler only stores to an atomic.
        unsafe { libc::raise(libc::SIGINT) };
        assert!(INTERRUPT.get().is_some_and(|f| f.load(Ordering::SeqCst)));
    }
}
