//! Other processes by pid: is it alive, signal it, wait for it to go.

use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A pid we may signal: positive, not 1 (init) and not ourselves. `kill` with 0 or a
/// negative pid would signal whole process groups, so those never reach it.
fn signalable(pid: u32) -> Option<libc::pid_t> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    (pid > 1 && pid != std::process::id() as libc::pid_t).then_some(pid)
}

/// Whether process `pid` exists and has not exited: `kill(pid, 0)` succeeds (or fails
/// with EPERM), and on Linux it is not a zombie waiting to be reaped.
pub fn is_alive(pid: u32) -> bool {
    let Some(p) = signalable(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; it delivers nothing.
    let exists = unsafe { libc::kill(p, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

/// Whether `pid` is alive and can be the process that registered itself at
/// `registered_unix_ms`: a process that started later is another one that reuses the pid.
pub fn is_registered_process(pid: u32, registered_unix_ms: u64) -> bool {
    if !is_alive(pid) {
        return false;
    }
    match start_time_unix_ms(pid) {
        // Start times derive from the boot time, which drifts from the wall clock by the
        // clock's adjustments since boot; a minute of slack keeps a live kernel from ever
        // being taken for a stranger while still catching a pid reused much later.
        Some(started) => started <= registered_unix_ms.saturating_add(60_000),
        None => true,
    }
}

/// Sends `signal` to `pid`.
pub fn send_signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let p = signalable(pid).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}"),
        )
    })?;
    // SAFETY: kill has no memory-safety preconditions; `p` is a single positive pid.
    if unsafe { libc::kill(p, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Polls until every pid in `pids` is gone or `timeout` has passed; returns those still alive.
pub fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|p| is_alive(*p)).collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The fields of `/proc/<pid>/stat` after the command name (state is the first).
#[cfg(target_os = "linux")]
fn proc_stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: u32) -> bool {
    proc_stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z" || s == "X"))
}

#[cfg(not(target_os = "linux"))]
fn is_zombie(_pid: u32) -> bool {
    false
}

/// When `pid` started, from `/proc` (Linux only).
#[cfg(target_os = "linux")]
fn start_time_unix_ms(pid: u32) -> Option<u64> {
    // Field 22 of stat is the start time in clock ticks after boot; fields here start at 3.
    let ticks: u64 = proc_stat_fields(pid)?.get(19)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|h| *h > 0)?;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime * 1_000 + ticks * 1_000 / hz)
}

#[cfg(not(target_os = "linux"))]
fn start_time_unix_ms(_pid: u32) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn dead_and_forbidden_pids_are_not_alive() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid));
        assert!(!is_alive(0));
        assert!(!is_alive(1));
        assert!(!is_alive(u32::MAX));
        assert!(!is_alive(std::process::id()));
        assert!(send_signal(0, libc::SIGTERM).is_err());
    }

    #[test]
    fn a_live_child_is_alive_until_signalled_and_its_zombie_is_not() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(is_alive(pid));
        assert!(is_registered_process(pid, now_unix_ms()));
        send_signal(pid, libc::SIGTERM).unwrap();
        // Not reaped yet: a zombie, which counts as gone.
        assert!(wait_gone(&[pid], Duration::from_secs(5)).is_empty());
        child.wait().unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_started_after_the_record_is_not_the_registered_one() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let started = start_time_unix_ms(pid).unwrap();
        assert!(is_registered_process(pid, started));
        assert!(!is_registered_process(
            pid,
            started.saturating_sub(3_600_000)
        ));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
