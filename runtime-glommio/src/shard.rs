//! One shard: the connections accepted on one pinned executor, their ZMTP state, routing
//! ids and iopub subscriptions, and (on the kernel's shard) the [`Owner`].
//!
//! Every turn has the same shape: a `handle_*` call, then [`Shard::process`], which hands
//! the kernel's output to the connections and the other shards and writes every dirty
//! connection's bytes at once. A connection whose socket is full is left to its own task,
//! which waits for it to drain.

use crate::bus::Outbox;
use crate::io::{Pending, Stream};
use crate::owner::{router_index, Down, KernelMsg, Owner, Up};
use bytes::{Bytes, BytesMut};
use llmspell_core::connection::Channel;
use llmspell_core::hub::Drops;
use llmspell_core::metrics::{DropReason, Metrics};
use llmspell_core::time::Timestamp;
use llmspell_core::zmtp::socket::{RouterTable, Subscriptions};
use llmspell_core::zmtp::{self, Connection, Event, SocketType};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tracing::{debug, warn};

/// Where a shard's reports go: straight into the owner on the kernel's shard, over the
/// bus from the others.
pub enum Link {
    /// This is the kernel's shard.
    Owner(Box<Owner>),
    /// Another shard: reports are batched per turn.
    Remote(Outbox<KernelMsg>),
    /// The run is over.
    Closed,
}

/// One accepted connection.
struct Conn {
    channel: Channel,
    zmtp: Connection,
    stream: Stream,
    pending: Pending,
    /// The connection task, to wake when `pending` needs a writable socket.
    waker: Option<Waker>,
    /// Whether it is listed in `dirty`.
    dirty: bool,
    /// Messages queued since everything was last written (for `sndhwm`).
    unflushed: usize,
    /// When bytes last went either way (for the idle timeout).
    last_active: Timestamp,
}

/// What bounds a shard's connections.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    /// Most connections open at once on all shards together.
    pub max_connections: Option<usize>,
    /// Most messages queued for a peer that does not read; 0: no bound.
    pub sndhwm: usize,
    /// Where dropped messages are counted, if anywhere.
    pub metrics: Option<Arc<Metrics>>,
}

/// A shard's connections. See the [module docs](self).
pub struct Shard {
    /// This shard's index; 0 is the kernel's.
    pub index: usize,
    max_message_size: u64,
    /// Connections open on all shards.
    open: Arc<AtomicUsize>,
    bounds: Bounds,
    /// The time of the last `handle_*` call, for writes that finish in `process`.
    clock: Timestamp,
    next_id: u64,
    /// By the ids this shard hands out (Fx-hashed: no peer chooses them).
    conns: FxHashMap<u64, Conn>,
    routers: [RouterTable<u64>; 3],
    subs: Subscriptions<u64>,
    /// Connections with bytes to write.
    dirty: Vec<u64>,
    /// Reports for the kernel, sent at the end of the turn (remote shards).
    up: Vec<Up>,
    /// The kernel, or the way to it.
    pub link: Link,
    /// What was refused here.
    pub drops: Drops,
    /// Set when the shard should write what it has and stop.
    pub stopping: bool,
    /// The task that waits for `stopping` (the kernel's shard).
    pub stop_waker: Option<Waker>,
}

fn socket_type(channel: Channel) -> SocketType {
    match channel {
        Channel::Shell | Channel::Control | Channel::Stdin => SocketType::Router,
        Channel::Iopub => SocketType::XPub,
        Channel::Heartbeat => SocketType::Rep,
    }
}

impl Shard {
    /// An empty shard. Routing ids it generates start at `index << 24`, so that ids made
    /// on different shards differ.
    pub fn new(
        index: usize,
        max_message_size: u64,
        open: Arc<AtomicUsize>,
        bounds: Bounds,
        link: Link,
    ) -> Self {
        let first = ((index as u32) << 24) | 1;
        Shard {
            index,
            max_message_size,
            open,
            bounds,
            clock: Timestamp::default(),
            next_id: 0,
            conns: FxHashMap::default(),
            routers: std::array::from_fn(|_| RouterTable::with_first_id(first)),
            subs: Subscriptions::new(),
            dirty: Vec::new(),
            up: Vec::new(),
            link,
            drops: Drops::default(),
            stopping: false,
            stop_waker: None,
        }
    }

    /// The owner, on the kernel's shard.
    pub fn owner(&mut self) -> Option<&mut Owner> {
        match &mut self.link {
            Link::Owner(o) => Some(o),
            Link::Remote(_) | Link::Closed => None,
        }
    }

    /// At the end of a run: closes every connection and drops the kernel, which lets the
    /// engine thread and the tool workers end.
    pub fn close_all(&mut self) {
        self.conns.clear();
        self.dirty.clear();
        self.link = Link::Closed;
    }

