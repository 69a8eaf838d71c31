//! `llmspell.toml`: the configuration file, with environment overrides.
//!
//! The file comes from `--config FILE` (or `LLMSPELL_CONFIG`, which clap reads into the
//! same flag); without one, every setting has its default. Then each environment variable
//! `LLMSPELL_<SECTION>_<KEY>` overrides one setting, e.g. `LLMSPELL_TOOLS_CACHE_ENABLED=false`,
//! `LLMSPELL_KERNEL_MAX_MESSAGE_SIZE_MB=5`, `LLMSPELL_TRANSPORT_ZEROMQ_LINGER=0`,
//! `LLMSPELL_TOOLS_TIMEOUTS_HTTP_REQUESTER=2000` (tool names with `_` for `-`). Lists split
//! on `:` for paths (`LLMSPELL_TOOLS_ALLOWED_PATHS=/a:/b`) and on `,` for the rest (hosts
//! may carry a port). Other `LLMSPELL_*` variables (`LLMSPELL_RUNTIME_DIR`, ...) are not
//! settings and are left alone.
//!
//! ```toml
//! [kernel]
//! max_message_size_mb = 100     # largest accepted message
//! max_concurrent_clients = 0    # connections per channel (one client each); 0: no limit
//! idle_timeout_seconds = 0      # close connections silent this long; 0: never
//! metrics_port = 0              # Prometheus text on 127.0.0.1:PORT/metrics; 0: off
//! runtime = "tokio"             # or "glommio" (Linux io_uring); `kernel start --runtime`
//!
//! [transport.zeromq]            # the kernel's sockets, and sndbuf/rcvbuf also the remote client's
//! sndbuf = 1048576              # SO_SNDBUF of accepted streams; unset or <= 0: the OS's
//! rcvbuf = 1048576              # SO_RCVBUF, likewise
//! linger = 0                    # ms unsent replies may delay exit; -1: until sent (max 60 s); unset: 500
//! sndhwm = 1000                 # messages queued for a peer that does not read; beyond: dropped; 0/unset: no bound
//! rcvhwm = 1000                 # shell requests queued for the engine; 0: no bound; unset: 10000
//!
//! [tools]
//! cache_enabled = true
//! cache_size_mb = 100
//! cache_ttl_seconds = 300
//! default_timeout_ms = 30000
//! allowed_paths = ["./data"]    # relative to this file; empty: no file access
//! process_enabled = false
//! process_allowlist = ["ls", "echo"]
//! http_allowed_hosts = ["example.com"]
//! env_allowlist = []            # empty: all but secret-looking names
//! max_params_bytes = 104857600  # default: [kernel] max_message_size_mb
//! workers = 0                   # 0: one per CPU
//!
//! [tools.timeouts]
//! http-requester = 10000
//! ```
//!
//! An unknown key is an error naming the key and the file; a value of the wrong type is
//! the TOML error with its line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llmspell_core::hub::{Limits, SocketOptions};
use llmspell_core::tools::cache::CacheConfig;
use llmspell_core::tools::Policy;
use serde::Deserialize;

use crate::error::{CliError, ErrorKind};
use crate::host::HostConfig;

const MIB: u64 = 1 << 20;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[kernel]`.
    pub kernel: KernelConfig,
    /// `[transport]`.
    pub transport: TransportConfig,
    /// `[tools]`.
    pub tools: ToolsConfig,
}

/// `[kernel]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KernelConfig {
    /// Largest accepted message, in MiB (1 to 1,048,576).
    pub max_message_size_mb: u64,
    /// Most clients at once; 0 is no limit.
    pub max_concurrent_clients: u32,
    /// Seconds before an idle connection is closed; 0 is never.
    pub idle_timeout_seconds: u64,
    /// Serve Prometheus metrics on 127.0.0.1 at this port; 0 is off.
    pub metrics_port: u16,
    /// The server edition of `kernel start` when `--runtime` is not given.
    pub runtime: crate::cli::RuntimeArg,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            max_message_size_mb: 100,
            max_concurrent_clients: 0,
            idle_timeout_seconds: 0,
            metrics_port: 0,
            runtime: crate::cli::RuntimeArg::Tokio,
        }
    }
}

/// `[transport]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportConfig {
    /// `[transport.zeromq]`.
    pub zeromq: ZeromqConfig,
}

