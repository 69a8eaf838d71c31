//! Settings of a glommio kernel server: the five channels, limits, and the CPUs its shards
//! run on. Everything here compiles on every target, so that callers can build a config
//! before they learn that the platform has no io_uring.

use llmspell_core::connection::ConnectionInfo;
use llmspell_core::tools::ToolHostRef;
use std::io;

/// Which CPUs get a shard: one pinned executor each. The first listed CPU's shard also
/// runs the kernel state machine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Shards {
    /// One shard on every CPU this process may run on (its affinity mask when the server
    /// is bound).
    #[default]
    AllowedCpus,
    /// One shard on each of these CPUs, in this order (`--cpus 0,1`). A CPU listed twice
    /// gets two shards, which share it: useful to try sharding on a small machine.
    Cpus(Vec<usize>),
    /// One shard on each of the first N CPUs this process may run on (`--cores N`).
    Count(usize),
}

impl Shards {
    /// Parses a CPU list as taskset writes it: `0,1`, `2-5`, `0,4-7`.
    pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
        let mut cpus = Vec::new();
        for part in list.split(',').map(str::trim) {
            let cpu = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("{s:?} in CPU list {list:?} is not a CPU number"))
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (cpu(a)?, cpu(b)?);
                    if a > b {
                        return Err(format!("CPU range {part:?} runs backwards"));
                    }
                    cpus.extend(a..=b);
                }
                None => cpus.push(cpu(part)?),
            }
        }
        Ok(cpus)
    }

    /// The CPUs to pin shards to, given the CPUs this process may use. Fails on an empty
    /// list, a CPU outside `allowed`, or more cores than there are.
    pub fn resolve(&self, allowed: &[usize]) -> Result<Vec<usize>, String> {
        let shown = || {
            allowed
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let cpus = match self {
            Shards::AllowedCpus => allowed.to_vec(),
            Shards::Cpus(list) => {
                for cpu in list {
                    if !allowed.contains(cpu) {
                        return Err(format!(
                            "CPU {cpu} is not available to this process (it may use {})",
                            shown()
                        ));
                    }
                }
                list.clone()
            }
            Shards::Count(n) if *n > allowed.len() => {
                return Err(format!(
                    "{n} cores asked for, but this process may use only {} ({})",
                    allowed.len(),
                    shown()
                ))
            }
            Shards::Count(n) => allowed[..*n].to_vec(),
        };
        if cpus.is_empty() {
            return Err("no CPU to run a shard on".into());
        }
        Ok(cpus)
    }
}

/// Options applied to every accepted socket and connection count. `None` keeps the
/// system's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// SO_SNDBUF of accepted sockets, in bytes.
    pub send_buffer: Option<usize>,
    /// SO_RCVBUF of accepted sockets, in bytes.
    pub recv_buffer: Option<usize>,
    /// Most connections open at once on all channels together; beyond it new connections
    /// are closed as soon as they are accepted.
    pub max_connections: Option<usize>,
    /// How long unsent replies may delay the exit; `None`: half a second.
    pub linger: Option<std::time::Duration>,
    /// Most messages queued for one peer that has not read what it was sent; beyond it
    /// new messages for that peer are dropped, as libzmq's ROUTER and XPUB do at their send
    /// high-water mark. `None` or 0: no bound.
    pub sndhwm: Option<usize>,
    /// Close a connection after this long without a byte either way; `None`: never.
    pub idle_timeout: Option<std::time::Duration>,
}

/// Settings of a kernel server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen and the signing key; ports of 0 are chosen at bind time.
    pub connection: ConnectionInfo,
    /// Largest accepted message in bytes (default 100 MiB).
    pub max_message_size: u64,
    /// The tools for `tool_request` and the Lua `Tool` API.
    pub tools: Option<ToolHostRef>,
    /// The CPUs the shards are pinned to.
    pub shards: Shards,
    /// Socket buffer sizes and the connection limit.
    pub sockets: SocketOptions,
    /// Where the kernel counts requests, durations and dropped messages; `None`: not
    /// counted.
    pub metrics: Option<std::sync::Arc<llmspell_core::metrics::Metrics>>,
    /// Most shell requests waiting at once; `None`: the kernel's default.
    pub max_queue: Option<usize>,
}

impl ServerConfig {
    /// A config for `connection` with the defaults: 100 MiB messages, no tools, one shard
    /// per allowed CPU, system socket options.
    pub fn new(connection: ConnectionInfo) -> Self {
        ServerConfig {
            connection,
            max_message_size: 100 << 20,
            tools: None,
            shards: Shards::AllowedCpus,
            sockets: SocketOptions::default(),
            metrics: None,
            max_queue: None,
        }
    }
}

/// How a server's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// A client sent shutdown_request.
    Shutdown {
        /// Whether the client asked for a restart.
        restart: bool,
    },
    /// SIGTERM (or SIGHUP) asked the process to stop.
    Terminated,
}

/// The error for a machine where the glommio edition cannot run, naming the way out.
pub(crate) fn unavailable(reason: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the glommio runtime cannot start: {reason}. It needs Linux 5.8 or later with \
             io_uring allowed (not disabled by the kernel.io_uring_disabled sysctl or a \
             seccomp filter) and a memlock limit (ulimit -l) of at least 512 KiB; \
             use `--runtime tokio` instead"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_as_taskset_writes_them() {
        assert_eq!(Shards::parse_cpu_list("0,1"), Ok(vec![0, 1]));
        assert_eq!(Shards::parse_cpu_list("2-4, 7"), Ok(vec![2, 3, 4, 7]));
        assert!(Shards::parse_cpu_list("1,x").is_err());
        assert!(Shards::parse_cpu_list("3-1").is_err());
        assert!(Shards::parse_cpu_list("").is_err());
    }

    #[test]
    fn shards_resolve_against_the_allowed_cpus() {
        let allowed = [0, 1, 3];
        assert_eq!(Shards::AllowedCpus.resolve(&allowed), Ok(vec![0, 1, 3]));
        assert_eq!(Shards::Count(2).resolve(&allowed), Ok(vec![0, 1]));
        assert_eq!(Shards::Cpus(vec![3, 0]).resolve(&allowed), Ok(vec![3, 0]));
        assert!(Shards::Cpus(vec![2])
            .resolve(&allowed)
            .unwrap_err()
            .contains("0,1,3"));
        assert_eq!(Shards::Cpus(vec![1, 1]).resolve(&allowed), Ok(vec![1, 1]));
        assert!(Shards::Cpus(vec![]).resolve(&allowed).is_err());
        assert!(Shards::Count(0).resolve(&allowed).is_err());
        assert!(Shards::Count(4).resolve(&allowed).is_err());
    }

    #[test]
    fn the_unavailable_error_names_the_tokio_runtime() {
        let e = unavailable("io_uring_setup: Operation not permitted");
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        let text = e.to_string();
        assert!(text.contains("Operation not permitted"), "{text}");
        assert!(text.contains("--runtime tokio"), "{text}");
    }
}
