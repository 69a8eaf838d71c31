//! The registry: tools by name, list, info, search, validation and direct invocation.
//! STUB: signatures to program against; to be implemented.

use super::{Tool, ToolContext, ToolError, ToolResult, ToolSpec};
use serde_json::Value;
use std::sync::Arc;

/// Every registered tool, with compiled parameter schemas.
#[derive(Default)]
pub struct Registry {
    _tools: Vec<Arc<dyn Tool>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a tool. Fails if the name is taken or not kebab-case, or its schema does not compile.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<(), String> {
        let _ = tool;
        todo!()
    }

    /// How many tools.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Specs sorted by name, optionally of one category.
    pub fn list(&self, category: Option<&str>) -> Vec<&ToolSpec> {
        let _ = category;
        todo!()
    }

    /// The categories in use, sorted.
    pub fn categories(&self) -> Vec<&'static str> {
        todo!()
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        let _ = name;
        todo!()
    }

    /// The spec of `name`, or an UnknownTool error naming the closest matches.
    pub fn info(&self, name: &str) -> Result<&ToolSpec, ToolError> {
        let _ = name;
        todo!()
    }

    /// Names closest to `name` (edit distance and substring), best first, at most 3.
    pub fn suggest(&self, name: &str) -> Vec<&'static str> {
        let _ = name;
        todo!()
    }

    /// Tools matching `query`, best first with their scores: name matches rank above
    /// description matches, which rank above category matches.
    pub fn search(&self, query: &str, limit: usize) -> Vec<(f32, &ToolSpec)> {
        let _ = (query, limit);
        todo!()
    }

    /// Checks `params` against the schema of `name`: which parameter and why on failure.
    pub fn validate(&self, name: &str, params: &Value) -> Result<(), ToolError> {
        let _ = (name, params);
        todo!()
    }

    /// Validates and runs `name` on the caller's thread, turning a panic into an Internal
    /// error. No timeout and no cache: [`super::ToolHost`] adds those.
    pub fn invoke(&self, name: &str, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        let _ = (name, params, ctx);
        todo!()
    }
}
