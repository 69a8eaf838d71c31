//! HMAC-SHA256 signatures, verified in constant time, and the replay window.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashSet, VecDeque};

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies with one key. An empty key signs nothing and accepts anything.
#[derive(Clone)]
pub struct Signer {
    /// The keyed MAC, cloned for each message; `None` when the key is empty.
    mac: Option<HmacSha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("enabled", &self.mac.is_some())
            .finish()
    }
}

impl Signer {
    /// A signer for `key`.
    pub fn new(key: &[u8]) -> Self {
        let mac = if key.is_empty() {
            None
        } else {
            // HMAC accepts keys of any length.
            Some(HmacSha256::new_from_slice(key).expect("HMAC takes keys of any size"))
        };
        Signer { mac }
    }

    /// Whether messages are signed.
    pub fn is_enabled(&self) -> bool {
        self.mac.is_some()
    }

    /// The lowercase hex signature of `parts`, or an empty frame when signing is off.
    pub fn sign(&self, parts: &[&[u8]]) -> Bytes {
        match self.sign_hex(parts) {
            Some(hex) => Bytes::copy_from_slice(&hex),
            None => Bytes::new(),
        }
    }

    /// The lowercase hex signature of `parts` as 64 bytes, `None` when signing is off.
    pub fn sign_hex(&self, parts: &[&[u8]]) -> Option<[u8; 64]> {
        let mac = self.mac.as_ref()?;
        let mut mac = mac.clone();
        for p in parts {
            mac.update(p);
        }
        Some(to_hex(&mac.finalize().into_bytes().into()))
    }

    /// Verifies a hex signature over `parts` in constant time. Returns the raw 32-byte
    /// digest (for the replay window) when it matches.
    ///
    /// As jupyter_client does, it compares lowercase hex: our own digest is encoded (a
    /// table lookup per byte) and compared with the claimed signature in constant time,
    /// which is cheaper than decoding the claim's hex digit by digit.
    pub fn verify(&self, signature: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
        use subtle::ConstantTimeEq;
        let mac = self.mac.as_ref()?;
        if signature.len() != 64 {
            return None;
        }
        let mut mac = mac.clone();
        for p in parts {
            mac.update(p);
        }
        let digest: [u8; 32] = mac.finalize().into_bytes().into();
        let hex = to_hex(&digest);
        // Compared as four 16-byte words: constant time, without a branch per byte.
        let words = |b: &[u8]| -> [u128; 4] {
            std::array::from_fn(|i| {
                let mut w = [0u8; 16];
                w.copy_from_slice(&b[i * 16..i * 16 + 16]);
                u128::from_ne_bytes(w)
            })
        };
        let (ours, theirs) = (words(&hex), words(signature));
        let diff = (0..4).fold(0u128, |acc, i| acc | (ours[i] ^ theirs[i]));
        bool::from(diff.ct_eq(&0)).then_some(digest)
    }
}

/// Lowercase hex digits of every byte value, two per byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let digits = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [digits[i >> 4], digits[i & 15]];
        i += 1;
    }
    table
};

/// A digest as 64 lowercase hex digits: one table lookup per byte (a quarter of the
/// instructions of a digit-by-digit encoder, on every message signed or checked).
pub(super) fn to_hex(digest: &[u8; 32]) -> [u8; 64] {
    let mut hex = [0u8; 64];
    for (pair, &b) in hex.chunks_exact_mut(2).zip(digest) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
    hex
}

/// The signatures seen recently, to reject replayed messages as jupyter_client's Session
/// does. Bounded: when full, the oldest signature is forgotten first.
#[derive(Clone, Debug)]
pub struct ReplayWindow {
    /// Signatures in arrival order, oldest first.
    order: VecDeque<[u8; 32]>,
    /// The same signatures, for lookup.
    seen: HashSet<[u8; 32], DigestHash>,
    /// Most signatures remembered; 0 disables the check.
    capacity: usize,
}

impl ReplayWindow {
    /// A window of `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        ReplayWindow {
            order: VecDeque::with_capacity(capacity.min(1024)),
            seen: HashSet::with_capacity_and_hasher(capacity.min(1024), DigestHash),
            capacity,
        }
    }

    /// Records a signature; false if it was already there.
    pub fn insert(&mut self, digest: [u8; 32]) -> bool {
        if self.capacity == 0 {
            return true;
        }
        if !self.seen.insert(digest) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.order.push_back(digest);
        true
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Hashes an HMAC digest by its first eight bytes. A digest is already uniform, and only a
/// holder of the key can choose one (who could sign anything anyway), so rehashing it with
/// SipHash would buy nothing.
#[derive(Clone, Copy, Debug, Default)]
struct DigestHash;

impl std::hash::BuildHasher for DigestHash {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

/// See [`DigestHash`].
#[derive(Debug)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A [u8; 32] arrives as its length, then its bytes.
        for chunk in bytes.chunks(8).take(1) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_ne_bytes(w);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(5) ^ n as u64;
    }
}
