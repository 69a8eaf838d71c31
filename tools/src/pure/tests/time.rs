use super::{err, ok};
use crate::pure::DatetimeHandler;
use llmspell_core::tools::ToolErrorKind;
use serde_json::{json, Value};

fn dt(params: Value) -> llmspell_core::tools::ToolOutput {
    ok(&DatetimeHandler::new(), params)
}

#[test]
fn parse_reads_common_forms() {
    let out = dt(json!({"operation": "parse", "input": "2024-02-29T13:45:10Z"}));
    assert_eq!(out.text, "2024-02-29T13:45:10+00:00");
    assert_eq!(out.data["unix"], 1_709_214_310);
    assert_eq!(out.data["weekday"], "Thu");
    assert_eq!(out.data["day_of_year"], 60);
    let out = dt(json!({"operation": "parse", "input": "Thu, 29 Feb 2024 13:45:10 +0100"}));
    assert_eq!(out.data["unix"], 1_709_210_710);
    let out = dt(json!({"operation": "parse", "input": "2024-02-29 13:45"}));
    assert_eq!(out.text, "2024-02-29T13:45:00+00:00");
    let out = dt(json!({"operation": "parse", "input": "1709214310"}));
    assert_eq!(out.text, "2024-02-29T13:45:10+00:00");
    // A date without offset is read in the given zone.
    let out = dt(json!({"operation": "parse", "input": "2024-07-01 12:00",
        "timezone": "Europe/Paris"}));
    assert_eq!(out.text, "2024-07-01T12:00:00+02:00");
    let out = dt(json!({"operation": "parse", "input": "29/02/2024 08:00",
        "input_format": "%d/%m/%Y %H:%M"}));
    assert_eq!(out.data["hour"], 8);
    let (kind, _) = err(
        &DatetimeHandler::new(),
        json!({"operation": "parse", "input": "soon"}),
    );
    assert_eq!(kind, ToolErrorKind::InvalidParams);
}

#[test]
fn format_and_convert() {
    let out = dt(
        json!({"operation": "format", "input": "2024-02-29T13:45:10Z",
        "format": "%A %d %B %Y, %H:%M"}),
    );
    assert_eq!(out.text, "Thursday 29 February 2024, 13:45");
    let (kind, message) = err(
        &DatetimeHandler::new(),
        json!({"operation": "format",
        "input": "2024-02-29T13:45:10Z", "format": "%Q"}),
    );
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("format"), "{message}");
    let out = dt(
        json!({"operation": "convert_timezone", "input": "2024-01-15T12:00:00Z",
        "timezone": "America/New_York"}),
    );
    assert_eq!(out.text, "2024-01-15T07:00:00-05:00");
    let out = dt(
        json!({"operation": "convert_timezone", "input": "2024-01-15T12:00:00Z",
        "timezone": "+05:30"}),
    );
    assert_eq!(out.text, "2024-01-15T17:30:00+05:30");
    let (kind, _) = err(
        &DatetimeHandler::new(),
        json!({"operation": "convert_timezone",
        "input": "2024-01-15T12:00:00Z", "timezone": "Mars/Olympus"}),
    );
    assert_eq!(kind, ToolErrorKind::InvalidParams);
}

#[test]
fn add_and_diff() {
    let out = dt(
        json!({"operation": "add", "input": "2024-01-31T00:00:00Z", "amount": 1,
        "unit": "months"}),
    );
    assert_eq!(out.text, "2024-02-29T00:00:00+00:00");
    let out = dt(
        json!({"operation": "add", "input": "2024-03-01T00:00:00Z", "amount": -1,
        "unit": "days"}),
    );
    assert_eq!(out.text, "2024-02-29T00:00:00+00:00");
    let out = dt(
        json!({"operation": "add", "input": "2024-03-01T00:00:00Z", "amount": 90,
        "unit": "minutes"}),
    );
    assert_eq!(out.text, "2024-03-01T01:30:00+00:00");
    let (kind, _) = err(
        &DatetimeHandler::new(),
        json!({"operation": "add",
        "input": "2024-03-01T00:00:00Z", "amount": i64::MAX, "unit": "years"}),
    );
    assert_eq!(kind, ToolErrorKind::Failed);
    let out = dt(json!({"operation": "diff", "start": "2024-01-01T00:00:00Z",
        "end": "2024-01-02T03:04:05Z"}));
    assert_eq!(out.text, "1 day 3 hours 4 minutes 5 seconds");
    assert_eq!(out.data["seconds"], 97_445);
    let out = dt(json!({"operation": "diff", "start": "2024-01-02T00:00:00Z",
        "end": "2024-01-01T00:00:00Z"}));
    assert_eq!(out.text, "-1 day");
    assert_eq!(out.data["days"], -1.0);
}

#[test]
fn now_is_current() {
    let before = chrono::Utc::now().timestamp();
    let out = dt(json!({"operation": "now", "timezone": "Asia/Tokyo"}));
    let unix = out.data["unix"].as_i64().unwrap();
    assert!(unix >= before && unix <= chrono::Utc::now().timestamp());
    assert!(out.text.ends_with("+09:00"), "{}", out.text);
}
