use super::{err, ok};
use crate::pure::Calculator;
use llmspell_core::tools::ToolErrorKind;
use serde_json::json;

fn calc(input: &str) -> String {
    ok(&Calculator::new(), json!({ "input": input })).text
}

fn calc_err(input: &str) -> (ToolErrorKind, String) {
    err(&Calculator::new(), json!({ "input": input }))
}

#[test]
fn two_plus_two_is_an_integer() {
    let out = ok(&Calculator::new(), json!({"input": "2+2"}));
    assert_eq!(out.text, "4");
    assert_eq!(out.data, json!({"result": 4, "expression": "2+2"}));
    assert!(out.data["result"].is_i64());
}

#[test]
fn precedence_and_parentheses() {
    assert_eq!(calc("2 + 3 * 4"), "14");
    assert_eq!(calc("(2 + 3) * 4"), "20");
    assert_eq!(calc("10 - 4 - 3"), "3");
    assert_eq!(calc("100 / 10 / 5"), "2");
    assert_eq!(calc("2 * 3 ^ 2"), "18");
    // fasteval binds a leading minus tighter than `^`, as spreadsheets do.
    assert_eq!(calc("-3 ^ 2"), "9");
    assert_eq!(calc("-(3 ^ 2)"), "-9");
    assert_eq!(calc("2 ^ 3 ^ 2"), "512");
    assert_eq!(calc("2 ^ -1"), "0.5");
    assert_eq!(calc("2 < 3"), "1");
    assert_eq!(calc("2 ^ 10"), "1024");
    assert_eq!(calc("17 % 5"), "2");
    assert_eq!(calc("7 / 2"), "3.5");
    assert_eq!(calc("0.1 + 0.2"), "0.30000000000000004");
    assert_eq!(calc("((((1))))"), "1");
}

#[test]
fn functions_and_constants() {
    assert_eq!(calc("sqrt(16)"), "4");
    assert_eq!(calc("abs(-7.5)"), "7.5");
    assert_eq!(calc("min(3, 1, 2)"), "1");
    assert_eq!(calc("max(3, 1, 2)"), "3");
    assert_eq!(calc("floor(2.7) + ceil(2.1)"), "5");
    assert_eq!(calc("round(2.4)"), "2");
    assert_eq!(calc("log(1000)"), "3");
    assert_eq!(calc("ln(e)"), "1");
    assert_eq!(calc("exp(0)"), "1");
    assert_eq!(calc("sin(0) + cos(0)"), "1");
    assert_eq!(calc("pow(2, 8)"), "256");
    assert_eq!(calc("hypot(3, 4)"), "5");
    let pi: f64 = calc("pi").parse().unwrap();
    assert_eq!(pi, std::f64::consts::PI);
    let tan: f64 = calc("tan(pi / 4)").parse().unwrap();
    assert!((tan - 1.0).abs() < 1e-12);
}

#[test]
fn variables() {
    let tool = Calculator::new();
    let out = ok(
        &tool,
        json!({"input": "x * y + 1", "variables": {"x": 3, "y": 2.5}}),
    );
    assert_eq!(out.text, "8.5");
    assert_eq!(out.data["result"], json!(8.5));
    // A variable may shadow a constant.
    let out = ok(&tool, json!({"input": "e + 1", "variables": {"e": 1}}));
    assert_eq!(out.text, "2");
    let (kind, message) = err(&tool, json!({"input": "x + 1", "variables": {"x": "3"}}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("`x` must be a number"), "{message}");
}

#[test]
fn division_by_zero_is_named() {
    for input in ["1/0", "5 % 0", "1 / (2 - 2)", "0/0", "3 / zero"] {
        let (kind, message) = if input.contains("zero") {
            err(
                &Calculator::new(),
                json!({"input": input, "variables": {"zero": 0}}),
            )
        } else {
            calc_err(input)
        };
        assert_eq!(kind, ToolErrorKind::InvalidParams, "{input}");
        assert_eq!(message, "division by zero", "{input}");
    }
}

#[test]
fn other_non_finite_results_are_errors() {
    let (kind, message) = calc_err("sqrt(-1)");
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("not a number"), "{message}");
    let (_, message) = calc_err("10 ^ 400");
    assert!(message.contains("infinite"), "{message}");
    // A quotient that is fine, beside a failing function, is not blamed.
    let (_, message) = calc_err("sqrt(-4) / 2");
    assert!(message.contains("not a number"), "{message}");
}

#[test]
fn bad_syntax_and_unknown_names() {
    for input in ["2 +", "(1 + 2", "1 + 2)", "2 * * 3", "", "   "] {
        let (kind, message) = calc_err(input);
        assert_eq!(kind, ToolErrorKind::InvalidParams, "{input}");
        assert!(!message.is_empty());
    }
    let (_, message) = calc_err("foo + 1");
    assert_eq!(message, "unknown variable or function `foo`");
    let (_, message) = calc_err("sqrt(1, 2)");
    assert_eq!(message, "function `sqrt` takes 1 argument, not 2");
    // print() would write to stderr.
    for input in [r#"print("x", 1)"#, "1 + print(2)", "p+print"] {
        let (_, message) = calc_err(input);
        assert_eq!(message, "unknown function `print`", "{input}");
    }
    for input in ["sprint + 1", "x_print", "prin + 1", "pp"] {
        let (_, message) = calc_err(input);
        assert!(
            message.starts_with("unknown variable"),
            "{input}: {message}"
        );
    }
    // ... but a name that merely starts with it is a variable like any other.
    let out = ok(
        &Calculator::new(),
        json!({"input": "printer + 1", "variables": {"printer": 1}}),
    );
    assert_eq!(out.text, "2");
}

#[test]
fn pathological_inputs_are_refused() {
    let (kind, _) = calc_err(&"1+".repeat(5000));
    assert_eq!(kind, ToolErrorKind::TooLarge);
    let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
    let (kind, message) = calc_err(&deep);
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    assert!(message.contains("nested"), "{message}");
    let (kind, _) = err(&Calculator::new(), json!({"input": 4}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
    let (kind, _) = err(&Calculator::new(), json!({}));
    assert_eq!(kind, ToolErrorKind::InvalidParams);
}