/// `[transport.zeromq]`: the kernel's socket options (both server editions), and the
/// buffer sizes of the remote client's sockets (`--connect`, `kernel connect`,
/// `stress --remote`). `None` keeps the default. The names are libzmq's, so that a
/// config written for libzmq-based kernels loads; see [`Config::limits`],
/// [`Config::socket_options`] and [`Config::max_queue`] for what each becomes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZeromqConfig {
    /// `SO_SNDBUF` (libzmq's `ZMQ_SNDBUF`), bytes.
    pub sndbuf: Option<i32>,
    /// `SO_RCVBUF` (libzmq's `ZMQ_RCVBUF`), bytes.
    pub rcvbuf: Option<i32>,
    /// How long unsent replies may delay the kernel's exit, ms (libzmq's `ZMQ_LINGER`).
    pub linger: Option<i32>,
    /// Messages queued for a peer that does not read before more are dropped
    /// (libzmq's `ZMQ_SNDHWM`).
    pub sndhwm: Option<i32>,
    /// Shell requests queued for the engine (libzmq's `ZMQ_RCVHWM`).
    pub rcvhwm: Option<i32>,
}

/// `[tools]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Whether results of cacheable tools are cached.
    pub cache_enabled: bool,
    /// Most MiB of cached results.
    pub cache_size_mb: u64,
    /// How long a cached result stays valid.
    pub cache_ttl_seconds: u64,
    /// Timeout of a tool without one of its own, in ms.
    pub default_timeout_ms: u64,
    /// Directories file tools may use (relative ones are relative to the config file).
    pub allowed_paths: Vec<PathBuf>,
    /// Whether process-executor may run anything.
    pub process_enabled: bool,
    /// Programs process-executor may run.
    pub process_allowlist: Vec<String>,
    /// Hosts http-requester may reach.
    pub http_allowed_hosts: Vec<String>,
    /// Environment variables environment-reader may read.
    pub env_allowlist: Vec<String>,
    /// Largest parameters object, in bytes; default: `[kernel] max_message_size_mb`.
    pub max_params_bytes: Option<usize>,
    /// Worker threads for blocking tools and batches; 0 or unset: one per CPU.
    pub workers: Option<usize>,
    /// `[tools.timeouts]`: per-tool timeouts in ms, by tool name.
    pub timeouts: BTreeMap<String, u64>,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig {
            cache_enabled: true,
            cache_size_mb: 100,
            cache_ttl_seconds: 300,
            default_timeout_ms: 30_000,
            allowed_paths: Vec::new(),
            process_enabled: false,
            process_allowlist: Vec::new(),
            http_allowed_hosts: Vec::new(),
            env_allowlist: Vec::new(),
            max_params_bytes: None,
            workers: None,
            timeouts: BTreeMap::new(),
        }
    }
}

fn config_error(message: impl Into<String>) -> CliError {
    CliError::new(ErrorKind::Config, message)
}

