//! The result cache for cacheable tools: bounded by bytes, entries expire after a TTL.
//! Time is an input.
//!
//! An entry is keyed by the tool's name and the canonical JSON of its parameters (object
//! keys sorted, no spaces), so `{"a":1,"b":2}` and `{"b":2,"a":1}` share an entry. Its
//! size is approximate: the key, the text and the data as JSON, plus a fixed overhead.
//! When a new entry would pass `max_bytes`, the least recently used entries go first; an
//! entry larger than `max_bytes` on its own is not stored. An entry stored at `t` is fresh
//! while `now - t < ttl_secs`; a stale entry is dropped when it is looked up.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::ToolOutput;
use crate::time::Timestamp;
use serde_json::Value;

/// Bytes counted for every entry besides its key, text and data.
const ENTRY_OVERHEAD: usize = 96;

/// Cache settings (`[tools] cache_enabled, cache_size_mb, cache_ttl_seconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether results are cached at all.
    pub enabled: bool,
    /// Most bytes of cached results (approximate: the sizes of text and data).
    pub max_bytes: usize,
    /// How long an entry stays valid, in seconds.
    pub ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            max_bytes: 100 << 20,
            ttl_secs: 300,
        }
    }
}

/// One cached result.
struct Slot {
    /// The result.
    output: ToolOutput,
    /// When it was stored.
    stored: Timestamp,
    /// Its place in the use order (a key of `ToolCache::order`).
    used: u64,
    /// Its approximate size in bytes.
    size: usize,
}

/// Results of cacheable tools by (tool, canonical parameters). Least recently used goes first.
pub struct ToolCache {
    /// The settings.
    config: CacheConfig,
    /// Entries by key.
    slots: HashMap<Arc<str>, Slot>,
    /// Keys by last use, least recent first.
    order: BTreeMap<u64, Arc<str>>,
    /// The next use stamp.
    tick: u64,
    /// The sum of the entries' sizes.
    bytes: usize,
}

impl ToolCache {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        ToolCache {
            config,
            slots: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
        }
    }

    /// A fresh cached result, if any.
    pub fn get(&mut self, now: Timestamp, tool: &str, params: &Value) -> Option<ToolOutput> {
        if !self.config.enabled || self.slots.is_empty() {
            return None;
        }
        let key = cache_key(tool, params);
        let slot = self.slots.get(key.as_str())?;
        if !self.fresh(now, slot) {
            self.remove(&key);
            return None;
        }
        let used = slot.used;
        self.tick += 1;
        let tick = self.tick;
        // The slot exists: it was just found under this key.
        let slot = self.slots.get_mut(key.as_str()).expect("slot just found");
        slot.used = tick;
        let output = slot.output.clone();
        if let Some(k) = self.order.remove(&used) {
            self.order.insert(tick, k);
        }
        Some(output)
    }

    /// Stores a result, evicting the least recently used entries to make room.
    pub fn put(&mut self, now: Timestamp, tool: &str, params: &Value, output: &ToolOutput) {
        if !self.config.enabled || self.config.ttl_secs == 0 {
            return;
        }
        let key = cache_key(tool, params);
        self.remove(&key);
        let size = key.len() + output.text.len() + json_size(&output.data) + ENTRY_OVERHEAD;
        if size > self.config.max_bytes {
            return;
        }
        while self.bytes + size > self.config.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.remove(&oldest) {
                self.bytes -= slot.size;
            }
        }
        self.tick += 1;
        let key: Arc<str> = key.into();
        self.order.insert(self.tick, key.clone());
        self.slots.insert(
            key,
            Slot {
                output: output.clone(),
                stored: now,
                used: self.tick,
                size,
            },
        );
        self.bytes += size;
    }

    /// Drops every entry that is no longer fresh at `now`.
    pub fn purge_expired(&mut self, now: Timestamp) {
        let stale: Vec<Arc<str>> = self
            .slots
            .iter()
            .filter(|(_, slot)| !self.fresh(now, slot))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            self.remove(&key);
        }
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The approximate bytes held, never more than `max_bytes`.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether an entry is still valid at `now`.
    fn fresh(&self, now: Timestamp, slot: &Slot) -> bool {
        now.micros_since(slot.stored) < self.config.ttl_secs.saturating_mul(1_000_000)
    }

    /// Removes the entry under `key`, if any.
    fn remove(&mut self, key: &str) {
        if let Some(slot) = self.slots.remove(key) {
            self.order.remove(&slot.used);
            self.bytes -= slot.size;
        }
    }
}

/// The cache key: the tool's name, a newline, and the canonical JSON of the parameters.
pub fn cache_key(tool: &str, params: &Value) -> String {
    let mut out = Vec::with_capacity(tool.len() + 32);
    out.extend_from_slice(tool.as_bytes());
    out.push(b'\n');
    write_canonical(&mut out, params);
    // Only a UTF-8 name and serde_json's UTF-8 output were written.
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// Writes `value` as JSON with object keys sorted and no spaces.
fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    // Writing to a Vec cannot fail, and strings and numbers always serialize.
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, key);
                out.push(b':');
                write_canonical(out, &map[key]);
            }
            out.push(b'}');
        }
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(_) | Value::String(_) => {
            let _ = serde_json::to_writer(&mut *out, value);
        }
    }
}

