//! The two ways the client moves messages: [`ZmqLink`] (libzmq through the `zmq` crate, with
//! its background I/O thread) and [`NativeLink`] (llmspell-core's sans-IO ZMTP over TCP on
//! the calling thread). Both hand every received message to an [`Inbox`], which checks and
//! reads it, and both stop on the same rule: a [`Pump`] delivers what is already buffered,
//! and only when that holds nothing does it wait for the network.

use std::time::{Duration, Instant};

use bytes::Bytes;
use llmspell_core::connection::{Channel, ConnectionInfo};
use llmspell_core::zmtp::{Event, SocketType};

use crate::client::BenchError;
use crate::message::{decode, mentions_session, Message, Rejected, Verifier};
use crate::native::{loopback_endpoint, wait_ready, ZmtpStream};

/// Messages taken from one libzmq socket per pump, at most.
const MAX_BATCH: usize = 1024;

/// What one pump achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pump {
    /// The callback said done for a message (everything buffered was delivered too).
    Done,
    /// Messages or bytes moved, or the sockets became ready; pump again.
    Progress,
    /// Nothing happened within the timeout.
    Idle,
}

/// What a non-blocking [`ZmqLink::service`] or [`NativeLink::service`] achieved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Serviced {
    /// The callback said done for a message.
    pub done: bool,
    /// Messages or bytes came in.
    pub moved: bool,
}

