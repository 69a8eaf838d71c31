//! The contents of the messages every cell sends, written straight into bytes: these are
//! on the hot path, where building a `serde_json::Value` first would cost more than the
//! rest of the message.

use crate::engine::MimeBundle;

fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Strings and maps of JSON values always serialize into a Vec.
    serde_json::to_writer(&mut *out, value).expect("json serializes into a Vec");
}

fn push_count(out: &mut Vec<u8>, n: u32) {
    crate::wire::put_decimal(out, u64::from(n));
}

/// `{"code": ..., "execution_count": n}`
pub fn execute_input(code: &str, count: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(code.len() + 40);
    out.extend_from_slice(b"{\"code\":");
    push_json(&mut out, code);
    out.extend_from_slice(b",\"execution_count\":");
    push_count(&mut out, count);
    out.push(b'}');
    out
}

/// `{"execution_count": n, "data": {...}, "metadata": {}}`
pub fn execute_result(count: u32, data: &MimeBundle) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"{\"execution_count\":");
    push_count(&mut out, count);
    out.extend_from_slice(b",\"data\":");
    push_json(&mut out, data);
    out.extend_from_slice(b",\"metadata\":{}}");
    out
}

/// An ok execute_reply with no payload and no user expressions.
pub fn execute_reply_ok(count: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"{\"status\":\"ok\",\"execution_count\":");
    push_count(&mut out, count);
    out.extend_from_slice(b",\"payload\":[],\"user_expressions\":{}}");
    out
}

/// `{"name": "stdout", "text": ...}`
pub fn stream(name: &str, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 32);
    out.extend_from_slice(b"{\"name\":");
    push_json(&mut out, name);
    out.extend_from_slice(b",\"text\":");
    push_json(&mut out, text);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(v: Vec<u8>) -> Value {
        serde_json::from_slice(&v).unwrap()
    }

    #[test]
    fn same_as_json_values() {
        assert_eq!(
            parse(execute_input("print(\"é\\n\")", 7)),
            json!({"code": "print(\"é\\n\")", "execution_count": 7})
        );
        let mut data = MimeBundle::new();
        data.insert("text/plain".into(), json!("2"));
        assert_eq!(
            parse(execute_result(3, &data)),
            json!({"execution_count": 3, "data": {"text/plain": "2"}, "metadata": {}})
        );
        assert_eq!(
            parse(execute_reply_ok(4_000_000_000)),
            json!({"status": "ok", "execution_count": 4_000_000_000u32, "payload": [], "user_expressions": {}})
        );
        assert_eq!(
            parse(stream("stderr", "a\u{1}b")),
            json!({"name": "stderr", "text": "a\u{1}b"})
        );
    }
}
