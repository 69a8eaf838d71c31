//! The input history: `tail`, `range` and `search` as history_request asks for them.

use serde_json::{json, Value};
use std::collections::{HashSet, VecDeque};

/// One recorded cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Line number: the execution count the cell ran with.
    pub line: u32,
    /// The code.
    pub input: String,
}

/// Cells of the current session, oldest first, bounded.
#[derive(Clone, Debug)]
pub struct History {
    /// The session number we report (1: we keep no history across processes).
    session: i64,
    /// The entries, oldest first.
    entries: VecDeque<Entry>,
    /// Most entries kept; the oldest are dropped first.
    capacity: usize,
}

impl History {
    /// An empty history that keeps at most `capacity` cells.
    pub fn new(capacity: usize) -> Self {
        History {
            session: 1,
            entries: VecDeque::new(),
            capacity,
        }
    }

    /// Records a cell.
    pub fn push(&mut self, line: u32, input: &str) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            line,
            input: input.to_string(),
        });
    }

    fn row(&self, e: &Entry, output: bool) -> Value {
        if output {
            json!([self.session, e.line, [e.input, Value::Null]])
        } else {
            json!([self.session, e.line, e.input])
        }
    }

    /// The last `n` cells (all when `n` is `None`).
    pub fn tail(&self, n: Option<usize>, output: bool) -> Vec<Value> {
        let n = n.unwrap_or(self.entries.len()).min(self.entries.len());
        let skip = self.entries.len() - n;
        self.entries
            .iter()
            .skip(skip)
            .map(|e| self.row(e, output))
            .collect()
    }

    /// Lines `start..stop` of a session (0 or this session's number: this one; others are
    /// empty). A missing `stop` means to the end; negative bounds count from the end.
    pub fn range(&self, session: i64, start: i64, stop: Option<i64>, output: bool) -> Vec<Value> {
        if session != 0 && session != self.session {
            return Vec::new();
        }
        let last = self.entries.back().map_or(0, |e| e.line as i64 + 1);
        let resolve = |v: i64| if v < 0 { last + v } else { v };
        let start = resolve(start);
        let stop = stop.map_or(last, resolve);
        self.entries
            .iter()
            .filter(|e| (e.line as i64) >= start && (e.line as i64) < stop)
            .map(|e| self.row(e, output))
            .collect()
    }

    /// The last `n` cells matching the glob `pattern` (`*` and `?`), newest kept, in order;
    /// with `unique`, each input once (its latest occurrence).
    pub fn search(
        &self,
        pattern: &str,
        n: Option<usize>,
        unique: bool,
        output: bool,
    ) -> Vec<Value> {
        let pattern: Vec<char> = if pattern.is_empty() {
            vec!['*']
        } else {
            pattern.chars().collect()
        };
        let mut picked: Vec<&Entry> = Vec::new();
        let mut seen = HashSet::new();
        for e in self.entries.iter().rev() {
            if !glob(&pattern, &e.input.chars().collect::<Vec<_>>()) {
                continue;
            }
            if unique && !seen.insert(e.input.as_str()) {
                continue;
            }
            picked.push(e);
            if n.is_some_and(|n| picked.len() >= n) {
                break;
            }
        }
        picked.iter().rev().map(|e| self.row(e, output)).collect()
    }
}

/// Glob match with `*` (any run) and `?` (one character), iteratively with backtracking.
fn glob(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist() -> History {
        let mut h = History::new(100);
        for (i, code) in ["a = 1", "print(a)", "a = 1", "b = 2"].iter().enumerate() {
            h.push(i as u32 + 1, code);
        }
        h
    }

    #[test]
    fn tail_range_search() {
        let h = hist();
        assert_eq!(
            h.tail(Some(2), false),
            vec![json!([1, 3, "a = 1"]), json!([1, 4, "b = 2"])]
        );
        assert_eq!(h.tail(Some(10), false).len(), 4);
        assert_eq!(
            h.range(0, 2, Some(4), false),
            vec![json!([1, 2, "print(a)"]), json!([1, 3, "a = 1"])]
        );
        assert_eq!(h.range(0, -1, None, false), vec![json!([1, 4, "b = 2"])]);
        assert_eq!(h.range(7, 0, None, false), Vec::<Value>::new());
        assert_eq!(h.search("a*", None, false, false).len(), 2);
        assert_eq!(
            h.search("a*", None, true, false),
            vec![json!([1, 3, "a = 1"])]
        );
        assert_eq!(
            h.search("*", Some(1), false, true),
            vec![json!([1, 4, ["b = 2", null]])]
        );
        assert_eq!(h.search("?rint*", None, false, false).len(), 1);
    }

    #[test]
    fn bounded() {
        let mut h = History::new(2);
        h.push(1, "x");
        h.push(2, "y");
        h.push(3, "z");
        assert_eq!(
            h.tail(None, false),
            vec![json!([1, 2, "y"]), json!([1, 3, "z"])]
        );
    }

    #[test]
    fn glob_cases() {
        let g = |p: &str, s: &str| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &s.chars().collect::<Vec<_>>(),
            )
        };
        assert!(g("*", ""));
        assert!(g("a*c", "abbbc"));
        assert!(!g("a*c", "abbbd"));
        assert!(g("*b*", "abc"));
        assert!(!g("?", ""));
    }
}
