//! The HTTP side of `/metrics`, sans-IO: from the bytes of a request to the bytes of the
//! response. The runtime accepts, reads until [`response`] gives an answer (or the limit),
//! writes it and closes: one request per connection, `Connection: close`.

use super::{render, Metrics};

/// The largest request head we read; beyond it the answer is 431.
pub const MAX_REQUEST: usize = 8 * 1024;

/// The answer to the request in `input`, or `None` while its head is incomplete and
/// under [`MAX_REQUEST`] bytes. `GET /metrics` (query ignored) gives the counters of
/// `parts` summed; `HEAD` the same without a body; `/` a pointer to `/metrics`; other
/// paths 404, other methods 405, garbage 400.
pub fn response(input: &[u8], parts: &[&Metrics]) -> Option<Vec<u8>> {
    let Some(end) = find(input, b"\r\n\r\n").or_else(|| find(input, b"\n\n")) else {
        if input.len() >= MAX_REQUEST {
            return Some(reply(431, "text/plain", "request header too large\n", true));
        }
        return None;
    };
    let head = &input[..end];
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(line)
        .unwrap_or("")
        .trim_end_matches('\r');
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Some(reply(400, "text/plain", "bad request line\n", true));
    };
    if !version.starts_with("HTTP/1.") {
        return Some(reply(400, "text/plain", "HTTP/1.x only\n", true));
    }
    let body_wanted = match method {
        "GET" => true,
        "HEAD" => false,
        _ => return Some(reply(405, "text/plain", "GET or HEAD only\n", true)),
    };
    let path = target.split('?').next().unwrap_or("");
    Some(match path {
        "/metrics" => {
            let mut text = String::with_capacity(16 * 1024);
            render(parts, &mut text);
            reply(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &text,
                body_wanted,
            )
        }
        "/" => reply(200, "text/plain", "llmspell: see /metrics\n", body_wanted),
        _ => reply(404, "text/plain", "not found; try /metrics\n", body_wanted),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn reply(status: u16, content_type: &str, body: &str, with_body: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Request Header Fields Too Large",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(out: &[u8]) -> &str {
        std::str::from_utf8(&out[9..12]).unwrap_or("")
    }

    #[test]
    fn answers_get_head_and_refuses_the_rest() {
        let m = Metrics::new(["calculator"]);
        m.request("execute_request");
        assert_eq!(response(b"GET /metrics HTTP/1.1\r\nHost: x", &[&m]), None);
        let ok = response(b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", &[&m]).unwrap();
        let text = String::from_utf8(ok).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("text/plain; version=0.0.4"));
        assert!(text.contains("llmspell_kernel_requests_total{type=\"execute_request\"} 1\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        let head_only = response(b"HEAD /metrics HTTP/1.0\n\n", &[&m]).unwrap();
        assert!(head_only.ends_with(b"\r\n\r\n"));
        for (req, status) in [
            (&b"POST /metrics HTTP/1.1\r\n\r\n"[..], "405"),
            (b"GET /nope HTTP/1.1\r\n\r\n", "404"),
            (b"GET /metrics\r\n\r\n", "400"),
            (b"\x16\x03\x01 garbage \xff\r\n\r\n", "400"),
            (b"GET /metrics SPDY/3\r\n\r\n", "400"),
        ] {
            assert_eq!(status_of(&response(req, &[&m]).unwrap()), status, "{req:?}");
        }
        let huge = vec![b'a'; MAX_REQUEST];
        assert_eq!(status_of(&response(&huge, &[&m]).unwrap()), "431");
    }
}
