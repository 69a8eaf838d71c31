//! Cells run again with the same text are loaded from a binary chunk of their first
//! compile instead of being parsed again: lexing, parsing and generating code were about
//! half of the engine's time per cell of `1+1`.
//!
//! A binary chunk made with `lua_dump` without stripping holds the whole prototype (code,
//! constants, nested functions, line info, local and upvalue names) and the chunk name as
//! its source; loading it gives a function equal to the one compiled from the text, with
//! `_ENV` set to the globals as `lua_load` does for any chunk. Only the source differs
//! from cell to cell (`=In[3]`, `=In[4]`, or the debugger's cell file), so each load
//! writes the chunk's own name into the source field of the main function (nested
//! functions refer to their parent's source). Compiling is deterministic, so a cell whose
//! `return <code>` failed to compile before fails again: the cache remembers which form
//! compiled. Failures are not cached.
//!
//! A text is kept the second time it is seen (the first time only its text is noted), so
//! that cells run once pay for no dump; at most [`MAX_ENTRIES`] texts of at most
//! [`MAX_CODE`] bytes are kept, and the cache starts over when full.

use std::collections::HashMap;

/// At most this many cell texts are remembered.
const MAX_ENTRIES: usize = 64;
/// Longer cells are not cached.
const MAX_CODE: usize = 4096;
/// The binary chunk header of Lua 5.4 (signature, version, format, data, sizes, integer
/// and number checks), then one byte for the number of upvalues of the main function: its
/// source follows.
const SOURCE_AT: usize = 4 + 1 + 1 + 6 + 3 + 8 + 8 + 1;
/// The signature that starts a binary chunk.
const SIGNATURE: &[u8] = b"\x1bLua";

/// A compiled cell.
struct Compiled {
    /// It compiled as `return <code>`.
    expression: bool,
    /// The unstripped dump of its function.
    dump: Vec<u8>,
    /// Where the main function's source (size and bytes) ends in `dump`.
    source_end: usize,
}

/// The cache, by cell text.
#[derive(Default)]
pub(crate) struct ChunkCache {
    /// `None`: seen once, not compiled into the cache yet.
    entries: HashMap<String, Option<Compiled>>,
}

/// What the cache says about a cell.
pub(crate) enum Lookup {
    /// Load `chunk` (a binary chunk with the cell's name) instead of compiling; it is an
    /// expression if `expression`.
    Hit { expression: bool },
    /// Seen before: compile it, then [`ChunkCache::store`] the function.
    Store,
    /// Compile it; nothing to store.
    Miss,
}

impl ChunkCache {
    /// Looks `code` up; on a hit, writes into `chunk` the binary chunk to load, named
    /// `chunk_name`.
    pub fn lookup(&mut self, code: &str, chunk_name: &str, chunk: &mut Vec<u8>) -> Lookup {
        if code.len() > MAX_CODE {
            return Lookup::Miss;
        }
        match self.entries.get(code) {
            Some(Some(c)) => {
                chunk.clear();
                chunk.extend_from_slice(&c.dump[..SOURCE_AT]);
                push_size(chunk, chunk_name.len() + 1);
                chunk.extend_from_slice(chunk_name.as_bytes());
                chunk.extend_from_slice(&c.dump[c.source_end..]);
                Lookup::Hit {
                    expression: c.expression,
                }
            }
            Some(None) => Lookup::Store,
            None => {
                if self.entries.len() >= MAX_ENTRIES {
                    self.entries.clear();
                }
                self.entries.insert(code.to_owned(), None);
                Lookup::Miss
            }
        }
    }

    /// Keeps the dump of the function that `code` compiled to under `chunk_name`, after
    /// checking that its source is where it is expected (else nothing is kept).
    pub fn store(&mut self, code: &str, chunk_name: &str, expression: bool, dump: Vec<u8>) {
        let Some(source_end) = source_end(&dump, chunk_name) else {
            self.entries.remove(code);
            return;
        };
        if let Some(entry) = self.entries.get_mut(code) {
            *entry = Some(Compiled {
                expression,
                dump,
                source_end,
            });
        }
    }
}

/// Lua's `dumpSize`: 7 bits a byte, most significant first, the last byte marked.
fn push_size(out: &mut Vec<u8>, mut x: usize) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    loop {
        n += 1;
        buf[buf.len() - n] = (x & 0x7f) as u8;
        x >>= 7;
        if x == 0 {
            break;
        }
    }
    let last = buf.len() - 1;
    buf[last] |= 0x80;
    out.extend_from_slice(&buf[buf.len() - n..]);
}

/// Where the main function's source ends in `dump`, if the dump starts as a Lua 5.4
/// binary chunk and its source is `chunk_name`.
fn source_end(dump: &[u8], chunk_name: &str) -> Option<usize> {
    if !dump.starts_with(SIGNATURE) || dump.get(4) != Some(&0x54) {
        return None;
    }
    let mut size = 0usize;
    let mut at = SOURCE_AT;
    loop {
        let b = *dump.get(at)?;
        at += 1;
        size = size.checked_mul(128)? | usize::from(b & 0x7f);
        if b & 0x80 != 0 {
            break;
        }
    }
    let len = size.checked_sub(1)?;
    let end = at.checked_add(len)?;
    (dump.get(at..end)? == chunk_name.as_bytes()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_written_as_lua_reads_them() {
        let mut out = Vec::new();
        push_size(&mut out, 5);
        assert_eq!(out, [0x85]);
        out.clear();
        push_size(&mut out, 300);
        assert_eq!(out, [0x02, 0xac]);
    }

    #[test]
    fn the_source_of_a_real_dump_is_found_and_replaced() {
        let lua = mlua::Lua::new();
        let f = lua
            .load("local x = ... return function() return x, 'k' end")
            .set_name("=In[1]")
            .into_function()
            .unwrap();
        let mut cache = ChunkCache::default();
        let mut chunk = Vec::new();
        let code = "cell";
        assert!(matches!(
            cache.lookup(code, "=In[1]", &mut chunk),
            Lookup::Miss
        ));
        assert!(matches!(
            cache.lookup(code, "=In[1]", &mut chunk),
            Lookup::Store
        ));
        cache.store(code, "=In[1]", false, f.dump(false));
        let long = format!("@/tmp/{}.lua", "d".repeat(200));
        for name in ["=In[2]", long.as_str()] {
            assert!(matches!(
                cache.lookup(code, name, &mut chunk),
                Lookup::Hit { expression: false }
            ));
            let g = lua
                .load(&chunk[..])
                .set_mode(mlua::ChunkMode::Binary)
                .into_function()
                .unwrap();
            assert_eq!(g.info().source.as_deref(), Some(name));
            let inner: mlua::Function = g.call(7).unwrap();
            assert_eq!(inner.info().source.as_deref(), Some(name));
            assert_eq!(inner.call::<(i64, String)>(()).unwrap(), (7, "k".into()));
        }
    }

    #[test]
    fn a_dump_with_another_source_is_not_kept() {
        let lua = mlua::Lua::new();
        let f = lua.load("return 1").set_name("=a").into_function().unwrap();
        let mut cache = ChunkCache::default();
        let mut chunk = Vec::new();
        cache.lookup("c", "=a", &mut chunk);
        cache.lookup("c", "=a", &mut chunk);
        cache.store("c", "=b", true, f.dump(false));
        assert!(matches!(cache.lookup("c", "=a", &mut chunk), Lookup::Miss));
    }
}
