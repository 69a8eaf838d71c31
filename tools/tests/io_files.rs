//! file-operations and file-search: every operation, and confinement (outside paths, `..`,
//! links inside that point outside, no allowed paths) refused with nothing touched.

mod common;

use common::{kind, Sandbox};
use llmspell_core::tools::{Policy, ToolErrorKind};
use llmspell_tools::io::{FileOperations, FileSearch};
use serde_json::json;
use std::fs;

#[test]
fn every_operation_inside_the_allowed_path() {
    let sb = Sandbox::new();
    let ops = FileOperations::new();
    let f = sb.inside.join("notes.txt");
    let p = f.to_str().unwrap();

    let out = sb.call(
        &ops,
        json!({"operation": "write", "path": p, "content": "one\n"}),
    );
    assert_eq!(out.unwrap().data["bytes"], 4);
    sb.call(
        &ops,
        json!({"operation": "append", "path": p, "content": "two\n"}),
    )
    .unwrap();
    let out = sb
        .call(&ops, json!({"operation": "read", "path": p}))
        .unwrap();
    assert_eq!(out.text, "one\ntwo\n");
    assert_eq!(out.data["content"], "one\ntwo\n");

    let meta = sb.call(&ops, json!({"operation": "metadata", "path": p}));
    let meta = meta.unwrap().data;
    assert_eq!(
        (meta["type"].as_str(), meta["size"].as_u64()),
        (Some("file"), Some(8))
    );

    // Relative paths are taken against the first allowed path.
    let out = sb.call(&ops, json!({"operation": "exists", "path": "notes.txt"}));
    assert_eq!(out.unwrap().data["exists"], true);
    let out = sb.call(&ops, json!({"operation": "exists", "path": "nope.txt"}));
    assert_eq!(out.unwrap().text, "false");

    sb.call(&ops, json!({"operation": "mkdir", "path": "a/b"}))
        .unwrap();
    assert!(sb.inside.join("a/b").is_dir());
    sb.call(
        &ops,
        json!({"operation": "copy", "path": "notes.txt", "destination": "a/b"}),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(sb.inside.join("a/b/notes.txt")).unwrap(),
        "one\ntwo\n"
    );
    sb.call(
        &ops,
        json!({"operation": "move", "path": "a/b/notes.txt", "destination": "a/moved.txt"}),
    )
    .unwrap();
    assert!(sb.inside.join("a/moved.txt").is_file());
    assert!(!sb.inside.join("a/b/notes.txt").exists());

    let out = sb
        .call(&ops, json!({"operation": "list", "path": "a"}))
        .unwrap();
    assert_eq!(out.text, "b/\nmoved.txt\n");
    assert_eq!(out.data["entries"][1]["type"], "file");

    let out = sb.call(&ops, json!({"operation": "delete", "path": "a"}));
    assert_eq!(
        kind(out),
        ToolErrorKind::Failed,
        "a non-empty directory needs recursive"
    );
    sb.call(
        &ops,
        json!({"operation": "delete", "path": "a", "recursive": true}),
    )
    .unwrap();
    assert!(!sb.inside.join("a").exists());
    let out = sb.call(&ops, json!({"operation": "read", "path": "missing.txt"}));
    assert_eq!(kind(out), ToolErrorKind::Failed);
}

#[test]
fn read_over_the_limit_is_too_large() {
    let sb = Sandbox::new();
    fs::write(sb.inside.join("big"), vec![b'x'; 100]).unwrap();
    let out = sb.call(
        &FileOperations::new(),
        json!({"operation": "read", "path": "big", "max_bytes": 99}),
    );
    assert_eq!(kind(out), ToolErrorKind::TooLarge);
}

#[test]
fn a_write_outside_is_refused_and_nothing_appears() {
    let sb = Sandbox::new();
    let ops = FileOperations::new();
    let target = sb.outside.join("evil.txt");
    let escapes = [
        target.to_str().unwrap().to_owned(),
        "../outside/evil.txt".to_owned(),
        format!("{}/../outside/evil.txt", sb.inside.display()),
        "sub/../../outside/evil.txt".to_owned(),
    ];
    for path in &escapes {
        for op in ["write", "append"] {
            let out = sb.call(
                &ops,
                json!({"operation": op, "path": path, "content": "x", "create_parents": true}),
            );
            assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "{op} {path}");
        }
        let out = sb.call(&ops, json!({"operation": "mkdir", "path": path}));
        assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "mkdir {path}");
    }
    assert!(!target.exists());
    assert_eq!(fs::read_dir(&sb.outside).unwrap().count(), 0);
    assert!(
        !sb.inside.join("sub").exists(),
        "create_parents ran before the check"
    );
}

