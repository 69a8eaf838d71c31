//! Many clients on the bench's one thread: M peers (independent client sessions, each
//! with its own sockets and session id), each keeping K requests in flight, multiplexed
//! without blocking and waited on together in one `zmq_poll` (libzmq sockets and the native
//! client's plain descriptors alike). A step is bounded in requests and in time; every
//! request's latency, send to completion, is kept.
//!
//! The driving loop, [`drive`]:
//! 1. top every peer up to K in flight (while requests and time are left);
//! 2. let every peer move what is ready ([`Peer::service`]), collecting completions;
//! 3. if nothing moved, wait on all peers' sockets (at most 100 ms, then check Ctrl-C
//!    and whether the kernel exited); stop when nothing completed for `timeout`.

use std::collections::{HashMap, VecDeque};
use std::process::Child;
use std::time::{Duration, Instant};

use bytes::Bytes;
use llmspell_core::connection::Channel;

use crate::client::{BenchError, Client};
use crate::floor::FloorClient;
use crate::link::min_some;
use crate::message::{bench_tool_content, execute_content, Message};
use crate::stats::Throughput;
use crate::sys;

/// How long one wait lasts at most between checks of Ctrl-C and of the kernel.
const TICK: Duration = Duration::from_millis(100);

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One client session under load.
pub trait Peer {
    /// Sends one more request, stamped `now`.
    fn send(&mut self, now: Instant) -> Result<(), BenchError>;
    /// Requests sent and not yet complete.
    fn in_flight(&self) -> usize;
    /// Moves what is ready without waiting and pushes the latency (ns) of every request
    /// completed. True when anything moved.
    fn service(&mut self, done: &mut Vec<u64>) -> Result<bool, BenchError>;
    /// Adds its sockets to a wait; returns how soon it wants to be serviced regardless
    /// (a native connection that is down retries on a timer).
    fn poll_items<'a>(
        &'a self,
        items: &mut Vec<zmq::PollItem<'a>>,
        now: Instant,
    ) -> Option<Duration>;
}

/// How much one step sends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Load {
    /// Requests in flight per peer.
    pub depth: usize,
    /// Requests in all, across peers, at most.
    pub total: usize,
    /// Sending stops after this; what is in flight is still awaited.
    pub budget: Duration,
    /// A step in which nothing completes for this long ends, marked timed out.
    pub timeout: Duration,
}

/// What one step measured.
#[derive(Debug)]
pub struct Outcome {
    /// Latency of every completed request, send to completion, in nanoseconds.
    pub samples: Vec<u64>,
    /// Completions per second, first send to last completion, with all peers together.
    pub throughput: Throughput,
}

/// Runs one step over `peers` (see the module docs). `kernel`, when given, is checked on
/// idle waits: a kernel that exited ends the step with an error.
pub fn drive<P: Peer>(
    peers: &mut [P],
    load: &Load,
    mut kernel: Option<&mut Child>,
) -> Result<Outcome, BenchError> {
    let t0 = Instant::now();
    let end = t0 + load.budget;
    let mut samples = Vec::with_capacity(load.total.min(1 << 20));
    let (mut sent, mut last) = (0usize, t0);
    loop {
        let now = Instant::now();
        if now < end {
            for peer in peers.iter_mut() {
                while sent < load.total && peer.in_flight() < load.depth {
                    peer.send(now)?;
                    sent += 1;
                }
            }
        }
        if peers.iter().all(|p| p.in_flight() == 0) {
            break;
        }
        let before = samples.len();
        let mut moved = false;
        for peer in peers.iter_mut() {
            moved |= peer.service(&mut samples)?;
        }
        if samples.len() > before {
            last = Instant::now();
            continue;
        }
        if sys::interrupted() {
            return Err(BenchError::Interrupted);
        }
        let quiet = now.saturating_duration_since(last);
        if quiet >= load.timeout {
            break;
        }
        if moved {
            continue;
        }
        if !wait_any(peers, (load.timeout - quiet).min(TICK))? {
            if let Some(child) = kernel.as_deref_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(BenchError::KernelExited(status.to_string()));
                }
            }
        }
    }
    let completed = samples.len();
    let throughput = Throughput::new(
        load.total,
        sent,
        completed,
        load.depth * peers.len(),
        last - t0,
    );
    Ok(Outcome {
        samples,
        throughput,
    })
}