impl Config {
    /// Loads the file at `path` (if any), then applies the overrides among `vars` (the
    /// process environment, as name and value).
    pub fn load<I>(path: Option<&Path>, vars: I) -> Result<Config, CliError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut config = match path {
            Some(path) => Config::read_file(path)?,
            None => Config::default(),
        };
        for (name, value) in vars {
            config.apply_env(&name, &value)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Loads with the process environment (variables that are not UTF-8 are skipped).
    pub fn load_from_process(path: Option<&Path>) -> Result<Config, CliError> {
        let vars = std::env::vars_os().filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            if !name.starts_with("LLMSPELL_") {
                return None;
            }
            Some((name, value.into_string().ok()?))
        });
        Config::load(path, vars)
    }

    /// Parses a file; relative `allowed_paths` are made relative to its directory.
    pub fn read_file(path: &Path) -> Result<Config, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            config_error(format!("cannot read config file {}: {e}", path.display()))
        })?;
        let mut config = Config::parse(&text).map_err(|e| {
            config_error(format!("config file {}: {}", path.display(), e.trim_end()))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in &mut config.tools.allowed_paths {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }

    /// Parses TOML text: the toml crate's message, with line and column, on failure.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies `LLMSPELL_<SECTION>_<KEY>=value`; other variables are ignored.
    pub fn apply_env(&mut self, name: &str, value: &str) -> Result<(), CliError> {
        let Some(rest) = name.strip_prefix("LLMSPELL_") else {
            return Ok(());
        };
        let (section, key) = if let Some(tool) = rest.strip_prefix("TOOLS_TIMEOUTS_") {
            let tool = tool.to_ascii_lowercase().replace('_', "-");
            let ms = parse_u64(value).map_err(|e| env_error(name, value, &e))?;
            self.tools.timeouts.insert(tool, ms);
            return Ok(());
        } else if let Some(key) = rest.strip_prefix("TRANSPORT_ZEROMQ_") {
            ("transport.zeromq", key)
        } else if let Some(key) = rest.strip_prefix("KERNEL_") {
            ("kernel", key)
        } else if let Some(key) = rest.strip_prefix("TOOLS_") {
            ("tools", key)
        } else {
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        self.set(section, &key, value)
            .map_err(|e| env_error(name, value, &e))
    }

    /// Sets one setting from its text form.
    fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), String> {
        let (k, z, t) = (
            &mut self.kernel,
            &mut self.transport.zeromq,
            &mut self.tools,
        );
        match (section, key) {
            ("kernel", "max_message_size_mb") => k.max_message_size_mb = parse_u64(value)?,
            ("kernel", "max_concurrent_clients") => {
                k.max_concurrent_clients = parse_num(value, "a count")?
            }
            ("kernel", "idle_timeout_seconds") => k.idle_timeout_seconds = parse_u64(value)?,
            ("kernel", "metrics_port") => k.metrics_port = parse_num(value, "a port")?,
            ("kernel", "runtime") => {
                k.runtime = clap::ValueEnum::from_str(value, true)
                    .map_err(|_| format!("{value:?} is not a runtime (tokio or glommio)"))?
            }
            ("transport.zeromq", "sndbuf") => z.sndbuf = Some(parse_num(value, "an integer")?),
            ("transport.zeromq", "rcvbuf") => z.rcvbuf = Some(parse_num(value, "an integer")?),
            ("transport.zeromq", "linger") => z.linger = Some(parse_num(value, "an integer")?),
            ("transport.zeromq", "sndhwm") => z.sndhwm = Some(parse_num(value, "an integer")?),
            ("transport.zeromq", "rcvhwm") => z.rcvhwm = Some(parse_num(value, "an integer")?),
            ("tools", "cache_enabled") => t.cache_enabled = parse_bool(value)?,
            ("tools", "cache_size_mb") => t.cache_size_mb = parse_u64(value)?,
            ("tools", "cache_ttl_seconds") => t.cache_ttl_seconds = parse_u64(value)?,
            ("tools", "default_timeout_ms") => t.default_timeout_ms = parse_u64(value)?,
            ("tools", "allowed_paths") => {
                t.allowed_paths = split_list(value, ':').map(PathBuf::from).collect()
            }
            ("tools", "process_enabled") => t.process_enabled = parse_bool(value)?,
            ("tools", "process_allowlist") => t.process_allowlist = strings(value),
            ("tools", "http_allowed_hosts") => t.http_allowed_hosts = strings(value),
            ("tools", "env_allowlist") => t.env_allowlist = strings(value),
            ("tools", "max_params_bytes") => {
                t.max_params_bytes = Some(parse_num(value, "a size in bytes")?)
            }
            ("tools", "workers") => t.workers = Some(parse_num(value, "a count")?),
            _ => return Err(format!("unknown setting {section}.{key}")),
        }
        Ok(())
    }

    /// Checks ranges that the types alone do not.
    fn validate(&self) -> Result<(), CliError> {
        let mb = self.kernel.max_message_size_mb;
        if !(1..=1_048_576).contains(&mb) {
            return Err(config_error(format!(
                "kernel.max_message_size_mb = {mb}: must be between 1 and 1048576"
            )));
        }
        let cache_bytes = self.tools.cache_size_mb.checked_mul(MIB);
        if cache_bytes.and_then(|b| usize::try_from(b).ok()).is_none() {
            return Err(config_error(format!(
                "tools.cache_size_mb = {} is too large",
                self.tools.cache_size_mb
            )));
        }
        if self.tools.default_timeout_ms == 0 {
            return Err(config_error("tools.default_timeout_ms must be above 0"));
        }
        if let Some((tool, _)) = self.tools.timeouts.iter().find(|(_, ms)| **ms == 0) {
            return Err(config_error(format!(
                "tools.timeouts.{tool} must be above 0"
            )));
        }
        Ok(())
    }

    /// The connection bounds of `[kernel]` and `[transport.zeromq]` for the hub.
    pub fn limits(&self) -> Limits {
        let z = &self.transport.zeromq;
        Limits {
            max_clients: self.kernel.max_concurrent_clients as usize,
            sndhwm: z.sndhwm.map_or(0, |n| n.max(0) as usize),
            idle_timeout_micros: (self.kernel.idle_timeout_seconds > 0)
                .then(|| self.kernel.idle_timeout_seconds.saturating_mul(1_000_000)),
        }
    }

    /// `[transport.zeromq]` sndbuf, rcvbuf (0 or below: the OS default, as in libzmq)
    /// and linger.
    pub fn socket_options(&self) -> SocketOptions {
        let z = &self.transport.zeromq;
        let positive = |v: Option<i32>| v.filter(|n| *n > 0);
        SocketOptions {
            sndbuf: positive(z.sndbuf),
            rcvbuf: positive(z.rcvbuf),
            linger_ms: z.linger,
        }
    }

    /// `[transport.zeromq] rcvhwm` as the most shell requests queued (0: no bound, as in
    /// libzmq); `None` when unset.
    pub fn max_queue(&self) -> Option<usize> {
        self.transport
            .zeromq
            .rcvhwm
            .map(|n| if n <= 0 { usize::MAX } else { n as usize })
    }

    /// The settings of the tool host: policy, cache, timeouts, size limit, workers.
    pub fn host_config(&self) -> HostConfig {
        let t = &self.tools;
        let workers = match t.workers {
            Some(n) if n > 0 => n,
            _ => cpu_count(),
        };
        HostConfig {
            policy: Policy {
                allowed_paths: t.allowed_paths.clone(),
                process_enabled: t.process_enabled,
                process_allowlist: t.process_allowlist.clone(),
                http_allowed_hosts: t.http_allowed_hosts.clone(),
                env_allowlist: t.env_allowlist.clone(),
            },
            cache: CacheConfig {
                enabled: t.cache_enabled,
                // validate() checked that this fits.
                max_bytes: usize::try_from(t.cache_size_mb.saturating_mul(MIB))
                    .unwrap_or(usize::MAX),
                ttl_secs: t.cache_ttl_seconds,
            },
            default_timeout_ms: t.default_timeout_ms,
            tool_timeouts_ms: t.timeouts.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            max_params_bytes: self.max_params_bytes(),
            workers,
        }
    }

    /// The largest parameters object, in bytes.
    pub fn max_params_bytes(&self) -> usize {
        self.tools.max_params_bytes.unwrap_or_else(|| {
            // validate() bounds the size to 1 TiB, which fits a 64-bit usize.
            usize::try_from(self.kernel.max_message_size_mb * MIB).unwrap_or(usize::MAX)
        })
    }
}

/// The CPUs this process may run on: one `sched_getaffinity` call. (The standard
/// library's `available_parallelism` also reads cgroup files, a dozen system calls that
/// a one-shot `tool invoke` does not need.)
#[cfg(target_os = "linux")]
pub fn cpu_count() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t of `size` bytes; pid 0 is this thread.
    let ok = unsafe { libc::sched_getaffinity(0, size, &mut set) } == 0;
    // SAFETY: CPU_COUNT reads the set filled above.
    let n = if ok {
        unsafe { libc::CPU_COUNT(&set) }
    } else {
        0
    };
    usize::try_from(n).ok().filter(|n| *n > 0).unwrap_or(1)
}

/// The CPUs this process may run on.
#[cfg(not(target_os = "linux"))]
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn env_error(name: &str, value: &str, why: &str) -> CliError {
    config_error(format!("environment variable {name}={value:?}: {why}"))
}

fn parse_u64(value: &str) -> Result<u64, String> {
    parse_num(value, "a non-negative integer")
}

fn parse_num<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, String> {
    value
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("expected {what}"))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_string()),
    }
}

fn split_list(value: &str, sep: char) -> impl Iterator<Item = &str> {
    value.split(sep).map(str::trim).filter(|s| !s.is_empty())
}

fn strings(value: &str) -> Vec<String> {
    split_list(value, ',').map(str::to_string).collect()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
