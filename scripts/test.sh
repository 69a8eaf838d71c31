#!/usr/bin/env bash
# The test command of llmspell: formatting, lints, the Rust build and tests, then the
# Python suite (tests/python) and the DAP suite (tests/dap, node and npm) against the
# debug binary. Runs from any directory.
# Extra arguments go to pytest (for example: scripts/test.sh -k conformance).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build"
cargo build --workspace --all-targets

step "cargo test"
cargo test --workspace

step "python environment"
bash scripts/setup-python.sh

target_dir="${CARGO_TARGET_DIR:-$root/target}"
export LLMSPELL_BIN="$target_dir/debug/llmspell"
if [ ! -x "$LLMSPELL_BIN" ]; then
    echo "test.sh: $LLMSPELL_BIN was not built" >&2
    exit 1
fi

step "pytest tests/python (LLMSPELL_BIN=$LLMSPELL_BIN)"
rc=0
"$root/.venv/bin/python" -m pytest tests/python \
    -p no:cacheprovider --timeout=120 -q -rfEs "$@" </dev/null || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests: that is a failure" >&2
    rc=1
fi

step "node tests/dap (DebugClient against llmspell dap, stdio and TCP)"
dap_rc=0
(
    cd tests/dap && npm ci --no-audit --no-fund --loglevel=error && node run.mjs
) </dev/null || dap_rc=$?

if [ "$rc" -ne 0 ]; then
    exit "$rc"
fi
exit "$dap_rc"
