//! `base64-encoder` (the base64 crate) and `hash-calculator` (RustCrypto md-5, sha1,
//! sha2, and blake3).

use super::{opt_bool, opt_choice, req_str, spec};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, Engine, GeneralPurpose, GeneralPurposeConfig};
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Value};

/// Encodes text to base64 and decodes it back.
pub struct Base64Encoder {
    spec: ToolSpec,
}

impl Base64Encoder {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": ["encode", "decode"], "default": "encode"},
                "input": {"type": "string", "description": "Text to encode, or base64 to decode"},
                "url_safe": {"type": "boolean", "default": false,
                    "description": "Use the URL-safe alphabet (- and _ for + and /)"},
                "padding": {"type": "boolean", "default": true,
                    "description": "Pad encoded output with `=` (decoding accepts either)"}
            },
            "required": ["input"],
            "additionalProperties": false
        });
        Base64Encoder {
            spec: spec(
                "base64-encoder",
                "utility",
                "Encodes text as base64, standard or URL-safe, or decodes base64 back to text.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for Base64Encoder {
    fn default() -> Self {
        Self::new()
    }
}

/// The engine for an alphabet and padding choice; decoding accepts padded and unpadded.
fn engine(url_safe: bool, padding: bool) -> GeneralPurpose {
    let alphabet = if url_safe {
        &alphabet::URL_SAFE
    } else {
        &alphabet::STANDARD
    };
    let config = GeneralPurposeConfig::new()
        .with_encode_padding(padding)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(alphabet, config)
}

impl Tool for Base64Encoder {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let operation = opt_choice(params, "operation", &["encode", "decode"], "encode")?;
        let input = req_str(params, "input")?;
        let url_safe = opt_bool(params, "url_safe", false)?;
        let engine = engine(url_safe, opt_bool(params, "padding", true)?);
        if operation == "encode" {
            let output = engine.encode(input);
            return Ok(ToolOutput {
                data: json!({"operation": operation, "output": output, "url_safe": url_safe}),
                text: output,
            });
        }
        // Whitespace (line breaks in MIME-style base64) is not part of the data.
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = engine.decode(compact.as_bytes()).map_err(|err| {
            ToolError::invalid(format!("parameter `input` is not valid base64: {err}"))
        })?;
        let (text, data) = match String::from_utf8(bytes) {
            Ok(text) => {
                let data = json!({"operation": operation, "output": text, "utf8": true,
                    "url_safe": url_safe});
                (text, data)
            }
            Err(err) => {
                let hex = hex::encode(err.as_bytes());
                let data = json!({"operation": operation, "output": null, "utf8": false,
                    "hex": hex, "url_safe": url_safe});
                (hex, data)
            }
        };
        Ok(ToolOutput { text, data })
    }
}

/// Hash algorithms, in the order the schema lists them.
const ALGORITHMS: [&str; 5] = ["md5", "sha1", "sha256", "sha512", "blake3"];

/// Computes MD5, SHA-1, SHA-256, SHA-512 and BLAKE3 digests.
pub struct HashCalculator {
    spec: ToolSpec,
}

impl HashCalculator {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "algorithm": {"type": "string", "enum": ALGORITHMS, "default": "sha256"},
                "input": {"type": "string", "description": "The data to hash"},
                "input_encoding": {"type": "string", "enum": ["utf8", "hex", "base64"],
                    "default": "utf8", "description": "How `input` encodes the bytes to hash"},
                "encoding": {"type": "string", "enum": ["hex", "base64"], "default": "hex",
                    "description": "How to write the digest"}
            },
            "required": ["input"],
            "additionalProperties": false
        });
        HashCalculator {
            spec: spec(
                "hash-calculator",
                "utility",
                "Computes the MD5, SHA-1, SHA-256, SHA-512 or BLAKE3 digest of text or bytes, \
                 in hex or base64.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for HashCalculator {
    fn default() -> Self {
        Self::new()
    }
}

/// The digest of `bytes` with `algorithm` (one of [`ALGORITHMS`]).
fn digest(algorithm: &str, bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    match algorithm {
        "md5" => md5::Md5::digest(bytes).to_vec(),
        "sha1" => sha1::Sha1::digest(bytes).to_vec(),
        "sha512" => sha2::Sha512::digest(bytes).to_vec(),
        "blake3" => blake3::hash(bytes).as_bytes().to_vec(),
        _ => sha2::Sha256::digest(bytes).to_vec(),
    }
}

impl Tool for HashCalculator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let algorithm = opt_choice(params, "algorithm", &ALGORITHMS, "sha256")?;
        let input = req_str(params, "input")?;
        let input_encoding =
            opt_choice(params, "input_encoding", &["utf8", "hex", "base64"], "utf8")?;
        let encoding = opt_choice(params, "encoding", &["hex", "base64"], "hex")?;
        let decoded;
        let bytes = match input_encoding {
            "hex" => {
                decoded = hex::decode(input.trim()).map_err(|err| {
                    ToolError::invalid(format!("parameter `input` is not valid hex: {err}"))
                })?;
                &decoded[..]
            }
            "base64" => {
                decoded = engine(false, true)
                    .decode(input.trim())
                    .or_else(|_| engine(true, true).decode(input.trim()))
                    .map_err(|err| {
                        ToolError::invalid(format!("parameter `input` is not valid base64: {err}"))
                    })?;
                &decoded[..]
            }
            _ => input.as_bytes(),
        };
        let hash = digest(algorithm, bytes);
        let text = if encoding == "base64" {
            engine(false, true).encode(&hash)
        } else {
            hex::encode(&hash)
        };
        Ok(ToolOutput {
            data: json!({
                "algorithm": algorithm,
                "hash": text,
                "encoding": encoding,
                "bytes": bytes.len(),
            }),
            text,
        })
    }
}
