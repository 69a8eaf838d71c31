//! `llmspell kernel start` in the foreground: the kernel process itself, whether a user,
//! `--daemon` or Jupyter (`kernel start -f {connection_file}`) started it.
//!
//! Steps: read or generate the connection info, bind, write the connection file with the
//! real ports, register, serve until shutdown or SIGTERM, then remove what we wrote.
//! The kernel process never writes to stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use llmspell_core::connection::ConnectionInfo;
use llmspell_core::metrics::{CountedHost, Metrics};
use llmspell_core::tools::ToolHostRef;
use llmspell_runtime_tokio::{RunOutcome, Server, ServerConfig};

use crate::cli::{RuntimeArg, StartArgs};
use crate::config::Config;
use crate::connfile::{self, ConnectionRequest};
use crate::error::{CliError, ErrorKind};
use crate::registry::{self, KernelRecord, Ports, Registry};
use crate::{fsutil, metrics_server, paths, process};

/// Runs a kernel until it is told to stop. Returns the exit code (0 on shutdown or SIGTERM).
pub fn start_foreground(args: &StartArgs, config_path: Option<&Path>) -> Result<i32, CliError> {
    let config = crate::config::Config::load_from_process(config_path)?;
    redirect_stdout_to_stderr();
    // Jupyter names the connection file; the registry is then a convenience that must not
    // keep the kernel from starting (say, in a read-only home).
    let registry = match (paths::ensure_runtime_dir(), &args.connection_file) {
        (Ok(dir), _) => Some(Registry::new(dir)),
        (Err(e), Some(_)) => {
            tracing::warn!("running without a registry record: {e}");
            None
        }
        (Err(e), None) => return Err(e),
    };
    let id = match &args.kernel_id {
        Some(id) if registry::is_valid_id(id) => id.clone(),
        Some(id) => {
            return Err(CliError::usage(format!(
                "--kernel-id {id:?} is not a hex id"
            )))
        }
        None => match &registry {
            Some(registry) => registry.new_id()?,
            None => fsutil::random_hex(4)
                .map_err(|e| CliError::new(ErrorKind::Runtime, e.to_string()))?,
        },
    };
    let conn_path = match (&args.connection_file, &registry) {
        (Some(path), _) => paths::absolutize(path)?,
        (None, Some(registry)) => registry.connection_file(&id),
        // Without -f the runtime dir was required above.
        (None, None) => return Err(CliError::new(ErrorKind::Runtime, "no runtime directory")),
    };
    // Where a default ipc socket prefix goes: the runtime dir, else beside the connection file.
    let socket_dir = match &registry {
        Some(registry) => registry.dir().to_path_buf(),
        None => conn_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let (info, created) = match connfile::read_if_exists(&conn_path)? {
        Some(info) => (info, false),
        None => {
            let request = ConnectionRequest {
                ip: args.ip.clone(),
                base_port: args.port,
                transport: args.transport.into(),
            };
            let info = connfile::generate(&request, &socket_dir, &id, connfile::random_key()?)?;
            (info, true)
        }
    };
    let max_message_size_mb = args
        .max_message_size_mb
        .unwrap_or(config.kernel.max_message_size_mb);
    let max_message_size = max_message_size_mb.checked_mul(1 << 20).ok_or_else(|| {
        CliError::usage(format!(
            "max message size {max_message_size_mb} MiB is too large"
        ))
    })?;
    let mut tools = crate::host::embedded_host(config.host_config());
    let metrics_port = args.metrics_port.unwrap_or(config.kernel.metrics_port);
    let metrics = if metrics_port == 0 {
        None
    } else {
        let names: Vec<&str> = tools.registry().list(None).iter().map(|s| s.name).collect();
        let metrics = Arc::new(Metrics::new(names));
        tools = Arc::new(CountedHost::new(tools, metrics.clone()));
        let addr = metrics_server::serve(metrics_port, vec![metrics.clone()]).map_err(|e| {
            CliError::new(
                ErrorKind::Runtime,
                format!("cannot serve metrics on 127.0.0.1:{metrics_port}: {e}"),
            )
        })?;
        tracing::info!(%addr, "serving Prometheus metrics at /metrics");
        Some(metrics)
    };
    let runtime = args.runtime.unwrap_or(config.kernel.runtime);
    let served = Served {
        connection: info.clone(),
        max_message_size,
        tools: ToolHostRef(tools),
        metrics,
    };
    let server = bind(runtime, args, &config, served).map_err(|e| {
        match e.kind() {
            // Bad --cpus, --cores, or a combination the runtime does not take.
            std::io::ErrorKind::InvalidInput => CliError::usage(e.to_string()),
            // The glommio edition's own error says what is missing and names --runtime tokio.
            std::io::ErrorKind::Unsupported => CliError::new(ErrorKind::Runtime, e.to_string()),
            _ => CliError::new(
                ErrorKind::Runtime,
                format!("cannot bind {}: {e}", describe(&info)),
            ),
        }
    })?;
    let bound = server.connection_info().clone();

    let mut cleanup = Cleanup {
        files: Vec::new(),
        sockets: registry::ipc_socket_paths(
            &bound.ip,
            bound.transport,
            &Ports::of(&bound).to_list(),
        ),
    };
    // Our own file gets the real ports; Jupyter's is rewritten only if it left ports to us.
    if created || bound != info {
        connfile::write(&conn_path, &bound)?;
    }
    if created {
        cleanup.files.push(conn_path.clone());
    }
    if let Some(pid_file) = &args.pid_file {
        let pid_file = paths::absolutize(pid_file)?;
        fsutil::write_atomic(
            &pid_file,
            format!("{}\n", std::process::id()).as_bytes(),
            0o600,
        )
        .map_err(|e| CliError::io(format_args!("cannot write {}", pid_file.display()), e))?;
        cleanup.files.push(pid_file);
    }
    let record = KernelRecord {
        id: id.clone(),
        pid: std::process::id(),
        connection_file: conn_path.clone(),
        log_file: args
            .log_file
            .as_deref()
            .map(paths::absolutize)
            .transpose()?,
        ip: bound.ip.clone(),
        transport: bound.transport,
        ports: Ports::of(&bound),
        started_unix_ms: process::now_unix_ms(),
        created_connection_file: created,
    };
    if let Some(registry) = &registry {
        match registry.write(&record) {
            Ok(()) => cleanup.files.push(registry.record_path(&id)),
            // Launched by Jupyter: serve anyway. A daemon's parent waits for the record.
            Err(e) if args.connection_file.is_some() && args.pid_file.is_none() => {
                tracing::warn!("running without a registry record: {e}");
            }
            Err(e) => return Err(e),
        }
    }

    tracing::info!(%id, pid = record.pid, connection_file = %conn_path.display(), "kernel listening on {}", describe(&bound));
    let _ = writeln!(
        std::io::stderr(),
        "llmspell kernel {id} (pid {}) listening; connection file: {}",
        record.pid,
        conn_path.display()
    );

    let outcome = server.run();
    drop(cleanup);
    match outcome {
        Ok(RunOutcome::Terminated) => {
            tracing::info!(%id, "kernel terminated by signal");
            Ok(0)
        }
        Ok(RunOutcome::Shutdown { restart }) => {
            // Jupyter restarts a kernel by starting a new process; we only exit.
            tracing::info!(%id, restart, "kernel shut down on request");
            Ok(0)
        }
        Err(e) => Err(CliError::new(
            ErrorKind::Runtime,
            format!("kernel {id} failed: {e}"),
        )),
    }
}

/// A bound server of either edition.
enum AnyServer {
    Tokio(Server),
    Glommio(llmspell_runtime_glommio::Server),
}

impl AnyServer {
    fn connection_info(&self) -> &ConnectionInfo {
        match self {
            AnyServer::Tokio(s) => s.connection_info(),
            AnyServer::Glommio(s) => s.connection_info(),
        }
    }

    fn run(self) -> std::io::Result<RunOutcome> {
        use llmspell_runtime_glommio::RunOutcome as G;
        match self {
            AnyServer::Tokio(s) => s.run(),
            AnyServer::Glommio(s) => s.run().map(|outcome| match outcome {
                G::Shutdown { restart } => RunOutcome::Shutdown { restart },
                G::Terminated => RunOutcome::Terminated,
            }),
        }
    }
}

/// Binds the server of `runtime`; `--cpus` and `--cores` apply to glommio only.
/// What both editions serve, whichever binds.
struct Served {
    connection: ConnectionInfo,
    max_message_size: u64,
    tools: ToolHostRef,
    metrics: Option<Arc<Metrics>>,
}

fn bind(
    runtime: RuntimeArg,
    args: &StartArgs,
    config: &Config,
    served: Served,
) -> Result<AnyServer, std::io::Error> {
    let Served {
        connection,
        max_message_size,
        tools,
        metrics,
    } = served;
    use llmspell_runtime_glommio::Shards;
    let usage = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    match runtime {
        RuntimeArg::Tokio => {
            if args.cpus.is_some() || args.cores.is_some() {
                return Err(usage(
                    "--cpus and --cores pin the shards of --runtime glommio; the tokio runtime \
                     has none"
                        .into(),
                ));
            }
            Server::bind(ServerConfig {
                connection,
                max_message_size,
                tools: Some(tools),
                metrics,
                limits: config.limits(),
                sockets: config.socket_options(),
                max_queue: config.max_queue(),
            })
            .map(AnyServer::Tokio)
        }
        RuntimeArg::Glommio => {
            let limits = config.limits();
            let sockets = config.socket_options();
            let max_queue = config.max_queue();
            let mut config = llmspell_runtime_glommio::ServerConfig::new(connection);
            config.max_message_size = max_message_size;
            config.tools = Some(tools);
            config.metrics = metrics;
            config.sockets = llmspell_runtime_glommio::SocketOptions {
                send_buffer: sockets.sndbuf.map(|n| n as usize),
                recv_buffer: sockets.rcvbuf.map(|n| n as usize),
                // The glommio edition counts connections on all channels together: five
                // per client.
                max_connections: (limits.max_clients > 0).then(|| limits.max_clients * 5),
                linger: Some(sockets.linger()),
                sndhwm: (limits.sndhwm > 0).then_some(limits.sndhwm),
                idle_timeout: limits
                    .idle_timeout_micros
                    .map(std::time::Duration::from_micros),
            };
            config.max_queue = max_queue;
            config.shards = match (&args.cpus, args.cores) {
                (Some(list), _) => Shards::Cpus(
                    Shards::parse_cpu_list(list).map_err(|e| usage(format!("--cpus: {e}")))?,
                ),
                (None, Some(n)) => Shards::Count(n as usize),
                (None, None) => Shards::AllowedCpus,
            };
            let server = llmspell_runtime_glommio::Server::bind(config)?;
            tracing::info!(cpus = ?server.cpus(), "glommio shards pinned");
            Ok(AnyServer::Glommio(server))
        }
    }
}

/// `tcp://127.0.0.1:5000-5004` or `ipc:///path-1..5`, for messages.
fn describe(info: &ConnectionInfo) -> String {
    format!(
        "{}://{}:{}",
        transport_name(info),
        info.ip,
        connfile::describe_ports(info)
    )
}

fn transport_name(info: &ConnectionInfo) -> &'static str {
    match info.transport {
        llmspell_core::connection::Transport::Tcp => "tcp",
        llmspell_core::connection::Transport::Ipc => "ipc",
    }
}

