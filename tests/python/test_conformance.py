"""jupyter_kernel_test 0.7.0 against the llmspell kernel.

Every sample attribute its KernelTests base class reads is set, so that none of its
tests is skipped for want of a sample; the code comes from snippets.py. Each test class
exists once per runtime of LLMSPELL_TEST_RUNTIMES (tokio keeps the plain names), each
starting the kernel through that runtime's kernelspec.
"""

from __future__ import annotations

import jupyter_kernel_test

import snippets as S


class _KernelSamples:
    """The samples; mixed into one KernelTests class per runtime below."""

    # test_kernel_info
    language_name = S.LANGUAGE
    file_extension = S.FILE_EXTENSION

    # test_execute_stdout / test_execute_stderr
    code_hello_world = S.HELLO_WORLD
    code_stderr = S.STDERR

    # test_completion
    completion_samples = [{"text": S.COMPLETE_TEXT, "matches": set(S.COMPLETE_MATCHES)}]

    # test_is_complete
    complete_code_samples = S.COMPLETE_CODE
    incomplete_code_samples = S.INCOMPLETE_CODE
    invalid_code_samples = S.INVALID_CODE

    # test_pager
    code_page_something = S.PAGER

    # test_error
    code_generate_error = S.RUNTIME_ERROR

    # test_execute_result and test_history
    code_execute_result = [
        {"code": S.EXPR, "result": S.EXPR_RESULT},
        {"code": S.STRING_EXPR, "result": S.STRING_RESULT},
    ]

    # test_display_data
    code_display_data = [{"code": S.DISPLAY_HTML, "mime": "text/html"}]

    # test_history
    code_history_pattern = S.HISTORY_PATTERN
    supported_history_operations = S.HISTORY_OPERATIONS

    # test_inspect
    code_inspect_sample = S.INSPECT

    # test_clear_output
    code_clear_output = S.CLEAR_OUTPUT


def _per_runtime(name: str, bases: tuple[type, ...], attrs: dict[str, object]) -> None:
    """Defines `name` (tokio) and `name` with the runtime inserted (others) in this module."""
    for runtime in S.selected_runtimes():
        if runtime not in S.KERNEL_NAMES:
            continue  # conftest.py refuses the run
        label = "" if runtime == "tokio" else runtime.capitalize()
        cls_name = name.replace("Llmspell", f"Llmspell{label}")
        globals()[cls_name] = type(
            cls_name, bases, {**attrs, "kernel_name": S.KERNEL_NAMES[runtime]}
        )


_per_runtime("LlmspellKernelTests", (_KernelSamples, jupyter_kernel_test.KernelTests), {})
_per_runtime(
    "LlmspellIopubWelcomeTests",
    (jupyter_kernel_test.IopubWelcomeTests,),
    {"support_iopub_welcome": True},
)
