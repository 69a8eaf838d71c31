//! The breakpoint table, read by the hook on every call, return and line event while
//! breakpoints exist: so it is plain data, searched without allocating.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;

use super::BreakpointSpec;

/// The breakpoints of one chunk source.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceBreakpoints {
    /// The chunk source as Lua reports it (`@/path/x.lua`), bytes.
    pub source: Vec<u8>,
    /// The lines with a breakpoint, sorted, without duplicates.
    pub lines: Vec<u32>,
    /// The breakpoints, in the order the client gave them.
    pub specs: Vec<BreakpointSpec>,
    /// Whether the main chunk of this source has code on a breakpoint line (its own code,
    /// not that of the functions it defines); learnt from Lua on first need.
    pub main_needs: Cell<Option<bool>>,
}

impl SourceBreakpoints {
    /// Whether a function defined on lines `first..=last` of this source may reach a
    /// breakpoint line. A main chunk (`first == 0`) covers the whole source (the hook
    /// narrows that down with [`SourceBreakpoints::main_needs`]).
    pub fn covers(&self, first: i32, last: i32) -> bool {
        if first <= 0 {
            return !self.lines.is_empty();
        }
        let start = self.lines.partition_point(|&l| (l as i64) < first as i64);
        self.lines
            .get(start)
            .is_some_and(|&l| (l as i64) <= last as i64)
    }

    /// Whether `line` has a breakpoint.
    pub fn has_line(&self, line: i32) -> bool {
        line > 0 && self.lines.binary_search(&(line as u32)).is_ok()
    }
}

/// Every source's breakpoints, and how often each breakpoint was hit.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// One entry per chunk source; a file may appear under several sources (absolute, and
    /// relative to the working directory, as `require` names it).
    sources: Vec<SourceBreakpoints>,
    /// Hits per breakpoint id, for hit conditions.
    hits: HashMap<u64, u64>,
}

impl Table {
    /// Whether any breakpoint is set.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The breakpoints of a chunk source, if it has any.
    pub fn find(&self, source: &[u8]) -> Option<&SourceBreakpoints> {
        self.sources
            .iter()
            .find(|s| s.source.len() == source.len() && s.source == source)
    }

    /// Replaces the breakpoints of `source` (and of its aliases relative to `cwd`).
    pub fn set(&mut self, source: &str, specs: Vec<BreakpointSpec>, cwd: Option<&Path>) {
        let names = aliases(source, cwd);
        self.sources
            .retain(|s| !names.iter().any(|n| n.as_bytes() == s.source.as_slice()));
        for spec in &specs {
            self.hits.remove(&spec.id);
        }
        if specs.is_empty() {
            return;
        }
        let mut lines: Vec<u32> = specs.iter().map(|s| s.line).collect();
        lines.sort_unstable();
        lines.dedup();
        for name in names {
            self.sources.push(SourceBreakpoints {
                source: name.into_bytes(),
                lines: lines.clone(),
                specs: specs.clone(),
                main_needs: Cell::new(None),
            });
        }
    }

    /// Removes every breakpoint.
    pub fn clear(&mut self) {
        self.sources.clear();
        self.hits.clear();
    }

    /// Counts a hit of breakpoint `id`; returns the count so far.
    pub fn hit(&mut self, id: u64) -> u64 {
        let n = self.hits.entry(id).or_insert(0);
        *n += 1;
        *n
    }

    /// Every source with breakpoints.
    #[cfg(test)]
    pub fn sources(&self) -> &[SourceBreakpoints] {
        &self.sources
    }
}

/// The chunk sources under which a file may be loaded: `@/abs/dir/x.lua`, and, when it lies
/// under `cwd`, `@dir/x.lua` and `@./dir/x.lua` (how `require` and `dofile` name chunks
/// found through relative paths).
pub(crate) fn aliases(source: &str, cwd: Option<&Path>) -> Vec<String> {
    let mut names = vec![source.to_owned()];
    let (Some(path), Some(cwd)) = (source.strip_prefix('@'), cwd) else {
        return names;
    };
    if let Ok(rel) = Path::new(path).strip_prefix(cwd) {
        if let Some(rel) = rel.to_str().filter(|r| !r.is_empty()) {
            names.push(format!("@{rel}"));
            names.push(format!("@./{rel}"));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: u64, line: u32) -> BreakpointSpec {
        BreakpointSpec {
            id,
            line,
            condition: None,
            hit_condition: None,
            log_message: None,
        }
    }

    #[test]
    fn ranges_and_lines() {
        let mut t = Table::default();
        assert!(t.is_empty());
        t.set("@/w/a.lua", vec![spec(1, 5), spec(2, 9), spec(3, 5)], None);
        let a = t.find(b"@/w/a.lua").expect("set");
        assert_eq!(a.lines, [5, 9]);
        assert!(a.covers(0, -1), "a main chunk covers everything");
        assert!(a.covers(4, 6) && a.covers(9, 12) && a.covers(5, 5));
        assert!(!a.covers(6, 8) && !a.covers(10, 20) && !a.covers(1, 4));
        assert!(a.has_line(9) && !a.has_line(8) && !a.has_line(-1));
        assert!(t.find(b"@/w/b.lua").is_none());
        t.set("@/w/a.lua", vec![], None);
        assert!(t.is_empty());
    }

    #[test]
    fn relative_aliases_under_the_working_directory() {
        let cwd = Path::new("/w");
        assert_eq!(
            aliases("@/w/lib/m.lua", Some(cwd)),
            ["@/w/lib/m.lua", "@lib/m.lua", "@./lib/m.lua"]
        );
        assert_eq!(aliases("@/x/m.lua", Some(cwd)), ["@/x/m.lua"]);
        assert_eq!(aliases("=[cell]", Some(cwd)), ["=[cell]"]);
        let mut t = Table::default();
        t.set("@/w/m.lua", vec![spec(1, 2)], Some(cwd));
        assert!(t.find(b"@./m.lua").is_some() && t.find(b"@m.lua").is_some());
        assert_eq!(t.sources().len(), 3);
        t.set("@/w/m.lua", vec![spec(2, 3)], Some(cwd));
        assert_eq!(t.sources().len(), 3, "replaced, not added");
        assert_eq!(t.hit(2), 1);
        assert_eq!(t.hit(2), 2);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.hit(2), 1);
    }
}
