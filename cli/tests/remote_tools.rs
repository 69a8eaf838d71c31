//! Tools on a kernel: `--connect TARGET`, `kernel connect` / `kernel disconnect`, and
//! `stress --remote`, against a real `llmspell kernel start -f FILE`.
//!
//! The tests marked `needs kernel tool_request` wait for the kernel to answer
//! `tool_request` (and for the registry and tools); run them with
//! `cargo test -p llmspell-cli --test remote_tools -- --include-ignored`.
//! Connecting and disconnecting need only `kernel_info_request`, and always run.

mod common;

use common::{json_stdout, stderr, stdout, Sandbox, TestKernel};
use serde_json::Value;

#[test]
fn connect_checks_the_kernel_saves_it_and_disconnect_forgets_it() {
    let sb = Sandbox::new("rt-connect");
    let kernel = TestKernel::start(&sb);
    let saved = sb.runtime_dir().join("connect.json");

    let out = sb.run(&[
        "kernel",
        "connect",
        kernel.connection_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("connected to "),
        "{}",
        stdout(&out)
    );
    assert!(saved.exists());

    // By id prefix and by host:port, with JSON output.
    let id = kernel.id();
    for target in [&id[..4], &kernel.host_port()] {
        let out = sb.run(&["--output", "json", "kernel", "connect", target]);
        assert_eq!(out.status.code(), Some(0), "{target}: {}", stderr(&out));
        let v = json_stdout(&out);
        assert_eq!(v["connected"], true);
        assert_eq!(v["kernel_id"], id.as_str(), "{v}");
        assert_eq!(v["implementation"], "llmspell", "{v}");
        assert_eq!(
            v["connection_file"],
            kernel.connection_file.to_str().unwrap()
        );
    }

    let out = sb.run(&["kernel", "disconnect"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("disconnected from "),
        "{}",
        stdout(&out)
    );
    assert!(!saved.exists());
    let out = sb.run(&["--output", "json", "kernel", "disconnect"]);
    assert_eq!(json_stdout(&out)["disconnected"], false);
    kernel.stop();
}

#[test]
fn unknown_targets_are_errors_that_say_what_runs() {
    let sb = Sandbox::new("rt-unknown");
    let kernel = TestKernel::start(&sb);
    let out = sb.run(&["kernel", "connect", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no registered kernel") && err.contains(&kernel.id()),
        "{err}"
    );

    let out = sb.run(&["--output", "json", "--connect", "ffffffff", "tool", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_stdout(&out)["error"]["kind"], "not_found");

    let out = sb.run(&["kernel", "connect", "no-such-file.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !sb.runtime_dir().join("connect.json").exists(),
        "nothing saved"
    );
    kernel.stop();
}

#[test]
fn a_saved_kernel_that_is_gone_is_an_error_naming_disconnect() {
    let sb = Sandbox::new("rt-gone");
    let kernel = TestKernel::start(&sb);
    let id = kernel.id();
    let out = sb.run(&["kernel", "connect", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    kernel.stop();
    let out = sb.run(&["tool", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&id) && err.contains("kernel disconnect"),
        "{err}"
    );
    // Disconnecting brings the in-process default back (not checked here: it needs the
    // tools); the saved file is gone.
    assert_eq!(sb.run(&["kernel", "disconnect"]).status.code(), Some(0));
    assert!(!sb.runtime_dir().join("connect.json").exists());
}

/// `tool ...` args with `--output json` in-process and on the kernel of `target`.
fn both(sb: &Sandbox, target: &str, args: &[&str]) -> (Value, Value) {
    let mut local = vec!["--output", "json"];
    local.extend_from_slice(args);
    let mut remote = vec!["--output", "json", "--connect", target];
    remote.extend_from_slice(args);
    let (l, r) = (sb.run(&local), sb.run(&remote));
    assert_eq!(l.status.code(), r.status.code(), "{args:?}: {}", stderr(&r));
    (json_stdout(&l), json_stdout(&r))
}

#[test]
fn remote_list_info_search_and_invoke_match_in_process() {
    let sb = Sandbox::new("rt-tools");
    let kernel = TestKernel::start(&sb);
    let file = kernel.connection_file.to_str().unwrap().to_string();
    for args in [
        &["tool", "list"][..],
        &["tool", "list", "--category", "data"],
        &["tool", "info", "calculator"],
        &["tool", "search", "calc"],
        &[
            "tool",
            "invoke",
            "calculator",
            "--params",
            r#"{"input":"2+2"}"#,
        ],
        &["tool", "invoke", "calculater"],
        &[
            "tool",
            "invoke",
            "calculator",
            "--params",
            r#"{"input":42}"#,
        ],
    ] {
        let (local, remote) = both(&sb, &file, args);
        assert_eq!(local, remote, "{args:?}");
    }
    let out = sb.run(&[
        "--connect",
        &file,
        "tool",
        "invoke",
        "calculator",
        "--params",
        r#"{"input":"6*7"}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "42\n");
    kernel.stop();
}

#[test]
fn kernel_connect_sends_later_commands_to_the_kernel() {
    let sb = Sandbox::new("rt-saved");
    let kernel = TestKernel::start(&sb);
    let out = sb.run(&["kernel", "connect", &kernel.host_port()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = sb.run(&[
        "tool",
        "invoke",
        "calculator",
        "--params",
        r#"{"input":"2+2"}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "4\n");
    // An error on the kernel keeps its kind and suggestions.
    let out = sb.run(&["--output", "json", "tool", "info", "calculater"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "unknown_tool");
    assert_eq!(v["error"]["suggestions"][0], "calculator");
    // Once the kernel is gone, commands fail fast instead of running in-process.
    kernel.stop();
    let out = sb.run(&["tool", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("kernel disconnect"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stress_runs_remotely() {
    let sb = Sandbox::new("rt-stress");
    let kernel = TestKernel::start(&sb);
    let out = sb.run(&[
        "--output",
        "json",
        "stress",
        "--remote",
        &kernel.id(),
        "--scale",
        "0.01",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v = json_stdout(&out);
    assert!(v["backend"]
        .as_str()
        .unwrap()
        .starts_with("kernel at tcp://"));
    let scenarios = v["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 7);
    for s in scenarios {
        assert_eq!(s["success_rate"], 1.0, "{s}");
        assert!(
            s["rss_start_kb"].as_u64().is_some(),
            "the kernel's RSS: {s}"
        );
    }
    kernel.stop();
}
