//! Socket patterns over many connections: ROUTER identities, XPUB subscriptions, REQ/REP envelopes.
//! STUB: to be implemented.

use bytes::Bytes;
use std::hash::Hash;

/// ROUTER routing ids: the peer's `Identity` if it sent one, else a generated 5-byte id
/// (`0x00` and a big-endian counter, as libzmq makes them). A new connection with an id
/// already in use takes it over (handover).
pub struct RouterTable<C> {
    _p: std::marker::PhantomData<C>,
}

impl<C: Copy + Eq + Hash> RouterTable<C> {
    /// An empty table.
    pub fn new() -> Self {
        RouterTable {
            _p: std::marker::PhantomData,
        }
    }
    /// Registers a connection and returns its routing id.
    pub fn attach(&mut self, _conn: C, _identity: Option<Bytes>) -> Bytes {
        todo!()
    }
    /// Forgets a connection.
    pub fn detach(&mut self, _conn: C) {
        todo!()
    }
    /// The connection with this routing id.
    pub fn lookup(&self, _id: &[u8]) -> Option<C> {
        todo!()
    }
    /// The routing id of a connection.
    pub fn id_of(&self, _conn: C) -> Option<&Bytes> {
        todo!()
    }
}

impl<C: Copy + Eq + Hash> Default for RouterTable<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// XPUB subscriptions: prefixes per connection.
pub struct Subscriptions<C> {
    _p: std::marker::PhantomData<C>,
}

impl<C: Copy + Eq + Hash> Subscriptions<C> {
    /// An empty table.
    pub fn new() -> Self {
        Subscriptions {
            _p: std::marker::PhantomData,
        }
    }
    /// Adds a prefix for a connection.
    pub fn subscribe(&mut self, _conn: C, _prefix: Bytes) {
        todo!()
    }
    /// Removes one instance of a prefix for a connection.
    pub fn cancel(&mut self, _conn: C, _prefix: &[u8]) {
        todo!()
    }
    /// Forgets a connection.
    pub fn remove(&mut self, _conn: C) {
        todo!()
    }
    /// Calls `f` once for each connection with a prefix of `topic`.
    pub fn for_each_match(&self, _topic: &[u8], _f: impl FnMut(C)) {
        todo!()
    }
}

impl<C: Copy + Eq + Hash> Default for Subscriptions<C> {
    fn default() -> Self {
        Self::new()
    }
}
