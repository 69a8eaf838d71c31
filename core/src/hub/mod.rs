//! The kernel's five sockets over many connections, sans-IO: ZMTP connections, ROUTER
//! routing ids, XPUB subscriptions, heartbeat echo, and the kernel behind them.
//!
//! A runtime owns the listeners and the byte streams; the hub owns everything else. For each
//! accepted stream:
//!
//! 1. [`Hub::handle_accept`] with the channel of the listener gives a [`ConnId`]. Our ZMTP
//!    greeting is queued at once.
//! 2. Bytes read go to [`Hub::handle_input`]; on an error the hub has already forgotten the
//!    connection and the runtime closes the stream. At end of stream, [`Hub::handle_close`].
//! 3. After every `handle_*` call, drain [`Hub::poll_effect`] (engine jobs, debugger
//!    commands, input replies, interrupt, shutdown) and then [`Hub::poll_dirty`], writing what
//!    [`Hub::poll_transmit`] gives for each connection it names.
//! 4. The engine worker's reports go to [`Hub::handle_worker_event`], then as in step 3.

use crate::connection::Channel;
use crate::engine::InputReply;
use crate::kernel::{Action, EngineJob, Kernel, KernelConfig, WorkerEvent};
use crate::metrics::{DropReason, Metrics};
pub use limits::{Limits, SocketOptions};

mod limits;
use crate::time::Timestamp;
use crate::zmtp::socket::{RouterTable, Subscriptions};
use crate::zmtp::{self, Connection, Event, SocketType, ZmtpError};
use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;
use std::sync::Arc;
use tracing::{debug, warn};

/// A connection's handle, chosen by the hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What the runtime must do besides writing bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Hand a job to the engine worker, in order.
    Engine(EngineJob),
    /// Run a tool call on a tool worker; report through [`Hub::handle_worker_event`] with
    /// [`WorkerEvent::Tool`].
    Tool(crate::kernel::ToolJob),
    /// Pass an answer to the engine's pending `io.read`.
    Input(InputReply),
    /// Hand a command to the engine's debug channel (not its job queue).
    Debug(crate::engine::debug::DebugCommand),
    /// Set the engine's interrupt flag.
    Interrupt,
    /// Flush the connections, then stop serving.
    Shutdown {
        /// Whether the client asked for a restart.
        restart: bool,
    },
}

/// Counters of what was refused, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Connections closed for a ZMTP error.
    pub bad_connections: u64,
    /// Messages skipped for being over the size limit.
    pub oversize: u64,
    /// Messages that could not be routed to a connected peer.
    pub unroutable: u64,
    /// Messages dropped because their peer had `sndhwm` messages unread.
    pub hwm: u64,
}

struct Conn {
    channel: Channel,
    zmtp: Connection,
    /// Whether it is already listed in `dirty`.
    dirty: bool,
    /// When bytes last went either way.
    last_active: Timestamp,
    /// Messages queued since the runtime last wrote everything ([`Hub::handle_flushed`]).
    unflushed: usize,
}

/// The sockets and the kernel. See the [module docs](self).
pub struct Hub {
    kernel: Kernel,
    max_message_size: u64,
    next_id: u64,
    /// By the ids we hand out, hashed with Fx (no peer chooses them).
    conns: FxHashMap<ConnId, Conn>,
    /// Routing ids on shell, control and stdin.
    routers: [RouterTable<ConnId>; 3],
    /// iopub subscriptions.
    subs: Subscriptions<ConnId>,
    /// Connections with bytes to write, in the order they got them.
    dirty: Vec<ConnId>,
    effects: std::collections::VecDeque<Effect>,
    drops: Drops,
    metrics: Option<Arc<Metrics>>,
    limits: Limits,
    /// Open connections by channel, for `max_clients`.
    per_channel: [usize; 5],
    /// Scratch: the subscribers of the message being published.
    fanout: Vec<ConnId>,
}

