//! Criterion micro-benchmarks of llmspell-core's hot path, without sockets or threads:
//!
//! - `zmtp`: decoding a 6-frame Jupyter-shaped message from its ZMTP bytes (a ROUTER-side
//!   [`Connection`] after a handshake, fed through `handle_input`) and encoding one (a
//!   DEALER's `send` then `poll_transmit`);
//! - `wire`: [`llmspell_core::wire::Signer::sign`] and [`Codec::decode`] (HMAC check and header parse) of a
//!   ~300-byte message;
//! - `json`: a typical `execute_request` content and a 100 KB document, simd-json
//!   ([`llmspell_core::wire::json::from_slice`]) beside `serde_json::from_slice`;
//! - `hub` (core/hub.rs): one execute through [`llmspell_core::hub::Hub`], bytes in to every reply's bytes out, with the
//!   engine's answer played by hand (as core/examples/hub_execute.rs does), one
//!   kernel_info, and one
//!   `tool_request` invoking calculator, which the kernel answers inline;
//! - `tools`: the registry's list, info, search("calc") and validate, and calculator
//!   invoked through [`Host`], with and without its result cache.
//!
//! Each group is short (2 s of measurement, 30 samples, no plots), so the suite runs in
//! about a minute: `cargo bench -p llmspell-benches --bench core`; add `-- --quick` for a
//! faster, rougher pass, or a filter such as `-- json`. Every setup checks what it built
//! (the message decodes, both JSON parsers agree, the hub answers) before timing it;
//! `cargo test -p llmspell-benches --bench core` runs each benchmark once, as a test.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use llmspell_core::time::Timestamp;
use llmspell_core::tools::cache::CacheConfig;
use llmspell_core::tools::ToolHost;
use llmspell_core::wire::{self, write_header, Codec};
use llmspell_core::zmtp::{Config, Connection, Event, SocketType};
use llmspell_tools::host::{Host, HostConfig};
use serde_json::{json, Value};

// Not a bench target of its own: cargo discovers only benches/*.rs and benches/*/main.rs.
#[path = "core/hub.rs"]
mod hub;
use hub::hub;

/// The HMAC key of every signed message here.
const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
/// A fixed time, 2026-11-27, so that headers have a realistic date.
const T0: u64 = 1_795_746_123_000_000;
/// The content of a typical execute_request, as Jupyter clients send it.
const EXECUTE: &[u8] = br#"{"code":"1+1","silent":false,"store_history":true,"user_expressions":{},"allow_stdin":true,"stop_on_error":true}"#;

/// The content of the tool calls: calculator on 2+2, as `llmspell-bench compare` sends it.
const TOOL_INVOKE: &[u8] = br#"{"command":"invoke","name":"calculator","params":{"input":"2+2"}}"#;

/// The six frames of a signed request: delimiter, signature, header, parent header,
/// metadata, content (about 300 bytes in all for an execute_request).
fn request_frames(
    codec: &Codec,
    msg_id: &str,
    msg_type: &str,
    content: &'static [u8],
) -> Vec<Bytes> {
    let mut header = Vec::with_capacity(192);
    let date = Timestamp::from_unix_micros(T0);
    let session = "9f2c4e1a-5b7d-4c3e-8a2f-1d6b9e0c7a45";
    write_header(&mut header, msg_id, msg_type, session, "user", date, "5.3");
    let empty = Bytes::from_static(b"{}");
    let content = Bytes::from_static(content);
    codec.encode(&[], header.into(), empty.clone(), empty, content, &[])
}

/// A signed execute_request of `1+1`.
fn jupyter_frames(codec: &Codec, msg_id: &str) -> Vec<Bytes> {
    request_frames(codec, msg_id, "execute_request", EXECUTE)
}

