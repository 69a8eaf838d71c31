//! Typed request contents, parsed with simd-json from the raw content frame.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Parses a content frame into `T` (with simd-json, see [`crate::wire::json`]).
pub fn parse<T: DeserializeOwned>(content: &[u8]) -> Result<T, String> {
    crate::wire::json::from_slice(content)
}

fn yes() -> bool {
    true
}

/// `execute_request` content.
#[derive(Debug, Deserialize)]
pub struct ExecuteRequest {
    /// The code.
    pub code: String,
    /// Run quietly: no outputs on iopub, no history.
    #[serde(default)]
    pub silent: bool,
    /// Record the cell in history and count it.
    #[serde(default = "yes")]
    pub store_history: bool,
    /// Expressions to evaluate afterwards.
    #[serde(default)]
    pub user_expressions: Map<String, Value>,
    /// Whether the client answers input requests.
    #[serde(default = "yes")]
    pub allow_stdin: bool,
    /// Abort the queued executes after an error.
    #[serde(default = "yes")]
    pub stop_on_error: bool,
}

/// `complete_request` and `inspect_request` content.
#[derive(Debug, Deserialize)]
pub struct CodeAtCursor {
    /// The cell.
    pub code: String,
    /// Cursor position in code points.
    pub cursor_pos: usize,
    /// Inspection detail (inspect only).
    #[serde(default)]
    pub detail_level: u8,
}

/// `is_complete_request` content.
#[derive(Debug, Deserialize)]
pub struct IsCompleteRequest {
    /// The code so far.
    pub code: String,
}

/// `history_request` content.
#[derive(Debug, Deserialize)]
pub struct HistoryRequest {
    /// Include outputs (we have none to give: `null`).
    #[serde(default)]
    pub output: bool,
    /// Return raw input.
    #[serde(default = "yes")]
    pub raw: bool,
    /// `tail`, `range` or `search`.
    pub hist_access_type: String,
    /// Session for `range`: 0 is the current one, negative counts back.
    #[serde(default)]
    pub session: i64,
    /// First line for `range`.
    #[serde(default)]
    pub start: i64,
    /// Line after the last for `range`.
    #[serde(default)]
    pub stop: Option<i64>,
    /// How many entries, for `tail` and `search`.
    #[serde(default)]
    pub n: Option<usize>,
    /// Glob pattern for `search`.
    #[serde(default)]
    pub pattern: String,
    /// Drop duplicates, for `search`.
    #[serde(default)]
    pub unique: bool,
}

/// `shutdown_request` content.
#[derive(Debug, Deserialize)]
pub struct ShutdownRequest {
    /// Restart after shutting down.
    #[serde(default)]
    pub restart: bool,
}

/// `input_reply` content.
#[derive(Debug, Deserialize)]
pub struct InputReplyContent {
    /// The line typed.
    #[serde(default)]
    pub value: String,
}

/// `comm_open` content.
#[derive(Debug, Deserialize)]
pub struct CommOpen {
    /// The comm's id.
    pub comm_id: String,
    /// The target the client asks for.
    pub target_name: String,
}

/// `comm_msg` and `comm_close` content.
#[derive(Debug, Deserialize)]
pub struct CommRef {
    /// The comm's id.
    pub comm_id: String,
}
