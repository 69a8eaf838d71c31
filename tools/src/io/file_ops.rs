//! `file-operations`: read, write, append, list, exists, delete, mkdir, copy, move and
//! metadata, on paths confined to the policy's allowed paths.

use super::confine::Confinement;
use super::params::{io_failed, opt_bool, opt_str, opt_u64, req_str};
use llmspell_core::tools::{
    SecurityLevel, Tool, ToolContext, ToolError, ToolErrorKind, ToolOutput, ToolResult, ToolSpec,
};
use serde_json::{json, Value};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Most bytes `read` returns unless `max_bytes` says otherwise.
pub const DEFAULT_MAX_READ: u64 = 10 << 20;
/// Most entries `list` returns.
pub const MAX_LIST_ENTRIES: usize = 10_000;

/// The `file-operations` tool.
pub struct FileOperations {
    spec: ToolSpec,
}

impl FileOperations {
    /// The tool with its spec.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "operation": {
                    "type": "string",
                    "enum": ["read", "write", "append", "list", "exists", "delete", "mkdir",
                             "copy", "move", "metadata"],
                    "description": "What to do"
                },
                "path": {
                    "type": "string",
                    "description": "The file or directory; a relative path is taken against the first allowed path"
                },
                "content": {"type": "string", "description": "write, append: the UTF-8 text"},
                "destination": {"type": "string", "description": "copy, move: where to"},
                "recursive": {
                    "type": "boolean",
                    "description": "mkdir: create missing parents (default true); delete: remove a directory with its contents (default false)"
                },
                "create_parents": {
                    "type": "boolean",
                    "description": "write, append, copy, move: create missing parent directories (default false)"
                },
                "max_bytes": {
                    "type": "integer", "minimum": 0,
                    "description": "read: most bytes to read, else too_large (default 10 MiB)"
                }
            },
            "required": ["operation", "path"],
            "additionalProperties": false,
            "allOf": [
                {"if": {"properties": {"operation": {"enum": ["write", "append"]}},
                        "required": ["operation"]},
                 "then": {"required": ["content"]}},
                {"if": {"properties": {"operation": {"enum": ["copy", "move"]}},
                        "required": ["operation"]},
                 "then": {"required": ["destination"]}}
            ]
        });
        FileOperations {
            spec: ToolSpec {
                name: "file-operations",
                category: "filesystem",
                description: "Read, write, append, list, check, delete, create, copy, move and inspect files within the allowed paths",
                parameters,
                security: SecurityLevel::Restricted,
                cacheable: false,
                blocking: true,
            },
        }
    }
}

impl Default for FileOperations {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for FileOperations {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        let operation = req_str(params, "operation")?;
        let path = req_str(params, "path")?;
        let jail = Confinement::new(ctx.policy)?;
        match operation {
            "read" => read(
                &jail,
                path,
                opt_u64(params, "max_bytes", DEFAULT_MAX_READ, u64::MAX)?,
            ),
            "write" | "append" => {
                let content = opt_str(params, "content")?
                    .ok_or_else(|| ToolError::invalid(format!("{operation} needs `content`")))?;
                let parents = opt_bool(params, "create_parents", false)?;
                write(&jail, path, content, operation == "append", parents)
            }
            "list" => list(&jail, path),
            "exists" => exists(&jail, path),
            "delete" => delete(&jail, path, opt_bool(params, "recursive", false)?),
            "mkdir" => mkdir(&jail, path, opt_bool(params, "recursive", true)?),
            "copy" | "move" => {
                let dest = opt_str(params, "destination")?.ok_or_else(|| {
                    ToolError::invalid(format!("{operation} needs `destination`"))
                })?;
                let parents = opt_bool(params, "create_parents", false)?;
                copy_or_move(&jail, path, dest, operation == "move", parents)
            }
            "metadata" => metadata(&jail, path),
            other => Err(ToolError::invalid(format!("unknown operation `{other}`"))),
        }
    }
}

fn done(text: String, data: Value) -> ToolResult {
    Ok(ToolOutput { text, data })
}

fn read(jail: &Confinement, path: &str, max: u64) -> ToolResult {
    let full = jail.resolve(path)?;
    let file = fs::File::open(&full).map_err(|e| io_failed("cannot open", &full, e))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_failed("cannot read", &full, e))?;
    if bytes.len() as u64 > max {
        return Err(ToolError::new(
            ToolErrorKind::TooLarge,
            format!("{} is larger than {max} bytes", full.display()),
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| ToolError::failed(format!("{} is not UTF-8 text", full.display())))?;
    let data = json!({"path": full, "size": text.len(), "content": text});
    done(text, data)
}

fn make_parents(full: &Path, create: bool) -> Result<(), ToolError> {
    match full.parent() {
        Some(parent) if create && !parent.exists() => {
            fs::create_dir_all(parent).map_err(|e| io_failed("cannot create", parent, e))
        }
        _ => Ok(()),
    }
}

fn write(jail: &Confinement, path: &str, content: &str, append: bool, parents: bool) -> ToolResult {
    let full = jail.resolve(path)?;
    make_parents(&full, parents)?;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&full)
        .map_err(|e| io_failed("cannot open", &full, e))?;
    file.write_all(content.as_bytes())
        .map_err(|e| io_failed("cannot write", &full, e))?;
    let verb = if append { "appended" } else { "wrote" };
    let text = format!("{verb} {} bytes to {}", content.len(), full.display());
    done(text, json!({"path": full, "bytes": content.len()}))
}

