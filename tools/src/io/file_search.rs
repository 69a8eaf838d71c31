//! `file-search`: files under a confined root whose names match a glob and/or whose lines
//! match a regular expression (walkdir, globset, regex).
//!
//! The walk never follows symbolic links, so it cannot leave the root it was given (which
//! is itself checked against the policy); links are neither listed nor read.

use super::confine::Confinement;
use super::params::{opt_bool, opt_str, opt_u64};
use globset::{GlobBuilder, GlobMatcher};
use llmspell_core::tools::{
    SecurityLevel, Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec,
};
use regex::{Regex, RegexBuilder};
use serde_json::{json, Value};
use std::path::Path;

/// Most entries a search walks before it stops and says it was truncated.
pub const MAX_VISITED: usize = 1_000_000;
/// Files larger than this are not searched for content.
pub const MAX_CONTENT_FILE: u64 = 10 << 20;
/// Longest matching line reported, in bytes; longer ones are cut.
const MAX_LINE: usize = 1_000;

/// The `file-search` tool.
pub struct FileSearch {
    spec: ToolSpec,
}

impl FileSearch {
    /// The tool with its spec.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "root": {
                    "type": "string",
                    "description": "Directory to search (default: the first allowed path)"
                },
                "pattern": {
                    "type": "string",
                    "description": "Glob on the file name (`*.rs`), or on the path under root when it holds a `/` (`src/**/*.rs`)"
                },
                "content": {"type": "string", "description": "Regular expression the lines must match"},
                "case_insensitive": {"type": "boolean", "description": "For content (default false)"},
                "include_hidden": {"type": "boolean", "description": "Search names starting with `.` (default false)"},
                "max_depth": {"type": "integer", "minimum": 1, "maximum": 1000},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "Default 100"}
            },
            "anyOf": [{"required": ["pattern"]}, {"required": ["content"]}],
            "additionalProperties": false
        });
        FileSearch {
            spec: ToolSpec {
                name: "file-search",
                category: "filesystem",
                description: "Find files by glob pattern and search their contents with a regular expression, within the allowed paths",
                parameters,
                security: SecurityLevel::Restricted,
                cacheable: false,
                blocking: true,
            },
        }
    }
}

impl Default for FileSearch {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a name is matched against the glob, and how.
struct Matcher {
    glob: Option<GlobMatcher>,
    on_path: bool,
    content: Option<Regex>,
}

impl Matcher {
    fn from_params(params: &Value) -> Result<Self, ToolError> {
        let pattern = opt_str(params, "pattern")?;
        let content = opt_str(params, "content")?;
        if pattern.is_none() && content.is_none() {
            return Err(ToolError::invalid("give `pattern`, `content`, or both"));
        }
        let glob = pattern
            .map(|p| {
                GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .map(|g| g.compile_matcher())
                    .map_err(|e| ToolError::invalid(format!("`pattern`: {e}")))
            })
            .transpose()?;
        let case_insensitive = opt_bool(params, "case_insensitive", false)?;
        let content = content
            .map(|c| {
                RegexBuilder::new(c)
                    .case_insensitive(case_insensitive)
                    .build()
                    .map_err(|e| ToolError::invalid(format!("`content`: {e}")))
            })
            .transpose()?;
        Ok(Matcher {
            glob,
            on_path: pattern.is_some_and(|p| p.contains('/')),
            content,
        })
    }

    fn name_matches(&self, relative: &Path) -> bool {
        match &self.glob {
            None => true,
            Some(glob) if self.on_path => glob.is_match(relative),
            Some(glob) => relative.file_name().is_some_and(|name| glob.is_match(name)),
        }
    }
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.')
}

impl Tool for FileSearch {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        let matcher = Matcher::from_params(params)?;
        let max_results = opt_u64(params, "max_results", 100, 10_000)?.max(1) as usize;
        let include_hidden = opt_bool(params, "include_hidden", false)?;
        let max_depth = opt_u64(params, "max_depth", 1000, 1000)? as usize;
        let jail = Confinement::new(ctx.policy)?;
        let root = jail.resolve(opt_str(params, "root")?.unwrap_or("."))?;
        if !root.is_dir() {
            return Err(ToolError::failed(format!(
                "{} is not a directory",
                root.display()
            )));
        }

        let mut results = Vec::new();
        let mut text = String::new();
        let mut visited = 0usize;
        let mut truncated = false;
        let walk = walkdir::WalkDir::new(&root)
            .follow_links(false)
            .max_depth(max_depth)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| include_hidden || !is_hidden(e));
        'walk: for entry in walk {
            visited += 1;
            if visited > MAX_VISITED {
                truncated = true;
                break;
            }
            // Unreadable directories are skipped, as `find` would report and go on.
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_file() {
                continue;
            }
            let relative = entry.path().strip_prefix(&root).unwrap_or(entry.path());
            if !matcher.name_matches(relative) {
                continue;
            }
            let shown = relative.display().to_string();
            let Some(regex) = &matcher.content else {
                if results.len() >= max_results {
                    truncated = true;
                    break;
                }
                text.push_str(&shown);
                text.push('\n');
                results.push(json!({"path": entry.path(), "relative": shown}));
                continue;
            };
            let too_big = entry.metadata().map(|m| m.len() > MAX_CONTENT_FILE);
            if too_big.unwrap_or(true) {
                continue;
            }
            // Files that cannot be read, or are not UTF-8 text, are not searched.
            let Ok(body) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            for (index, line) in body.lines().enumerate() {
                if !regex.is_match(line) {
                    continue;
                }
                if results.len() >= max_results {
                    truncated = true;
                    break 'walk;
                }
                let line = cut(line, MAX_LINE);
                text.push_str(&format!("{shown}:{}: {line}\n", index + 1));
                results.push(json!({
                    "path": entry.path(), "relative": shown, "line": index + 1, "text": line
                }));
            }
        }
        let data = json!({
            "root": root, "results": results, "count": results.len(), "truncated": truncated
        });
        Ok(ToolOutput { text, data })
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
