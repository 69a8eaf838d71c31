//! Tools: the [`Tool`] trait, the [`Registry`] (list, info, search, validate, invoke), the
//! result [`cache`], and the [`ToolHost`] through which the engine and the kernel reach
//! tools without knowing how they run.
//!
//! This module is pure: it holds no threads or clocks. Built-in tools, and the host that
//! runs them with timeouts on worker threads, live in the `llmspell-tools` crate.

pub mod cache;
mod fast_schema;
pub mod protocol;
mod registry;
mod search;

pub use fast_schema::FastSchema;
pub use registry::Registry;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;

/// How much a tool can touch, for policy and for `tool info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityLevel {
    /// Pure computation on its parameters.
    Safe,
    /// Reads or writes within the configured allowed paths, or reads the environment.
    Restricted,
    /// Runs processes or reaches the network: off or allowlisted by configuration.
    Privileged,
}

/// What a tool is, as `tool list` and `tool info` show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolSpec {
    /// Kebab-case name, e.g. `hash-calculator`.
    pub name: &'static str,
    /// Category, e.g. `utility`, `data`, `filesystem`, `system`, `network`.
    pub category: &'static str,
    /// One sentence.
    pub description: &'static str,
    /// JSON Schema of the parameters object.
    pub parameters: Value,
    /// What it may touch.
    pub security: SecurityLevel,
    /// Whether equal parameters always give an equal result, so it may be cached.
    pub cacheable: bool,
    /// Whether it may block (files, processes, network): run it off the I/O thread.
    pub blocking: bool,
}

/// Why a tool call failed. Comparable, typed by who is at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolErrorKind {
    /// No tool by that name (the message names the closest matches).
    UnknownTool,
    /// The parameters do not match the schema, or make no sense to the tool.
    InvalidParams,
    /// Parameters or results over the size limit.
    TooLarge,
    /// Outside the allowed paths, not on an allowlist, or disabled by configuration.
    PermissionDenied,
    /// The tool ran past its timeout and was abandoned.
    Timeout,
    /// The tool ran and failed (a missing file, an HTTP error, ...).
    Failed,
    /// A bug: the tool panicked.
    Internal,
}

impl ToolErrorKind {
    /// The snake_case name used on the wire and in `--output json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolErrorKind::UnknownTool => "unknown_tool",
            ToolErrorKind::InvalidParams => "invalid_params",
            ToolErrorKind::TooLarge => "too_large",
            ToolErrorKind::PermissionDenied => "permission_denied",
            ToolErrorKind::Timeout => "timeout",
            ToolErrorKind::Failed => "failed",
            ToolErrorKind::Internal => "internal",
        }
    }
}

/// A failed tool call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolError {
    /// Who is at fault.
    pub kind: ToolErrorKind,
    /// What went wrong, for a person.
    pub message: String,
}

impl ToolError {
    /// An error of `kind`.
    pub fn new(kind: ToolErrorKind, message: impl Into<String>) -> Self {
        ToolError {
            kind,
            message: message.into(),
        }
    }

    /// Invalid parameters.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::InvalidParams, message)
    }

    /// A failure of the tool's work.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::Failed, message)
    }

    /// A policy refusal.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::PermissionDenied, message)
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for ToolError {}

/// What a tool returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolOutput {
    /// What the CLI prints.
    pub text: String,
    /// The structured result.
    pub data: Value,
}

/// The result of one call.
pub type ToolResult = Result<ToolOutput, ToolError>;

/// What tools may touch. Paths are compared after canonicalisation by the tools that use
/// them; an empty `allowed_paths` allows no file access at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Directories file tools may read and write under.
    pub allowed_paths: Vec<PathBuf>,
    /// Whether process-executor may run anything.
    pub process_enabled: bool,
    /// Program names process-executor may run.
    pub process_allowlist: Vec<String>,
    /// Hosts http-requester may reach; empty allows none.
    pub http_allowed_hosts: Vec<String>,
    /// Environment variables environment-reader may read; empty allows all but those whose
    /// names suggest secrets (KEY, TOKEN, SECRET, PASSWORD).
    pub env_allowlist: Vec<String>,
}

/// What a tool's `invoke` is given besides its parameters.
#[derive(Clone, Debug)]
pub struct ToolContext<'a> {
    /// The policy in force.
    pub policy: &'a Policy,
}

/// A tool. Implementations must not panic on any parameters that passed the schema (a
/// panic is caught and reported as [`ToolErrorKind::Internal`], but it is a bug).
pub trait Tool: Send + Sync + 'static {
    /// What it is.
    fn spec(&self) -> &ToolSpec;
    /// Runs it. `params` has already been validated against `spec().parameters`.
    fn invoke(&self, params: &Value, ctx: &ToolContext<'_>) -> ToolResult;
}

/// A tool resolved once by name ([`Registry::id`], [`ToolHost::resolve`]), for callers that
/// invoke it many times, such as the object `Tool.get` returns to Lua: its place in the
/// registry, and its name to check that place against. An id whose place has moved (a
/// later registration) or that comes from another registry still names its tool: it is
/// looked up again by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolId {
    /// The index of the tool's entry in the registry that issued the id.
    index: usize,
    /// The tool's name: the very `&'static str` of its spec.
    name: &'static str,
}

impl ToolId {
    /// The tool's name.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The tool's place in the registry that issued the id (its rank by name), for hosts
    /// that keep per-tool settings beside an unchanging registry.
    pub fn index(self) -> usize {
        self.index
    }
}

/// Runs tools for the engine (`Tool.get(name):execute{...}`) and the CLI: with the policy,
/// the cache, timeouts and parallel batches applied. Implemented by `llmspell-tools`.
pub trait ToolHost: Send + Sync + 'static {
    /// The registry, for list, info and search.
    fn registry(&self) -> &Registry;
    /// Validates and runs one call, with the tool's timeout (or `timeout_ms` if given).
    fn invoke(&self, name: &str, params: &Value, timeout_ms: Option<u64>) -> ToolResult;
    /// Resolves `name` once, for [`ToolHost::invoke_id`]; an UnknownTool error naming the
    /// closest tools if there is none.
    fn resolve(&self, name: &str) -> Result<ToolId, ToolError> {
        self.registry().resolve(name)
    }
    /// [`ToolHost::invoke`] of a resolved tool: the same checks and result, without the
    /// name lookups. The default looks the name up again.
    fn invoke_id(&self, id: ToolId, params: &Value, timeout_ms: Option<u64>) -> ToolResult {
        self.invoke(id.name, params, timeout_ms)
    }
    /// Runs calls in parallel; results in the order of `calls`.
    fn batch(&self, calls: &[(String, Value)]) -> Vec<ToolResult>;
}

/// A shared [`ToolHost`], comparable by identity, for settings structs.
#[derive(Clone)]
pub struct ToolHostRef(pub std::sync::Arc<dyn ToolHost>);

impl fmt::Debug for ToolHostRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ToolHost({} tools)", self.0.registry().len())
    }
}

impl PartialEq for ToolHostRef {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ToolHostRef {}