/// The smaller of two optional durations.
pub fn min_some(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Adds a native stream's descriptor, with the events it waits for, to a zmq poll list.
pub fn stream_poll_item(stream: &ZmtpStream, items: &mut Vec<zmq::PollItem<'_>>) {
    if let Some(fd) = stream.poll_interest() {
        let mut events = zmq::POLLIN;
        if fd.events & libc::POLLOUT != 0 {
            events |= zmq::POLLOUT;
        }
        items.push(zmq::PollItem::from_fd(fd.fd, events));
    }
}

/// Checks received messages and counts the rejected ones.
pub struct Inbox {
    /// Verifies signatures.
    pub verifier: Verifier,
    /// Our session id: replies to `{session}_{n}` are replies to request `n`.
    pub session: String,
    /// Messages dropped because their signature did not match.
    pub bad_signatures: u64,
    /// Messages dropped because they could not be parsed.
    pub malformed: u64,
    /// Drop, unchecked, iopub messages whose parent header does not name our session
    /// ([`mentions_session`]): with many clients on one kernel, each would otherwise verify
    /// every other client's iopub traffic too.
    pub only_ours: bool,
}

impl Inbox {
    /// Decodes one message and hands it to `on`; true when `on` says done.
    pub fn deliver<F: AsRef<[u8]>>(
        &mut self,
        channel: Channel,
        frames: &[F],
        on: &mut impl FnMut(&Message<'_>) -> bool,
    ) -> bool {
        if self.only_ours && channel == Channel::Iopub && !mentions_session(frames, &self.session) {
            return false;
        }
        match decode(channel, &self.verifier, &self.session, frames) {
            Ok(message) => on(&message),
            Err(Rejected::BadSignature) => {
                self.bad_signatures += 1;
                false
            }
            Err(Rejected::Malformed) => {
                self.malformed += 1;
                false
            }
        }
    }
}

/// A DEALER on shell and a SUB on iopub through libzmq.
pub struct ZmqLink {
    shell: zmq::Socket,
    iopub: zmq::Socket,
}

impl ZmqLink {
    /// Connects shell and iopub (subscribed to everything). libzmq keeps reconnecting until
    /// the kernel binds, and queues what is sent meanwhile. The reconnect interval is 1 ms
    /// (libzmq's default is 100 ms), so a cold start is measured to within a millisecond of
    /// the moment the kernel listens, not rounded up to the next 100 ms retry.
    pub fn connect(ctx: &zmq::Context, info: &ConnectionInfo) -> Result<ZmqLink, BenchError> {
        let shell = ctx.socket(zmq::DEALER)?;
        shell.set_linger(0)?;
        shell.set_reconnect_ivl(1)?;
        shell.set_rcvhwm(0)?;
        shell.connect(&info.endpoint(Channel::Shell))?;
        let iopub = ctx.socket(zmq::SUB)?;
        iopub.set_linger(0)?;
        iopub.set_reconnect_ivl(1)?;
        iopub.set_rcvhwm(0)?;
        iopub.set_subscribe(b"")?;
        iopub.connect(&info.endpoint(Channel::Iopub))?;
        Ok(ZmqLink { shell, iopub })
    }

    /// Sends a message on shell.
    pub fn send(&mut self, frames: &[Bytes]) -> Result<(), BenchError> {
        self.shell
            .send_multipart(frames.iter().map(|f| &f[..]), 0)?;
        Ok(())
    }

    /// Delivers what libzmq has queued, without waiting.
    pub fn service(
        &mut self,
        inbox: &mut Inbox,
        on: &mut impl FnMut(&Message<'_>) -> bool,
    ) -> Result<Serviced, BenchError> {
        let mut out = Serviced::default();
        for (channel, socket) in [(Channel::Shell, &self.shell), (Channel::Iopub, &self.iopub)] {
            for _ in 0..MAX_BATCH {
                match socket.recv_multipart(zmq::DONTWAIT) {
                    Ok(frames) => {
                        out.moved = true;
                        out.done |= inbox.deliver(channel, &frames, on);
                    }
                    Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(out)
    }

    /// Delivers what libzmq has queued; if that was not enough, waits up to `timeout`.
    pub fn pump(
        &mut self,
        timeout: Duration,
        inbox: &mut Inbox,
        on: &mut impl FnMut(&Message<'_>) -> bool,
    ) -> Result<Pump, BenchError> {
        if self.service(inbox, on)?.done {
            return Ok(Pump::Done);
        }
        let ms = i64::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(100);
        let mut items = [
            self.shell.as_poll_item(zmq::POLLIN),
            self.iopub.as_poll_item(zmq::POLLIN),
        ];
        match zmq::poll(&mut items, ms) {
            Ok(0) => Ok(Pump::Idle),
            Ok(_) | Err(zmq::Error::EINTR) => Ok(Pump::Progress),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds both sockets, for reading, to a wait over many links.
    pub fn poll_items<'a>(&'a self, items: &mut Vec<zmq::PollItem<'a>>) {
        items.push(self.shell.as_poll_item(zmq::POLLIN));
        items.push(self.iopub.as_poll_item(zmq::POLLIN));
    }
}

/// A DEALER on shell and a SUB on iopub as sans-IO connections over non-blocking TCP.
pub struct NativeLink {
    shell: ZmtpStream,
    iopub: ZmtpStream,
}

impl NativeLink {
    /// Prepares both connections; they connect (retrying every millisecond until the
    /// kernel listens) as the link is pumped. TCP on loopback only.
    pub fn connect(info: &ConnectionInfo) -> Result<NativeLink, BenchError> {
        let shell = loopback_endpoint(&info.endpoint(Channel::Shell))?;
        let iopub = loopback_endpoint(&info.endpoint(Channel::Iopub))?;
        let mut link = NativeLink {
            shell: ZmtpStream::new("shell", shell, SocketType::Dealer),
            iopub: ZmtpStream::new("iopub", iopub, SocketType::Sub),
        };
        let now = Instant::now();
        link.shell.try_connect(now);
        link.iopub.try_connect(now);
        Ok(link)
    }

    /// Queues a message on shell; the next pump writes it.
    pub fn send(&mut self, frames: &[Bytes]) -> Result<(), BenchError> {
        self.shell.send(frames)
    }

    /// Delivers the messages already decoded; if that was not enough, connects, writes
    /// what is queued, reads once from each socket and delivers. Never waits.
    pub fn service(
        &mut self,
        inbox: &mut Inbox,
        on: &mut impl FnMut(&Message<'_>) -> bool,
    ) -> Result<Serviced, BenchError> {
        if self.deliver(inbox, on) {
            return Ok(Serviced {
                done: true,
                moved: true,
            });
        }
        let now = Instant::now();
        for stream in [&mut self.shell, &mut self.iopub] {
            stream.try_connect(now);
            stream.flush();
        }
        let read = self.shell.read()? + self.iopub.read()?;
        Ok(Serviced {
            done: read > 0 && self.deliver(inbox, on),
            moved: read > 0,
        })
    }

    /// [`Self::service`]; if nothing moved, waits up to `timeout` for the sockets.
    pub fn pump(
        &mut self,
        timeout: Duration,
        inbox: &mut Inbox,
        on: &mut impl FnMut(&Message<'_>) -> bool,
    ) -> Result<Pump, BenchError> {
        let serviced = self.service(inbox, on)?;
        if serviced.done {
            return Ok(Pump::Done);
        }
        if serviced.moved {
            return Ok(Pump::Progress);
        }
        Ok(if wait_ready(&[&self.shell, &self.iopub], timeout)? {
            Pump::Progress
        } else {
            Pump::Idle
        })
    }

    /// Adds both connections to a wait over many links (as plain descriptors); returns how
    /// soon a disconnected one wants its next connection attempt.
    pub fn poll_items(&self, items: &mut Vec<zmq::PollItem<'_>>, now: Instant) -> Option<Duration> {
        let mut retry = None;
        for stream in [&self.shell, &self.iopub] {
            stream_poll_item(stream, items);
            retry = min_some(retry, stream.retry_in(now));
        }
        retry
    }

    /// Hands every queued message of both connections to the inbox; true when `on` said
    /// done for one of them.
    fn deliver(&mut self, inbox: &mut Inbox, on: &mut impl FnMut(&Message<'_>) -> bool) -> bool {
        let mut done = false;
        for (channel, stream) in [
            (Channel::Shell, &mut self.shell),
            (Channel::Iopub, &mut self.iopub),
        ] {
            // The queue only grows in read(), so this ends.
            while let Some(event) = stream.poll_event() {
                if let Event::Message(frames) = event {
                    done |= inbox.deliver(channel, &frames, on);
                }
            }
        }
        done
    }
}