#[test]
fn reads_deletes_and_copies_across_the_boundary_are_refused() {
    let sb = Sandbox::new();
    let ops = FileOperations::new();
    let secret = sb.outside.join("secret.txt");
    fs::write(&secret, "secret").unwrap();
    fs::write(sb.inside.join("mine.txt"), "mine").unwrap();
    let s = secret.to_str().unwrap();
    for op in ["read", "delete", "metadata", "exists", "list"] {
        let out = sb.call(&ops, json!({"operation": op, "path": s}));
        assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "{op}");
    }
    let out = sb.call(
        &ops,
        json!({"operation": "copy", "path": s, "destination": "stolen.txt"}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    let out = sb.call(
        &ops,
        json!({"operation": "move", "path": "mine.txt", "destination": s}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    assert_eq!(fs::read_to_string(&secret).unwrap(), "secret");
    assert!(sb.inside.join("mine.txt").exists());
    assert!(!sb.inside.join("stolen.txt").exists());
    // The allowed directory itself cannot be deleted.
    let root = sb.inside.to_str().unwrap();
    let out = sb.call(
        &ops,
        json!({"operation": "delete", "path": root, "recursive": true}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    assert!(sb.inside.join("mine.txt").exists());
}

#[cfg(unix)]
#[test]
fn links_inside_that_point_outside_are_refused() {
    use std::os::unix::fs::symlink;
    let sb = Sandbox::new();
    let ops = FileOperations::new();
    fs::write(sb.outside.join("secret.txt"), "secret").unwrap();
    symlink(&sb.outside, sb.inside.join("door")).unwrap();
    symlink(sb.outside.join("secret.txt"), sb.inside.join("secret-link")).unwrap();
    symlink(sb.outside.join("new.txt"), sb.inside.join("dangling")).unwrap();

    for path in ["door/secret.txt", "secret-link"] {
        let out = sb.call(&ops, json!({"operation": "read", "path": path}));
        assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "read {path}");
    }
    for path in ["door/new.txt", "dangling", "secret-link"] {
        let out = sb.call(
            &ops,
            json!({"operation": "write", "path": path, "content": "x"}),
        );
        assert_eq!(kind(out), ToolErrorKind::PermissionDenied, "write {path}");
    }
    assert!(!sb.outside.join("new.txt").exists());
    assert_eq!(
        fs::read_to_string(sb.outside.join("secret.txt")).unwrap(),
        "secret"
    );

    // Deleting a link removes the link, not what it points to.
    sb.call(&ops, json!({"operation": "delete", "path": "secret-link"}))
        .unwrap();
    assert!(!sb.inside.join("secret-link").exists());
    assert!(sb.outside.join("secret.txt").exists());

    // file-search does not walk through the link.
    let out = sb
        .call(&FileSearch::new(), json!({"pattern": "*.txt"}))
        .unwrap();
    assert_eq!(out.data["count"], 0, "{}", out.text);
}

#[test]
fn no_allowed_paths_means_no_file_access() {
    let sb = Sandbox::new();
    let closed = Policy::default();
    let p = sb.inside.join("x.txt");
    let out = common::call(
        &FileOperations::new(),
        &closed,
        json!({"operation": "write", "path": p.to_str().unwrap(), "content": "x"}),
    );
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    assert!(!p.exists());
    let out = common::call(&FileSearch::new(), &closed, json!({"pattern": "*"}));
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
}

#[test]
fn file_search_by_glob_and_content() {
    let sb = Sandbox::new();
    let search = FileSearch::new();
    fs::create_dir_all(sb.inside.join("src/deep")).unwrap();
    fs::create_dir_all(sb.inside.join(".hidden")).unwrap();
    fs::write(
        sb.inside.join("src/main.rs"),
        "fn main() {\n    todo!()\n}\n",
    )
    .unwrap();
    fs::write(
        sb.inside.join("src/deep/lib.rs"),
        "// TODO later\npub fn f() {}\n",
    )
    .unwrap();
    fs::write(sb.inside.join("src/notes.md"), "todo: docs\n").unwrap();
    fs::write(sb.inside.join(".hidden/x.rs"), "todo\n").unwrap();

    let out = sb.call(&search, json!({"pattern": "*.rs"})).unwrap();
    assert_eq!(out.text, "src/deep/lib.rs\nsrc/main.rs\n");
    let out = sb.call(&search, json!({"pattern": "src/*.rs"})).unwrap();
    assert_eq!(
        out.text, "src/main.rs\n",
        "`*` does not cross `/` in a path glob"
    );
    let out = sb.call(&search, json!({"pattern": "*.rs", "include_hidden": true}));
    assert_eq!(out.unwrap().data["count"], 3);

    let out = sb.call(
        &search,
        json!({"pattern": "*.rs", "content": "todo", "case_insensitive": true}),
    );
    let out = out.unwrap();
    assert_eq!(
        out.text,
        "src/deep/lib.rs:1: // TODO later\nsrc/main.rs:2:     todo!()\n"
    );
    assert_eq!(out.data["results"][1]["line"], 2);
    let out = sb
        .call(&search, json!({"content": "todo", "root": "src"}))
        .unwrap();
    assert_eq!(out.data["count"], 2);

    let out = sb
        .call(&search, json!({"pattern": "*", "max_results": 2}))
        .unwrap();
    assert_eq!(
        (out.data["count"].as_u64(), out.data["truncated"].as_bool()),
        (Some(2), Some(true))
    );
    let out = sb.call(&search, json!({"content": "(unclosed"}));
    assert_eq!(kind(out), ToolErrorKind::InvalidParams);
    let outside = sb.outside.to_str().unwrap();
    let out = sb.call(&search, json!({"pattern": "*", "root": outside}));
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
    let out = sb.call(&search, json!({"pattern": "*", "root": "../outside"}));
    assert_eq!(kind(out), ToolErrorKind::PermissionDenied);
}
