"""Session setup for the Python tests of llmspell.

- LLMSPELL_BIN must name the llmspell binary (scripts/test.sh sets it); without it the
  run stops with a usage error: it never skips into green.
- Every Jupyter/XDG/home directory points into one temporary directory, set in
  os.environ at import time, before any test module imports jupyter_client, so that
  nothing reads or writes the real home.
- A session fixture installs the kernelspec with `llmspell kernel install --prefix`
  into that directory, which is first on JUPYTER_PATH, and beside it a copy whose argv
  adds `--runtime glommio`: the same tests run against both server editions.
- LLMSPELL_TEST_RUNTIMES (comma-separated, default "tokio,glommio") picks the editions
  that the runtime-parametrized tests run against; an unknown name is a usage error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snippets import KERNEL_NAME, KERNEL_NAMES, selected_runtimes  # noqa: E402


def _check_binary() -> None:
    value = os.environ.get("LLMSPELL_BIN", "")
    if not value:
        raise pytest.UsageError(
            "LLMSPELL_BIN is not set: point it at the llmspell binary "
            "(scripts/test.sh sets it to target/debug/llmspell)"
        )
    path = Path(value)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise pytest.UsageError(f"LLMSPELL_BIN={value!r} is not an executable file")


_check_binary()


def _runtimes() -> list[str]:
    names = selected_runtimes()
    unknown = [n for n in names if n not in KERNEL_NAMES]
    if not names or unknown:
        raise pytest.UsageError(
            f"LLMSPELL_TEST_RUNTIMES={os.environ.get('LLMSPELL_TEST_RUNTIMES')!r}: "
            f"expected names from {sorted(KERNEL_NAMES)}"
        )
    return names


RUNTIMES = _runtimes()

# A short base path: ipc socket paths (runtime dir + "kernel-<uuid>-ipc-N") must stay
# under the 107-byte limit of sun_path.
_BASE = Path(tempfile.mkdtemp(prefix="lsp-py-"))
PREFIX = _BASE / "prefix"
JUPYTER_DIR = PREFIX / "share" / "jupyter"
RUNTIME_DIR = _BASE / "rt"
HOME_DIR = _BASE / "home"

for _d in (JUPYTER_DIR, RUNTIME_DIR, HOME_DIR, _BASE / "llmspell-rt", _BASE / "cfg"):
    _d.mkdir(parents=True, exist_ok=True)
RUNTIME_DIR.chmod(0o700)

os.environ.update(
    {
        "JUPYTER_PATH": str(JUPYTER_DIR),
        "JUPYTER_CONFIG_DIR": str(_BASE / "cfg"),
        "JUPYTER_DATA_DIR": str(_BASE / "data"),
        "JUPYTER_RUNTIME_DIR": str(RUNTIME_DIR),
        "JUPYTER_PLATFORM_DIRS": "1",
        "LLMSPELL_RUNTIME_DIR": str(_BASE / "llmspell-rt"),
        "HOME": str(HOME_DIR),
        "XDG_CONFIG_HOME": str(HOME_DIR / ".config"),
        "XDG_DATA_HOME": str(HOME_DIR / ".local" / "share"),
        "XDG_CACHE_HOME": str(HOME_DIR / ".cache"),
        "IPYTHONDIR": str(HOME_DIR / ".ipython"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
)

# Imported only now: harness imports jupyter_client, which must see the variables above.
from harness import llmspell_bin  # noqa: E402


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_BASE, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"llmspell: {llmspell_bin()}", f"jupyter dirs: {_BASE}"]


@pytest.fixture(scope="session", autouse=True)
def kernelspec() -> Path:
    """Installs the llmspell kernelspec into the temporary prefix; returns its folder."""
    cmd = [llmspell_bin(), "kernel", "install", "--prefix", str(PREFIX), "--name", KERNEL_NAME]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
            pytrace=False,
        )
    spec_dir = JUPYTER_DIR / "kernels" / KERNEL_NAME
    if not (spec_dir / "kernel.json").is_file():
        pytest.fail(f"{' '.join(cmd)} wrote no {spec_dir / 'kernel.json'}", pytrace=False)
    for runtime, name in KERNEL_NAMES.items():
        if name != KERNEL_NAME:
            _install_runtime_spec(spec_dir, runtime, name)
    return spec_dir


def _install_runtime_spec(spec_dir: Path, runtime: str, name: str) -> None:
    """A copy of the kernelspec whose argv starts the kernel with `--runtime RUNTIME`."""
    target = spec_dir.parent / name
    shutil.copytree(spec_dir, target, dirs_exist_ok=True)
    spec = json.loads((target / "kernel.json").read_text())
    spec["argv"] = [*spec["argv"], "--runtime", runtime]
    spec["display_name"] = f"{spec['display_name']} [{runtime}]"
    (target / "kernel.json").write_text(json.dumps(spec, indent=2))


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    """The server edition a test runs against: each runtime-parametrized test runs once
    per name in LLMSPELL_TEST_RUNTIMES."""
    return str(request.param)


@pytest.fixture
def kernel_name(runtime: str) -> str:
    """The kernelspec that starts the kernel on `runtime`."""
    return KERNEL_NAMES[runtime]


@pytest.fixture(scope="session")
def runtime_dir() -> Path:
    """The Jupyter runtime directory (short path, mode 0700)."""
    return RUNTIME_DIR


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A fresh temporary folder with a short path (for connection files and sockets)."""
    path = Path(tempfile.mkdtemp(prefix="t-", dir=_BASE))
    yield path
    shutil.rmtree(path, ignore_errors=True)
