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

/// The direct path for `a op b` gives fasteval's value, bit for bit, on every shape it
/// takes, and leaves the rest to fasteval.
#[test]
fn one_operator_between_integers_matches_fasteval() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let numbers = [
        "0",
        "1",
        "2",
        "007",
        "10",
        "999999999999999",
        "123456789012345",
        "3",
    ];
    let spaces = ["", " ", "  "];
    let pick = |items: &[&'static str], r: u64| items[(r % items.len() as u64) as usize];
    let mut checked = 0;
    for _ in 0..20_000 {
        let a = match next() % 3 {
            0 => (next() % 100_000).to_string(),
            _ => pick(&numbers, next()).to_owned(),
        };
        let b = match next() % 3 {
            0 => (next() % 1_000).to_string(),
            _ => pick(&numbers, next()).to_owned(),
        };
        let op = pick(&["+", "-", "*", "/", "%", "^"], next());
        let input = format!(
            "{}{a}{}{op}{}{b}{}",
            pick(&spaces, next()),
            pick(&spaces, next()),
            pick(&spaces, next()),
            pick(&spaces, next())
        );
        let direct =
            crate::pure::calculator::binary(&input).unwrap_or_else(|| panic!("direct: {input:?}"));
        let slow = crate::pure::calculator::fasteval_only(&input)
            .unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert!(
            direct.to_bits() == slow.to_bits() || (direct.is_nan() && slow.is_nan()),
            "{input:?}: {direct} vs {slow}"
        );
        checked += 1;
    }
    assert_eq!(checked, 20_000);
    for other in [
        "1 + 2 + 3",
        "-1 + 2",
        "1.5 + 2",
        "1e3 + 1",
        "1k + 1",
        "2 ** 3",
        "1 +",
        "+ 1",
        "1 2 + 3",
        "1234567890123456 + 1",
        "1\t+ 2",
        "(1) + 2",
        "x + 1",
        "1 < 2",
    ] {
        assert_eq!(crate::pure::calculator::binary(other), None, "{other:?}");
    }
    // Through the tool, with the checks after evaluation.
    assert_eq!(ok(&Calculator::new(), json!({"input": "7 + 8"})).text, "15");
    assert_eq!(
        ok(&Calculator::new(), json!({"input": "7 / 2"})).text,
        "3.5"
    );
    assert_eq!(calc_err("1 / 0").1, "division by zero");
    assert_eq!(calc_err("0 % 0").1, "division by zero");
}
