//! What a deployment may bound: clients per channel, messages queued for a slow peer
//! (`sndhwm`), connections idle too long. All off by default (the hub then behaves as
//! before); a runtime sets them with [`Hub::set_limits`] and calls [`Hub::try_accept`],
//! [`Hub::handle_flushed`] and [`Hub::expire_idle`].

use super::{ConnId, Hub};
use crate::connection::Channel;
use crate::metrics::DropReason;
use crate::time::Timestamp;
use tracing::{debug, warn};

/// Bounds on connections. Zero (or `None`) means no bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most connections at once on each channel: a Jupyter client holds one per channel,
    /// so this is the most clients at once.
    pub max_clients: usize,
    /// Most messages queued for one peer that has not read what it was sent; beyond it
    /// new messages for that peer are dropped, as libzmq's ROUTER and XPUB do at their
    /// send high-water mark.
    pub sndhwm: usize,
    /// Close a connection after this many microseconds without a byte either way.
    pub idle_timeout_micros: Option<u64>,
}

/// Socket options for accepted streams, as `[transport.zeromq]` names them. `None` keeps
/// the operating system's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `SO_SNDBUF` in bytes.
    pub sndbuf: Option<i32>,
    /// `SO_RCVBUF` in bytes.
    pub rcvbuf: Option<i32>,
    /// How long, in ms, unsent replies may hold up the exit: 0 not at all, -1 until sent
    /// (runtimes cap it at a minute); `None` is the runtime's default (half a second).
    pub linger_ms: Option<i32>,
}

impl SocketOptions {
    /// How long to keep flushing at exit.
    pub fn linger(&self) -> std::time::Duration {
        let ms = match self.linger_ms {
            None => 500,
            Some(ms) if ms < 0 => 60_000,
            Some(ms) => ms.unsigned_abs().min(60_000),
        };
        std::time::Duration::from_millis(u64::from(ms))
    }
}

fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::Shell => 0,
        Channel::Iopub => 1,
        Channel::Stdin => 2,
        Channel::Control => 3,
        Channel::Heartbeat => 4,
    }
}

impl Hub {
    /// Sets the bounds for connections accepted and messages routed from now on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Like [`Hub::handle_accept`], unless `channel` already has `max_clients` connections:
    /// then `None`, the refusal is counted, and the runtime closes the stream.
    pub fn try_accept(&mut self, now: Timestamp, channel: Channel) -> Option<ConnId> {
        let max = self.limits.max_clients;
        if max > 0 && self.per_channel[channel_index(channel)] >= max {
            warn!(
                channel = channel.name(),
                max, "refused a connection: max_concurrent_clients reached"
            );
            self.count_drop(DropReason::ConnectionLimit);
            return None;
        }
        let id = self.handle_accept(channel);
        self.touch(id, now);
        Some(id)
    }

    /// The runtime has written everything the hub gave it for `conn` (at `now`): the peer
    /// is keeping up, so its high-water count starts again, and the connection was active.
    pub fn handle_flushed(&mut self, now: Timestamp, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.unflushed = 0;
            c.last_active = now;
        }
    }

    /// Forgets every connection idle for longer than the idle timeout and returns them:
    /// the runtime closes their streams. Call it now and then (every second or so).
    pub fn expire_idle(&mut self, now: Timestamp) -> Vec<ConnId> {
        let Some(timeout) = self.limits.idle_timeout_micros else {
            return Vec::new();
        };
        let idle: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| now.micros_since(c.last_active) > timeout)
            .map(|(id, _)| *id)
            .collect();
        for &id in &idle {
            debug!(conn = id.0, "closing an idle connection");
            self.handle_close(id);
        }
        idle
    }

    /// Records traffic on `conn` at `now`.
    pub(super) fn touch(&mut self, conn: ConnId, now: Timestamp) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.last_active = now;
        }
    }

    /// Whether a message may be queued for `conn`; counts it if so, counts a drop if not.
    pub(super) fn admit(&mut self, conn: ConnId) -> bool {
        let hwm = self.limits.sndhwm;
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        if hwm > 0 && c.unflushed >= hwm {
            self.drops.hwm += 1;
            self.count_drop(DropReason::Hwm);
            return false;
        }
        c.unflushed += 1;
        true
    }

    /// Keeps the per-channel counts in step with `conns`.
    pub(super) fn count_channel(&mut self, channel: Channel, opened: bool) {
        let n = &mut self.per_channel[channel_index(channel)];
        *n = if opened { *n + 1 } else { n.saturating_sub(1) };
    }
}
