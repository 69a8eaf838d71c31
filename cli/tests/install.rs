//! `llmspell kernel install` at each location flavour, inside a sandbox.

mod common;

use std::path::{Path, PathBuf};

use common::{json_stdout, stderr, stdout, Sandbox, BIN};
use serde_json::Value;

/// Reads and checks a kernel.json; returns it.
fn check_spec(path: &Path, display_name: &str) -> Value {
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exe = Path::new(BIN).canonicalize().unwrap();
    assert_eq!(
        spec["argv"],
        serde_json::json!([
            exe.display().to_string(),
            "kernel",
            "start",
            "-f",
            "{connection_file}"
        ])
    );
    assert!(Path::new(spec["argv"][0].as_str().unwrap()).is_absolute());
    assert_eq!(spec["display_name"], display_name);
    assert_eq!(spec["language"], "lua");
    assert_eq!(spec["interrupt_mode"], "message");
    assert_eq!(spec["env"], serde_json::json!({}));
    assert_eq!(spec["metadata"]["debugger"], true);
    spec
}

fn printed_path(out: &std::process::Output) -> PathBuf {
    PathBuf::from(stdout(out).trim_end())
}

#[test]
fn user_install_goes_to_jupyter_data_dir_by_default() {
    let sb = Sandbox::new("inst-user");
    let out = sb.run(&["kernel", "install"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = sb.jupyter_dir().join("kernels/llmspell/kernel.json");
    assert_eq!(printed_path(&out), expected);
    check_spec(&expected, "Lua (llmspell)");

    // --user says the same thing explicitly, and a second install replaces the first.
    let out = sb.run(&["kernel", "install", "--user", "--display-name", "Lua 2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_spec(&expected, "Lua 2");
}

#[cfg(target_os = "linux")]
#[test]
fn user_install_without_jupyter_data_dir_uses_home() {
    let sb = Sandbox::new("inst-home");
    let out = sb
        .cmd(&["kernel", "install", "--user"])
        .env_remove("JUPYTER_DATA_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = sb
        .home()
        .join(".local/share/jupyter/kernels/llmspell/kernel.json");
    assert_eq!(printed_path(&out), expected);
    check_spec(&expected, "Lua (llmspell)");
}

#[test]
fn prefix_install_goes_under_share_jupyter() {
    let sb = Sandbox::new("inst-prefix");
    let prefix = sb.root().join("prefix");
    let out = sb.run(&[
        "kernel",
        "install",
        "--prefix",
        prefix.to_str().unwrap(),
        "--name",
        "lua-x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = prefix.join("share/jupyter/kernels/lua-x/kernel.json");
    assert_eq!(printed_path(&out), expected);
    check_spec(&expected, "Lua (llmspell)");
    assert!(
        !sb.jupyter_dir().exists(),
        "nothing is written to the user dir"
    );
}

#[test]
fn sys_prefix_install_uses_virtual_env_then_conda() {
    let sb = Sandbox::new("inst-sys");
    let venv = sb.root().join("venv");
    let conda = sb.root().join("conda");
    let out = sb
        .cmd(&["kernel", "install", "--sys-prefix"])
        .env("VIRTUAL_ENV", &venv)
        .env("CONDA_PREFIX", &conda)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    check_spec(
        &venv.join("share/jupyter/kernels/llmspell/kernel.json"),
        "Lua (llmspell)",
    );

    let out = sb
        .cmd(&["--output", "json", "kernel", "install", "--sys-prefix"])
        .env("CONDA_PREFIX", &conda)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = conda.join("share/jupyter/kernels/llmspell/kernel.json");
    let v = json_stdout(&out);
    assert_eq!(v["kernel_json"], expected.display().to_string());
    assert_eq!(v["name"], "llmspell");
    check_spec(&expected, "Lua (llmspell)");
}

#[test]
fn sys_prefix_without_an_environment_is_an_error() {
    let sb = Sandbox::new("inst-noenv");
    let out = sb.run(&["kernel", "install", "--sys-prefix"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("VIRTUAL_ENV"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let out = sb.run(&["--output", "json", "kernel", "install", "--sys-prefix"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "environment");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("CONDA_PREFIX"));
}

#[test]
fn bad_names_and_conflicting_locations_are_usage_errors() {
    let sb = Sandbox::new("inst-bad");
    let out = sb.run(&["kernel", "install", "--name", "../evil"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--name"));
    assert!(!sb.root().join("evil").exists() && !sb.jupyter_dir().exists());

    let out = sb.run(&["kernel", "install", "--user", "--prefix", "/tmp/x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sb.run(&["kernel", "install", "--prefix", "/tmp/x", "--sys-prefix"]);
    assert_eq!(out.status.code(), Some(2));
}