    /// A stream was accepted on `channel`. None when the connection limit refuses it
    /// (the stream is closed).
    pub fn handle_accept(
        &mut self,
        now: Timestamp,
        channel: Channel,
        stream: Stream,
    ) -> Option<u64> {
        self.clock = now;
        let open = self.open.fetch_add(1, Ordering::Relaxed);
        if self.bounds.max_connections.is_some_and(|max| open >= max) {
            self.open.fetch_sub(1, Ordering::Relaxed);
            warn!(
                channel = channel.name(),
                open, "connection limit reached; closing a new connection"
            );
            return None;
        }
        self.next_id += 1;
        let id = self.next_id;
        let config = zmtp::Config {
            socket_type: socket_type(channel),
            identity: Bytes::new(),
            max_message_size: self.max_message_size,
        };
        self.conns.insert(
            id,
            Conn {
                channel,
                zmtp: Connection::new(config),
                stream,
                pending: Pending::default(),
                waker: None,
                dirty: false,
                unflushed: 0,
                last_active: now,
            },
        );
        if channel == Channel::Iopub {
            self.report(now, Up::IopubOpened);
        }
        self.mark_dirty(id);
        Some(id)
    }

    /// The stream ended or failed: forget the connection.
    pub fn handle_close(&mut self, now: Timestamp, id: u64) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        self.open.fetch_sub(1, Ordering::Relaxed);
        debug!(
            channel = c.channel.name(),
            shard = self.index,
            conn = id,
            "connection closed"
        );
        if let Some(i) = router_index(c.channel) {
            if let Some(rid) = self.routers[i].id_of(id).cloned() {
                self.routers[i].detach(id);
                self.report(
                    now,
                    Up::Detach {
                        channel: c.channel,
                        rid,
                    },
                );
            }
        }
        if c.channel == Channel::Iopub {
            self.subs.remove(id);
            self.report(now, Up::IopubClosed);
        }
        self.dirty.retain(|d| *d != id);
    }

    /// Bytes arrived on a connection; consumes every complete unit from `input`. On an
    /// error the connection is already forgotten: the task ends.
    pub fn handle_input(
        &mut self,
        now: Timestamp,
        id: u64,
        input: &mut BytesMut,
    ) -> Result<(), ()> {
        self.clock = now;
        let Some(c) = self.conns.get_mut(&id) else {
            return Err(());
        };
        c.last_active = now;
        let channel = c.channel;
        if let Err(e) = c.zmtp.handle_input(input) {
            warn!(channel = channel.name(), conn = id, error = ?e, "closing connection");
            self.drops.bad_connections += 1;
            self.handle_close(now, id);
            return Err(());
        }
        while let Some(event) = self.conns.get_mut(&id).and_then(|c| c.zmtp.poll_event()) {
            self.on_event(now, id, channel, event);
        }
        // A PONG or a heartbeat echo may be waiting.
        self.mark_dirty(id);
        Ok(())
    }

    fn on_event(&mut self, now: Timestamp, id: u64, channel: Channel, event: Event) {
        match event {
            Event::Ready { identity, .. } => {
                if let Some(i) = router_index(channel) {
                    let rid = self.routers[i].attach(id, identity);
                    self.report(now, Up::Attach { channel, rid });
                }
            }
            Event::Message(mut frames) => match channel {
                Channel::Heartbeat => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        // The heartbeat echoes, envelope and all, on this shard.
                        let _ = c.zmtp.send(&frames);
                    }
                }
                Channel::Iopub => debug!("ignored a message on iopub"),
                _ => {
                    let Some(rid) = router_index(channel)
                        .and_then(|i| self.routers[i].id_of(id))
                        .cloned()
                    else {
                        return;
                    };
                    frames.insert(0, rid);
                    self.report(now, Up::Message { channel, frames });
                }
            },
            Event::Subscribe(topic) => {
                if channel == Channel::Iopub {
                    self.subs.subscribe(id, topic.clone());
                    self.report(now, Up::Subscribe(topic));
                }
            }
            Event::Cancel(topic) => {
                if channel == Channel::Iopub {
                    self.subs.cancel(id, &topic);
                }
            }
            Event::Oversize { size } => {
                self.drops.oversize += 1;
                warn!(
                    channel = channel.name(),
                    size,
                    limit = self.max_message_size,
                    "refused an oversize message"
                );
            }
        }
    }

    /// Tells the kernel: at once on its own shard, at the end of the turn from others.
    fn report(&mut self, now: Timestamp, up: Up) {
        match &mut self.link {
            Link::Owner(owner) => owner.handle_up(now, self.index, up),
            Link::Remote(_) => self.up.push(up),
            Link::Closed => {}
        }
    }

    /// Applies what the kernel sent this shard.
    pub fn handle_down(&mut self, down: Down) {
        match down {
            Down::Send { channel, frames } => self.send(channel, &frames),
            Down::Stop => self.stopping = true,
        }
    }

    fn send(&mut self, channel: Channel, frames: &[Bytes]) {
        let Some(first) = frames.first() else {
            return;
        };
        if channel == Channel::Iopub {
            let mut targets = Vec::new();
            self.subs.for_each_match(first, |c| targets.push(c));
            for id in targets {
                if !self.admit(id) {
                    continue;
                }
                if let Some(c) = self.conns.get_mut(&id) {
                    let _ = c.zmtp.send(frames);
                    self.mark_dirty(id);
                }
            }
            return;
        }
        match router_index(channel).and_then(|i| self.routers[i].lookup(first)) {
            Some(id) => {
                if !self.admit(id) {
                    return;
                }
                if let Some(c) = self.conns.get_mut(&id) {
                    let _ = c.zmtp.send(&frames[1..]);
                    self.mark_dirty(id);
                }
            }
            None => self.drops.unroutable += 1,
        }
    }

    /// Whether a message may be queued for `id`; counts it if so, counts a drop if the
    /// peer already has `sndhwm` messages it has not taken.
    fn admit(&mut self, id: u64) -> bool {
        let hwm = self.bounds.sndhwm;
        let Some(c) = self.conns.get_mut(&id) else {
            return false;
        };
        if hwm > 0 && c.unflushed >= hwm {
            self.drops.hwm += 1;
            if let Some(m) = &self.bounds.metrics {
                m.dropped(DropReason::Hwm);
            }
            return false;
        }
        c.unflushed += 1;
        true
    }

    /// Closes every connection silent for longer than `timeout` (at `now`) and wakes its
    /// task, which ends; returns how many were closed.
    pub fn expire_idle(&mut self, now: Timestamp, timeout: std::time::Duration) -> usize {
        self.clock = now;
        let limit = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
        let idle: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| now.micros_since(c.last_active) > limit)
            .map(|(id, _)| *id)
            .collect();
        for &id in &idle {
            let waker = self.conns.get_mut(&id).and_then(|c| c.waker.take());
            debug!(shard = self.index, conn = id, "closing an idle connection");
            self.handle_close(now, id);
            if let Some(w) = waker {
                w.wake();
            }
        }
        idle.len()
    }

    fn mark_dirty(&mut self, id: u64) {
        if let Some(c) = self.conns.get_mut(&id) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Ends a turn: the kernel's output goes to this shard's connections and to the other
    /// shards, this shard's reports go to the kernel, and every dirty connection is written.
    pub fn process(&mut self) {
        if let Link::Owner(owner) = &mut self.link {
            let mine = std::mem::take(&mut owner.out[self.index]);
            for (shard, out) in owner.out.iter_mut().enumerate() {
                if out.is_empty() {
                    continue;
                }
                if let Some(peer) = &owner.peers[shard] {
                    peer.send(std::mem::take(out));
                }
            }
            if owner.outcome.is_some() && !self.stopping {
                self.stopping = true;
                if let Some(w) = self.stop_waker.take() {
                    w.wake();
                }
            }
            for down in mine {
                self.handle_down(down);
            }
        }
        if let Link::Remote(kernel) = &self.link {
            if !self.up.is_empty() {
                kernel.send(KernelMsg::Shard(self.index, std::mem::take(&mut self.up)));
            }
        }
        self.flush_dirty();
    }

    fn flush_dirty(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        while let Some(id) = self.dirty.pop() {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            c.dirty = false;
            while let Some(b) = c.zmtp.poll_transmit() {
                c.pending.push(b);
            }
            if c.pending.is_empty() {
                continue;
            }
            // Written now if the socket takes it; else the task waits for it to drain
            // (and sees a failed write as a closed connection).
            if matches!(
                c.pending.poll_flush(&mut c.stream, &mut cx),
                Poll::Ready(Ok(()))
            ) {
                c.unflushed = 0;
                c.last_active = self.clock;
            } else if let Some(w) = &c.waker {
                w.wake_by_ref();
            }
        }
    }

    /// Whether any connection has bytes it could not write yet.
    pub fn has_pending(&self) -> bool {
        self.conns.values().any(|c| !c.pending.is_empty())
    }

    /// Writes what the sockets take now, without waiting.
    pub fn try_flush_all(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        for c in self.conns.values_mut() {
            let _ = c.pending.poll_flush(&mut c.stream, &mut cx);
        }
    }

    /// One poll of a connection's task: finish pending writes, then read into `buf`.
    /// Ready(Some(n)): n bytes read; Ready(None): the connection is over.
    pub fn poll_conn(
        &mut self,
        id: u64,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Option<usize>> {
        let Some(c) = self.conns.get_mut(&id) else {
            return Poll::Ready(None);
        };
        match &c.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => c.waker = Some(cx.waker().clone()),
        }
        if !c.pending.is_empty() {
            match c.pending.poll_flush(&mut c.stream, cx) {
                Poll::Ready(Err(e)) => {
                    debug!(conn = id, error = %e, "write failed");
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(())) => {
                    // The peer took everything: its high-water count starts again.
                    c.unflushed = 0;
                    c.last_active = self.clock;
                }
                Poll::Pending => {}
            }
        }
        match c.stream.poll_read(cx, buf) {
            Poll::Ready(Ok(0)) => Poll::Ready(None),
            Poll::Ready(Ok(n)) => Poll::Ready(Some(n)),
            Poll::Ready(Err(e)) => {
                debug!(conn = id, error = %e, "read failed");
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
