"""Install pi's harness dependencies into a cache folder, once per lock file.

The harness (statemachine/harnesses/pi/) pins @mariozechner/pi-coding-agent with its
package-lock.json; ``npm ci`` installs exactly that into
``$SESSIONSPEC_CACHE/pi-harness/<lock digest>/`` (default cache: ``~/.cache/sessionspec``),
so the source tree stays clean and a changed lock file gets a fresh folder. Tests that need
the harness call :func:`pi_harness_or_skip`: without Node or npm they are skipped with a
message that says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HARNESS_DIR = ROOT / "statemachine" / "harnesses" / "pi"
HARNESS = HARNESS_DIR / "harness.mjs"


def cache_root() -> Path:
    configured = os.environ.get("SESSIONSPEC_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "sessionspec"


def install_pi_modules() -> Path:
    """The node_modules folder holding the pinned pi packages (installed when missing)."""
    lock = (HARNESS_DIR / "package-lock.json").read_bytes()
    target = cache_root() / "pi-harness" / hashlib.sha256(lock).hexdigest()[:16]
    modules = target / "node_modules"
    marker = target / ".installed"
    if marker.exists():
        return modules
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(HARNESS_DIR / name, target / name)
    npm = shutil.which("npm")
    assert npm is not None
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=target,
        check=True,
        capture_output=True,
        timeout=600,
    )
    marker.write_text("ok\n")
    return modules


def pi_harness_or_skip() -> tuple[list[str], dict[str, str]]:
    """The command and environment that start the pi harness, or skip the calling test."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: pi's harness cannot run")
    try:
        modules = install_pi_modules()
    except subprocess.CalledProcessError as error:
        stderr = error.stderr.decode(errors="replace")[-400:] if error.stderr else ""
        pytest.skip(f"npm ci of pi's harness failed (no registry?): {stderr}")
    env = dict(os.environ, SESSIONSPEC_PI_NODE_MODULES=str(modules))
    return [node, str(HARNESS)], env
