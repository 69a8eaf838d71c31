//! SIGTERM, SIGHUP and SIGINT as bytes on a socket that the kernel's shard reads.
//!
//! The handler writes the signal's number to the write end of a socket pair (write(2) is
//! async-signal-safe); the kernel's shard reads the other end through io_uring like any
//! other stream. The handlers are installed when the server is bound, so a SIGTERM that
//! arrives before `run` is kept in the socket, not lost.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

/// Write ends of the servers bound in this process, -1 where free.
static SLOTS: [AtomicI32; 8] = [const { AtomicI32::new(-1) }; 8];

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: errno is thread-local; we restore it so the interrupted code sees its own.
    let saved = unsafe { *libc::__errno_location() };
    let byte = signal as u8;
    for slot in &SLOTS {
        let fd = slot.load(Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: write(2) is async-signal-safe; one byte from our stack. A full
            // socket drops the byte, and the reader has unread signals already.
            unsafe { libc::write(fd, &byte as *const u8 as *const libc::c_void, 1) };
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

fn install_handlers() -> io::Result<()> {
    static INSTALL: Once = Once::new();
    let mut result = Ok(());
    INSTALL.call_once(|| {
        for signal in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
            // SAFETY: a zeroed sigaction is valid; the handler only calls write(2).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    result = Err(io::Error::last_os_error());
                }
            }
        }
    });
    result
}

/// The process's signals for one server: the read end for its kernel shard, and its slot.
pub struct Signals {
    /// Read by the kernel's shard, once it takes it.
    read: Option<OwnedFd>,
    /// Written by the handler; kept open while the slot names it, closed after.
    _write: OwnedFd,
    slot: usize,
}

impl Signals {
    /// Installs the handlers (once per process) and takes a slot for this server.
    pub fn install() -> io::Result<Signals> {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two descriptors into the array we pass.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let slot = SLOTS
            .iter()
            .position(|s| {
                s.compare_exchange(-1, write.as_raw_fd(), Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
            .ok_or_else(|| io::Error::other("more than 8 servers bound in one process"))?;
        install_handlers()?;
        Ok(Signals {
            read: Some(read),
            _write: write,
            slot,
        })
    }

    /// The read end, for the kernel's shard; None after the first call.
    pub fn take_reader(&mut self) -> Option<OwnedFd> {
        self.read.take()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        // Free the slot before `write` closes, so the handler stops using the descriptor.
        SLOTS[self.slot].store(-1, Ordering::Release);
    }
}
