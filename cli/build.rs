//! Links the `llmspell` binary as a position-dependent executable on Linux.
//!
//! Why: as a PIE, the binary carries about 53,000 `R_X86_64_RELATIVE` relocations (static
//! tables of pointers: chrono-tz's zone data, string tables, vtables) that the dynamic
//! loader applies at every start by writing into 1.4 MB of `.data.rel.ro`: some 360
//! copy-on-write page faults and a million instructions, about 0.6 ms of a 2 ms
//! `llmspell tool invoke`. Linked without PIE, they are resolved by the linker once.
//!
//! The cost: the executable's own code and data sit at fixed addresses (shared libraries,
//! stack, heap and mmaps are still randomised). A kernel runs arbitrary Lua for whoever
//! holds its key, so that hardening buys little here; a packager who wants it anyway
//! builds with `LLMSPELL_PIE=1`.

fn main() {
    println!("cargo:rerun-if-env-changed=LLMSPELL_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && std::env::var_os("LLMSPELL_PIE").is_none() {
        println!("cargo:rustc-link-arg-bin=llmspell=-no-pie");
    }
}
