use super::{err, ok};
use crate::pure::{Base64Encoder, HashCalculator, UuidGenerator};
use llmspell_core::tools::ToolErrorKind;
use serde_json::json;
use uuid::Uuid;

fn hash(algorithm: &str, input: &str) -> String {
    ok(
        &HashCalculator::new(),
        json!({"algorithm": algorithm, "input": input}),
    )
    .text
}

#[test]
fn hashes_match_published_test_vectors() {
    // RFC 1321, RFC 3174 and FIPS 180-2 vectors for "abc", and the BLAKE3 reference.
    assert_eq!(hash("md5", "abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(hash("md5", ""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(
        hash("sha1", "abc"),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hash("sha256", "abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hash("sha512", "abc"),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
    assert_eq!(
        hash("blake3", ""),
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
}

#[test]
fn hash_encodings() {
    let tool = HashCalculator::new();
    let out = ok(
        &tool,
        json!({"algorithm": "sha256", "input": "abc", "encoding": "base64"}),
    );
    assert_eq!(out.text, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    assert_eq!(out.data["bytes"], 3);
    // The bytes "abc" given as hex and as base64 hash the same.
    for (enc, input) in [("hex", "616263"), ("base64", "YWJj")] {
        let out = ok(
            &tool,
            json!({"algorithm": "md5", "input": input, "input_encoding": enc}),
        );
        assert_eq!(out.text, "900150983cd24fb0d6963f7d28e17f72");
    }
    let (kind, message) = err(&tool, json!({"input": "zz", "input_encoding": "hex"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("hex"), "{message}");
    let (kind, _) = err(&tool, json!({"algorithm": "crc32", "input": "x"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
}

#[test]
fn base64_round_trips_and_rfc4648_vectors() {
    let tool = Base64Encoder::new();
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(ok(&tool, json!({"input": plain})).text, encoded);
        let back = ok(&tool, json!({"operation": "decode", "input": encoded}));
        assert_eq!(back.text, plain);
        assert_eq!(back.data["utf8"], true);
    }
    // URL-safe alphabet, without padding; decoding takes either.
    let out = ok(
        &tool,
        json!({"input": "\u{fb}\u{ff}", "url_safe": true, "padding": false}),
    );
    assert_eq!(out.text, "w7vDvw");
    let out = ok(&tool, json!({"input": "??>", "url_safe": true}));
    assert_eq!(out.text, "Pz8-");
    assert_eq!(ok(&tool, json!({"input": "??>"})).text, "Pz8+");
    let back = ok(
        &tool,
        json!({"operation": "decode", "input": "Pz8-", "url_safe": true}),
    );
    assert_eq!(back.text, "??>");
    let back = ok(&tool, json!({"operation": "decode", "input": "Zm8\n"}));
    assert_eq!(back.text, "fo");
    // Bytes that are not UTF-8 come back as hex.
    let back = ok(&tool, json!({"operation": "decode", "input": "/w=="}));
    assert_eq!(back.data["utf8"], false);
    assert_eq!(back.data["hex"], "ff");
    let (kind, message) = err(
        &tool,
        json!({"operation": "decode", "input": "not base64!"}),
    );
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("base64"), "{message}");
}

#[test]
fn uuids_parse_back_with_their_version() {
    let tool = UuidGenerator::new();
    for (version, number) in [("v4", 4), ("v7", 7)] {
        let out = ok(&tool, json!({"version": version, "count": 50}));
        let ids: Vec<Uuid> = out
            .text
            .lines()
            .map(|l| Uuid::parse_str(l).unwrap())
            .collect();
        assert_eq!(ids.len(), 50);
        assert!(ids.iter().all(|id| id.get_version_num() == number));
        assert_eq!(out.data["version"], number);
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 50);
        if number == 7 {
            // Time-ordered: generated in increasing order.
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
        }
    }
}

#[test]
fn uuid_v5_is_the_rfc_value() {
    let tool = UuidGenerator::new();
    // RFC 9562 appendix A.4: v5 of "www.example.com" in the DNS namespace.
    let out = ok(
        &tool,
        json!({"version": "v5", "namespace": "dns", "name": "www.example.com"}),
    );
    assert_eq!(out.text, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
    let custom = ok(
        &tool,
        json!({"version": "v5", "name": "www.example.com",
        "namespace": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "format": "urn", "uppercase": true}),
    );
    assert_eq!(custom.text, "URN:UUID:2ED6657D-E927-568B-95E1-2665A8AEA6A2");
    let (kind, _) = err(&tool, json!({"version": "v5", "name": "x"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let (kind, _) = err(
        &tool,
        json!({"version": "v5", "namespace": "nope", "name": "x"}),
    );
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let (kind, _) = err(&tool, json!({"count": 1001}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let (kind, _) = err(&tool, json!({"count": 0}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let simple = ok(&tool, json!({"format": "simple"}));
    assert_eq!(simple.text.len(), 32);
}
