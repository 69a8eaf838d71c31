//! archive-handler: zip and tar.gz round trips, listing, confinement of every path, and
//! zip-slip (entries with `..` or absolute names, or through a link) refused whole.

mod common;

use common::{kind, Sandbox};
use llmspell_core::tools::ToolErrorKind;
use llmspell_tools::io::ArchiveHandler;
use serde_json::json;
use std::fs;
use std::io::Write;
use std::path::Path;

fn tree(root: &Path) {
    fs::create_dir_all(root.join("project/src/empty")).unwrap();
    fs::write(root.join("project/README"), "hello\n").unwrap();
    fs::write(
        root.join("project/src/lib.rs"),
        "pub fn f() {}\n".repeat(100),
    )
    .unwrap();
}

fn round_trip(archive: &str) {
    let sb = Sandbox::new();
    let tool = ArchiveHandler::new();
    tree(&sb.inside);
    let out = sb
        .call(
            &tool,
            json!({"operation": "create", "archive": archive, "paths": ["project"]}),
        )
        .unwrap();
    assert_eq!(out.data["entries"], 5, "{}", out.text);

    let out = sb
        .call(&tool, json!({"operation": "list", "archive": archive}))
        .unwrap();
    let mut names: Vec<&str> = out.text.lines().map(|l| l.trim_end_matches('/')).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "project",
            "project/README",
            "project/src",
            "project/src/empty",
            "project/src/lib.rs"
        ]
    );

    sb.call(
        &tool,
        json!({"operation": "extract", "archive": archive, "destination": "copy"}),
    )
    .unwrap();
    let copy = sb.inside.join("copy/project");
    assert_eq!(fs::read_to_string(copy.join("README")).unwrap(), "hello\n");
    assert_eq!(
        fs::read(copy.join("src/lib.rs")).unwrap(),
        fs::read(sb.inside.join("project/src/lib.rs")).unwrap()
    );
    assert!(copy.join("src/empty").is_dir());
}

#[test]
fn zip_round_trip() {
    round_trip("out.zip");
}

#[test]
fn tar_gz_round_trip() {
    round_trip("out.tar.gz");
}

#[test]
fn every_path_is_confined() {
    let sb = Sandbox::new();
    let tool = ArchiveHandler::new();
    tree(&sb.inside);
    fs::write(sb.outside.join("secret.txt"), "secret").unwrap();
    let secret = sb.outside.join("secret.txt");
    let out = sb.call(
        &tool,
        json!({"operation": "create", "archive": "a.zip", "paths": ["project", secret]}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    assert!(!sb.inside.join("a.zip").exists());
    let out = sb.call(
        &tool,
        json!({"operation": "create", "archive": "../outside/a.zip", "paths": ["project"]}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    assert!(!sb.outside.join("a.zip").exists());

    sb.call(
        &tool,
        json!({"operation": "create", "archive": "a.tgz", "paths": ["project"]}),
    )
    .unwrap();
    let dest = sb.outside.join("unpacked");
    let out = sb.call(
        &tool,
        json!({"operation": "extract", "archive": "a.tgz", "destination": dest}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    assert!(!dest.exists());
}

fn evil_zip(path: &Path, bad_name: &str) {
    let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("fine.txt", options).unwrap();
    zip.write_all(b"fine").unwrap();
    zip.start_file(bad_name, options).unwrap();
    zip.write_all(b"evil").unwrap();
    zip.finish().unwrap();
}

fn evil_tar_gz(path: &Path, bad_name: &str) {
    let gz = flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), Default::default());
    let mut tar = tar::Builder::new(gz);
    for (name, body) in [("fine.txt", &b"fine"[..]), (bad_name, &b"evil"[..])] {
        let mut header = tar::Header::new_gnu();
        // Written raw: the tar crate's own setters refuse `..`, as an attacker's tool would not.
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, body).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

#[test]
fn zip_slip_is_refused_and_nothing_is_extracted() {
    let sb = Sandbox::new();
    let tool = ArchiveHandler::new();
    let escape = format!("{}/evil.txt", sb.outside.display());
    let names = [
        "../../outside/evil.txt",
        "../evil.txt",
        escape.as_str(),
        "a/../../evil.txt",
    ];
    for (i, name) in names.into_iter().enumerate() {
        for ext in ["zip", "tar.gz"] {
            let archive = sb.inside.join(format!("evil{i}.{ext}"));
            if ext == "zip" {
                evil_zip(&archive, name);
            } else {
                evil_tar_gz(&archive, name);
            }
            let out = sb.call(
                &tool,
                json!({"operation": "extract", "archive": archive, "destination": "x/y"}),
            );
            assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "{ext} {name}");
            // Listing is harmless and shows the name as it is.
            let out = sb.call(&tool, json!({"operation": "list", "archive": archive}));
            assert!(out.unwrap().text.contains(name));
        }
    }
    assert!(
        !sb.inside.join("x").exists(),
        "the good entry was not extracted either"
    );
    assert_eq!(fs::read_dir(&sb.outside).unwrap().count(), 0);
    assert!(!sb.inside.parent().unwrap().join("evil.txt").exists());
}

#[cfg(unix)]
#[test]
fn extraction_through_a_link_in_the_destination_is_refused() {
    let sb = Sandbox::new();
    let tool = ArchiveHandler::new();
    fs::create_dir(sb.inside.join("dest")).unwrap();
    std::os::unix::fs::symlink(&sb.outside, sb.inside.join("dest/door")).unwrap();
    let archive = sb.inside.join("door.zip");
    evil_zip(&archive, "door/evil.txt");
    let out = sb.call(
        &tool,
        json!({"operation": "extract", "archive": archive, "destination": "dest"}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    assert_eq!(fs::read_dir(&sb.outside).unwrap().count(), 0);
    assert!(!sb.inside.join("dest/fine.txt").exists());
}

#[test]
fn links_are_not_packed_and_formats_are_inferred_or_refused() {
    let sb = Sandbox::new();
    let tool = ArchiveHandler::new();
    tree(&sb.inside);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&sb.outside, sb.inside.join("project/door")).unwrap();
    let out = sb
        .call(
            &tool,
            json!({"operation": "create", "archive": "p.zip", "paths": ["project"]}),
        )
        .unwrap();
    #[cfg(unix)]
    assert_eq!(out.data["skipped_links"], 1);
    assert_eq!(out.data["entries"], 5);
    let out = sb.call(&tool, json!({"operation": "list", "archive": "p.archive"}));
    assert_eq!(kind(out), ToolErrorKind::InvalidParams);
    let out = sb.call(
        &tool,
        json!({"operation": "list", "archive": "p.archive", "format": "zip"}),
    );
    assert_eq!(kind(out), ToolErrorKind::Failed, "no such file");
}
