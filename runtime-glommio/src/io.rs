//! Listeners and streams of either transport, and the write path.
//!
//! TCP listeners are bound before the shards start, one per shard and channel, all on the
//! same port with SO_REUSEPORT: the kernel spreads new connections over them. A Unix
//! socket cannot be shared that way, so the `ipc` transport listens on the kernel's shard
//! only.

use bytes::Bytes;
use futures_lite::io::{AsyncRead, AsyncWrite};
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Binds a TCP listener with SO_REUSEPORT (and SO_REUSEADDR) at `ip:port`. `first`: the
/// first listener of a group on a given port, which checks that no other socket holds
/// the port: another process's SO_REUSEPORT listener would share it silently and take
/// half of our connections.
pub fn bind_reuseport(ip: &str, port: u16, first: bool) -> io::Result<(OwnedFd, u16)> {
    let text = format!("{ip}:{port}");
    let addr = text
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
    if first && port != 0 {
        // A plain bind (no SO_REUSEPORT) fails while anyone listens there.
        std::net::TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {text}: {e}")))?;
    }
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket() takes no pointers; a non-negative result is a descriptor we own.
    let raw = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    // SAFETY: an all-zero sockaddr_storage is valid; we fill the variant that matches
    // `family` and pass its true length.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: `storage` holds a valid address of `len` bytes.
    let rc = unsafe { libc::bind(raw, &storage as *const _ as *const libc::sockaddr, len as _) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("cannot bind {text}: {e}")));
    }
    // SAFETY: listen() takes no pointers.
    if unsafe { libc::listen(raw, 1024) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `storage` is large enough for the address getsockname writes.
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    if unsafe { libc::getsockname(raw, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) }
        != 0
    {
        return Err(io::Error::last_os_error());
    }
    // Both sockaddr_in and sockaddr_in6 keep the port at the same offset.
    // SAFETY: the kernel wrote an address of our family.
    let port =
        u16::from_be(unsafe { (*(&storage as *const _ as *const libc::sockaddr_in)).sin_port });
    Ok((fd, port))
}

/// Sets an integer socket option.
pub fn set_int_option(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: we pass a pointer to an i32 and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A listener on a shard.
pub enum Listener {
    /// TCP, one of several on the same port.
    Tcp(glommio::net::TcpListener),
    /// A Unix socket at a path we remove when dropped.
    Unix(glommio::net::UnixListener, PathBuf),
}

impl Listener {
    /// Accepts the next stream.
    pub async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let s = l.accept().await?;
                // Small messages must not wait for Nagle.
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
            Listener::Unix(l, _) => Ok(Stream::Unix(l.accept().await?)),
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
    Tcp(glommio::net::TcpStream),
    /// Unix domain socket.
    Unix(glommio::net::UnixStream),
}

impl Stream {
    /// Sets the socket buffer sizes, where given (TCP only; Unix sockets keep theirs).
    pub fn set_buffers(&self, send: Option<usize>, recv: Option<usize>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let Stream::Tcp(s) = self else {
            return Ok(());
        };
        let clamp = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        if let Some(n) = send {
            set_int_option(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, clamp(n))?;
        }
        if let Some(n) = recv {
            set_int_option(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, clamp(n))?;
        }
        Ok(())
    }

    /// Reads into `buf`, or registers the task to be woken when it can.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }

    /// Writes from `buf`, or registers the task to be woken when it can.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
}

/// Chunks at least this large are written from their own buffer; smaller ones are
/// gathered into one write.
const GATHER_BELOW: usize = 16 * 1024;
/// Most bytes gathered into one write.
const GATHER_MAX: usize = 64 * 1024;

/// Bytes waiting to be written on a connection, in order.
#[derive(Default)]
pub struct Pending {
    chunks: VecDeque<Bytes>,
    /// Where small chunks are gathered for one send.
    scratch: Vec<u8>,
}

impl Pending {
    /// Queues bytes.
    pub fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.chunks.push_back(b);
        }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Writes what the socket takes. Ready(Ok(())) when nothing is left; Pending when the
    /// socket is full (the task of `cx` is woken when it drains).
    pub fn poll_flush(
        &mut self,
        stream: &mut Stream,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while let Some(front) = self.chunks.front() {
            let written = if front.len() >= GATHER_BELOW || self.chunks.len() == 1 {
                match stream.poll_write(cx, front) {
                    Poll::Ready(r) => r?,
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                self.scratch.clear();
                for c in self.chunks.iter() {
                    if c.len() >= GATHER_BELOW || self.scratch.len() + c.len() > GATHER_MAX {
                        break;
                    }
                    self.scratch.extend_from_slice(c);
                }
                match stream.poll_write(cx, &self.scratch) {
                    Poll::Ready(r) => r?,
                    Poll::Pending => return Poll::Pending,
                }
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        Poll::Ready(Ok(()))
    }

    /// Drops `n` written bytes from the front.
    fn consume(&mut self, n: usize) {
        llmspell_core::zmtp::consume_written(&mut self.chunks, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_drops_whole_chunks_then_advances_into_the_next() {
        let mut p = Pending::default();
        p.push(Bytes::from_static(b"abc"));
        p.push(Bytes::new());
        p.push(Bytes::from_static(b"defg"));
        p.consume(5);
        assert_eq!(p.chunks.len(), 1);
        assert_eq!(&p.chunks[0][..], b"fg");
        p.consume(2);
        assert!(p.is_empty());
    }

    #[test]
    fn reuseport_listeners_share_a_port() {
        let (_a, port) = bind_reuseport("127.0.0.1", 0, true).expect("first");
        assert_ne!(port, 0);
        let (_b, again) = bind_reuseport("127.0.0.1", port, false).expect("second");
        assert_eq!(again, port);
        // Another server's group is not joined: a first listener checks the port is free.
        let e = bind_reuseport("127.0.0.1", port, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = plain.local_addr().unwrap().port();
        assert!(bind_reuseport("127.0.0.1", taken, true).is_err());
    }
}
