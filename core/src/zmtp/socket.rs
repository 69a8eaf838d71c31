//! Socket patterns over many connections: ROUTER identities, XPUB subscriptions, REQ/REP envelopes.
//!
//! `C` is whatever the runtime uses to name a connection (an index, a token); these tables
//! only map names, they hold no connection.

use bytes::Bytes;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::hash::Hash;

/// The counter value of the first generated routing id. libzmq starts at a random value;
/// the core draws no random numbers, so a runtime that wants that passes its own start to
/// [`RouterTable::with_first_id`].
pub const FIRST_GENERATED_ID: u32 = 0x0000_0001;

/// ROUTER routing ids: the peer's `Identity` if it sent one, else a generated 5-byte id
/// (`0x00` and a big-endian counter, as libzmq makes them). A new connection with an id
/// already in use takes it over (handover).
pub struct RouterTable<C> {
    /// Routing id to connection.
    by_id: HashMap<Bytes, C>,
    /// Connection to routing id. Connection names are the runtime's own (counters,
    /// tokens), so they are hashed with Fx, not SipHash; routing ids come from peers and
    /// keep the default, keyed hasher.
    by_conn: FxHashMap<C, Bytes>,
    /// Counter of the next generated id.
    next: u32,
}

impl<C: Copy + Eq + Hash> RouterTable<C> {
    /// An empty table.
    pub fn new() -> Self {
        Self::with_first_id(FIRST_GENERATED_ID)
    }

    /// An empty table whose generated ids count from `first`.
    pub fn with_first_id(first: u32) -> Self {
        RouterTable {
            by_id: HashMap::new(),
            by_conn: FxHashMap::default(),
            next: first,
        }
    }

    /// Registers a connection and returns its routing id.
    pub fn attach(&mut self, conn: C, identity: Option<Bytes>) -> Bytes {
        self.attach_replacing(conn, identity).0
    }

    /// Registers a connection; returns its routing id and the connection that held that id
    /// before, now unmapped (handover), if any.
    pub fn attach_replacing(&mut self, conn: C, identity: Option<Bytes>) -> (Bytes, Option<C>) {
        self.detach(conn);
        let id = match identity {
            Some(id) if !id.is_empty() => id,
            _ => self.generate(),
        };
        let old = self.by_id.insert(id.clone(), conn);
        if let Some(old) = old {
            self.by_conn.remove(&old);
        }
        self.by_conn.insert(conn, id.clone());
        (id, old)
    }

    /// Forgets a connection.
    pub fn detach(&mut self, conn: C) {
        if let Some(id) = self.by_conn.remove(&conn) {
            self.by_id.remove(&id);
        }
    }

    /// The connection with this routing id.
    pub fn lookup(&self, id: &[u8]) -> Option<C> {
        self.by_id.get(id).copied()
    }

    /// The routing id of a connection.
    pub fn id_of(&self, conn: C) -> Option<&Bytes> {
        self.by_conn.get(&conn)
    }

    /// How many connections are attached.
    pub fn len(&self) -> usize {
        self.by_conn.len()
    }

    /// Whether no connection is attached.
    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }

    /// A fresh 5-byte id, skipping ids in use (a peer may have claimed one as its identity).
    fn generate(&mut self) -> Bytes {
        // At most `len() + 1` tries: fewer ids than that are in use.
        let mut id = [0u8; 5];
        for _ in 0..=self.by_id.len() {
            id[1..].copy_from_slice(&self.next.to_be_bytes());
            self.next = self.next.wrapping_add(1);
            if !self.by_id.contains_key(&id[..]) {
                break;
            }
        }
        Bytes::copy_from_slice(&id)
    }
}

impl<C: Copy + Eq + Hash> Default for RouterTable<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// XPUB subscriptions: prefixes per connection.
///
/// Subscriptions are counted: two SUBSCRIBE of a prefix and one CANCEL leave it subscribed,
/// as libzmq's SUB side counts its own subscriptions.
pub struct Subscriptions<C> {
    /// Per connection: each prefix and how many times it is subscribed.
    by_conn: FxHashMap<C, Vec<(Bytes, u32)>>,
}

impl<C: Copy + Eq + Hash> Subscriptions<C> {
    /// An empty table.
    pub fn new() -> Self {
        Subscriptions {
            by_conn: FxHashMap::default(),
        }
    }

