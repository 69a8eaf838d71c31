//! `archive-handler`: create, extract and list zip and tar.gz archives (zip, tar, flate2).
//!
//! Every source, the archive and the destination are confined to the allowed paths.
//! Extraction first reads the whole table of entries and refuses the archive, touching
//! nothing, if any entry is absolute, climbs with `..`, or would land outside the
//! destination through a link already there (zip-slip). Links, devices and other special
//! entries are skipped both ways; only files and directories are written.

use super::confine::Confinement;
use super::params::{io_failed, opt_str, req_str, str_array};
use llmspell_core::tools::{
    SecurityLevel, Tool, ToolContext, ToolError, ToolErrorKind, ToolOutput, ToolResult, ToolSpec,
};
use serde_json::{json, Value};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Most entries an archive may hold, to create or extract.
pub const MAX_ENTRIES: usize = 100_000;
/// Most bytes extracted from one archive, as actually decompressed (zip bombs stop here).
pub const MAX_EXTRACTED_BYTES: u64 = 1 << 30;

/// The `archive-handler` tool.
pub struct ArchiveHandler {
    spec: ToolSpec,
}

impl ArchiveHandler {
    /// The tool with its spec.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": ["create", "extract", "list"]},
                "archive": {"type": "string", "description": "The archive file"},
                "format": {
                    "type": "string", "enum": ["zip", "tar.gz"],
                    "description": "Default: from the archive's name (.zip, .tar.gz, .tgz)"
                },
                "paths": {
                    "type": "array", "items": {"type": "string"}, "minItems": 1,
                    "description": "create: files and directories to pack"
                },
                "destination": {"type": "string", "description": "extract: directory to unpack into"}
            },
            "required": ["operation", "archive"],
            "additionalProperties": false,
            "allOf": [
                {"if": {"properties": {"operation": {"const": "create"}}, "required": ["operation"]},
                 "then": {"required": ["paths"]}},
                {"if": {"properties": {"operation": {"const": "extract"}}, "required": ["operation"]},
                 "then": {"required": ["destination"]}}
            ]
        });
        ArchiveHandler {
            spec: ToolSpec {
                name: "archive-handler",
                category: "filesystem",
                description:
                    "Create, extract and list zip and tar.gz archives within the allowed paths",
                parameters,
                security: SecurityLevel::Restricted,
                cacheable: false,
                blocking: true,
            },
        }
    }
}

impl Default for ArchiveHandler {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Zip,
    TarGz,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    /// A link, device or other special entry: listed, never written.
    Other,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Other => "other",
        }
    }
}

/// One entry of an archive's table.
struct Entry {
    name: String,
    kind: Kind,
    size: u64,
}

impl Tool for ArchiveHandler {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, ctx: &ToolContext<'_>) -> ToolResult {
        let operation = req_str(params, "operation")?;
        let archive_name = req_str(params, "archive")?;
        let format = match opt_str(params, "format")? {
            Some("zip") => Format::Zip,
            Some("tar.gz") => Format::TarGz,
            Some(other) => return Err(ToolError::invalid(format!("unknown format `{other}`"))),
            None if archive_name.ends_with(".zip") => Format::Zip,
            None if archive_name.ends_with(".tar.gz") || archive_name.ends_with(".tgz") => {
                Format::TarGz
            }
            None => return Err(ToolError::invalid("give `format`: zip or tar.gz")),
        };
        let jail = Confinement::new(ctx.policy)?;
        let archive = jail.resolve(archive_name)?;
        match operation {
            "list" => list(format, &archive),
            "create" => {
                let sources = str_array(params, "paths")?;
                if sources.is_empty() {
                    return Err(ToolError::invalid("create needs `paths`"));
                }
                let sources = sources
                    .iter()
                    .map(|p| jail.resolve(p))
                    .collect::<Result<Vec<_>, _>>()?;
                super::archive_write::create(format, &archive, &sources)
            }
            "extract" => {
                let dest = opt_str(params, "destination")?
                    .ok_or_else(|| ToolError::invalid("extract needs `destination`"))?;
                extract(format, &archive, &jail, &jail.resolve(dest)?)
            }
            other => Err(ToolError::invalid(format!("unknown operation `{other}`"))),
        }
    }
}

pub(super) fn archive_failed(archive: &Path, e: impl std::fmt::Display) -> ToolError {
    ToolError::failed(format!("{}: {e}", archive.display()))
}

fn open_zip(archive: &Path) -> Result<zip::ZipArchive<File>, ToolError> {
    let file = File::open(archive).map_err(|e| io_failed("cannot open", archive, e))?;
    zip::ZipArchive::new(file).map_err(|e| archive_failed(archive, e))
}

fn open_tar(archive: &Path) -> Result<tar::Archive<flate2::read::GzDecoder<File>>, ToolError> {
    let file = File::open(archive).map_err(|e| io_failed("cannot open", archive, e))?;
    Ok(tar::Archive::new(flate2::read::GzDecoder::new(file)))
}

fn tar_kind(header: &tar::Header) -> Kind {
    match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Dir,
        _ => Kind::Other,
    }
}

