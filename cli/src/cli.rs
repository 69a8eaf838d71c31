//! The command line, as clap derive types. No behaviour lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use llmspell_core::connection::Transport;

/// `llmspell`: a Jupyter kernel and script runner for Lua.
#[derive(Debug, Parser)]
#[command(name = "llmspell", version, propagate_version = true)]
pub struct Cli {
    /// How results and errors are printed.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Configuration file (llmspell.toml); `LLMSPELL_<SECTION>_<KEY>` variables override
    /// its settings.
    #[arg(long, global = true, env = "LLMSPELL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Send tool commands to this kernel instead of running them in-process: a connection
    /// file, a kernel id (or prefix) from `kernel status`, or HOST:PORT (a registered
    /// kernel's shell port). Overrides `kernel connect`.
    #[arg(long, global = true, value_name = "TARGET")]
    pub connect: Option<String>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// How results and errors are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    Text,
    /// One line of JSON.
    Json,
    /// Indented JSON.
    Pretty,
}

impl OutputFormat {
    /// Whether results are printed as JSON (compact or indented).
    pub fn is_json(self) -> bool {
        !matches!(self, OutputFormat::Text)
    }
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, list, stop and install Jupyter kernels.
    Kernel {
        /// The kernel command.
        #[command(subcommand)]
        command: KernelCommand,
    },
    /// Run a piece of Lua code in an embedded kernel (`-` reads it from stdin).
    Exec(ExecArgs),
    /// Run a Lua script in an embedded kernel.
    Run(RunArgs),
    /// List, describe, search and invoke tools: in-process, or on a kernel with
    /// `--connect` or after `kernel connect`.
    Tool {
        /// The tool command.
        #[command(subcommand)]
        command: ToolCommand,
    },
    /// Rerun the performance guide's stress tests and print ops/s, latency and RSS.
    Stress(StressArgs),
    /// Audit this machine for a latency-tuned kernel (see tuning/).
    Tune {
        /// The tuning command.
        #[command(subcommand)]
        command: TuneCommand,
    },
    /// Debug Lua scripts from an editor: a Debug Adapter Protocol server over stdio, or
    /// over TCP on 127.0.0.1 with `--port`.
    Dap(DapArgs),
}

/// `llmspell tune ...`.
#[derive(Debug, Subcommand)]
pub enum TuneCommand {
    /// Read the limits, sysctls, CPU and io_uring settings that matter to the kernel and
    /// say what to change and why. Changes nothing.
    Check {
        /// Exit with code 1 when any check warns.
        #[arg(long)]
        strict: bool,
    },
}

/// `llmspell dap`.
#[derive(Clone, Debug, Args)]
pub struct DapArgs {
    /// Listen on 127.0.0.1:N instead of speaking over stdio (0 picks a free port; the
    /// address is printed on stdout). Sessions are served one after another.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
}

/// `llmspell tool ...`.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// List the tools: name, category and description.
    List {
        /// Only the tools of this category.
        #[arg(long, value_name = "C")]
        category: Option<String>,
    },
    /// Describe one tool, with the JSON Schema of its parameters.
    Info {
        /// The tool.
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Find tools by name, description and category, best first.
    Search {
        /// The words to look for.
        #[arg(value_name = "QUERY", required = true, num_args = 1..)]
        query: Vec<String>,
        /// Most results.
        #[arg(long, value_name = "N", default_value_t = 10)]
        limit: usize,
    },
    /// Run a tool and print its result.
    Invoke(InvokeArgs),
}

/// `llmspell tool invoke`.
#[derive(Clone, Debug, Args)]
pub struct InvokeArgs {
    /// The tool.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The parameters: a JSON object, `-` to read it from stdin, or `@FILE`.
    #[arg(
        long,
        value_name = "JSON",
        default_value = "{}",
        allow_hyphen_values = true
    )]
    pub params: String,

    /// Abandon the tool after this many milliseconds (default: its configured timeout).
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub timeout_ms: Option<u64>,
}

/// A stress scenario of the performance guide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every scenario, in the guide's order.
    All,
    /// 1,000 tool lists.
    RapidList,
    /// 100 info requests for every tool.
    RegistryStress,
    /// 500 calculator invocations.
    RapidInvoke,
    /// 10,000 calculator invocations, RSS at start and end.
    Sustained,
    /// 500 searches.
    RapidSearch,
    /// Invocations with a 1 MB JSON input.
    LargePayload,
    /// 100 valid and 100 invalid calls, interleaved.
    ErrorRecovery,
}

/// `llmspell stress`.
#[derive(Clone, Debug, Args)]
pub struct StressArgs {
    /// Run against this kernel over ZeroMQ (a TARGET as for `--connect`); default:
    /// in-process.
    #[arg(long, value_name = "TARGET")]
    pub remote: Option<String>,

    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    pub scenario: Scenario,

