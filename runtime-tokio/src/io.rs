//! Listeners and streams of either transport, behind one face.

use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A bound listener: TCP, or a Unix socket at a path we remove when dropped.
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix domain socket (Jupyter's `ipc` transport).
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Accepts the next stream.
    pub async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept().await?;
                // Small messages must not wait for Nagle.
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
            Listener::Unix(l, _) => Ok(Stream::Unix(l.accept().await?.0)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An accepted stream.
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix domain socket.
    Unix(UnixStream),
}

impl Stream {
    /// Waits until the stream may be readable.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.readable().await,
            Stream::Unix(s) => s.readable().await,
        }
    }

    /// Waits until the stream may be writable.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.writable().await,
            Stream::Unix(s) => s.writable().await,
        }
    }

    /// Reads what is there into `buf`'s spare capacity without blocking.
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(buf),
            Stream::Unix(s) => s.try_read_buf(buf),
        }
    }

    /// Sets `SO_SNDBUF` and `SO_RCVBUF` where given (the kernel may round or cap them at
    /// `net.core.wmem_max`/`rmem_max`).
    pub fn set_buffers(&self, sndbuf: Option<i32>, rcvbuf: Option<i32>) -> io::Result<()> {
        let fd = match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        };
        for (option, value) in [(libc::SO_SNDBUF, sndbuf), (libc::SO_RCVBUF, rcvbuf)] {
            let Some(value) = value else { continue };
            // SAFETY: fd is this stream's open socket; the option value is a c_int we own,
            // passed with its size.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    option,
                    (&value as *const i32).cast(),
                    std::mem::size_of::<i32>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Writes as much of `bufs` as the socket takes without blocking.
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_write_vectored(bufs),
            Stream::Unix(s) => s.try_write_vectored(bufs),
        }
    }
}
