//! The kernel_info_reply content.

use super::PROTOCOL_VERSION;
use serde_json::json;

/// The content of our kernel_info_reply; `debugger` says whether debug_request works.
pub fn kernel_info_content(debugger: bool) -> Vec<u8> {
    let features: &[&str] = if debugger { &["debugger"] } else { &[] };
    let v = json!({
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "llmspell",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "lua",
            "version": "5.4",
            "mimetype": "text/x-lua",
            "file_extension": ".lua",
            "pygments_lexer": "lua",
            "codemirror_mode": "lua",
            "nbconvert_exporter": "script",
        },
        "banner": concat!("llmspell ", env!("CARGO_PKG_VERSION"), ": Lua 5.4 kernel"),
        "help_links": [
            {"text": "Lua 5.4 Reference Manual", "url": "https://www.lua.org/manual/5.4/"},
        ],
        "debugger": debugger,
        "supported_features": features,
    });
    // A json! value always serializes.
    serde_json::to_vec(&v).expect("kernel_info serializes")
}