fn kind_of(file_type: fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_dir() {
        "dir"
    } else if file_type.is_file() {
        "file"
    } else {
        "other"
    }
}

fn list(jail: &Confinement, path: &str) -> ToolResult {
    let full = jail.resolve(path)?;
    let reader = fs::read_dir(&full).map_err(|e| io_failed("cannot list", &full, e))?;
    let mut entries = Vec::new();
    let mut truncated = false;
    for entry in reader {
        if entries.len() == MAX_LIST_ENTRIES {
            truncated = true;
            break;
        }
        let entry = entry.map_err(|e| io_failed("cannot list", &full, e))?;
        let meta = entry.metadata().ok();
        let kind = entry.file_type().map(kind_of).unwrap_or("other");
        let name = entry.file_name().to_string_lossy().into_owned();
        let size = meta.map(|m| m.len()).unwrap_or(0);
        entries.push((name, kind, size));
    }
    entries.sort();
    let mut text = String::new();
    for (name, kind, _) in &entries {
        text.push_str(name);
        if *kind == "dir" {
            text.push('/');
        }
        text.push('\n');
    }
    let items: Vec<Value> = entries
        .iter()
        .map(|(name, kind, size)| json!({"name": name, "type": kind, "size": size}))
        .collect();
    done(
        text,
        json!({"path": full, "entries": items, "truncated": truncated}),
    )
}

fn exists(jail: &Confinement, path: &str) -> ToolResult {
    let full = jail.resolve(path)?;
    let kind = fs::metadata(&full).ok().map(|m| kind_of(m.file_type()));
    let data = json!({"path": full, "exists": kind.is_some(), "type": kind});
    done(kind.is_some().to_string(), data)
}

fn delete(jail: &Confinement, path: &str, recursive: bool) -> ToolResult {
    let entry = jail.resolve_entry(path)?;
    let meta = fs::symlink_metadata(&entry).map_err(|e| io_failed("cannot delete", &entry, e))?;
    let result = if meta.is_dir() && recursive {
        fs::remove_dir_all(&entry)
    } else if meta.is_dir() {
        fs::remove_dir(&entry)
    } else {
        fs::remove_file(&entry)
    };
    result.map_err(|e| io_failed("cannot delete", &entry, e))?;
    done(
        format!("deleted {}", entry.display()),
        json!({"path": entry, "deleted": true}),
    )
}

fn mkdir(jail: &Confinement, path: &str, recursive: bool) -> ToolResult {
    let full = jail.resolve(path)?;
    let result = if recursive {
        fs::create_dir_all(&full)
    } else {
        fs::create_dir(&full)
    };
    result.map_err(|e| io_failed("cannot create", &full, e))?;
    done(format!("created {}", full.display()), json!({"path": full}))
}

fn copy_or_move(
    jail: &Confinement,
    path: &str,
    dest: &str,
    is_move: bool,
    parents: bool,
) -> ToolResult {
    // Both ends are checked before either is touched.
    let source = if is_move {
        jail.resolve_entry(path)?
    } else {
        jail.resolve(path)?
    };
    let mut target = jail.resolve(dest)?;
    if target.is_dir() {
        if let Some(name) = source.file_name() {
            target = jail.resolve(target.join(name))?;
        }
    }
    make_parents(&target, parents)?;
    let bytes = if is_move {
        fs::rename(&source, &target).map_err(|e| io_failed("cannot move", &source, e))?;
        None
    } else {
        if source.is_dir() {
            return Err(ToolError::invalid(format!(
                "{} is a directory: copy takes files (archive-handler packs directories)",
                source.display()
            )));
        }
        Some(fs::copy(&source, &target).map_err(|e| io_failed("cannot copy", &source, e))?)
    };
    let verb = if is_move { "moved" } else { "copied" };
    let text = format!("{verb} {} to {}", source.display(), target.display());
    done(
        text,
        json!({"source": source, "destination": target, "bytes": bytes}),
    )
}

fn metadata(jail: &Confinement, path: &str) -> ToolResult {
    let full = jail.resolve(path)?;
    let meta = fs::metadata(&full).map_err(|e| io_failed("cannot inspect", &full, e))?;
    let secs = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    };
    #[cfg(unix)]
    let mode = Some(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777);
    #[cfg(not(unix))]
    let mode: Option<u32> = None;
    let data = json!({
        "path": full,
        "type": kind_of(meta.file_type()),
        "size": meta.len(),
        "readonly": meta.permissions().readonly(),
        "mode": mode.map(|m| format!("{m:o}")),
        "modified": secs(meta.modified()),
        "created": secs(meta.created()),
    });
    let text = format!(
        "{} {} {} bytes",
        full.display(),
        kind_of(meta.file_type()),
        meta.len()
    );
    done(text, data)
}