/// Waits until a socket of any peer is ready, at most `timeout`. True when one is (or a
/// signal came), false when the time ran out.
fn wait_any<P: Peer>(peers: &[P], timeout: Duration) -> Result<bool, BenchError> {
    let now = Instant::now();
    let mut items = Vec::with_capacity(peers.len() * 2);
    let mut cap = None;
    for peer in peers {
        cap = min_some(cap, peer.poll_items(&mut items, now));
    }
    let timeout = cap.map_or(timeout, |c| c.min(timeout));
    let ms = i64::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(100);
    match zmq::poll(&mut items, ms) {
        Ok(0) => Ok(false),
        Ok(_) | Err(zmq::Error::EINTR) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// A request the kernel peers send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelRequest {
    /// `kernel_info_request`, done at its reply.
    KernelInfo,
    /// `execute_request` of this code, done at its reply and its `status: idle`.
    Execute(String),
    /// `tool_request` invoking the calculator, done at its reply and its `status: idle`.
    ToolInvoke,
}

/// The requests of one kernel peer still in flight, and what completes them.
#[derive(Debug)]
pub struct Tracker {
    reply_type: &'static str,
    wants_idle: bool,
    /// Per request number: when it was sent, whether its reply and its idle came.
    pending: HashMap<u64, (Instant, bool, bool)>,
    /// Replies whose status was not `ok`.
    pub reply_errors: u64,
}

impl Tracker {
    /// A tracker for the replies of `request`.
    pub fn new(request: &KernelRequest) -> Tracker {
        let (reply_type, wants_idle) = match request {
            KernelRequest::KernelInfo => ("kernel_info_reply", false),
            KernelRequest::Execute(_) => ("execute_reply", true),
            KernelRequest::ToolInvoke => ("tool_reply", true),
        };
        Tracker {
            reply_type,
            wants_idle,
            pending: HashMap::new(),
            reply_errors: 0,
        }
    }

    /// Records that request `id` was sent at `at`.
    pub fn sent(&mut self, id: u64, at: Instant) {
        self.pending.insert(id, (at, false, !self.wants_idle));
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Takes one received message; when it completes a request, pushes its latency to
    /// `now` onto `done`. Messages about other requests (or nobody's) are ignored.
    pub fn handle(&mut self, m: &Message<'_>, now: Instant, done: &mut Vec<u64>) {
        let Some(id) = m.parent else { return };
        let Some(entry) = self.pending.get_mut(&id) else {
            return;
        };
        if m.channel == Channel::Shell && m.msg_type == self.reply_type {
            entry.1 = true;
            self.reply_errors += u64::from(m.status.as_deref() != Some("ok"));
        } else if m.channel == Channel::Iopub
            && m.msg_type == "status"
            && m.execution_state.as_deref() == Some("idle")
        {
            entry.2 = true;
        }
        if entry.1 && entry.2 {
            done.push(nanos(now.saturating_duration_since(entry.0)));
            self.pending.remove(&id);
        }
    }
}

/// A client session of a kernel sending one kind of request.
pub struct KernelPeer {
    /// Its sockets and session.
    pub client: Client,
    msg_type: &'static str,
    content: Bytes,
    /// Its requests in flight.
    pub tracker: Tracker,
}

impl KernelPeer {
    /// A peer sending `request` through `client` (connected and ready).
    pub fn new(client: Client, request: &KernelRequest) -> KernelPeer {
        let (msg_type, content) = match request {
            KernelRequest::KernelInfo => ("kernel_info_request", Bytes::from_static(b"{}")),
            KernelRequest::Execute(code) => ("execute_request", execute_content(code)),
            KernelRequest::ToolInvoke => ("tool_request", bench_tool_content()),
        };
        KernelPeer {
            client,
            msg_type,
            content,
            tracker: Tracker::new(request),
        }
    }
}

impl Peer for KernelPeer {
    fn send(&mut self, now: Instant) -> Result<(), BenchError> {
        let id = self.client.send(self.msg_type, self.content.clone())?;
        self.tracker.sent(id, now);
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.tracker.in_flight()
    }

    fn service(&mut self, done: &mut Vec<u64>) -> Result<bool, BenchError> {
        let tracker = &mut self.tracker;
        self.client
            .service(|m| tracker.handle(m, Instant::now(), done))
    }

    fn poll_items<'a>(
        &'a self,
        items: &mut Vec<zmq::PollItem<'a>>,
        now: Instant,
    ) -> Option<Duration> {
        self.client.poll_items(items, now)
    }
}

/// A floor client: the echo server answers each DEALER in order, so a queue of send times
/// gives every echo's latency.
pub struct FloorPeer {
    client: FloorClient,
    sent: VecDeque<Instant>,
}

impl FloorPeer {
    /// A peer over a connected floor client.
    pub fn new(client: FloorClient) -> FloorPeer {
        FloorPeer {
            client,
            sent: VecDeque::new(),
        }
    }
}

impl Peer for FloorPeer {
    fn send(&mut self, now: Instant) -> Result<(), BenchError> {
        self.client.send()?;
        self.sent.push_back(now);
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.sent.len()
    }

    fn service(&mut self, done: &mut Vec<u64>) -> Result<bool, BenchError> {
        let (echoes, moved) = self.client.service()?;
        let now = Instant::now();
        for _ in 0..echoes {
            // More echoes than sends would be a stray from before this step: not timed.
            if let Some(at) = self.sent.pop_front() {
                done.push(nanos(now.saturating_duration_since(at)));
            }
        }
        Ok(moved || echoes > 0)
    }

    fn poll_items<'a>(
        &'a self,
        items: &mut Vec<zmq::PollItem<'a>>,
        now: Instant,
    ) -> Option<Duration> {
        self.client.poll_items(items, now)
    }
}

#[cfg(test)]
mod tests;