fn router_index(channel: Channel) -> Option<usize> {
    match channel {
        Channel::Shell => Some(0),
        Channel::Control => Some(1),
        Channel::Stdin => Some(2),
        Channel::Iopub | Channel::Heartbeat => None,
    }
}

fn socket_type(channel: Channel) -> SocketType {
    match channel {
        Channel::Shell | Channel::Control | Channel::Stdin => SocketType::Router,
        Channel::Iopub => SocketType::XPub,
        Channel::Heartbeat => SocketType::Rep,
    }
}

impl Hub {
    /// A hub serving a kernel made from `config`; messages over `max_message_size` bytes are
    /// skipped without being buffered.
    pub fn new(config: KernelConfig, max_message_size: u64) -> Self {
        let metrics = config.metrics.clone();
        Hub {
            metrics,
            limits: Limits::default(),
            per_channel: [0; 5],
            fanout: Vec::new(),
            kernel: Kernel::new(config),
            max_message_size,
            next_id: 0,
            conns: FxHashMap::default(),
            routers: Default::default(),
            subs: Subscriptions::new(),
            dirty: Vec::new(),
            effects: Default::default(),
            drops: Drops::default(),
        }
    }

    /// The kernel, e.g. for its abort gate.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// What was refused so far.
    pub fn drops(&self) -> Drops {
        self.drops
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// A stream was accepted on `channel`'s listener.
    pub fn handle_accept(&mut self, channel: Channel) -> ConnId {
        self.next_id += 1;
        let id = ConnId(self.next_id);
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
                dirty: false,
                last_active: Timestamp::default(),
                unflushed: 0,
            },
        );
        self.count_channel(channel, true);
        self.mark_dirty(id);
        self.count_connections();
        id
    }

    /// The stream ended or failed: forget the connection.
    pub fn handle_close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.count_channel(c.channel, false);
            debug!(
                channel = c.channel.name(),
                conn = conn.0,
                "connection closed"
            );
            if let Some(i) = router_index(c.channel) {
                self.routers[i].detach(conn);
            }
            if c.channel == Channel::Iopub {
                self.subs.remove(conn);
            }
        }
        self.dirty.retain(|c| *c != conn);
        self.count_connections();
    }

    /// Bytes arrived on a connection. Consumes every complete unit from `input`. On an
    /// error, the connection is already forgotten: close the stream.
    pub fn handle_input(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        input: &mut BytesMut,
    ) -> Result<(), ZmtpError> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(ZmtpError::Usage("unknown connection".into()));
        };
        let channel = c.channel;
        c.last_active = now;
        if let Err(e) = c.zmtp.handle_input(input) {
            warn!(channel = channel.name(), conn = conn.0, error = ?e, "closing connection");
            self.drops.bad_connections += 1;
            self.count_drop(DropReason::BadConnection);
            self.handle_close(conn);
            return Err(e);
        }
        while let Some(event) = self.conns.get_mut(&conn).and_then(|c| c.zmtp.poll_event()) {
            self.on_event(now, conn, channel, event);
        }
        // A PONG or a heartbeat echo may be waiting.
        self.mark_dirty(conn);
        self.take_actions();
        Ok(())
    }

    fn on_event(&mut self, now: Timestamp, conn: ConnId, channel: Channel, event: Event) {
        match event {
            Event::Ready { identity, .. } => {
                if let Some(i) = router_index(channel) {
                    self.routers[i].attach(conn, identity);
                }
            }
            Event::Message(mut frames) => match channel {
                Channel::Heartbeat => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        // The heartbeat echoes, envelope and all.
                        let _ = c.zmtp.send(&frames);
                    }
                }
                Channel::Iopub => debug!("ignored a message on iopub"),
                _ => {
                    let Some(i) = router_index(channel) else {
                        return;
                    };
                    let Some(rid) = self.routers[i].id_of(conn).cloned() else {
                        return;
                    };
                    frames.insert(0, rid);
                    self.kernel.handle_message(now, channel, frames);
                }
            },
            Event::Subscribe(topic) => {
                if channel == Channel::Iopub {
                    self.subs.subscribe(conn, topic.clone());
                    self.kernel.handle_subscription(now, &topic);
                }
            }
            Event::Cancel(topic) => {
                if channel == Channel::Iopub {
                    self.subs.cancel(conn, &topic);
                }
            }
            Event::Oversize { size } => {
                self.drops.oversize += 1;
                self.count_drop(DropReason::Oversize);
                warn!(
                    channel = channel.name(),
                    size,
                    limit = self.max_message_size,
                    "refused an oversize message"
                );
            }
        }
    }

    /// The engine worker reported.
    pub fn handle_worker_event(&mut self, now: Timestamp, event: WorkerEvent) {
        self.kernel.handle_worker_event(now, event);
        self.take_actions();
    }

    /// SIGINT: interrupt the running cell, if any.
    pub fn handle_interrupt_signal(&mut self) {
        self.kernel.handle_interrupt_signal();
        self.take_actions();
    }

    fn count_drop(&self, reason: DropReason) {
        if let Some(m) = &self.metrics {
            m.dropped(reason);
        }
    }

    fn count_connections(&self) {
        if let Some(m) = &self.metrics {
            m.set_connections(self.conns.len());
        }
    }

    fn mark_dirty(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(conn);
            }
        }
    }

    fn take_actions(&mut self) {
        while let Some(action) = self.kernel.poll_action() {
            match action {
                Action::Send { channel, frames } => self.route(channel, frames),
                Action::Engine(job) => self.effects.push_back(Effect::Engine(job)),
                Action::Tool(job) => self.effects.push_back(Effect::Tool(job)),
                Action::Input(r) => self.effects.push_back(Effect::Input(r)),
                Action::Debug(cmd) => self.effects.push_back(Effect::Debug(cmd)),
                Action::Interrupt => self.effects.push_back(Effect::Interrupt),
                Action::Shutdown { restart } => {
                    self.effects.push_back(Effect::Shutdown { restart })
                }
            }
        }
    }

    fn route(&mut self, channel: Channel, frames: Vec<Bytes>) {
        if channel == Channel::Iopub {
            // The subscribers, in a vector kept between messages.
            let mut targets = std::mem::take(&mut self.fanout);
            targets.clear();
            self.subs.for_each_match(&frames[0], |c| targets.push(c));
            for &c in &targets {
                if !self.admit(c) {
                    continue;
                }
                if let Some(conn) = self.conns.get_mut(&c) {
                    let _ = conn.zmtp.send(&frames);
                    self.mark_dirty(c);
                }
            }
            self.fanout = targets;
            return;
        }
        let Some(i) = router_index(channel) else {
            return;
        };
        match frames.first().and_then(|rid| self.routers[i].lookup(rid)) {
            Some(c) => {
                if !self.admit(c) {
                    return;
                }
                if let Some(conn) = self.conns.get_mut(&c) {
                    let _ = conn.zmtp.send(&frames[1..]);
                    self.mark_dirty(c);
                }
            }
            None => {
                // A ROUTER drops what it cannot route, as libzmq's does.
                self.drops.unroutable += 1;
                self.count_drop(DropReason::Unroutable);
                debug!(
                    channel = channel.name(),
                    "dropped a message for a peer that is gone"
                );
            }
        }
    }

    /// The next effect for the runtime, if any.
    #[must_use]
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// The next connection with bytes to write, if any. Drain it with [`Hub::poll_transmit`].
    #[must_use]
    pub fn poll_dirty(&mut self) -> Option<ConnId> {
        let conn = self.dirty.pop()?;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.dirty = false;
        }
        Some(conn)
    }

    /// The next bytes to write on `conn`, in order.
    #[must_use]
    pub fn poll_transmit(&mut self, conn: ConnId) -> Option<Bytes> {
        self.conns.get_mut(&conn)?.zmtp.poll_transmit()
    }
}

#[cfg(test)]
mod tests;