    /// Adds a prefix for a connection.
    pub fn subscribe(&mut self, conn: C, prefix: Bytes) {
        let subs = self.by_conn.entry(conn).or_default();
        match subs.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => subs.push((prefix, 1)),
        }
    }

    /// Removes one instance of a prefix for a connection.
    pub fn cancel(&mut self, conn: C, prefix: &[u8]) {
        let Some(subs) = self.by_conn.get_mut(&conn) else {
            return;
        };
        if let Some(i) = subs.iter().position(|(p, _)| p.as_ref() == prefix) {
            subs[i].1 -= 1;
            if subs[i].1 == 0 {
                subs.swap_remove(i);
            }
        }
        if subs.is_empty() {
            self.by_conn.remove(&conn);
        }
    }

    /// Forgets a connection.
    pub fn remove(&mut self, conn: C) {
        self.by_conn.remove(&conn);
    }

    /// Calls `f` once for each connection with a prefix of `topic`.
    pub fn for_each_match(&self, topic: &[u8], mut f: impl FnMut(C)) {
        for (conn, subs) in &self.by_conn {
            if subs.iter().any(|(p, _)| topic.starts_with(p)) {
                f(*conn);
            }
        }
    }

    /// Whether `conn` has a prefix of `topic`.
    pub fn matches(&self, conn: C, topic: &[u8]) -> bool {
        self.by_conn
            .get(&conn)
            .is_some_and(|subs| subs.iter().any(|(p, _)| topic.starts_with(p)))
    }

    /// Whether no connection has any subscription.
    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }
}

impl<C: Copy + Eq + Hash> Default for Subscriptions<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// Splits a message a REP side received into its envelope (routing frames up to and
/// including the empty delimiter) and its body. `None` when there is no delimiter.
pub fn rep_split(mut frames: Vec<Bytes>) -> Option<(Vec<Bytes>, Vec<Bytes>)> {
    let delimiter = frames.iter().position(|f| f.is_empty())?;
    let body = frames.split_off(delimiter + 1);
    Some((frames, body))
}

/// Prepends the empty delimiter a REQ side puts before the body.
pub fn req_wrap(body: Vec<Bytes>) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(body.len() + 1);
    frames.push(Bytes::new());
    frames.extend(body);
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_ids_generated_and_claimed() {
        let mut t = RouterTable::new();
        let a = t.attach(1u32, None);
        assert_eq!(&a[..], &[0, 0, 0, 0, 1]);
        let b = t.attach(2, Some(Bytes::new()));
        assert_eq!(&b[..], &[0, 0, 0, 0, 2]);
        let c = t.attach(3, Some(Bytes::from_static(b"kernel-client")));
        assert_eq!(&c[..], b"kernel-client");
        assert_eq!(t.lookup(b"kernel-client"), Some(3));
        assert_eq!(t.lookup(&a), Some(1));
        assert_eq!(t.id_of(2), Some(&b));
        assert_eq!(t.len(), 3);
        t.detach(1);
        assert_eq!(t.lookup(&a), None);
        assert_eq!(t.id_of(1), None);
    }

    #[test]
    fn router_handover_unmaps_the_old_connection() {
        let mut t = RouterTable::new();
        t.attach(1u32, Some(Bytes::from_static(b"same")));
        let (id, old) = t.attach_replacing(2, Some(Bytes::from_static(b"same")));
        assert_eq!(&id[..], b"same");
        assert_eq!(old, Some(1));
        assert_eq!(t.lookup(b"same"), Some(2));
        assert_eq!(t.id_of(1), None);
        // Detaching the old one must not unmap the new owner.
        t.detach(1);
        assert_eq!(t.lookup(b"same"), Some(2));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn router_generation_skips_claimed_ids() {
        let mut t = RouterTable::with_first_id(7);
        t.attach(1u32, Some(Bytes::from_static(&[0, 0, 0, 0, 7])));
        let id = t.attach(2, None);
        assert_eq!(&id[..], &[0, 0, 0, 0, 8]);
        assert_eq!(t.lookup(&[0, 0, 0, 0, 7]), Some(1));
    }

    #[test]
    fn subscriptions_prefix_and_counting() {
        let mut s = Subscriptions::new();
        s.subscribe(1u32, Bytes::new());
        s.subscribe(1, Bytes::new());
        s.subscribe(2, Bytes::from_static(b"status"));
        let mut hits = Vec::new();
        s.for_each_match(b"stream", |c| hits.push(c));
        assert_eq!(hits, vec![1]);
        hits.clear();
        s.for_each_match(b"status.busy", |c| hits.push(c));
        hits.sort();
        assert_eq!(hits, vec![1, 2]);
        s.cancel(1, b"");
        assert!(s.matches(1, b"anything"));
        s.cancel(1, b"");
        assert!(!s.matches(1, b"anything"));
        s.cancel(1, b"never");
        s.remove(2);
        assert!(s.is_empty());
    }

    #[test]
    fn envelopes() {
        let f = |b: &'static [u8]| Bytes::from_static(b);
        let wrapped = req_wrap(vec![f(b"a"), f(b"b")]);
        assert_eq!(wrapped, vec![f(b""), f(b"a"), f(b"b")]);
        let (env, body) = rep_split(vec![f(b"id"), f(b""), f(b"x")]).expect("has a delimiter");
        assert_eq!(env, vec![f(b"id"), f(b"")]);
        assert_eq!(body, vec![f(b"x")]);
        let (env, body) = rep_split(wrapped).expect("has a delimiter");
        assert_eq!(env, vec![f(b"")]);
        assert_eq!(body.len(), 2);
        assert_eq!(rep_split(vec![f(b"x")]), None);
    }
}
