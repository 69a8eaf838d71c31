use super::*;
use crate::time::Timestamp;

const HEADER: &[u8] = br#"{"msg_id":"a","msg_type":"kernel_info_request"}"#;
/// hmac.new(b"secret", HEADER + b"{}" * 3, sha256).hexdigest(), computed with Python.
const GOLDEN_SIG: &[u8] = b"ca8b68744108d95cd720d6bbf9ef601766bee34dd076f123ff807898f711d9d6";

fn frames(sig: &[u8]) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"client-id"),
        Bytes::from_static(DELIMITER),
        Bytes::copy_from_slice(sig),
        Bytes::from_static(HEADER),
        Bytes::from_static(b"{}"),
        Bytes::from_static(b"{}"),
        Bytes::from_static(b"{}"),
    ]
}

#[test]
fn signs_like_jupyter_client() {
    let signer = Signer::new(b"secret");
    let sig = signer.sign(&[HEADER, b"{}", b"{}", b"{}"]);
    assert_eq!(&sig[..], GOLDEN_SIG);
}

#[test]
fn decodes_a_signed_message_without_copying_frames() {
    let mut codec = Codec::new(b"secret", 16);
    let input = frames(GOLDEN_SIG);
    let header_ptr = input[3].as_ptr();
    let msg = codec.decode(input).unwrap();
    assert_eq!(msg.identities, vec![Bytes::from_static(b"client-id")]);
    assert_eq!(msg.header.msg_type(), "kernel_info_request");
    assert_eq!(msg.header.msg_id(), "a");
    assert_eq!(
        msg.header_bytes.as_ptr(),
        header_ptr,
        "header frame is shared, not copied"
    );
    assert!(msg.buffers.is_empty());
}

#[test]
fn rejects_bad_missing_and_replayed_signatures() {
    let mut codec = Codec::new(b"secret", 16);
    let mut bad = GOLDEN_SIG.to_vec();
    bad[0] = b'0';
    assert_eq!(codec.decode(frames(&bad)), Err(WireError::BadSignature));
    assert_eq!(codec.decode(frames(b"")), Err(WireError::BadSignature));
    assert_eq!(codec.decode(frames(b"zz")), Err(WireError::BadSignature));
    let upper = String::from_utf8(GOLDEN_SIG.to_vec())
        .unwrap()
        .to_uppercase();
    // jupyter_client compares lowercase hex; so do we.
    assert_eq!(
        codec.decode(frames(upper.as_bytes())),
        Err(WireError::BadSignature)
    );
    assert!(codec.decode(frames(GOLDEN_SIG)).is_ok());
    assert_eq!(codec.decode(frames(GOLDEN_SIG)), Err(WireError::Replayed));
}

#[test]
fn a_rejected_message_does_not_poison_the_replay_window() {
    let mut codec = Codec::new(b"secret", 16);
    let mut f = frames(GOLDEN_SIG);
    f[4] = Bytes::from_static(b"{ }");
    assert_eq!(codec.decode(f), Err(WireError::BadSignature));
    assert!(codec.decode(frames(GOLDEN_SIG)).is_ok());
}

#[test]
fn frame_count_and_delimiter_are_checked_first() {
    let mut codec = Codec::new(b"secret", 16);
    let mut f = frames(GOLDEN_SIG);
    f.truncate(6);
    assert_eq!(codec.decode(f), Err(WireError::TooFewFrames(4)));
    let mut f = frames(GOLDEN_SIG);
    f.remove(1);
    assert_eq!(codec.decode(f), Err(WireError::NoDelimiter));
    assert_eq!(codec.decode(vec![]), Err(WireError::NoDelimiter));
}

