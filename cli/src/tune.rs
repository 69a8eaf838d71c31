//! `llmspell tune check`: audits this machine for a latency-tuned kernel and says what to
//! change and why.
//!
//! Two halves, so that the judgement is testable without the machine:
//! - [`Facts::gather`] reads what it needs from a root directory (`/` in production, a fake
//!   tree in tests): `proc/sys/...` for sysctls, `sys/...` for CPUs and huge pages, plus the
//!   process limits and an `io_uring_setup` probe when the root is the real one.
//! - [`audit`] turns facts into [`Finding`]s, a pure function. The targets are those of the
//!   performance guide (sections 3.1-3.4) and of `tuning/sysctl.d/90-llmspell.conf`.
//!
//! Nothing here changes the machine; it only reads.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::cli::OutputFormat;
use crate::error::CliError;
use crate::output;

/// The guide's socket buffer ceiling: 16 MiB.
const BUFFER_MAX: u64 = 16 << 20;
/// The guide's connection backlog.
const SOMAXCONN: u64 = 1024;
/// The guide's production open-file limit.
const NOFILE: u64 = 8192;
/// The guide's swappiness for a latency-sensitive host.
const SWAPPINESS: u64 = 10;
/// io_uring (with the features glommio uses) needs Linux 5.8.
const IO_URING_KERNEL: (u32, u32) = (5, 8);

/// What was read off the machine. `None`: not there or unreadable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The soft and hard `RLIMIT_NOFILE`.
    pub nofile: Option<(u64, u64)>,
    /// The soft `RLIMIT_MEMLOCK` in bytes (`u64::MAX`: unlimited).
    pub memlock: Option<u64>,
    /// `net.core.somaxconn`.
    pub somaxconn: Option<u64>,
    /// `net.core.rmem_max`.
    pub rmem_max: Option<u64>,
    /// `net.core.wmem_max`.
    pub wmem_max: Option<u64>,
    /// The last (maximum) field of `net.ipv4.tcp_rmem`.
    pub tcp_rmem_max: Option<u64>,
    /// The last (maximum) field of `net.ipv4.tcp_wmem`.
    pub tcp_wmem_max: Option<u64>,
    /// `vm.swappiness`.
    pub swappiness: Option<u64>,
    /// `vm.overcommit_memory`.
    pub overcommit: Option<u64>,
    /// `kernel.io_uring_disabled` (absent before Linux 6.6: io_uring is on).
    pub io_uring_disabled: Option<u64>,
    /// The kernel release, e.g. `6.1.0-18-amd64`.
    pub kernel_release: Option<String>,
    /// Whether an `io_uring_setup` call succeeded: `Err` carries the OS error.
    /// `None` when not probed (a fake root).
    pub io_uring_probe: Option<Result<(), String>>,
    /// The scaling governor of each CPU that has cpufreq.
    pub governors: Vec<String>,
    /// `/sys/devices/system/cpu/isolated`, e.g. `2-3` (empty: none).
    pub isolated: Option<String>,
    /// `/sys/devices/system/cpu/online`, e.g. `0-3`.
    pub online: Option<String>,
    /// The selected mode of transparent huge pages (`always`, `madvise`, `never`).
    pub thp: Option<String>,
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Meets the target.
    Ok,
    /// Below the target: the advice says what to change.
    Warn,
    /// Nothing to fix, or nothing we could read: worth knowing.
    Info,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Info => "info",
        }
    }
}

/// One audited setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// A stable name, e.g. `net.core.somaxconn`.
    pub id: &'static str,
    /// What was found, as text (`unreadable` when it could not be read).
    pub value: String,
    /// The target, as text.
    pub target: String,
    /// The verdict.
    pub status: Status,
    /// What to do (empty when nothing).
    pub advice: String,
    /// Why it matters.
    pub why: &'static str,
}

