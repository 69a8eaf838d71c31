//! `archive-handler create`: packs confined files and directories into a zip or tar.gz.
//!
//! Directories are walked without following links (links are skipped, so nothing outside
//! a source is packed); each entry is named after its source's last component, so packing
//! `work/notes` gives `notes/...` entries.

use super::archive::{archive_failed, Format, MAX_ENTRIES};
use super::params::io_failed;
use llmspell_core::tools::{ToolError, ToolOutput, ToolResult};
use serde_json::json;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// One thing to pack.
struct Item {
    path: PathBuf,
    name: String,
    is_dir: bool,
}

/// The files and directories under `sources`, in walk order, without `archive` itself.
fn collect(archive: &Path, sources: &[PathBuf]) -> Result<(Vec<Item>, usize), ToolError> {
    let mut items = Vec::new();
    let mut links = 0;
    for source in sources {
        fs::metadata(source).map_err(|e| io_failed("cannot read", source, e))?;
        let base = source.parent().filter(|_| source.file_name().is_some());
        let walk = walkdir::WalkDir::new(source)
            .follow_links(false)
            .sort_by_file_name();
        for entry in walk {
            let entry = entry.map_err(|e| ToolError::failed(e.to_string()))?;
            let (path, kind) = (entry.path(), entry.file_type());
            if path == archive {
                continue;
            }
            // Sources were resolved, so a link here lies below one: it is skipped.
            if kind.is_symlink() {
                links += 1;
                continue;
            }
            let is_dir = kind.is_dir();
            if !is_dir && !kind.is_file() {
                continue;
            }
            let relative = match base {
                Some(base) => path.strip_prefix(base).unwrap_or(path),
                None => path.strip_prefix("/").unwrap_or(path),
            };
            let mut name = String::new();
            for part in relative.components() {
                let part = part.as_os_str().to_str().ok_or_else(|| {
                    ToolError::failed(format!("{} is not a UTF-8 name", path.display()))
                })?;
                if !name.is_empty() {
                    name.push('/');
                }
                name.push_str(part);
            }
            if name.is_empty() {
                continue;
            }
            if items.len() == MAX_ENTRIES {
                return Err(ToolError::failed(format!(
                    "more than {MAX_ENTRIES} entries to pack"
                )));
            }
            items.push(Item {
                path: path.to_path_buf(),
                name,
                is_dir,
            });
        }
    }
    Ok((items, links))
}

fn write_zip(archive: &Path, items: &[Item]) -> Result<(), ToolError> {
    use zip::write::SimpleFileOptions;
    let file = File::create(archive).map_err(|e| io_failed("cannot create", archive, e))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for item in items {
        if item.is_dir {
            zip.add_directory(item.name.as_str(), options)
                .map_err(|e| archive_failed(archive, e))?;
            continue;
        }
        zip.start_file(item.name.as_str(), options)
            .map_err(|e| archive_failed(archive, e))?;
        let mut source =
            File::open(&item.path).map_err(|e| io_failed("cannot open", &item.path, e))?;
        io::copy(&mut source, &mut zip).map_err(|e| io_failed("cannot pack", &item.path, e))?;
    }
    zip.finish().map_err(|e| archive_failed(archive, e))?;
    Ok(())
}

fn write_tar_gz(archive: &Path, items: &[Item]) -> Result<(), ToolError> {
    let file = File::create(archive).map_err(|e| io_failed("cannot create", archive, e))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    for item in items {
        let result = if item.is_dir {
            tar.append_dir(&item.name, &item.path)
        } else {
            let mut source =
                File::open(&item.path).map_err(|e| io_failed("cannot open", &item.path, e))?;
            tar.append_file(&item.name, &mut source)
        };
        result.map_err(|e| io_failed("cannot pack", &item.path, e))?;
    }
    let gz = tar.into_inner().map_err(|e| archive_failed(archive, e))?;
    gz.finish().map_err(|e| archive_failed(archive, e))?;
    Ok(())
}

/// Packs `sources` (resolved and confined) into `archive` (likewise).
pub(super) fn create(format: Format, archive: &Path, sources: &[PathBuf]) -> ToolResult {
    let (items, links) = collect(archive, sources)?;
    let written = match format {
        Format::Zip => write_zip(archive, &items),
        Format::TarGz => write_tar_gz(archive, &items),
    };
    if let Err(e) = written {
        // A half-written archive is worse than none.
        let _ = fs::remove_file(archive);
        return Err(e);
    }
    let size = fs::metadata(archive).map(|m| m.len()).unwrap_or(0);
    let text = format!(
        "packed {} entries into {} ({size} bytes)",
        items.len(),
        archive.display()
    );
    let data = json!({
        "archive": archive, "entries": items.len(), "bytes": size, "skipped_links": links
    });
    Ok(ToolOutput { text, data })
}
