//! Fuzz-style tests: random and mutated streams at random split points never panic, and
//! the outcome does not depend on where the stream was split.

use super::*;

/// A deterministic xorshift64* generator: no rand crate, same run every time.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        // `n` is drawn first by callers; keep the two borrows apart.
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A valid stream to mutate: greeting, READY, messages, commands.
fn seed(rng: &mut XorShift, peer: &str) -> Vec<u8> {
    let mut s = peer_greeting(rng.below(2) as u8);
    s.extend(ready(peer, b"id"));
    for _ in 0..rng.below(6) {
        match rng.below(4) {
            0 => s.extend(command("PING", b"\x00\x01ctx")),
            1 => s.extend(command("SUBSCRIBE", b"t")),
            2 => {
                let n = rng.below(300);
                let body = rng.bytes(n);
                s.extend(frame(&body, rng.below(2) == 0));
            }
            _ => s.extend(message(&[b"a", b"", b"\x01"])),
        }
    }
    s
}

/// Feeds `stream` whole and at random cuts; both runs must agree. Returns how many events
/// the stream produced, so that callers can see the fuzzing gets past the handshake.
fn check(rng: &mut XorShift, socket_type: SocketType, max: u64, stream: &[u8]) -> usize {
    let mut whole = conn(socket_type, b"me", max);
    let expected = feed_cut(&mut whole, stream, &[]);
    let mut cuts: Vec<usize> = (0..rng.below(8))
        .map(|_| rng.below(stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut split = conn(socket_type, b"me", max);
    let got = feed_cut(&mut split, stream, &cuts);
    assert_eq!(got, expected, "cuts {cuts:?} of {stream:?}");
    let _ = whole.send(&[b(b"x")]);
    let _ = whole.subscribe(b"x");
    let _ = whole.send_ping(1, b"");
    let _ = transmit(&mut whole);
    expected.0.len()
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut past_ready = 0;
    for round in 0..3000 {
        let len = rng.below(200);
        let mut stream = rng.bytes(len);
        // Mostly behind a valid greeting, or nothing random gets past byte 0.
        if round % 4 != 0 {
            let mut g = peer_greeting(1);
            if round % 2 == 0 {
                g.extend(ready("DEALER", b""));
            }
            g.extend(stream);
            stream = g;
        }
        let max = 1 + rng.below(400) as u64;
        if check(&mut rng, SocketType::Router, max, &stream) > 0 {
            past_ready += 1;
        }
    }
    assert!(past_ready > 500, "only {past_ready} streams reached READY");
}

#[test]
fn mutated_streams_never_panic() {
    let mut rng = XorShift(0x0123_4567_89AB_CDEF);
    let mut past_ready = 0;
    let sides = [
        (SocketType::Router, "DEALER"),
        (SocketType::XPub, "SUB"),
        (SocketType::Rep, "REQ"),
        (SocketType::Sub, "PUB"),
    ];
    for _ in 0..3000 {
        let (ours, peer) = sides[rng.below(sides.len())];
        let mut stream = seed(&mut rng, peer);
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(stream.len());
            match rng.below(3) {
                0 => stream[at] = rng.next() as u8,
                1 => stream.truncate(at),
                _ => {
                    let n = rng.below(20);
                    let extra = rng.bytes(n);
                    stream.splice(at..at, extra);
                }
            }
            if stream.is_empty() {
                break;
            }
        }
        let max = if rng.below(2) == 0 {
            u64::MAX
        } else {
            rng.below(500) as u64
        };
        if check(&mut rng, ours, max, &stream) > 1 {
            past_ready += 1;
        }
    }
    assert!(past_ready > 300, "only {past_ready} streams got past READY");
}