impl Facts {
    /// Reads the facts under `root` (`/` for this machine). Limits and the io_uring probe
    /// are this process's own and are read only when `root` is `/`.
    pub fn gather(root: &Path) -> Facts {
        let read = |rel: &str| -> Option<String> {
            fs::read_to_string(root.join(rel))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let number = |rel: &str| read(rel).and_then(|s| s.parse::<u64>().ok());
        let last_field =
            |rel: &str| read(rel).and_then(|s| s.split_whitespace().last()?.parse::<u64>().ok());
        let real = root == Path::new("/");
        Facts {
            nofile: if real { nofile_limit() } else { None },
            memlock: if real { memlock_limit() } else { None },
            somaxconn: number("proc/sys/net/core/somaxconn"),
            rmem_max: number("proc/sys/net/core/rmem_max"),
            wmem_max: number("proc/sys/net/core/wmem_max"),
            tcp_rmem_max: last_field("proc/sys/net/ipv4/tcp_rmem"),
            tcp_wmem_max: last_field("proc/sys/net/ipv4/tcp_wmem"),
            swappiness: number("proc/sys/vm/swappiness"),
            overcommit: number("proc/sys/vm/overcommit_memory"),
            io_uring_disabled: number("proc/sys/kernel/io_uring_disabled"),
            kernel_release: read("proc/sys/kernel/osrelease"),
            io_uring_probe: if real { Some(probe_io_uring()) } else { None },
            governors: governors(root),
            isolated: read("sys/devices/system/cpu/isolated"),
            online: read("sys/devices/system/cpu/online"),
            thp: read("sys/kernel/mm/transparent_hugepage/enabled").and_then(|s| selected(&s)),
        }
    }
}

/// The bracketed word of a sysfs choice list: `always [madvise] never` gives `madvise`.
fn selected(list: &str) -> Option<String> {
    let start = list.find('[')?;
    let end = start + list[start..].find(']')?;
    Some(list[start + 1..end].to_string())
}

/// The scaling governors under `sys/devices/system/cpu/cpu*/cpufreq`, in CPU order.
fn governors(root: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(root.join("sys/devices/system/cpu")) else {
        return Vec::new();
    };
    let mut cpus: Vec<(u32, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("cpu")?.parse().ok()?;
            let gov = fs::read_to_string(e.path().join("cpufreq/scaling_governor")).ok()?;
            Some((n, gov.trim().to_string()))
        })
        .collect();
    cpus.sort();
    cpus.into_iter().map(|(_, g)| g).collect()
}

/// This process's soft and hard open-file limit; `u64::MAX` stands for unlimited.
fn nofile_limit() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct through a valid pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some((lim.rlim_cur, lim.rlim_max))
}

/// This process's soft locked-memory limit in bytes; `u64::MAX` stands for unlimited.
fn memlock_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct through a valid pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

/// Creates and closes a small io_uring: the only sure way to know that seccomp, a
/// container runtime or `kernel.io_uring_disabled` let this process use it.
#[cfg(target_os = "linux")]
fn probe_io_uring() -> Result<(), String> {
    // struct io_uring_params is 120 bytes; zeroed asks for defaults.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes the params struct we own; a returned fd
    // is ours and closed at once.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: fd is an open descriptor returned above and not used after.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn probe_io_uring() -> Result<(), String> {
    Err("io_uring exists only on Linux".into())
}

/// `6.1.0-18-amd64` gives `(6, 1)`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn shown(value: Option<u64>) -> String {
    match value {
        Some(u64::MAX) => "unlimited".into(),
        Some(v) => v.to_string(),
        None => "unreadable".into(),
    }
}

/// A check that a number is at least `target`.
fn at_least(
    id: &'static str,
    value: Option<u64>,
    target: u64,
    fix: String,
    why: &'static str,
) -> Finding {
    let status = match value {
        Some(v) if v >= target => Status::Ok,
        Some(_) => Status::Warn,
        None => Status::Info,
    };
    Finding {
        id,
        value: shown(value),
        target: format!(">= {target}"),
        status,
        advice: if status == Status::Warn {
            fix
        } else {
            String::new()
        },
        why,
    }
}

