use super::*;
use serde_json::json;

fn spec(name: &str, category: &str, description: &str) -> Value {
    json!({"name": name, "category": category, "description": description,
           "parameters": {"type": "object", "properties": {"input": {"type": "string"}}},
           "security": "safe", "cacheable": true, "blocking": false})
}

#[test]
fn unparsable_params_give_the_position() {
    let err = parse_params(r#"{"input": "2+2",}"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tool(ToolErrorKind::InvalidParams));
    assert_eq!(err.exit_code(), 2);
    assert!(err.message.contains("line 1 column 17"), "{err}");
    assert!(
        err.message.starts_with("--params is not valid JSON"),
        "{err}"
    );
    let err = parse_params("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
    assert!(err.message.contains("at line 3 column 3"), "{err}");
    assert_eq!(
        parse_params(r#"{"input":"2+2"}"#).unwrap(),
        json!({"input": "2+2"})
    );
}

#[test]
fn params_from_a_file() {
    let tmp = crate::testutil::TempDir::new("params");
    let file = tmp.path().join("p.json");
    std::fs::write(&file, r#"{"input": "1+1"}"#).unwrap();
    let arg = format!("@{}", file.display());
    assert_eq!(parse_params(&arg).unwrap(), json!({"input": "1+1"}));
    std::fs::write(&file, "{oops").unwrap();
    let err = parse_params(&arg).unwrap_err();
    assert!(
        err.message.contains("p.json") && err.message.contains("column 2"),
        "{err}"
    );
    let err = parse_params("@/nonexistent/p.json").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
}

#[test]
fn commands_become_requests() {
    let search = ToolCommand::Search {
        query: vec!["hash".into(), "file".into()],
        limit: 3,
    };
    assert_eq!(
        request_of(&search).unwrap(),
        ToolRequest::Search {
            query: "hash file".into(),
            limit: 3
        }
    );
    let invoke = ToolCommand::Invoke(crate::cli::InvokeArgs {
        name: "calculator".into(),
        params: "[1,".into(),
        timeout_ms: None,
    });
    assert!(request_of(&invoke).is_err());
}

#[test]
fn list_is_an_aligned_table() {
    let reply = json!({"status": "ok", "command": "list", "tools": [
        spec("calculator", "utility", "Arithmetic."),
        spec("base64-encoder", "data", "Base64."),
    ]});
    let text = reply_text(&ToolRequest::List { category: None }, &reply);
    assert_eq!(
        text,
        "NAME            CATEGORY  DESCRIPTION\n\
         calculator      utility   Arithmetic.\n\
         base64-encoder  data      Base64.\n"
    );
    let none = json!({"status": "ok", "command": "list", "tools": []});
    let text = reply_text(
        &ToolRequest::List {
            category: Some("x".into()),
        },
        &none,
    );
    assert_eq!(text, "no tools in category \"x\"");
}

#[test]
fn info_shows_fields_and_the_schema() {
    let reply = json!({"status": "ok", "command": "info", "tool": spec("calculator", "utility", "Arithmetic.")});
    let text = reply_text(
        &ToolRequest::Info {
            name: "calculator".into(),
        },
        &reply,
    );
    assert!(
        text.starts_with("name:        calculator\ncategory:    utility\n"),
        "{text}"
    );
    assert!(
        text.contains("cacheable:   yes\nblocking:    no\n"),
        "{text}"
    );
    assert!(
        text.contains("parameters:\n{\n  \"properties\": {\n"),
        "{text}"
    );
}

#[test]
fn search_shows_scores() {
    let reply = json!({"status": "ok", "command": "search", "results": [
        {"score": 0.9, "tool": spec("calculator", "utility", "Arithmetic.")},
    ]});
    let req = ToolRequest::Search {
        query: "calc".into(),
        limit: 10,
    };
    let text = reply_text(&req, &reply);
    assert_eq!(
        text,
        "SCORE  NAME        CATEGORY  DESCRIPTION\n0.90   calculator  utility   Arithmetic.\n"
    );
    let empty = json!({"status": "ok", "command": "search", "results": []});
    assert_eq!(reply_text(&req, &empty), "no tools match \"calc\"");
}

#[test]
fn invoke_and_batch_print_text() {
    let req = ToolRequest::Invoke {
        name: "calculator".into(),
        params: json!({}),
        timeout_ms: None,
    };
    let reply = json!({"status": "ok", "command": "invoke", "text": "4", "data": {"result": 4}});
    assert_eq!(reply_text(&req, &reply), "4");
    let batch = ToolRequest::Batch { calls: vec![] };
    let reply = json!({"status": "ok", "command": "batch", "results": [
        {"success": true, "text": "4", "data": 4},
        {"success": false, "error": {"kind": "invalid_params", "message": "input: missing"}},
    ]});
    assert_eq!(reply_text(&batch, &reply), "4\nerror: input: missing");
}