/// Drains every chunk a connection has to write into one buffer.
fn transmit(conn: &mut Connection) -> BytesMut {
    let mut out = BytesMut::new();
    while let Some(chunk) = conn.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

/// A DEALER and a ROUTER connection with their handshake done, in memory.
fn connected_pair() -> (Connection, Connection) {
    let mut dealer = Connection::new(Config {
        identity: Bytes::from_static(b"client"),
        ..Config::new(SocketType::Dealer)
    });
    let mut router = Connection::new(Config::new(SocketType::Router));
    // Greetings, then READY both ways: a few exchanges settle it.
    for _ in 0..4 {
        let mut up = transmit(&mut dealer);
        router
            .handle_input(&mut up)
            .expect("our own handshake is valid");
        let mut down = transmit(&mut router);
        dealer
            .handle_input(&mut down)
            .expect("our own handshake is valid");
        while dealer.poll_event().is_some() {}
        while router.poll_event().is_some() {}
    }
    assert!(
        dealer.is_ready() && router.is_ready(),
        "handshake did not finish"
    );
    (dealer, router)
}

fn zmtp(c: &mut Criterion) {
    let codec = Codec::new(KEY, 0);
    let frames = jupyter_frames(&codec, "req-1");
    let (mut dealer, mut router) = connected_pair();
    dealer.send(&frames).expect("the connection is ready");
    let wire_bytes = transmit(&mut dealer).freeze();
    // Check once that the bytes decode to the same six frames.
    let mut input = BytesMut::from(&wire_bytes[..]);
    router.handle_input(&mut input).expect("valid ZMTP");
    assert_eq!(router.poll_event(), Some(Event::Message(frames.clone())));

    let mut g = c.benchmark_group("zmtp");
    g.throughput(Throughput::Bytes(wire_bytes.len() as u64));
    g.bench_function("decode 6-frame message", |b| {
        b.iter_batched(
            || BytesMut::from(&wire_bytes[..]),
            |mut input| {
                router.handle_input(&mut input).expect("valid ZMTP");
                router.poll_event()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("encode 6-frame message", |b| {
        b.iter(|| {
            dealer
                .send(black_box(&frames))
                .expect("the connection is ready");
            let mut n = 0;
            while let Some(chunk) = dealer.poll_transmit() {
                n += chunk.len();
            }
            n
        })
    });
    g.finish();
}

fn wire(c: &mut Criterion) {
    // No replay window, so that one message can be decoded again and again.
    let mut codec = Codec::new(KEY, 0);
    let frames = jupyter_frames(&codec, "req-1");
    let parts: Vec<&[u8]> = frames[2..6].iter().map(|f| &f[..]).collect();
    let size: usize = frames.iter().map(Bytes::len).sum();
    assert_eq!(codec.signer().sign(&parts), frames[1]);
    assert!(codec.decode(frames.clone()).is_ok());

    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function("sign", |b| {
        b.iter(|| codec.signer().sign(black_box(&parts)))
    });
    g.bench_function("decode (verify + header)", |b| {
        b.iter_batched(
            || frames.clone(),
            |frames| codec.decode(frames).expect("a valid message"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A JSON document of at least `size` bytes: an array of records with strings, numbers,
/// booleans, nested objects and arrays, as a tool or a display payload might carry.
fn document(size: usize) -> Vec<u8> {
    let mut records = Vec::new();
    let mut text = Vec::new();
    for i in 0u32.. {
        records.push(json!({
            "id": i,
            "name": format!("user-{i}"),
            "email": format!("user{i}@example.org"),
            "active": i % 3 != 0,
            "score": f64::from(i) * 1.25 + 0.5,
            "tags": ["alpha", "beta", format!("t{}", i % 17)],
            "address": {"street": format!("{} Main St", i + 1), "city": "Springfield", "zip": format!("{:05}", i * 7 % 100_000)},
            "note": "Lorem ipsum dolor sit amet, \"quoted\" and escaped \\ text \u{e9}",
        }));
        if i % 50 == 49 {
            text = serde_json::to_vec(&records).expect("a Value serializes");
            if text.len() >= size {
                break;
            }
        }
    }
    text
}

fn json_decode(c: &mut Criterion) {
    let big = document(100 * 1024);
    let mut g = c.benchmark_group("json");
    for (name, doc) in [
        ("execute_request content", EXECUTE),
        ("100 KB document", &big[..]),
    ] {
        let simd: Value = wire::json::from_slice(doc).expect("valid JSON");
        let serde: Value = serde_json::from_slice(doc).expect("valid JSON");
        assert_eq!(simd, serde, "the parsers disagree on {name}");
        g.throughput(Throughput::Bytes(doc.len() as u64));
        g.bench_function(format!("{name}: simd-json"), |b| {
            b.iter(|| wire::json::from_slice::<Value>(black_box(doc)).expect("valid JSON"))
        });
        g.bench_function(format!("{name}: serde_json"), |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(doc)).expect("valid JSON"))
        });
    }
    g.finish();
}

fn tools(c: &mut Criterion) {
    let registry = llmspell_tools::builtin_registry();
    let params = json!({"input": "2+2"});
    let cached = Host::new(llmspell_tools::builtin_registry(), HostConfig::default());
    let uncached = Host::new(
        llmspell_tools::builtin_registry(),
        HostConfig {
            cache: CacheConfig {
                enabled: false,
                ..CacheConfig::default()
            },
            ..HostConfig::default()
        },
    );
    assert!(!registry.list(None).is_empty());
    assert_eq!(registry.search("calc", 10)[0].1.name, "calculator");
    for host in [&cached, &uncached] {
        let out = host
            .invoke("calculator", &params, None)
            .expect("2+2 evaluates");
        assert_eq!(out.text, "4");
    }

    let mut g = c.benchmark_group("tools");
    g.bench_function("registry list", |b| {
        b.iter(|| registry.list(black_box(None)))
    });
    g.bench_function("registry info", |b| {
        b.iter(|| registry.info(black_box("calculator")).is_ok())
    });
    g.bench_function("registry search calc", |b| {
        b.iter(|| registry.search(black_box("calc"), 10))
    });
    g.bench_function("registry validate calculator", |b| {
        b.iter(|| registry.validate("calculator", black_box(&params)).is_ok())
    });
    g.bench_function("host invoke calculator (cache hit)", |b| {
        b.iter(|| cached.invoke("calculator", black_box(&params), None))
    });
    g.bench_function("host invoke calculator (no cache)", |b| {
        b.iter(|| uncached.invoke("calculator", black_box(&params), None))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = core;
    config = config();
    targets = zmtp, wire, json_decode, hub, tools
}
criterion_main!(core);