/// The table of entries, in archive order.
fn entries(format: Format, archive: &Path) -> Result<Vec<Entry>, ToolError> {
    let too_many = || archive_failed(archive, format!("more than {MAX_ENTRIES} entries"));
    let mut out = Vec::new();
    match format {
        Format::Zip => {
            let mut zip = open_zip(archive)?;
            if zip.len() > MAX_ENTRIES {
                return Err(too_many());
            }
            for index in 0..zip.len() {
                let file = zip
                    .by_index(index)
                    .map_err(|e| archive_failed(archive, e))?;
                let name = file.name().map_err(|e| archive_failed(archive, e))?;
                let kind = if file.is_symlink() {
                    Kind::Other
                } else if file.is_dir() {
                    Kind::Dir
                } else {
                    Kind::File
                };
                let (name, size) = (name.into_owned(), file.size());
                out.push(Entry { name, kind, size });
            }
        }
        Format::TarGz => {
            let mut tar = open_tar(archive)?;
            for entry in tar.entries().map_err(|e| archive_failed(archive, e))? {
                if out.len() == MAX_ENTRIES {
                    return Err(too_many());
                }
                let entry = entry.map_err(|e| archive_failed(archive, e))?;
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let kind = tar_kind(entry.header());
                out.push(Entry {
                    name,
                    kind,
                    size: entry.size(),
                });
            }
        }
    }
    Ok(out)
}

fn list(format: Format, archive: &Path) -> ToolResult {
    let entries = entries(format, archive)?;
    let mut text = String::new();
    let items: Vec<Value> = entries
        .iter()
        .map(|e| {
            text.push_str(&e.name);
            text.push('\n');
            json!({"name": e.name, "type": e.kind.as_str(), "size": e.size})
        })
        .collect();
    let data = json!({"archive": archive, "entries": items});
    Ok(ToolOutput { text, data })
}

/// An entry's name as a relative path of plain names, or None if it is absolute or climbs
/// with `..` (either separator counts, and so does a drive letter).
fn safe_relative(name: &str) -> Option<PathBuf> {
    let bytes = name.as_bytes();
    let absolute = name.starts_with(['/', '\\']) || (bytes.len() >= 2 && bytes[1] == b':');
    if absolute || name.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return None,
            part => out.push(part),
        }
    }
    Some(out)
}

/// Where each entry goes (None: not written), all checked before anything is written.
fn plan(
    entries: &[Entry],
    jail: &Confinement,
    dest: &Path,
) -> Result<Vec<Option<PathBuf>>, ToolError> {
    entries
        .iter()
        .map(|entry| {
            let outside = || {
                ToolError::denied(format!(
                    "entry `{}` would land outside the destination; nothing was extracted",
                    entry.name
                ))
            };
            let relative = safe_relative(&entry.name).ok_or_else(outside)?;
            if entry.kind == Kind::Other || relative.as_os_str().is_empty() {
                return Ok(None);
            }
            let target = jail.resolve(dest.join(&relative))?;
            if !target.starts_with(dest) {
                return Err(outside());
            }
            Ok(Some(target))
        })
        .collect()
}

/// Writes one entry's bytes to `target`, within what is left of the budget.
fn write_entry(target: &Path, reader: &mut dyn Read, budget: &mut u64) -> Result<(), ToolError> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| io_failed("cannot create", parent, e))?;
    }
    let mut file = File::create(target).map_err(|e| io_failed("cannot create", target, e))?;
    let written = io::copy(&mut reader.take(*budget + 1), &mut file)
        .map_err(|e| io_failed("cannot write", target, e))?;
    if written > *budget {
        return Err(ToolError::new(
            ToolErrorKind::TooLarge,
            format!("the archive unpacks to more than {MAX_EXTRACTED_BYTES} bytes; stopped"),
        ));
    }
    *budget -= written;
    Ok(())
}

fn extract(format: Format, archive: &Path, jail: &Confinement, dest: &Path) -> ToolResult {
    let entries = entries(format, archive)?;
    let targets = plan(&entries, jail, dest)?;
    fs::create_dir_all(dest).map_err(|e| io_failed("cannot create", dest, e))?;
    let mut budget = MAX_EXTRACTED_BYTES;
    let mut put = |target: &Path, kind: Kind, reader: &mut dyn Read| match kind {
        Kind::Dir => fs::create_dir_all(target).map_err(|e| io_failed("cannot create", target, e)),
        _ => write_entry(target, reader, &mut budget),
    };
    match format {
        Format::Zip => {
            let mut zip = open_zip(archive)?;
            for (index, (entry, target)) in entries.iter().zip(&targets).enumerate() {
                if let Some(target) = target {
                    let mut file = zip
                        .by_index(index)
                        .map_err(|e| archive_failed(archive, e))?;
                    put(target, entry.kind, &mut file)?;
                }
            }
        }
        Format::TarGz => {
            let mut tar = open_tar(archive)?;
            let all = tar.entries().map_err(|e| archive_failed(archive, e))?;
            for ((entry, target), mut file) in entries.iter().zip(&targets).zip(all) {
                let file = file.as_mut().map_err(|e| archive_failed(archive, e))?;
                if let Some(target) = target {
                    put(target, entry.kind, file)?;
                }
            }
        }
    }
    let written = targets.iter().flatten().count();
    let skipped: Vec<&str> = entries
        .iter()
        .zip(&targets)
        .filter(|(e, t)| t.is_none() && e.kind == Kind::Other)
        .map(|(e, _)| e.name.as_str())
        .collect();
    let text = format!("extracted {written} entries to {}", dest.display());
    let data = json!({"destination": dest, "extracted": written, "skipped": skipped});
    Ok(ToolOutput { text, data })
}
