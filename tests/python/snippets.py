"""The Lua code and the kernel facts the Python tests rely on: the one place to adjust them.

Every test module imports its code samples from here, so that a change in the Lua
engine's surface (for instance the display API, which follows xeus-lua's `ilua`
names) is made once.
"""

KERNEL_NAME = "llmspell"

# The server editions every runtime-parametrized test runs against, and the kernelspec of
# each (conftest.py installs both; the glommio one adds `--runtime glommio` to argv).
# LLMSPELL_TEST_RUNTIMES=tokio (comma-separated) narrows the run, e.g. where io_uring is off.
KERNEL_NAMES = {"tokio": KERNEL_NAME, "glommio": "llmspell-glommio"}


def selected_runtimes() -> list[str]:
    """The runtimes named by LLMSPELL_TEST_RUNTIMES (default: all), unknown names kept so
    that conftest.py can refuse them."""
    import os

    value = os.environ.get("LLMSPELL_TEST_RUNTIMES", ",".join(KERNEL_NAMES))
    return [n.strip() for n in value.split(",") if n.strip()]

# kernel_info_reply
PROTOCOL_VERSION = "5.5"
IMPLEMENTATION = "llmspell"
LANGUAGE = "lua"
LANGUAGE_VERSION_PREFIX = "5.4"
FILE_EXTENSION = ".lua"

# stdout / stderr streams
HELLO_WORLD = 'print("hello, world")'  # stdout contains "hello, world"
STDERR = 'io.stderr:write("oops\\n")'  # stderr stream
STDERR_TEXT = "oops"

# execute_result text/plain
EXPR = "6*7"
EXPR_RESULT = "42"
STRING_EXPR = '"hi"'
STRING_RESULT = '"hi"'

# errors: exactly one `error` message on iopub
RUNTIME_ERROR = 'error("boom")'
RUNTIME_ENAME = "RuntimeError"
ERROR_EVALUE_PART = "boom"
SYNTAX_ERROR = "x = = 1"
SYNTAX_ENAME = "SyntaxError"
INTERRUPT_ENAME = "KeyboardInterrupt"

# display API (xeus-lua names)
DISPLAY_HTML = 'ilua.display.html("<b>hi</b>")'
DISPLAY_HTML_DATA = "<b>hi</b>"
CLEAR_OUTPUT = "ilua.display.clear_output(false)"

# pager: the execute_reply carries one payload with source "page"
PAGER = "print?"

# complete_request: the set of matches must equal this
COMPLETE_TEXT = "string.fo"
COMPLETE_MATCHES = ["string.format"]

# inspect_request: found, with data
INSPECT = "print"

# is_complete_request
COMPLETE_CODE = ["print(1)"]
INCOMPLETE_CODE = ["if true then"]
INVALID_CODE = ["x = = 1"]

# history: search patterns are globs, matched against the whole cell (as IPython's
# sqlite GLOB): "6?7" matches EXPR and nothing else the conformance tests run.
HISTORY_PATTERN = "6?7"
HISTORY_OPERATIONS = ("tail", "range", "search")

# long-running / stdin cells
INFINITE_LOOP = "while true do end"
READ_AND_ECHO = 'local s = io.read(); print("got " .. s)'  # answered "hello"
READ_AND_ECHO_OUTPUT = "got hello"
READ_THEN_ERROR = 'io.read(); error("boom")'
PRINT_AFTER = 'print("after")'
PRINT_AFTER_OUTPUT = "after"

# state across a restart
SET_VAR = "x = 5"
PRINT_VAR_STATE = 'print(x == nil and "unset" or "set")'  # prints "set" or "unset"


# a cell whose source is valid but does nothing visible, padded to a given size
def padded_noop(size: int) -> str:
    """A no-op cell of `size` bytes: a Lua comment."""
    return "--" + "x" * max(0, size - 2)


# notebooks (nbclient / papermill)
NB_PRINT = 'print("hello from lua")'
NB_PRINT_OUTPUT = "hello from lua\n"
NB_PARAMETERS = 'name = "world"'
NB_GREET = 'print("hello " .. name)'
