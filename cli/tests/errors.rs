//! Command-line errors: clap's usage errors (exit 2), ours, and the JSON error form.

mod common;

use common::{json_stdout, stderr, stdout, Sandbox};

#[test]
fn bad_flags_are_clap_errors_with_exit_code_2() {
    let sb = Sandbox::new("err-clap");
    for args in [
        &["kernel", "start", "--port", "abc"][..],
        &["kernel", "start", "--port", "70000"],
        &["kernel", "start", "--transport", "udp"],
        &["kernel", "start", "--max-message-size-mb", "0"],
        &["kernel", "start", "--no-such-flag"],
        &["--output", "xml", "kernel", "status"],
        &["kernel", "frobnicate"],
        &["kernel", "stop", "abc", "--all"],
        &["--connect", "ab12", "exec", "1"],
        &["--connect", "ab12", "kernel", "status"],
        &["run"],
        &["exec"],
        &[],
    ] {
        let out = sb.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?} explains itself");
        assert!(stdout(&out).is_empty(), "{args:?} prints nothing on stdout");
    }
    assert!(
        !sb.runtime_dir().exists(),
        "no command above got as far as the runtime dir"
    );
}

#[test]
fn help_and_version_succeed() {
    let sb = Sandbox::new("err-help");
    let out = sb.run(&["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("kernel"));
    let out = sb.run(&["--version"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("llmspell "));
    let out = sb.run(&["kernel", "start", "--help"]);
    assert!(stdout(&out).contains("--connection-file"));
}

#[test]
fn ports_that_do_not_fit_are_a_usage_error_before_binding() {
    let sb = Sandbox::new("err-port");
    let out = sb.run(&["kernel", "start", "--port", "65533"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("65533"));
    assert!(
        stdout(&out).is_empty(),
        "the kernel process never writes to stdout"
    );
}

#[test]
fn unreadable_script_is_a_clear_usage_error() {
    let sb = Sandbox::new("err-run");
    let missing = sb.root().join("missing.lua");
    let out = sb.run(&["run", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.lua"), "{}", stderr(&out));

    let out = sb.run(&["--output", "json", "run", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_stdout(&out)["error"]["kind"], "usage");
}

#[test]
fn config_is_read_only_by_the_commands_that_use_it() {
    let sb = Sandbox::new("err-config");
    let out = sb.run(&["--config", "/nonexistent/llmspell.toml", "kernel", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sb.run(&["--config", "/nonexistent/llmspell.toml", "tool", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/llmspell.toml"),
        "{}",
        stderr(&out)
    );
    let out = sb
        .cmd(&["kernel", "status"])
        .env("LLMSPELL_CONFIG", "/x.toml")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn missing_home_is_an_environment_error() {
    let sb = Sandbox::new("err-home");
    let out = sb
        .cmd(&["--output", "json", "kernel", "status"])
        .env_remove("HOME")
        .env_remove("LLMSPELL_RUNTIME_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_stdout(&out)["error"]["kind"], "environment");
}
