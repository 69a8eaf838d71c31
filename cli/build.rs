//! Optionally links the `llmspell` binary as a position-dependent executable on Linux.
//!
//! Why one might: as a PIE, the binary carries about 53,000 `R_X86_64_RELATIVE`
//! relocations (static tables of pointers: chrono-tz's zone data, string tables, vtables)
//! that the dynamic loader applies at every start by writing into 1.4 MB of
//! `.data.rel.ro`: some 360 copy-on-write page faults and a million instructions, about
//! 0.7 ms of a 2.5 ms `llmspell tool invoke`. Linked without PIE they are resolved once,
//! by the linker.
//!
//! Why it is not the default: without PIE the executable's own code and data sit at fixed
//! addresses (shared libraries, stack, heap and mmaps are still randomised), and the kernel
//! listens on a network port. The default build keeps PIE; `LLMSPELL_NO_PIE=1` at build
//! time opts out, for CLI-heavy use where start time matters most (figures in
//! docs/performance.md).

fn main() {
    println!("cargo:rerun-if-env-changed=LLMSPELL_NO_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && std::env::var_os("LLMSPELL_NO_PIE").is_some_and(|v| v == "1") {
        println!("cargo:rustc-link-arg-bin=llmspell=-no-pie");
    }
}
