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
    assert_eq!(msg.header.msg_type, "kernel_info_request");
    assert_eq!(msg.header.msg_id, "a");
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
    assert_eq!(Header::parse(&out).unwrap().msg_type, "t\\");
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
            *b = (i as u8).wrapping_mul(37).wrapping_add(round.wrapping_mul(101));
        }
        assert_eq!(&sign::to_hex(&digest)[..], hex::encode(digest).as_bytes());
    }
}
