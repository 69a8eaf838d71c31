//! `llmspell`: a Jupyter kernel for Lua, and a Lua script runner.
//!
//! Commands:
//! - `kernel start [-f FILE] [--ip IP] [--port BASE] [--transport tcp|ipc] [--daemon]`:
//!   serve the Jupyter protocol (how Jupyter launches us: `kernel start -f {connection_file}`).
//! - `kernel status`, `kernel stop [ID|--all]`: the running kernels, from the registry in
//!   the runtime directory (`$LLMSPELL_RUNTIME_DIR`, `$XDG_RUNTIME_DIR/llmspell` or
//!   `~/.llmspell/run`).
//! - `kernel install [--user|--prefix DIR|--sys-prefix]`: the Jupyter kernelspec.
//! - `exec CODE`, `run FILE [ARGS...]`: Lua in an embedded kernel, no sockets.
//! - `tool list|info|search|invoke`: the built-in tools, in-process (no kernel), or on a
//!   kernel with `--connect TARGET` or after `kernel connect TARGET` (until
//!   `kernel disconnect`), over the `tool_request` protocol (docs/protocol.md).
//! - `stress [--remote TARGET] [--scenario NAME]`: the performance guide's stress tests.
//! - `tune check [--strict]`: audit this machine's limits, sysctls, CPUs and io_uring.
//! - `dap [--port N]`: a Debug Adapter Protocol server for Lua scripts (docs/debugger.md).
//!
//! Configuration: `--config FILE` or `LLMSPELL_CONFIG` (llmspell.toml), with
//! `LLMSPELL_<SECTION>_<KEY>` overrides; read by the commands that use it (`tool`,
//! `stress`, `kernel connect`).
//!
//! Errors go to stderr (or, with `--output json`, as `{"error": {...}}` on stdout) with a
//! non-zero exit code: 2 for usage errors, 1 for the rest. User input never panics.

mod cli;
mod config;
mod connfile;
mod daemon;
mod dap;
mod error;
mod exec;
mod fsutil;
mod host;
mod install;
mod kernel_cmd;
mod kernel_start;
mod logging;
mod metrics_server;
mod output;
mod paths;
mod process;

mod registry;
mod remote;
mod stats;
mod stress;
mod target;
#[cfg(test)]
mod testutil;
mod tool_cmd;
mod tune;
mod zmtp_stream;

use clap::Parser;

use crate::cli::{Cli, Command, KernelCommand, OutputFormat, TuneCommand};
use crate::error::CliError;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Prints clap's message (help and version on stdout, errors on stderr) and exits
        // with clap's code: 0 for help and version, 2 for usage errors.
        Err(e) => e.exit(),
    };
    let format = cli.output;
    // The kernel process never writes to stdout, not even its errors.
    // Nor does the DAP server over stdio, where stdout is the protocol.
    let stdout_allowed = !matches!(
        &cli.command,
        Command::Kernel { command: KernelCommand::Start(s) } if !s.daemon
    ) && !matches!(&cli.command, Command::Dap(d) if d.port.is_none());
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::debug!(kind = e.kind.as_str(), "command failed: {}", e.message);
            e.report(format, stdout_allowed);
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// Sets up logging and runs the command; returns the exit code.
fn run(cli: Cli) -> Result<i32, CliError> {
    let log_file = match &cli.command {
        Command::Kernel {
            command: KernelCommand::Start(s),
        } if !s.daemon => s.log_file.as_deref(),
        _ => None,
    };
    logging::init(log_file)?;
    let format: OutputFormat = cli.output;
    let config_path = cli.config.as_deref();
    let connect = cli.connect.as_deref();
    if connect.is_some() && !matches!(cli.command, Command::Tool { .. } | Command::Stress(_)) {
        return Err(CliError::usage(
            "--connect applies to `tool` and `stress` commands only",
        ));
    }
    match &cli.command {
        Command::Kernel { command } => match command {
            KernelCommand::Start(args) if args.daemon => {
                daemon::start(args, cli.config.as_deref(), format)
            }
            KernelCommand::Start(args) => kernel_start::start_foreground(args, config_path),
            KernelCommand::Status => kernel_cmd::status(format),
            KernelCommand::Stop(args) => kernel_cmd::stop(args, format),
            KernelCommand::Install(args) => install::run(args, format),
            KernelCommand::Connect(args) => {
                let config = config::Config::load_from_process(config_path)?;
                target::connect(args, &config.transport.zeromq, format)
            }
            KernelCommand::Disconnect => target::disconnect(format),
        },
        Command::Exec(args) => exec::exec(args, config_path),
        Command::Run(args) => exec::run(args, config_path),
        Command::Tool { command } => tool_cmd::run(command, format, config_path, connect),
        Command::Stress(args) => stress::run(args, format, config_path, connect),
        Command::Tune {
            command: TuneCommand::Check { strict },
        } => tune::check(std::path::Path::new("/"), *strict, format),
        Command::Dap(args) => dap::run(args, config_path),
    }
}
