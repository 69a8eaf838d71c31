use super::{err, ok};
use crate::pure::{DiffCalculator, TemplateCreator, TextManipulator};
use llmspell_core::tools::ToolErrorKind;
use serde_json::json;

fn text(operation: &str, input: &str) -> String {
    ok(
        &TextManipulator::new(),
        json!({"operation": operation, "input": input}),
    )
    .text
}

#[test]
fn case_conversions() {
    assert_eq!(text("uppercase", "straße"), "STRASSE");
    assert_eq!(text("lowercase", "HeLLo"), "hello");
    assert_eq!(
        text("snake_case", "HelloWorld fooBar"),
        "hello_world_foo_bar"
    );
    assert_eq!(text("camel_case", "hello world-foo"), "helloWorldFoo");
    assert_eq!(text("pascal_case", "hello_world"), "HelloWorld");
    assert_eq!(text("kebab_case", "Hello World"), "hello-world");
    assert_eq!(text("title_case", "hello_world again"), "Hello World Again");
    assert_eq!(text("constant_case", "helloWorld"), "HELLO_WORLD");
    assert_eq!(text("capitalize", "élan vital"), "Élan vital");
}

#[test]
fn reverse_trim_and_counts() {
    // Graphemes stay whole: the accent stays on its letter.
    assert_eq!(text("reverse", "abc"), "cba");
    assert_eq!(text("reverse", "e\u{301}a"), "ae\u{301}");
    assert_eq!(text("trim", "  x y \n"), "x y");
    assert_eq!(text("trim_start", "  x "), "x ");
    assert_eq!(text("trim_end", "  x "), "  x");
    assert_eq!(text("word_count", "The quick, brown fox."), "4");
    assert_eq!(text("line_count", "a\nb\nc\n"), "3");
    let out = ok(
        &TextManipulator::new(),
        json!({"operation": "char_count", "input": "héllo wörld"}),
    );
    assert_eq!(out.text, "11");
    assert_eq!(out.data["bytes"], 13);
    assert_eq!(out.data["non_whitespace"], 10);
}

#[test]
fn replace_split_truncate() {
    let tool = TextManipulator::new();
    let out = ok(
        &tool,
        json!({"operation": "replace", "input": "a-b-c-d", "pattern": "-",
        "replacement": "+"}),
    );
    assert_eq!(out.text, "a+b+c+d");
    assert_eq!(out.data["replacements"], 3);
    let out = ok(
        &tool,
        json!({"operation": "replace", "input": "a-b-c-d", "pattern": "-",
        "replacement": "", "count": 2}),
    );
    assert_eq!(out.text, "abc-d");
    assert_eq!(out.data["replacements"], 2);
    let out = ok(
        &tool,
        json!({"operation": "split", "input": "a,b,,c", "separator": ","}),
    );
    assert_eq!(out.data["parts"], json!(["a", "b", "", "c"]));
    let out = ok(
        &tool,
        json!({"operation": "split", "input": "a,b,,c", "separator": ",",
        "skip_empty": true}),
    );
    assert_eq!(out.data["count"], 3);
    let out = ok(
        &tool,
        json!({"operation": "split", "input": " one  two\tthree "}),
    );
    assert_eq!(out.data["parts"], json!(["one", "two", "three"]));
    let out = ok(
        &tool,
        json!({"operation": "truncate", "input": "hello world", "length": 5}),
    );
    assert_eq!(out.text, "hello...");
    let out = ok(
        &tool,
        json!({"operation": "truncate", "input": "hi", "length": 5}),
    );
    assert_eq!(out.data["truncated"], false);
    let (kind, _) = err(&tool, json!({"operation": "replace", "input": "x"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let (kind, message) = err(&tool, json!({"operation": "shout", "input": "x"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("uppercase"), "{message}");
}

#[test]
fn unified_diff() {
    let out = ok(
        &DiffCalculator::new(),
        json!({
            "old": "one\ntwo\nthree\n", "new": "one\n2\nthree\n", "context_lines": 1,
        }),
    );
    assert_eq!(
        out.text,
        "--- old\n+++ new\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"
    );
    assert_eq!(out.data["insertions"], 1);
    assert_eq!(out.data["deletions"], 1);
    assert_eq!(out.data["identical"], false);
    let same = ok(&DiffCalculator::new(), json!({"old": "a\n", "new": "a\n"}));
    assert_eq!(same.text, "");
    assert_eq!(same.data["identical"], true);
    assert_eq!(same.data["ratio"], 1.0);
}

#[test]
fn line_word_and_char_changes() {
    let tool = DiffCalculator::new();
    let out = ok(
        &tool,
        json!({"old": "a\nb\n", "new": "a\nc\n", "format": "lines"}),
    );
    assert_eq!(out.text, " a\n-b\n+c\n");
    let out = ok(
        &tool,
        json!({"old": "the quick fox", "new": "the slow fox", "format": "words"}),
    );
    assert_eq!(out.text, "the [-quick-]{+slow+} fox");
    assert_eq!(
        out.data["changes"],
        json!([{"tag": "equal", "value": "the "}, {"tag": "delete", "value": "quick"},
               {"tag": "insert", "value": "slow"}, {"tag": "equal", "value": " fox"}])
    );
    let out = ok(
        &tool,
        json!({"old": "cat", "new": "cut", "format": "chars"}),
    );
    assert_eq!(out.text, "c[-a-]{+u+}t");
}

#[test]
fn templates_render() {
    let tool = TemplateCreator::new();
    let out = ok(
        &tool,
        json!({"template": "Hello {{ name }}!", "variables": {"name": "World"}}),
    );
    assert_eq!(out.text, "Hello World!");
    let out = ok(
        &tool,
        json!({
            "template": "{% for i in items %}{{ loop.index }}:{{ i.n | upper }}{% if not loop.last %}, {% endif %}{% endfor %}",
            "context": {"items": [{"n": "a"}, {"n": "b"}]},
        }),
    );
    assert_eq!(out.text, "1:A, 2:B");
    let out = ok(
        &tool,
        json!({"template": "{{ x }}", "variables": {"x": "<b>"}, "autoescape": "html"}),
    );
    assert_eq!(out.text, "&lt;b&gt;");
    // Lenient by default, strict on request.
    assert_eq!(ok(&tool, json!({"template": "[{{ missing }}]"})).text, "[]");
    let (kind, message) = err(&tool, json!({"template": "{{ missing }}", "strict": true}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("undefined"), "{message}");
    let (kind, message) = err(&tool, json!({"template": "{% for %}"}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(
        message.contains("syntax error") && message.contains("line 1"),
        "{message}"
    );
    // A runaway loop runs out of fuel.
    let (kind, message) = err(
        &tool,
        json!({
            "template": "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}"
        }),
    );
    assert_eq!(kind, ToolErrorKind::Failed);
    assert!(message.contains("budget"), "{message}");
    let (kind, _) = err(&tool, json!({"template": "x", "variables": [1]}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
}