#[test]
fn bad_header_json_is_reported_after_the_signature_checks() {
    let mut codec = Codec::new(b"", 16);
    let mut f = frames(b"");
    f[3] = Bytes::from_static(b"{not json");
    assert!(matches!(codec.decode(f), Err(WireError::BadHeader(_))));
    let mut f = frames(b"");
    f[3] = Bytes::from_static(br#"{"msg_id": 3, "msg_type": "x"}"#);
    assert!(matches!(codec.decode(f), Err(WireError::BadHeader(_))));
}

#[test]
fn unsigned_sessions_accept_any_signature_and_sign_nothing() {
    let mut codec = Codec::new(b"", 16);
    assert!(codec.decode(frames(b"whatever")).is_ok());
    assert!(
        codec.decode(frames(b"whatever")).is_ok(),
        "no replay check without a key"
    );
    let out = codec.encode(
        &[],
        Bytes::from_static(HEADER),
        Bytes::new(),
        Bytes::new(),
        Bytes::new(),
        &[],
    );
    assert_eq!(out[1], Bytes::new());
}

#[test]
fn buffers_and_identities_round_trip() {
    let mut codec = Codec::new(b"k", 16);
    let ids = [Bytes::from_static(b"a"), Bytes::from_static(b"b")];
    let bufs = [Bytes::from_static(b"\x00\x01"), Bytes::from_static(b"xyz")];
    let out = codec.encode(
        &ids,
        Bytes::from_static(HEADER),
        Bytes::from_static(b"{}"),
        Bytes::from_static(b"{}"),
        Bytes::from_static(b"{\"a\":1}"),
        &bufs,
    );
    assert_eq!(out.len(), 2 + 6 + 2);
    let msg = codec.decode(out).unwrap();
    assert_eq!(msg.identities, ids.to_vec());
    assert_eq!(msg.buffers, bufs.to_vec());
    assert_eq!(&msg.content[..], b"{\"a\":1}");
}

#[test]
fn replay_window_forgets_the_oldest_first() {
    let mut w = ReplayWindow::new(2);
    assert!(w.insert([1; 32]));
    assert!(w.insert([2; 32]));
    assert!(!w.insert([1; 32]));
    assert!(w.insert([3; 32]));
    assert_eq!(w.len(), 2);
    assert!(w.insert([1; 32]), "1 was evicted");
    assert!(!w.insert([3; 32]));
}

#[test]
fn written_headers_are_valid_json() {
    let mut out = Vec::new();
    let date = Timestamp::from_unix_micros(1_795_746_123_123_456);
    write_header(&mut out, "s_1", "status", "s", "kernel", date, "5.5");
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["msg_type"], "status");
    assert_eq!(v["date"], "2026-11-27T02:22:03.123456Z");
    let mut out = Vec::new();
    write_header(&mut out, "a\"b", "t\\", "s\n", "k", date, "5.5");
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["msg_id"], "a\"b");
    assert_eq!(Header::parse(&Bytes::from(out)).unwrap().msg_type(), "t\\");
}

#[test]
fn header_template_writes_what_write_header_writes() {
    // Plain names, and names that need escaping; dates within one second, across seconds,
    // days and years, with microseconds that have leading zeros.
    let dates = [
        1_795_746_123_123_456,
        1_795_746_123_999_999,
        1_795_746_124_000_001,
        1_795_766_399_000_050,
        1_798_761_599_999_999,
        1_798_761_600_000_000,
        0,
    ];
    for (session, username) in [("s-1", "kernel"), ("a\"b\\c\nd", "ü\u{1}")] {
        let mut t = HeaderTemplate::new(session, username, "5.5");
        for (i, micros) in dates.into_iter().enumerate() {
            let date = Timestamp::from_unix_micros(micros);
            for (seq, msg_type) in [(i as u64, "status"), (u64::MAX - i as u64, "odd\"type")] {
                let mut expected = Vec::new();
                let id = format!("{session}_{seq}");
                write_header(&mut expected, &id, msg_type, session, username, date, "5.5");
                let mut got = bytes::BytesMut::new();
                t.write(&mut got, seq, msg_type, date);
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&expected)
                );
                if msg_type == "status" {
                    assert!(got.len() <= t.max_len(msg_type.len()));
                }
            }
        }
    }
}

#[test]
fn verify_rejects_a_signature_that_differs_anywhere() {
    let codec = Codec::new(b"secret", 0);
    let parts: [&[u8]; 4] = [HEADER, b"{}", b"{}", b"{}"];
    assert!(codec.signer().verify(GOLDEN_SIG, &parts).is_some());
    for i in 0..64 {
        let mut sig = GOLDEN_SIG.to_vec();
        sig[i] = if sig[i] == b'0' { b'1' } else { b'0' };
        assert!(codec.signer().verify(&sig, &parts).is_none(), "byte {i}");
    }
    // Uppercase hex is not what jupyter_client sends, and is refused as it refuses it.
    let upper = GOLDEN_SIG.to_ascii_uppercase();
    assert!(codec.signer().verify(&upper, &parts).is_none());
}

#[test]
fn replay_window_tells_apart_digests_that_share_their_first_bytes() {
    let mut w = ReplayWindow::new(1000);
    for i in 0..500u32 {
        let mut d = [7u8; 32];
        d[28..].copy_from_slice(&i.to_be_bytes());
        assert!(w.insert(d));
    }
    let mut d = [7u8; 32];
    d[28..].copy_from_slice(&42u32.to_be_bytes());
    assert!(!w.insert(d), "a replay is still seen when hashes collide");
}

#[test]
fn hex_digits_match_the_hex_crate() {
    let mut digest = [0u8; 32];
    for round in 0..8u8 {
        for (i, b) in digest.iter_mut().enumerate() {
            *b = (i as u8)
                .wrapping_mul(37)
                .wrapping_add(round.wrapping_mul(101));
        }
        assert_eq!(&sign::to_hex(&digest)[..], hex::encode(digest).as_bytes());
    }
}

/// The header's fields as serde would take them from JSON.
#[derive(serde::Deserialize)]
struct SerdeHeader {
    msg_id: String,
    msg_type: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    version: String,
}