    /// Multiply every scenario's operation count by this (e.g. 0.01 for a smoke test).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,

    /// Stop a scenario after this many seconds, whatever its count.
    #[arg(long, value_name = "S", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub time_limit_s: u64,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 100.0 => Ok(f),
        _ => Err(format!("{text:?} is not a number above 0 and at most 100")),
    }
}

/// `llmspell kernel ...`.
#[derive(Debug, Subcommand)]
pub enum KernelCommand {
    /// Start a kernel (Jupyter runs `llmspell kernel start -f {connection_file}`).
    Start(StartArgs),
    /// List the running kernels.
    Status,
    /// Stop a running kernel (SIGTERM, then SIGKILL after 5 s).
    Stop(StopArgs),
    /// Install the Jupyter kernelspec.
    Install(InstallArgs),
    /// Send every later tool command to this kernel, until `kernel disconnect`.
    Connect(ConnectArgs),
    /// Forget the kernel saved by `kernel connect`: tool commands run in-process again.
    Disconnect,
}

/// `llmspell kernel connect`.
#[derive(Clone, Debug, Args)]
pub struct ConnectArgs {
    /// A connection file, a kernel id (or prefix) from `kernel status`, or HOST:PORT
    /// (a registered kernel's shell port).
    #[arg(value_name = "TARGET")]
    pub target: String,
}

/// The transport of a new connection file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// TCP on `--ip`.
    Tcp,
    /// Unix domain sockets under the path prefix `--ip`.
    Ipc,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Transport {
        match t {
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::Ipc => Transport::Ipc,
        }
    }
}

/// The server edition that runs a kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeArg {
    /// The portable server (tokio): Linux and macOS.
    #[default]
    Tokio,
    /// The thread-per-core server (glommio, io_uring): Linux only, one pinned shard per CPU.
    Glommio,
}

/// `llmspell kernel start`.
#[derive(Clone, Debug, Args)]
pub struct StartArgs {
    /// Connection file: read if it exists, else generated and written there.
    #[arg(short = 'f', long = "connection-file", value_name = "PATH")]
    pub connection_file: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1]; with ipc, the socket path prefix
    /// [default: <runtime dir>/kernel-<id>].
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,

    /// First of five consecutive ports (shell, iopub, stdin, control, hb); 0 lets the OS choose.
    #[arg(long, value_name = "BASE", default_value_t = 0)]
    pub port: u16,

    /// Transport of a generated connection file.
    #[arg(long, value_enum, default_value_t = TransportArg::Tcp)]
    pub transport: TransportArg,

    /// Run detached in the background; print its id, pid and files, then exit.
    #[arg(long)]
    pub daemon: bool,

    /// Largest accepted message, in MiB [default: `[kernel] max_message_size_mb` of the
    /// configuration, else 100].
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=1_048_576)
    )]
    pub max_message_size_mb: Option<u64>,

    /// Serve Prometheus metrics at http://127.0.0.1:N/metrics [default: `[kernel]
    /// metrics_port` of the configuration; 0 or unset: off].
    #[arg(long, value_name = "N")]
    pub metrics_port: Option<u16>,

    /// Write logs to this file (appending) instead of stderr.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// The server edition [default: `[kernel] runtime` of the configuration, else tokio].
    #[arg(long, value_enum)]
    pub runtime: Option<RuntimeArg>,

    /// glommio: one shard pinned to each of these CPUs, e.g. `0,1` or `0-3` [default:
    /// every CPU the process may use].
    #[arg(long, value_name = "LIST", conflicts_with = "cores")]
    pub cpus: Option<String>,

    /// glommio: one shard on each of the first N CPUs the process may use.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cores: Option<u32>,

    /// The registry id to use (set by `--daemon` for the detached child).
    #[arg(long, hide = true, value_name = "ID")]
    pub kernel_id: Option<String>,

    /// A pid file to write and remove on exit (set by `--daemon` for the detached child).
    #[arg(long, hide = true, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
}

/// `llmspell kernel stop`.
#[derive(Clone, Debug, Args)]
pub struct StopArgs {
    /// The kernel id, or an unambiguous prefix of it; may be left out when only one
    /// kernel is running.
    #[arg(value_name = "ID")]
    pub id: Option<String>,

    /// Stop every running kernel.
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
}

/// `llmspell kernel install`.
#[derive(Clone, Debug, Args)]
pub struct InstallArgs {
    /// Install for the current user (the default).
    #[arg(long, conflicts_with_all = ["prefix", "sys_prefix"])]
    pub user: bool,

    /// Install under DIR/share/jupyter.
    #[arg(long, value_name = "DIR", conflicts_with = "sys_prefix")]
    pub prefix: Option<PathBuf>,