/// Judges the facts. The order is the guide's: limits, network, memory, CPUs, io_uring.
pub fn audit(f: &Facts) -> Vec<Finding> {
    let sysctl = |key: &str, value: u64| {
        format!("sysctl -w {key}={value} (persist: tuning/sysctl.d/90-llmspell.conf)")
    };
    let mut out = vec![
        at_least(
            "ulimit.nofile",
            f.nofile.map(|(soft, _)| soft),
            NOFILE,
            format!(
                "ulimit -n {NOFILE} (hard limit {}); systemd: LimitNOFILE=65536",
                shown(f.nofile.map(|(_, hard)| hard))
            ),
            "each client holds a socket per channel; running out gives 'Too many open files'",
        ),
        at_least(
            "net.core.somaxconn",
            f.somaxconn,
            SOMAXCONN,
            sysctl("net.core.somaxconn", SOMAXCONN),
            "the accept backlog: bursts of connecting clients beyond it are dropped or retried",
        ),
        at_least(
            "net.core.rmem_max",
            f.rmem_max,
            BUFFER_MAX,
            sysctl("net.core.rmem_max", BUFFER_MAX),
            "caps [transport.zeromq] rcvbuf: a larger receive buffer absorbs bursts of requests",
        ),
        at_least(
            "net.core.wmem_max",
            f.wmem_max,
            BUFFER_MAX,
            sysctl("net.core.wmem_max", BUFFER_MAX),
            "caps [transport.zeromq] sndbuf: iopub fan-out to slow clients needs room",
        ),
        at_least(
            "net.ipv4.tcp_rmem",
            f.tcp_rmem_max,
            BUFFER_MAX,
            format!("sysctl -w net.ipv4.tcp_rmem='4096 87380 {BUFFER_MAX}'"),
            "the autotuning ceiling of TCP receive buffers",
        ),
        at_least(
            "net.ipv4.tcp_wmem",
            f.tcp_wmem_max,
            BUFFER_MAX,
            format!("sysctl -w net.ipv4.tcp_wmem='4096 65536 {BUFFER_MAX}'"),
            "the autotuning ceiling of TCP send buffers",
        ),
    ];
    out.push(swappiness(f.swappiness));
    out.push(overcommit(f.overcommit));
    out.push(thp(f.thp.as_deref()));
    out.push(governor(&f.governors));
    out.push(isolated(f.isolated.as_deref(), f.online.as_deref()));
    out.push(io_uring(f));
    out.push(memlock(f.memlock));
    out
}

fn swappiness(value: Option<u64>) -> Finding {
    let status = match value {
        Some(v) if v <= SWAPPINESS => Status::Ok,
        Some(_) => Status::Warn,
        None => Status::Info,
    };
    Finding {
        id: "vm.swappiness",
        value: shown(value),
        target: format!("<= {SWAPPINESS}"),
        status,
        advice: if status == Status::Warn {
            format!("sysctl -w vm.swappiness={SWAPPINESS}")
        } else {
            String::new()
        },
        why: "a swapped-out Lua heap turns a microsecond reply into a page-in",
    }
}

fn overcommit(value: Option<u64>) -> Finding {
    Finding {
        id: "vm.overcommit_memory",
        value: shown(value),
        target: "2 on a dedicated host".into(),
        status: Status::Info,
        advice: match value {
            Some(2) | None => String::new(),
            Some(_) => "on a host that runs only kernels, vm.overcommit_memory=2 makes an \
                        allocation fail instead of the OOM killer ending the kernel; leave it \
                        on shared hosts"
                .into(),
        },
        why: "the guide's protection against the OOM killer (a trade-off, hence only advice)",
    }
}

fn thp(mode: Option<&str>) -> Finding {
    let status = match mode {
        Some("always") => Status::Warn,
        Some(_) => Status::Ok,
        None => Status::Info,
    };
    Finding {
        id: "transparent_hugepage",
        value: mode.unwrap_or("unreadable").into(),
        target: "madvise or never".into(),
        status,
        advice: if status == Status::Warn {
            "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (or boot with \
             transparent_hugepage=madvise)"
                .into()
        } else {
            String::new()
        },
        why: "with `always`, page faults may compact memory and khugepaged stalls show up as \
              p99 spikes",
    }
}

fn governor(governors: &[String]) -> Finding {
    let slow: Vec<&String> = governors.iter().filter(|g| *g != "performance").collect();
    let (value, status) = if governors.is_empty() {
        ("no cpufreq (a virtual machine?)".to_string(), Status::Info)
    } else if slow.is_empty() {
        ("performance".to_string(), Status::Ok)
    } else {
        let mut names: Vec<&str> = governors.iter().map(String::as_str).collect();
        names.dedup();
        (names.join(","), Status::Warn)
    };
    Finding {
        id: "cpu.governor",
        value,
        target: "performance".into(),
        status,
        advice: if status == Status::Warn {
            "cpupower frequency-set -g performance".into()
        } else {
            String::new()
        },
        why: "powersave and ondemand clock down idle cores; the first request after a pause \
              then pays the ramp-up",
    }
}

