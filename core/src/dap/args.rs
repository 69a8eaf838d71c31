//! Reading a request's `arguments` with errors that name the command and the field.

use serde_json::{Map, Value};

use crate::engine::debug::{BreakpointSpec, HitCondition};

/// A breakpoint as parsed, or its line and why it was refused.
pub(super) type Parsed = Result<SourceBreakpoint, (i64, String)>;

/// The `arguments` of one request.
pub(super) struct Args<'a> {
    command: &'a str,
    map: &'a Map<String, Value>,
}

/// An empty map, for requests without arguments.
static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

impl<'a> Args<'a> {
    /// The arguments of `command`; `arguments` may be absent or null, else an object.
    pub fn new(command: &'a str, arguments: Option<&'a Value>) -> Result<Args<'a>, String> {
        let map = match arguments {
            None | Some(Value::Null) => EMPTY.get_or_init(Map::new),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(format!("{command}: `arguments` must be an object")),
        };
        Ok(Args { command, map })
    }

    fn field(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, what: &str) -> String {
        format!("{}: `{key}` must be {what}", self.command)
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<&'a str, String> {
        self.opt_str(key)?
            .ok_or_else(|| self.wrong(key, "a string (it is required)"))
    }

    /// An optional string.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, String> {
        match self.field(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    /// A required integer.
    pub fn int(&self, key: &str) -> Result<i64, String> {
        self.opt_int(key)?
            .ok_or_else(|| self.wrong(key, "an integer (it is required)"))
    }

    /// An optional integer.
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.field(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "an integer")),
        }
    }

    /// An optional count (a non-negative integer), 0 when absent.
    pub fn count(&self, key: &str) -> Result<usize, String> {
        match self.opt_int(key)? {
            None => Ok(0),
            Some(n) => usize::try_from(n).map_err(|_| self.wrong(key, "at least 0")),
        }
    }

    /// An optional boolean.
    pub fn flag(&self, key: &str) -> Result<bool, String> {
        match self.field(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.wrong(key, "a boolean")),
        }
    }

    /// An optional array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        match self.field(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.wrong(key, "an array of strings")),
            Some(_) => Err(self.wrong(key, "an array of strings")),
        }
    }

    /// `source.path`, required.
    pub fn source_path(&self) -> Result<&'a str, String> {
        match self.field("source") {
            Some(Value::Object(s)) => match s.get("path") {
                Some(Value::String(p)) if !p.is_empty() => Ok(p),
                _ => Err(self.wrong("source.path", "a non-empty string")),
            },
            _ => Err(self.wrong("source", "an object with a `path`")),
        }
    }

    /// The `filters` of setExceptionBreakpoints, with those of `filterOptions`.
    pub fn exception_filters(&self) -> Result<Vec<String>, String> {
        let mut filters = self.strings("filters")?;
        if let Some(options) = self.field("filterOptions") {
            let Value::Array(options) = options else {
                return Err(self.wrong("filterOptions", "an array"));
            };
            for o in options {
                match o.get("filterId") {
                    Some(Value::String(id)) => filters.push(id.clone()),
                    _ => return Err(self.wrong("filterOptions[].filterId", "a string")),
                }
            }
        }
        Ok(filters)
    }

    /// The breakpoints of setBreakpoints (`breakpoints`, or the legacy `lines`), each
    /// parsed or with the reason it was refused.
    pub fn breakpoints(&self) -> Result<Vec<Parsed>, String> {
        if let Some(list) = self.field("breakpoints") {
            let Value::Array(list) = list else {
                return Err(self.wrong("breakpoints", "an array"));
            };
            return list.iter().map(|b| self.breakpoint(b)).collect();
        }
        match self.field("lines") {
            None => Ok(Vec::new()),
            Some(Value::Array(lines)) => lines
                .iter()
                .map(|l| {
                    let line = l
                        .as_i64()
                        .filter(|l| *l >= 1)
                        .ok_or_else(|| self.wrong("lines", "an array of line numbers"))?;
                    Ok(Ok(SourceBreakpoint {
                        line,
                        condition: None,
                        hit_condition: None,
                        log_message: None,
                    }))
                })
                .collect(),
            Some(_) => Err(self.wrong("lines", "an array")),
        }
    }

    fn breakpoint(&self, b: &Value) -> Result<Parsed, String> {
        let Value::Object(b) = b else {
            return Err(self.wrong("breakpoints[]", "an object"));
        };
        let line = b
            .get("line")
            .and_then(Value::as_i64)
            .filter(|l| *l >= 1)
            .ok_or_else(|| self.wrong("breakpoints[].line", "a line number (1 or more)"))?;
        let text = |key: &str| -> Result<Option<String>, String> {
            match b.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(self.wrong(&format!("breakpoints[].{key}"), "a string")),
            }
        };
        let (condition, hit, log) = (
            text("condition")?,
            text("hitCondition")?,
            text("logMessage")?,
        );
        let hit_condition = match hit.as_deref().map(HitCondition::parse) {
            None => None,
            Some(Ok(h)) => Some(h),
            Some(Err(e)) => return Ok(Err((line, e))),
        };
        Ok(Ok(SourceBreakpoint {
            line,
            condition,
            hit_condition: hit_condition.map(|h| (hit.unwrap_or_default(), h)),
            log_message: log,
        }))
    }
}