    /// Install into the active virtualenv or conda environment.
    #[arg(long)]
    pub sys_prefix: bool,

    /// The kernelspec name (letters, digits, `.`, `_`, `-`).
    #[arg(long, default_value = "llmspell")]
    pub name: String,

    /// The name Jupyter shows.
    #[arg(long, default_value = "Lua (llmspell)")]
    pub display_name: String,
}

/// `llmspell exec`.
#[derive(Clone, Debug, Args)]
pub struct ExecArgs {
    /// The Lua code, or `-` to read it from stdin.
    #[arg(value_name = "CODE", allow_hyphen_values = true)]
    pub code: String,
}

/// `llmspell run`.
#[derive(Clone, Debug, Args)]
#[command(override_usage = "llmspell run [OPTIONS] <FILE> [ARGS]...")]
pub struct RunArgs {
    /// The Lua script, then its arguments (its `arg` table). Everything after FILE goes
    /// to the script, flags included.
    #[arg(
        value_name = "FILE [ARGS]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub script: Vec<String>,
}

impl RunArgs {
    /// The script file.
    pub fn file(&self) -> &str {
        // clap guarantees at least one value (`required`, `num_args = 1..`).
        self.script.first().map_or("", String::as_str)
    }

    /// The script's arguments.
    pub fn args(&self) -> &[String] {
        self.script.get(1..).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_passes_flags_after_the_file_to_the_script() {
        let cli = Cli::try_parse_from(["llmspell", "run", "a.lua", "--output", "x", "-v"])
            .expect("valid command line");
        match cli.command {
            Command::Run(r) => {
                assert_eq!(r.file(), "a.lua");
                assert_eq!(r.args(), ["--output", "x", "-v"]);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert_eq!(cli.output, OutputFormat::Text);
        let cli = Cli::try_parse_from(["llmspell", "--output", "json", "run", "a.lua"]).unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
        assert!(Cli::try_parse_from(["llmspell", "run"]).is_err());
    }

    #[test]
    fn tool_commands_parse() {
        let cli = Cli::try_parse_from([
            "llmspell",
            "tool",
            "invoke",
            "calculator",
            "--params",
            r#"{"input":"2+2"}"#,
            "--timeout-ms",
            "50",
            "--output",
            "json",
        ])
        .expect("valid command line");
        assert_eq!(cli.output, OutputFormat::Json);
        match cli.command {
            Command::Tool {
                command: ToolCommand::Invoke(a),
            } => {
                assert_eq!(a.name, "calculator");
                assert_eq!(a.params, r#"{"input":"2+2"}"#);
                assert_eq!(a.timeout_ms, Some(50));
            }
            other => panic!("parsed as {other:?}"),
        }
        let cli = Cli::try_parse_from(["llmspell", "tool", "search", "hash", "file"]).unwrap();
        assert!(matches!(cli.command, Command::Tool {
            command: ToolCommand::Search { ref query, limit: 10 }
        } if query == &["hash", "file"]));
        let cli = Cli::try_parse_from(["llmspell", "--connect", "ab12", "tool", "list"]).unwrap();
        assert_eq!(cli.connect.as_deref(), Some("ab12"));
        for bad in [
            &["llmspell", "tool", "invoke"][..],
            &["llmspell", "tool", "invoke", "x", "--timeout-ms", "0"],
            &["llmspell", "tool", "search"],
            &["llmspell", "stress", "--scale", "0"],
            &["llmspell", "stress", "--scenario", "nope"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
        let cli =
            Cli::try_parse_from(["llmspell", "stress", "--scenario", "rapid-invoke"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Stress(StressArgs {
                scenario: Scenario::RapidInvoke,
                ..
            })
        ));
    }

    #[test]
    fn dap_takes_an_optional_port() {
        let cli = Cli::try_parse_from(["llmspell", "dap"]).expect("stdio");
        assert!(matches!(cli.command, Command::Dap(DapArgs { port: None })));
        let cli = Cli::try_parse_from(["llmspell", "dap", "--port", "4711"]).expect("tcp");
        assert!(matches!(
            cli.command,
            Command::Dap(DapArgs { port: Some(4711) })
        ));
        assert!(Cli::try_parse_from(["llmspell", "dap", "--port", "x"]).is_err());
    }

    #[test]
    fn install_locations_are_exclusive() {
        let err = Cli::try_parse_from(["llmspell", "kernel", "install", "--user", "--sys-prefix"])
            .expect_err("conflicting flags");
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn stop_takes_an_id_or_all_but_not_both() {
        assert!(Cli::try_parse_from(["llmspell", "kernel", "stop"]).is_ok());
        assert!(Cli::try_parse_from(["llmspell", "kernel", "stop", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["llmspell", "kernel", "stop", "ab", "--all"]).is_err());
    }
}
