//! `llmspell tool ...` in-process: output in text and JSON, and every bad input.
//!
//! The tests marked `needs the registry and built-in tools` run once the registry
//! (core/src/tools) and the tools (tools/src/pure, tools/src/io) are implemented; until
//! then the registry's stubs panic. Run them with
//! `cargo test -p llmspell-cli --test tools -- --include-ignored`.
//! The others check what the CLI does before any tool is touched, and always run.

mod common;

use common::{json_stdout, stderr, stdout, Sandbox};
use serde_json::Value;

// ---- before any tool is touched: these run now ----

#[test]
fn unparsable_params_give_the_json_error_with_its_position() {
    let sb = Sandbox::new("tool-badjson");
    let out = sb.run(&[
        "tool",
        "invoke",
        "calculator",
        "--params",
        r#"{"input": 2+2}"#,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("--params is not valid JSON"), "{err}");
    assert!(err.contains("line 1 column 12"), "{err}");

    let out = sb.run(&[
        "--output",
        "json",
        "tool",
        "invoke",
        "calculator",
        "--params",
        "{\"input\":\n  \"2+2\"",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "invalid_params");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("line 2"),
        "{v}"
    );
    assert_eq!(v["error"]["suggestions"], serde_json::json!([]));
}

#[test]
fn params_from_stdin_are_parsed_too() {
    use std::io::Write;
    use std::process::Stdio;
    let sb = Sandbox::new("tool-stdin");
    let mut child = sb
        .cmd(&["tool", "invoke", "calculator", "--params", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"[1, 2,]").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--params from stdin is not valid JSON"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_errors_name_the_key_and_the_file() {
    let sb = Sandbox::new("tool-config");
    let file = sb.root().join("llmspell.toml");
    std::fs::write(&file, "[tools]\ncache_enabld = true\n").unwrap();
    let out = sb.run(&["--config", file.to_str().unwrap(), "tool", "list"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cache_enabld") && err.contains("llmspell.toml"),
        "{err}"
    );

    std::fs::write(&file, "[tools]\ncache_enabled = 3\n").unwrap();
    let out = sb
        .cmd(&["--output", "json", "tool", "list"])
        .env("LLMSPELL_CONFIG", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "config");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2, column 17"),
        "{v}"
    );

    let out = sb
        .cmd(&["tool", "list"])
        .env("LLMSPELL_TOOLS_CACHE_ENABLED", "perhaps")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("LLMSPELL_TOOLS_CACHE_ENABLED"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["--config", "/nonexistent/llmspell.toml", "tool", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/llmspell.toml"));
}

// ---- with the registry and the tools ----

/// The keys of the protocol's SPEC object.
const SPEC_KEYS: [&str; 7] = [
    "name",
    "category",
    "description",
    "parameters",
    "security",
    "cacheable",
    "blocking",
];

fn assert_spec(spec: &Value) {
    for key in SPEC_KEYS {
        assert!(spec.get(key).is_some(), "SPEC lacks {key}: {spec}");
    }
    assert_eq!(spec.as_object().unwrap().len(), SPEC_KEYS.len(), "{spec}");
}

#[test]
fn list_as_a_table_and_as_json() {
    let sb = Sandbox::new("tool-list");
    let out = sb.run(&["tool", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("CATEGORY"),
        "{text}"
    );
    assert!(lines.len() > 20, "at least 20 tools: {text}");
    let desc_col = lines[0].find("DESCRIPTION").unwrap();
    let calc = lines
        .iter()
        .find(|l| l.starts_with("calculator "))
        .expect("calculator listed");
    assert!(
        calc.len() > desc_col && calc.as_bytes()[desc_col - 1] == b' ',
        "aligned: {calc}"
    );

    let out = sb.run(&["--output", "json", "tool", "list"]);
    let v = json_stdout(&out);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["command"], "list");
    let tools = v["tools"].as_array().unwrap();
    assert!(tools.len() >= 20);
    tools.iter().for_each(assert_spec);
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "sorted by name");

    let category = tools[0]["category"].as_str().unwrap().to_string();
    let out = sb.run(&["--output", "json", "tool", "list", "--category", &category]);
    let v = json_stdout(&out);
    let some = v["tools"].as_array().unwrap();
    assert!(!some.is_empty() && some.len() < tools.len());
    assert!(some.iter().all(|t| t["category"] == category.as_str()));
}

#[test]
fn info_shows_the_schema() {
    let sb = Sandbox::new("tool-info");
    let out = sb.run(&["tool", "info", "calculator"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("name:        calculator\n"), "{text}");
    assert!(
        text.contains("parameters:\n{\n") && text.contains("\"input\""),
        "{text}"
    );

    let out = sb.run(&["--output", "pretty", "tool", "info", "calculator"]);
    let text = stdout(&out);
    assert!(text.starts_with("{\n"), "indented: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["command"], "info");
    assert_spec(&v["tool"]);
    assert!(
        v["tool"]["parameters"]["properties"]["input"].is_object(),
        "{v}"
    );
}

#[test]
fn search_ranks_with_scores() {
    let sb = Sandbox::new("tool-search");
    let out = sb.run(&["tool", "search", "calc"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SCORE  NAME"), "{text}");
    assert!(lines[1].contains("calculator"), "best first: {text}");

    let out = sb.run(&["--output", "json", "tool", "search", "calc", "--limit", "3"]);
    let v = json_stdout(&out);
    let results = v["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 3);
    assert_eq!(results[0]["tool"]["name"], "calculator");
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn invoke_prints_text_or_the_reply() {
    let sb = Sandbox::new("tool-invoke");
    let out = sb.run(&[
        "tool",
        "invoke",
        "calculator",
        "--params",
        r#"{"input": "2+2"}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "4\n");
    assert!(stderr(&out).is_empty());

    let out = sb.run(&[
        "--output",
        "json",
        "tool",
        "invoke",
        "calculator",
        "--params",
        r#"{"input":"2^10"}"#,
        "--timeout-ms",
        "1000",
    ]);
    let v = json_stdout(&out);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["command"], "invoke");
    assert_eq!(v["text"], "1024");
    assert!(v.get("data").is_some());
}

#[test]
fn unknown_tools_name_the_closest_matches() {
    let sb = Sandbox::new("tool-unknown");
    for args in [
        &["tool", "invoke", "calculater", "--params", "{}"][..],
        &["tool", "info", "calculater"],
    ] {
        let out = sb.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stdout(&out).is_empty());
        assert!(stderr(&out).contains("calculator"), "{}", stderr(&out));
    }
    let out = sb.run(&["--output", "json", "tool", "info", "calculater"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "unknown_tool");
    assert_eq!(v["error"]["suggestions"][0], "calculator");
}

#[test]
fn schema_mismatches_say_which_parameter_and_why() {
    let sb = Sandbox::new("tool-schema");
    for params in [r#"{}"#, r#"{"input": 42}"#] {
        let out = sb.run(&[
            "--output",
            "json",
            "tool",
            "invoke",
            "calculator",
            "--params",
            params,
        ]);
        assert_eq!(out.status.code(), Some(2), "{params}");
        let v = json_stdout(&out);
        assert_eq!(v["error"]["kind"], "invalid_params", "{params}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("input"),
            "{v}"
        );
    }
    let out = sb.run(&[
        "tool",
        "invoke",
        "calculator",
        "--params",
        r#"{"input": 42}"#,
    ]);
    assert!(stderr(&out).contains("input"), "{}", stderr(&out));
}

#[test]
fn params_over_the_size_limit_are_refused() {
    let sb = Sandbox::new("tool-big");
    let big = format!(r#"{{"input": "1{}"}}"#, "+1".repeat(100));
    let out = sb
        .cmd(&[
            "--output",
            "json",
            "tool",
            "invoke",
            "calculator",
            "--params",
            &big,
        ])
        .env("LLMSPELL_TOOLS_MAX_PARAMS_BYTES", "64")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(json_stdout(&out)["error"]["kind"], "too_large");
    // The same call under the default limit runs.
    let out = sb.run(&["tool", "invoke", "calculator", "--params", &big]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "101\n");
}

/// file-operations parameters; `operation`, `path` and `content` are the names the tool
/// is expected to use (adjust here if it settles on others).
fn file_op(op: &str, path: &std::path::Path) -> String {
    serde_json::json!({"operation": op, "path": path, "content": "hello"}).to_string()
}

#[test]
fn paths_outside_the_allowed_ones_are_refused_and_untouched() {
    let sb = Sandbox::new("tool-paths");
    let allowed = sb.root().join("allowed");
    let outside = sb.root().join("outside");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let run = |params: &str| {
        sb.cmd(&[
            "--output",
            "json",
            "tool",
            "invoke",
            "file-operations",
            "--params",
            params,
        ])
        .env("LLMSPELL_TOOLS_ALLOWED_PATHS", &allowed)
        .output()
        .unwrap()
    };
    let target = outside.join("x.txt");
    let out = run(&file_op("write", &target));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(json_stdout(&out)["error"]["kind"], "permission_denied");
    assert!(!target.exists(), "nothing written outside");
    // A way out through `..` is refused too.
    let sneaky = allowed.join("..").join("outside").join("y.txt");
    let out = run(&file_op("write", &sneaky));
    assert_eq!(json_stdout(&out)["error"]["kind"], "permission_denied");
    assert!(!outside.join("y.txt").exists());
    // Reading outside is refused as well.
    let secret = outside.join("secret.txt");
    std::fs::write(&secret, "s3cret").unwrap();
    let out = run(&file_op("read", &secret));
    assert_eq!(json_stdout(&out)["error"]["kind"], "permission_denied");
    assert!(!stdout(&out).contains("s3cret"));
    // Inside, the same write works.
    let inside = allowed.join("x.txt");
    let out = run(&file_op("write", &inside));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "hello");
    // With no allowed paths at all, nothing is allowed.
    let out = sb
        .cmd(&[
            "tool",
            "invoke",
            "file-operations",
            "--params",
            &file_op("read", &inside),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).to_lowercase().contains("allowed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stress_runs_every_scenario_in_process() {
    let sb = Sandbox::new("tool-stress");
    let out = sb.run(&["--output", "json", "stress", "--scale", "0.01"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v = json_stdout(&out);
    assert_eq!(v["backend"], "in-process");
    let names: Vec<&str> = v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "rapid-list",
            "registry-stress",
            "rapid-invoke",
            "sustained",
            "rapid-search",
            "large-payload",
            "error-recovery"
        ]
    );
    for s in v["scenarios"].as_array().unwrap() {
        assert_eq!(s["success_rate"], 1.0, "{s}");
        assert!(s["ops"].as_u64().unwrap() >= 1);
        assert!(s["rss_end_kb"].as_u64().unwrap() > 0);
    }
    let out = sb.run(&["stress", "--scenario", "error-recovery", "--scale", "0.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("SCENARIO") && text.contains("error-recovery") && text.contains("100.0%"),
        "{text}"
    );
}
