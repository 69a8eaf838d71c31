//! The kernel's side of the kernel shard: the one [`Kernel`], and where its messages go.
//!
//! Shards report what the kernel needs to know about their connections as [`Up`] items
//! (routing ids attached and detached, complete messages, iopub subscriptions); the owner
//! feeds the kernel and sorts its actions into one [`Down`] batch per shard: replies to
//! the shard that holds the peer's routing id, iopub messages to every shard with an iopub
//! connection. Engine jobs, tool calls, input replies and interrupts go to the threads
//! that run them.

use crate::bus::Outbox;
use crate::config::RunOutcome;
use bytes::Bytes;
use llmspell_core::connection::Channel;
use llmspell_core::kernel::{Action, Kernel, ToolJob, WorkerEvent};
use llmspell_core::time::Timestamp;
use llmspell_runtime_common::EngineHandle;
use std::collections::HashMap;
use tracing::{debug, warn};

/// From a shard to the kernel, about one of its connections.
#[derive(Debug)]
pub enum Up {
    /// A peer on shell, control or stdin has this routing id on the sending shard.
    Attach {
        /// The channel.
        channel: Channel,
        /// The peer's routing id.
        rid: Bytes,
    },
    /// The peer with this routing id left the sending shard.
    Detach {
        /// The channel.
        channel: Channel,
        /// The peer's routing id.
        rid: Bytes,
    },
    /// A complete message on shell, control or stdin, its routing id first.
    Message {
        /// The channel.
        channel: Channel,
        /// The frames, routing id first.
        frames: Vec<Bytes>,
    },
    /// An iopub connection opened on the sending shard.
    IopubOpened,
    /// An iopub connection closed on the sending shard.
    IopubClosed,
    /// An iopub peer subscribed to a topic.
    Subscribe(Bytes),
}

/// From the kernel to a shard.
#[derive(Debug)]
pub enum Down {
    /// Send a message: on shell, control and stdin to the peer named by the first frame; on
    /// iopub to every subscriber whose prefix matches the first frame.
    Send {
        /// The channel.
        channel: Channel,
        /// The frames.
        frames: Vec<Bytes>,
    },
    /// Write what is queued and stop.
    Stop,
}

/// Index of the routing tables: shell, control, stdin.
pub fn router_index(channel: Channel) -> Option<usize> {
    match channel {
        Channel::Shell => Some(0),
        Channel::Control => Some(1),
        Channel::Stdin => Some(2),
        Channel::Iopub | Channel::Heartbeat => None,
    }
}

/// The kernel and its routing. See the [module docs](self).
pub struct Owner {
    kernel: Kernel,
    /// Per router channel: routing id to the shard that holds the peer.
    routes: [HashMap<Bytes, usize>; 3],
    /// Open iopub connections per shard.
    iopub: Vec<usize>,
    /// What each shard gets after this turn; index = shard.
    pub out: Vec<Vec<Down>>,
    /// The other shards' inboxes (None at the kernel shard's own index).
    pub peers: Vec<Option<Outbox<Vec<Down>>>>,
    engine: EngineHandle,
    tools: crossbeam_channel::Sender<ToolJob>,
    /// Set when a client asks for shutdown or a signal asks the process to stop.
    pub outcome: Option<RunOutcome>,
    /// Replies for peers that are gone.
    pub unroutable: u64,
}

impl Owner {
    /// The owner of `kernel`, for `shards` shards.
    pub fn new(
        kernel: Kernel,
        engine: EngineHandle,
        tools: crossbeam_channel::Sender<ToolJob>,
        peers: Vec<Option<Outbox<Vec<Down>>>>,
    ) -> Self {
        let shards = peers.len();
        Owner {
            kernel,
            routes: Default::default(),
            iopub: vec![0; shards],
            out: (0..shards).map(|_| Vec::new()).collect(),
            peers,
            engine,
            tools,
            outcome: None,
            unroutable: 0,
        }
    }

    /// A shard's report.
    pub fn handle_up(&mut self, now: Timestamp, shard: usize, up: Up) {
        match up {
            Up::Attach { channel, rid } => {
                if let Some(i) = router_index(channel) {
                    self.routes[i].insert(rid, shard);
                }
            }
            Up::Detach { channel, rid } => {
                if let Some(i) = router_index(channel) {
                    // A peer that reconnected elsewhere keeps its newer route.
                    if self.routes[i].get(&rid) == Some(&shard) {
                        self.routes[i].remove(&rid);
                    }
                }
            }
            Up::Message { channel, frames } => {
                self.kernel.handle_message(now, channel, frames);
                self.take_actions();
            }
            Up::IopubOpened => self.iopub[shard] += 1,
            Up::IopubClosed => self.iopub[shard] = self.iopub[shard].saturating_sub(1),
            Up::Subscribe(topic) => {
                self.kernel.handle_subscription(now, &topic);
                self.take_actions();
            }
        }
    }

    /// The engine or a tool worker reported.
    pub fn handle_worker_event(&mut self, now: Timestamp, event: WorkerEvent) {
        self.kernel.handle_worker_event(now, event);
        self.take_actions();
    }

    /// SIGINT: interrupt the running cell, if any.
    pub fn handle_interrupt_signal(&mut self) {
        self.kernel.handle_interrupt_signal();
        self.take_actions();
    }

    /// Interrupts the running cell at exit, so that it does not keep the process alive.
    pub fn interrupt_engine(&self) {
        self.engine.interrupt();
    }

    fn take_actions(&mut self) {
        while let Some(action) = self.kernel.poll_action() {
            match action {
                Action::Send { channel, frames } => self.route(channel, frames),
                Action::Engine(job) => {
                    if self.engine.jobs.send(job).is_err() {
                        warn!("the engine thread is gone");
                    }
                }
                Action::Tool(job) => {
                    if self.tools.send(job).is_err() {
                        warn!("the tool workers are gone");
                    }
                }
                Action::Input(reply) => {
                    let _ = self.engine.input.send(reply);
                }
                Action::Debug(cmd) => {
                    if self.engine.debug.send(cmd).is_err() {
                        warn!("the engine thread is gone");
                    }
                }
                Action::Interrupt => self.engine.interrupt(),
                Action::Shutdown { restart } => {
                    self.outcome.get_or_insert(RunOutcome::Shutdown { restart });
                }
            }
        }
    }

    fn route(&mut self, channel: Channel, frames: Vec<Bytes>) {
        if channel == Channel::Iopub {
            let last = self.iopub.iter().rposition(|&n| n > 0);
            let Some(last) = last else {
                return;
            };
            for shard in 0..last {
                if self.iopub[shard] > 0 {
                    self.out[shard].push(Down::Send {
                        channel,
                        frames: frames.clone(),
                    });
                }
            }
            self.out[last].push(Down::Send { channel, frames });
            return;
        }
        let shard = router_index(channel)
            .and_then(|i| frames.first().and_then(|rid| self.routes[i].get(rid)))
            .copied();
        match shard {
            Some(shard) => self.out[shard].push(Down::Send { channel, frames }),
            None => {
                // A ROUTER drops what it cannot route, as libzmq's does.
                self.unroutable += 1;
                debug!(
                    channel = channel.name(),
                    "dropped a message for a peer that is gone"
                );
            }
        }
    }
}

/// What the kernel's shard receives from other threads.
#[derive(Debug)]
pub enum KernelMsg {
    /// A shard's reports, in order, tagged with its index.
    Shard(usize, Vec<Up>),
    /// The engine or a tool worker reported.
    Worker(WorkerEvent),
}
