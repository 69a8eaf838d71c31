//! Helpers shared by the I/O tool tests: a sandbox with an allowed and a forbidden
//! directory, and a way to call a tool directly under a policy.
#![allow(dead_code)]

use llmspell_core::tools::{Policy, Tool, ToolContext, ToolErrorKind, ToolResult};
use serde_json::Value;
use std::path::PathBuf;

/// A temporary directory holding `inside` (the one allowed path) and `outside`.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub inside: PathBuf,
    pub outside: PathBuf,
    pub policy: Policy,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        // Canonical, so paths in outputs compare equal to the ones built here.
        let base = dir.path().canonicalize().expect("canonical temp dir");
        let inside = base.join("inside");
        let outside = base.join("outside");
        std::fs::create_dir(&inside).unwrap();
        std::fs::create_dir(&outside).unwrap();
        let policy = Policy {
            allowed_paths: vec![inside.clone()],
            ..Policy::default()
        };
        Sandbox {
            _dir: dir,
            inside,
            outside,
            policy,
        }
    }

    pub fn call(&self, tool: &dyn Tool, params: Value) -> ToolResult {
        call(tool, &self.policy, params)
    }
}

/// Calls `tool` directly, as the registry would after validation.
pub fn call(tool: &dyn Tool, policy: &Policy, params: Value) -> ToolResult {
    tool.invoke(&params, &ToolContext { policy })
}

/// The error kind of a result that must be an error.
pub fn kind(result: ToolResult) -> ToolErrorKind {
    match result {
        Ok(out) => panic!("expected an error, got {}", out.text),
        Err(e) => e.kind,
    }
}
