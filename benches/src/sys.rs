//! The few Linux calls the bench needs: Ctrl-C as a flag, CPU pinning, and children that
//! cannot outlive the bench.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Turns SIGINT, SIGTERM and SIGHUP into a flag that every loop checks, so that the loops
/// return and the drop guards stop the children. A second signal takes the default action.
pub fn install_interrupt_handler() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which
        // is async-signal-safe. No SA_RESTART, so a blocking zmq_poll returns EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// CPU time used so far by every live thread of process `pid`, in nanoseconds: the sum
/// of the first field of `/proc/PID/task/*/schedstat`. None where /proc cannot tell.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        // A thread that ended between the listing and the read adds nothing.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// CPU time used so far by this process (user and system, every thread), in nanoseconds.
pub fn self_cpu_ns() -> Option<u64> {
    // SAFETY: an all-zero rusage is valid; getrusage fills the one we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    Some(ns(usage.ru_utime) + ns(usage.ru_stime))
}

/// Whether the user asked the bench to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn cpu_set(cpu: usize) -> io::Result<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain bits; CPU_SET indexes within it after the bound check.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cpu out of range",
            ));
        }
        libc::CPU_SET(cpu, &mut set);
        Ok(set)
    }
}

/// Pins the calling thread to one CPU. Threads it starts later (the zmq I/O thread)
/// inherit the mask, so call it before creating the zmq context.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let set = cpu_set(cpu)?;
    // SAFETY: `set` is a valid cpu_set_t and its size is passed along.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Prepares a child: its own process group (a terminal's Ctrl-C reaches only the bench,
/// which then stops the child itself), SIGKILL when the bench dies, and an optional CPU.
pub fn configure_child(command: &mut Command, pin: Option<usize>) -> io::Result<()> {
    let set = pin.map(cpu_set).transpose()?;
    // SAFETY: getpid is async-signal-safe; it runs before the fork.
    let parent = unsafe { libc::getpid() };
    command.process_group(0);
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
    // functions (prctl, getppid, sched_setaffinity) on data prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The bench died between fork and prctl: the signal will never come.
            if libc::getppid() != parent {
                return Err(io::Error::other("parent exited"));
            }
            if let Some(set) = &set {
                if libc::sched_setaffinity(0, std::mem::size_of_val(set), set) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(())
}

/// Whether the child has exited, without reaping it (its pid, and so its process group
/// id, stay reserved until `wait`).
fn exited_unreaped(pid: libc::pid_t) -> bool {
    // SAFETY: a zeroed siginfo_t is valid output space for waitid.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) == 0 && info.si_pid() == pid
    }
}

/// Stops a child started with [`configure_child`] by its pid: SIGTERM to its process group
/// (a wrapper such as `sh -c` or `taskset` and what it started), SIGKILL to the group
/// after `grace` or once the leader is gone, then reaps the leader. Returns true when
/// SIGTERM was enough for the leader.
pub fn terminate(child: &mut Child, grace: Duration) -> bool {
    if let Ok(Some(_)) = child.try_wait() {
        return true;
    }
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return false;
    };
    // SAFETY: kill has no memory effects. The leader is not reaped until the end, so its
    // pid, which is also the group's id, cannot be reused meanwhile.
    let signal_group = |signal| unsafe { libc::kill(-pid, signal) };
    signal_group(libc::SIGTERM);
    let deadline = Instant::now() + grace;
    let mut gentle = false;
    while Instant::now() < deadline {
        if exited_unreaped(pid) {
            gentle = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    signal_group(libc::SIGKILL);
    let _ = child.wait();
    gentle
}

/// CPU time (user and system, all threads) that this process has used.
pub fn own_cpu() -> Duration {
    // SAFETY: a zeroed rusage is valid output space for getrusage.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time (all threads) used so far by the live processes of process group `pgid` (a
/// child started with [`configure_child`] leads its own group, so this covers a kernel
/// behind a wrapper such as `sh -c` too). Per thread from /proc/PID/task/TID/schedstat,
/// in nanoseconds; a process whose threads cannot be read counts with its
/// /proc/PID/stat clock ticks (10 ms, usually) instead. Threads that have exited are not
/// counted: compare two readings around work done by long-lived threads.
pub fn group_cpu(pgid: u32) -> Duration {
    // SAFETY: sysconf has no memory effects.
    let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    let mut total = Duration::ZERO;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        match stat_cpu(&stat) {
            Some((group, cpu)) if group == pgid => {
                total += threads_cpu(&entry.path())
                    .unwrap_or_else(|| Duration::from_micros(cpu * 1_000_000 / ticks.max(1)));
            }
            _ => {}
        }
    }
    total
}

/// The summed run time of the threads of process directory `proc` (/proc/PID), from
/// their schedstat files; `None` when none can be read.
fn threads_cpu(proc: &std::path::Path) -> Option<Duration> {
    let mut total = None;
    for task in std::fs::read_dir(proc.join("task")).ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text.split_whitespace().next().and_then(|n| n.parse().ok()) {
            *total.get_or_insert(Duration::ZERO) += Duration::from_nanos(ns);
        }
    }
    total
}

