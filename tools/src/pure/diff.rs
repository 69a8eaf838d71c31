//! `diff-calculator`: unified diffs and line, word or character changes, on similar.

use super::{opt_choice, opt_str, opt_u64, req_str, spec};
use llmspell_core::tools::{Tool, ToolContext, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Value};
use similar::{ChangeTag, TextDiff, TextDiffConfig};
use std::time::Duration;

const FORMATS: [&str; 4] = ["unified", "lines", "words", "chars"];
/// Past this, similar gives up on the shortest diff and returns a correct, longer one.
const DIFF_DEADLINE: Duration = Duration::from_secs(2);

/// Compares two texts.
pub struct DiffCalculator {
    spec: ToolSpec,
}

impl DiffCalculator {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "old": {"type": "string", "description": "The original text"},
                "new": {"type": "string", "description": "The changed text"},
                "format": {"type": "string", "enum": FORMATS, "default": "unified",
                    "description": "unified: a patch; lines, words, chars: the changes"},
                "context_lines": {"type": "integer", "minimum": 0, "maximum": 10000,
                    "default": 3, "description": "For unified: unchanged lines around changes"},
                "old_label": {"type": "string", "default": "old"},
                "new_label": {"type": "string", "default": "new"}
            },
            "required": ["old", "new"],
            "additionalProperties": false
        });
        DiffCalculator {
            spec: spec(
                "diff-calculator",
                "text",
                "Compares two texts and reports a unified diff or their line, word or \
                 character changes, with a similarity ratio.",
                parameters,
                true,
            ),
        }
    }
}

impl Default for DiffCalculator {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for DiffCalculator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let old = req_str(params, "old")?;
        let new = req_str(params, "new")?;
        let format = opt_choice(params, "format", &FORMATS, "unified")?;
        let context = opt_u64(params, "context_lines", 3, 10_000)? as usize;
        let old_label = opt_str(params, "old_label")?.unwrap_or("old");
        let new_label = opt_str(params, "new_label")?.unwrap_or("new");
        let mut config = TextDiffConfig::default();
        config.timeout(DIFF_DEADLINE);
        let diff = match format {
            "words" => config.diff_words(old, new),
            "chars" => config.diff_chars(old, new),
            _ => config.diff_lines(old, new),
        };
        let (insertions, deletions) = counts(&diff);
        let mut data = json!({
            "format": format,
            "identical": old == new,
            "ratio": f64::from(diff.ratio()),
            "insertions": insertions,
            "deletions": deletions,
        });
        let text = if format == "unified" {
            let patch = diff
                .unified_diff()
                .context_radius(context)
                .header(old_label, new_label)
                .to_string();
            data["diff"] = Value::String(patch.clone());
            patch
        } else {
            let changes = runs(&diff);
            let text = render(&changes, format);
            data["changes"] = Value::Array(
                changes
                    .into_iter()
                    .map(|(tag, value)| json!({"tag": tag_name(tag), "value": value}))
                    .collect(),
            );
            text
        };
        Ok(ToolOutput { text, data })
    }
}

/// Tokens inserted and deleted.
fn counts(diff: &TextDiff<'_, '_, str>) -> (usize, usize) {
    diff.iter_all_changes()
        .fold((0, 0), |(ins, del), change| match change.tag() {
            ChangeTag::Insert => (ins + 1, del),
            ChangeTag::Delete => (ins, del + 1),
            ChangeTag::Equal => (ins, del),
        })
}

/// The changes, with neighbouring tokens of the same kind joined into one run.
fn runs(diff: &TextDiff<'_, '_, str>) -> Vec<(ChangeTag, String)> {
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => runs.push((change.tag(), change.value().to_string())),
        }
    }
    runs
}

fn tag_name(tag: ChangeTag) -> &'static str {
    match tag {
        ChangeTag::Equal => "equal",
        ChangeTag::Delete => "delete",
        ChangeTag::Insert => "insert",
    }
}

/// Lines as ` `, `-`, `+` prefixed lines; words and characters inline, as
/// `[-deleted-]{+inserted+}`, the way `git diff --word-diff` shows them.
fn render(runs: &[(ChangeTag, String)], format: &str) -> String {
    let mut out = String::new();
    for (tag, value) in runs {
        if format == "lines" {
            let sign = match tag {
                ChangeTag::Equal => ' ',
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
            };
            for line in value.split_inclusive('\n') {
                out.push(sign);
                out.push_str(line);
                if !line.ends_with('\n') {
                    out.push('\n');
                }
            }
        } else {
            match tag {
                ChangeTag::Equal => out.push_str(value),
                ChangeTag::Delete => {
                    out.push_str("[-");
                    out.push_str(value);
                    out.push_str("-]");
                }
                ChangeTag::Insert => {
                    out.push_str("{+");
                    out.push_str(value);
                    out.push_str("+}");
                }
            }
        }
    }
    out
}
