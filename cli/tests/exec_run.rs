//! `llmspell exec` and `llmspell run` through the embedded kernel.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{stderr, stdout, Sandbox};

#[test]
fn exec_prints_stdout() {
    let sb = Sandbox::new("ex-print");
    let out = sb.run(&["exec", "print(1+1)"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "2\n");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn exec_expression_prints_its_value() {
    let sb = Sandbox::new("ex-expr");
    let out = sb.run(&["exec", "1+1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), "2");
}

#[test]
fn exec_error_exits_1_with_the_message_on_stderr() {
    let sb = Sandbox::new("ex-err");
    let out = sb.run(&["exec", "error(\"boom-x\")"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("boom-x"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn exec_streams_go_to_their_own_fds() {
    let sb = Sandbox::new("ex-streams");
    let out = sb.run(&["exec", "io.write('out') io.stderr:write('err')"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out");
    assert_eq!(stderr(&out), "err");
}

#[test]
fn exec_dash_reads_code_from_stdin() {
    let sb = Sandbox::new("ex-stdin");
    let mut child = sb
        .cmd(&["exec", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"print('from stdin')\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "from stdin\n");
}

#[test]
fn run_passes_args_and_os_exit_sets_the_exit_code() {
    let sb = Sandbox::new("ex-run");
    let script = sb.root().join("s.lua");
    std::fs::write(
        &script,
        "print(arg[0], arg[1], arg[2])\nos.exit(3)\nprint('not reached')\n",
    )
    .unwrap();
    let path = script.to_str().unwrap();
    let out = sb.run(&["run", path, "alpha", "--beta"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{path}\talpha\t--beta\n"));
}

#[test]
fn run_error_names_the_script() {
    let sb = Sandbox::new("ex-run-err");
    let script = sb.root().join("bad.lua");
    std::fs::write(&script, "local x = nil\nreturn x.y\n").unwrap();
    let out = sb.run(&["run", script.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.lua"), "{}", stderr(&out));
}

#[test]
fn run_reads_stdin_lines_until_the_end() {
    let sb = Sandbox::new("ex-lines");
    let script = sb.root().join("count.lua");
    std::fs::write(
        &script,
        "local n, total = 0, 0\nfor line in io.lines() do n = n + 1 total = total + tonumber(line) end\nprint(n, total, io.read())\n",
    )
    .unwrap();
    let mut child = sb
        .cmd(&["run", script.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"1\n2\n39\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "3\t42\tnil\n");
}