/// A small deterministic generator (xorshift), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The header scanner accepts exactly what serde_json accepts for a `Header` object, with
/// the same fields: on real headers, hand-written edge cases, and thousands of mutations.
#[test]
fn header_scanner_agrees_with_serde_json() {
    let seeds: &[&[u8]] = &[
        br#"{"msg_id":"9f2c4e1a_1","msg_type":"kernel_info_request","session":"9f2c4e1a","username":"user","date":"2026-11-27T02:22:03.123456Z","version":"5.3"}"#,
        br#" { "msg_id" : "a" , "msg_type" : "execute_request" , "extra" : {"x": [1, -2.5e+3, true, false, null, {"y": "z"}]}, "subshell_id": null } "#,
        br#"{"msg_id":"\u00e9\ud83d\ude00","msg_type":"t\"\\\/\b\f\n\r\t","username":"\u0041"}"#,
        br#"{"msg_\u0069d":"a","msg_type":"b"}"#,
        br#"{"msg_id":"a","msg_type":"b","session":"","version":""}"#,
    ];
    let edge: &[&[u8]] = &[
        b"",
        b"{}",
        b"[]",
        b"null",
        b"{\"msg_id\":\"a\"}",
        b"{\"msg_type\":\"a\"}",
        br#"{"msg_id":"a","msg_type":"b","msg_id":"c"}"#,
        br#"{"msg_id":"a","msg_type":"b","x":1,"x":2}"#,
        br#"{"msg_id":"a","msg_type":null}"#,
        br#"{"msg_id":"a","msg_type":5}"#,
        br#"{"msg_id":"a","msg_type":"b","session":null}"#,
        br#"{"msg_id":"a","msg_type":"b"} x"#,
        br#"{"msg_id":"a","msg_type":"b",}"#,
        br#"{"msg_id":"a","msg_type":"b","n":01}"#,
        br#"{"msg_id":"a","msg_type":"b","n":1.}"#,
        br#"{"msg_id":"a","msg_type":"b","n":-}"#,
        br#"{"msg_id":"a","msg_type":"b","n":1e}"#,
        br#"{"msg_id":"a","msg_type":"b","n":[1,]}"#,
        br#"{"msg_id":"\ud800","msg_type":"b"}"#,
        br#"{"msg_id":"\udc00","msg_type":"b"}"#,
        br#"{"msg_id":"\ud800\u0041","msg_type":"b"}"#,
        br#"{"msg_id":"a","msg_type":"b","s":"\x"}"#,
        b"{\"msg_id\":\"a\x01\",\"msg_type\":\"b\"}",
        b"{\"msg_id\":\"\xff\",\"msg_type\":\"b\"}",
        br#"{"msg_id":"a","msg_type":"b","t":tru}"#,
    ];
    let parse = |input: &[u8]| Header::parse(&Bytes::copy_from_slice(input));
    let check = |input: &[u8]| {
        // A derived Deserialize also takes an array of values; no header is one, and the
        // scanner refuses it.
        let first = input.iter().find(|b| !b" \t\r\n".contains(b));
        if first == Some(&b'[') {
            assert!(parse(input).is_err());
            return;
        }
        // A frame that is not UTF-8 is refused as a whole (as simd-json did before): it
        // would be echoed as the parent header of every reply. serde_json lets invalid
        // bytes pass inside a string it skips.
        if std::str::from_utf8(input).is_err() {
            assert!(parse(input).is_err());
            return;
        }
        let ours = parse(input).ok().map(|h| {
            [
                h.msg_id(),
                h.msg_type(),
                h.session(),
                h.username(),
                h.version(),
            ]
            .map(String::from)
        });
        let theirs = serde_json::from_slice::<SerdeHeader>(input)
            .ok()
            .map(|h| [h.msg_id, h.msg_type, h.session, h.username, h.version]);
        assert_eq!(ours, theirs, "on {:?}", String::from_utf8_lossy(input));
    };
    for input in seeds.iter().chain(edge) {
        check(input);
    }
    let deep_ok = format!(
        "{{\"msg_id\":\"a\",\"msg_type\":\"b\",\"x\":{}{}}}",
        "[".repeat(127),
        "]".repeat(127)
    );
    check(deep_ok.as_bytes());
    // Deeper nesting is refused (serde_json skips ignored values without a limit; the
    // scanner recurses, so it keeps serde_json's limit for values it reads).
    let too_deep = deep_ok.replacen('[', "[[", 1).replacen(']', "]]", 1);
    assert!(parse(too_deep.as_bytes()).is_err());
    // Mutations: replace, insert or delete bytes, drawn from JSON's own alphabet.
    let alphabet = b"{}[]\":,\\ tfnrue0123456789.-+Eeu/\x01\xc3\xa9ab_";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..40_000 {
        let mut input = seeds[rng.below(seeds.len())].to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(input.len() + 1);
            let byte = alphabet[rng.below(alphabet.len())];
            match rng.below(3) {
                0 if at < input.len() => input[at] = byte,
                1 => input.insert(at, byte),
                _ if at < input.len() => {
                    input.remove(at);
                }
                _ => input.push(byte),
            }
        }
        check(&input);
    }
}

#[test]
fn decimal_digits() {
    for n in [0, 7, 10, 1_234_567_890_123, u64::MAX] {
        let mut out = Vec::new();
        put_decimal(&mut out, n);
        assert_eq!(out, n.to_string().into_bytes());
    }
}