/// The approximate size of `value` in memory, in bytes.
fn json_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => 24 + s.len(),
        Value::Array(items) => 24 + items.iter().map(json_size).sum::<usize>(),
        Value::Object(map) => {
            32 + map
                .iter()
                .map(|(k, v)| 24 + k.len() + json_size(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_unix_micros(secs * 1_000_000)
    }

    fn out(text: &str) -> ToolOutput {
        ToolOutput {
            text: text.to_owned(),
            data: json!({ "result": text }),
        }
    }

    fn config(max_bytes: usize, ttl_secs: u64) -> CacheConfig {
        CacheConfig {
            enabled: true,
            max_bytes,
            ttl_secs,
        }
    }

    #[test]
    fn key_is_tool_and_canonical_params() {
        let a = cache_key("t", &json!({"b": [1, {"z": null, "y": true}], "a": "x\"y"}));
        assert_eq!(a, "t\n{\"a\":\"x\\\"y\",\"b\":[1,{\"y\":true,\"z\":null}]}");
        assert_eq!(
            cache_key("t", &json!({"a": 1, "b": 2})),
            cache_key("t", &json!({"b": 2, "a": 1}))
        );
        assert_ne!(
            cache_key("t", &json!({"a": 1})),
            cache_key("u", &json!({"a": 1}))
        );
        assert_ne!(
            cache_key("t", &json!({"a": 1})),
            cache_key("t", &json!({"a": 1.0}))
        );
        assert_eq!(cache_key("t", &json!(false)), "t\nfalse");
    }

    #[test]
    fn hit_miss_and_key_order() {
        let mut cache = ToolCache::new(CacheConfig::default());
        assert!(cache.is_empty());
        assert_eq!(cache.get(at(0), "calc", &json!({"input": "1+1"})), None);
        cache.put(at(0), "calc", &json!({"input": "1+1", "x": 1}), &out("2"));
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.get(at(1), "calc", &json!({"x": 1, "input": "1+1"})),
            Some(out("2"))
        );
        assert_eq!(
            cache.get(at(1), "other", &json!({"input": "1+1", "x": 1})),
            None
        );
        assert_eq!(
            cache.get(at(1), "calc", &json!({"input": "1+2", "x": 1})),
            None
        );
        // Storing again under the same key replaces the entry.
        cache.put(at(2), "calc", &json!({"input": "1+1", "x": 1}), &out("two"));
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.get(at(2), "calc", &json!({"input": "1+1", "x": 1})),
            Some(out("two"))
        );
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let mut cache = ToolCache::new(config(1 << 20, 10));
        cache.put(at(100), "t", &json!(1), &out("a"));
        cache.put(at(105), "t", &json!(2), &out("b"));
        assert_eq!(cache.get(at(109), "t", &json!(1)), Some(out("a")));
        // Fresh while less than the TTL has passed; a clock that went back counts as fresh.
        assert_eq!(cache.get(at(50), "t", &json!(1)), Some(out("a")));
        assert_eq!(cache.get(at(110), "t", &json!(1)), None);
        assert_eq!(cache.len(), 1, "the stale entry is dropped on lookup");
        cache.purge_expired(at(115));
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn least_recently_used_goes_first() {
        let one = cache_key("t", &json!(1)).len() + 1 + json_size(&out("a").data) + ENTRY_OVERHEAD;
        let mut cache = ToolCache::new(config(3 * one, 300));
        for i in 1..=3 {
            cache.put(at(0), "t", &json!(i), &out("a"));
        }
        assert_eq!((cache.len(), cache.bytes()), (3, 3 * one));
        // Using 1 makes 2 the least recently used.
        assert!(cache.get(at(1), "t", &json!(1)).is_some());
        cache.put(at(1), "t", &json!(4), &out("a"));
        assert_eq!(cache.len(), 3);
        assert!(cache.get(at(1), "t", &json!(2)).is_none());
        for i in [1, 3, 4] {
            assert!(cache.get(at(1), "t", &json!(i)).is_some(), "{i}");
        }
        // A bigger entry evicts as many as it needs.
        let big = out(&"x".repeat(one));
        cache.put(at(2), "t", &json!(5), &big);
        assert!(cache.bytes() <= 3 * one);
        assert!(cache.get(at(2), "t", &json!(5)).is_some());
        assert!(cache.len() < 3);
        // An entry larger than the whole cache is not stored, and the rest stay.
        let before = cache.len();
        cache.put(at(2), "t", &json!(6), &out(&"x".repeat(3 * one)));
        assert_eq!(cache.len(), before);
        assert!(cache.get(at(2), "t", &json!(6)).is_none());
        cache.clear();
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    #[test]
    fn disabled_caches_nothing() {
        let mut cache = ToolCache::new(CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        });
        cache.put(at(0), "t", &json!(1), &out("a"));
        assert!(cache.is_empty());
        assert_eq!(cache.get(at(0), "t", &json!(1)), None);
        let mut zero_ttl = ToolCache::new(config(1 << 20, 0));
        zero_ttl.put(at(0), "t", &json!(1), &out("a"));
        assert!(zero_ttl.is_empty());
    }
}