/// Files removed when the kernel exits: on return, on error and on panic (unwinding).
#[derive(Default)]
struct Cleanup {
    /// Our files, removed last-written first (the registry record goes first).
    files: Vec<PathBuf>,
    /// Our ipc sockets, removed only if they still are sockets.
    sockets: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for path in self.files.iter().rev() {
            log_failure(path, fsutil::remove_if_exists(path));
        }
        for path in &self.sockets {
            log_failure(path, fsutil::remove_socket_if_exists(path));
        }
    }
}

fn log_failure(path: &Path, result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove kernel file");
    }
}

/// Points fd 1 at stderr, so that nothing in the kernel process (a library, a stray print)
/// can write to stdout, which belongs to whoever launched us.
fn redirect_stdout_to_stderr() {
    // SAFETY: dup2 on the standard descriptors; it does not touch memory.
    if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } == -1 {
        tracing::warn!(
            "cannot redirect stdout: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn cleanup_removes_its_files_in_reverse_and_tolerates_missing_ones() {
        let tmp = TempDir::new("start");
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::write(&a, "a").unwrap();
        {
            let mut c = Cleanup::default();
            c.files.push(a.clone());
            c.files.push(b.clone());
        }
        assert!(!a.exists() && !b.exists());
    }

    #[test]
    fn describe_endpoints() {
        let info = connfile::generate(
            &ConnectionRequest {
                ip: None,
                base_port: 5000,
                transport: llmspell_core::connection::Transport::Tcp,
            },
            Path::new("/r"),
            "ab",
            "k".into(),
        )
        .unwrap();
        assert_eq!(describe(&info), "tcp://127.0.0.1:5000-5004");
    }
}