fn isolated(isolated: Option<&str>, online: Option<&str>) -> Finding {
    let value = match isolated {
        Some("") => "none".to_string(),
        Some(list) => list.to_string(),
        None => "unreadable".to_string(),
    };
    let status = match isolated {
        Some(list) if !list.is_empty() => Status::Ok,
        _ => Status::Info,
    };
    Finding {
        id: "cpu.isolated",
        value,
        target: "the kernel's CPUs".into(),
        status,
        advice: if status == Status::Info {
            format!(
                "for the lowest jitter boot with isolcpus=, nohz_full= and rcu_nocbs= set to \
                 the kernel's CPUs (online: {}), then pin: --runtime glommio --cpus LIST, \
                 or CPUAffinity= in the systemd unit",
                online.unwrap_or("unknown")
            )
        } else {
            String::new()
        },
        why: "isolated CPUs run only what is pinned to them: no scheduler ticks, other tasks \
              or RCU callbacks between a request and its reply",
    }
}

fn io_uring(f: &Facts) -> Finding {
    let version = f.kernel_release.as_deref().and_then(kernel_version);
    let (status, value) = match (&f.io_uring_probe, f.io_uring_disabled, version) {
        (Some(Err(e)), _, _) => (Status::Warn, format!("unavailable: {e}")),
        (_, Some(d), _) if d > 0 => (Status::Warn, format!("kernel.io_uring_disabled={d}")),
        (_, _, Some(v)) if v < IO_URING_KERNEL => (
            Status::Warn,
            format!("Linux {}.{} is older than 5.8", v.0, v.1),
        ),
        (Some(Ok(())), _, _) => (Status::Ok, "available".into()),
        _ => (Status::Info, "not probed".into()),
    };
    Finding {
        id: "io_uring",
        value,
        target: "available".into(),
        status,
        advice: if status == Status::Warn {
            "the glommio runtime needs io_uring: allow it (sysctl -w \
             kernel.io_uring_disabled=0, or the container's seccomp profile), or start the \
             kernel with --runtime tokio"
                .into()
        } else {
            String::new()
        },
        why: "the thread-per-core edition (--runtime glommio) does all its I/O through io_uring",
    }
}

fn memlock(value: Option<u64>) -> Finding {
    Finding {
        id: "ulimit.memlock",
        value: shown(value),
        target: "unlimited for glommio".into(),
        status: match value {
            Some(u64::MAX) => Status::Ok,
            _ => Status::Info,
        },
        advice: match value {
            Some(u64::MAX) | None => String::new(),
            Some(_) => "io_uring rings count against locked memory on kernels before 5.12; \
                        systemd: LimitMEMLOCK=infinity"
                .into(),
        },
        why: "io_uring's rings and registered buffers are locked memory",
    }
}

/// The findings as JSON: `{"checks": [...], "summary": {"ok": n, "warn": n, "info": n}}`.
pub fn to_json(findings: &[Finding]) -> Value {
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    let checks: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "value": f.value,
                "target": f.target,
                "status": f.status.as_str(),
                "advice": f.advice,
                "why": f.why,
            })
        })
        .collect();
    json!({
        "checks": checks,
        "summary": {"ok": count(Status::Ok), "warn": count(Status::Warn), "info": count(Status::Info)},
    })
}

/// The findings as a table, then the advice for each one that has some.
pub fn to_text(findings: &[Finding]) -> String {
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            vec![
                f.status.as_str().to_string(),
                f.id.to_string(),
                f.value.clone(),
                f.target.clone(),
            ]
        })
        .collect();
    let mut text = output::table(&["status", "check", "value", "target"], &rows);
    for f in findings.iter().filter(|f| !f.advice.is_empty()) {
        text.push_str(&format!("\n{}: {}\n  why: {}\n", f.id, f.advice, f.why));
    }
    text
}

/// `llmspell tune check`: prints the audit; with `strict`, exits 1 if any check warns.
pub fn check(root: &Path, strict: bool, format: OutputFormat) -> Result<i32, CliError> {
    let findings = audit(&Facts::gather(root));
    if format.is_json() {
        output::print_json(&to_json(&findings), format);
    } else {
        output::print_text(&to_text(&findings));
    }
    let warned = findings.iter().any(|f| f.status == Status::Warn);
    Ok(if strict && warned { 1 } else { 0 })
}

#[cfg(test)]
#[path = "tune_tests.rs"]
mod tests;