/// A breakpoint as the client gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SourceBreakpoint {
    /// The line.
    pub line: i64,
    /// The condition, if any.
    pub condition: Option<String>,
    /// The hit condition as written, and parsed.
    pub hit_condition: Option<(String, HitCondition)>,
    /// The log message, if any.
    pub log_message: Option<String>,
}

impl SourceBreakpoint {
    /// The engine's view of it, with its id.
    pub fn spec(&self, id: u64) -> BreakpointSpec {
        BreakpointSpec {
            id,
            line: u32::try_from(self.line).unwrap_or(u32::MAX),
            condition: self.condition.clone(),
            hit_condition: self.hit_condition.as_ref().map(|(_, h)| *h),
            log_message: self.log_message.clone(),
        }
    }

    /// As `debugInfo` lists it (a DAP `SourceBreakpoint`).
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({ "line": self.line });
        if let Some(c) = &self.condition {
            v["condition"] = c.clone().into();
        }
        if let Some((h, _)) = &self.hit_condition {
            v["hitCondition"] = h.clone().into();
        }
        if let Some(l) = &self.log_message {
            v["logMessage"] = l.clone().into();
        }
        v
    }
}

/// Removes `.` and `..` and repeated separators from an absolute path, without touching
/// the file system; other paths are returned as they are.
pub(super) fn normalize_path(path: &str) -> String {
    if !path.starts_with('/') {
        return path.to_owned();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_their_errors() {
        let v = json!({"s": "x", "n": 3, "b": true, "neg": -1, "list": ["a", 1]});
        let a = Args::new("cmd", Some(&v)).unwrap();
        assert_eq!(a.str("s"), Ok("x"));
        assert_eq!(a.str("n"), Err("cmd: `n` must be a string".into()));
        assert_eq!(
            a.str("missing"),
            Err("cmd: `missing` must be a string (it is required)".into())
        );
        assert_eq!(a.int("n"), Ok(3));
        assert_eq!(a.count("missing"), Ok(0));
        assert!(a.count("neg").is_err());
        assert_eq!(a.flag("b"), Ok(true));
        assert!(a.flag("s").is_err());
        assert!(a.strings("list").is_err());
        assert!(Args::new("cmd", Some(&json!([1]))).is_err());
        assert!(Args::new("cmd", None).unwrap().source_path().is_err());
    }

    #[test]
    fn breakpoints_parse_with_refusals() {
        let v = json!({"source": {"path": "/a.lua"}, "breakpoints": [
            {"line": 3}, {"line": 4, "condition": "x > 1", "hitCondition": ">= 2"},
            {"line": 5, "hitCondition": "sometimes"}, {"line": 6, "logMessage": "x={x}"},
        ]});
        let a = Args::new("setBreakpoints", Some(&v)).unwrap();
        assert_eq!(a.source_path(), Ok("/a.lua"));
        let bps = a.breakpoints().unwrap();
        assert_eq!(bps.len(), 4);
        let second = bps[1].as_ref().unwrap();
        assert_eq!(second.spec(9).hit_condition, Some(HitCondition::Ge(2)));
        assert_eq!(
            second.to_json(),
            json!({"line": 4, "condition": "x > 1", "hitCondition": ">= 2"})
        );
        assert_eq!(bps[2].as_ref().unwrap_err().0, 5);
        assert!(bps[3].as_ref().unwrap().log_message.is_some());
        let bad = json!({"breakpoints": [{"line": 0}]});
        assert!(Args::new("setBreakpoints", Some(&bad))
            .unwrap()
            .breakpoints()
            .is_err());
        let legacy = json!({"lines": [2, 7]});
        let bps = Args::new("setBreakpoints", Some(&legacy))
            .unwrap()
            .breakpoints()
            .unwrap();
        assert_eq!(bps.len(), 2);
    }

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(normalize_path("/a//b/./c/../d.lua"), "/a/b/d.lua");
        assert_eq!(normalize_path("/../x"), "/x");
        assert_eq!(normalize_path("rel/./x"), "rel/./x");
    }
}