/// The process group and the user plus system clock ticks of one /proc/PID/stat line.
/// The command name (field 2) may hold spaces and parentheses: fields are counted from
/// its last `)`.
fn stat_cpu(stat: &str) -> Option<(u32, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    // After the name: state (3), ppid (4), pgrp (5), ..., utime (14), stime (15).
    let fields: Vec<&str> = rest.split_whitespace().take(13).collect();
    let group = fields.get(2)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((group, utime + stime))
}

/// Reads `n` random bytes from the kernel's generator, as hex.
pub fn random_hex(n: usize) -> io::Result<String> {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_from_proc_grows_with_work() {
        let pid = std::process::id();
        let before = process_cpu_ns(pid).expect("/proc of ourselves");
        let self_before = self_cpu_ns().expect("getrusage");
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(process_cpu_ns(pid).unwrap() > before);
        assert!(self_cpu_ns().unwrap() > self_before);
        assert!(process_cpu_ns(u32::MAX).is_none(), "no such process");
    }

    #[test]
    fn terminate_stops_a_child_that_ignores_nothing() {
        let mut command = Command::new("sleep");
        command.arg("30");
        configure_child(&mut command, None).unwrap();
        let mut child = command.spawn().unwrap();
        assert!(terminate(&mut child, Duration::from_secs(2)));
        assert!(child.try_wait().unwrap().is_some());
    }

    #[test]
    fn terminate_stops_the_whole_process_group() {
        let mut command = Command::new("sh");
        // The shell forks sleep and waits: killing the shell alone would orphan sleep.
        command.args(["-c", "sleep 30; true"]);
        configure_child(&mut command, None).unwrap();
        let mut child = command.spawn().unwrap();
        let pgid = child.id();
        std::thread::sleep(Duration::from_millis(100));
        terminate(&mut child, Duration::from_secs(2));
        // The orphaned sleep is reaped by init, not by us: give that a moment.
        let mut alive = true;
        for _ in 0..400 {
            // SAFETY: signal 0 only checks whether a member of the group still exists.
            alive = unsafe { libc::kill(-(pgid as libc::pid_t), 0) } == 0;
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!alive, "a process of group {pgid} survived");
    }

    #[test]
    fn terminate_kills_a_child_that_ignores_sigterm() {
        let mut command = Command::new("sh");
        command.args(["-c", "trap '' TERM; exec sleep 30"]);
        configure_child(&mut command, None).unwrap();
        let mut child = command.spawn().unwrap();
        // Once the shell has exec'd sleep, the trap (an inherited SIG_IGN) is in place.
        let comm = format!("/proc/{}/comm", child.id());
        for _ in 0..400 {
            if std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep") {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!terminate(&mut child, Duration::from_millis(300)));
        assert!(child.try_wait().unwrap().is_some());
    }

    #[test]
    fn reads_cpu_from_proc_stat() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 3 0";
        assert_eq!(stat_cpu(line), Some((42, 287)));
        assert_eq!(stat_cpu("42 (x) S 1"), None);
        assert_eq!(stat_cpu(""), None);
        // A busy child of our own group shows up.
        let mut command = Command::new("sh");
        command.args(["-c", "while :; do :; done"]);
        configure_child(&mut command, None).unwrap();
        let mut child = command.spawn().unwrap();
        let pgid = child.id();
        let mut seen = Duration::ZERO;
        for _ in 0..2000 {
            seen = seen.max(group_cpu(pgid));
            if seen > Duration::ZERO {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        terminate(&mut child, Duration::from_secs(2));
        assert!(seen > Duration::ZERO, "no CPU seen for group {pgid}");
        // Our own threads are read from schedstat: a busy thread's time grows (at the
        // scheduler's next tick at the latest).
        let me = std::path::PathBuf::from("/proc/self");
        let first = threads_cpu(&me).unwrap();
        let start = Instant::now();
        let mut x = 0u64;
        while threads_cpu(&me).unwrap() == first {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "schedstat never moved"
            );
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
        }
        std::hint::black_box(x);
        let before = own_cpu();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
        assert!(own_cpu() > before);
    }

    #[test]
    fn random_hex_has_the_length_asked() {
        let a = random_hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_hex(16).unwrap());
    }
}
