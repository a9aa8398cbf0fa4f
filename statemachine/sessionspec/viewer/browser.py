"""The browser the viewer's tests drive: Debian's Chromium and its driver (VIEW-013).

``python -m sessionspec.viewer.browser`` is a step of ``sessionspec gates``: when
``/usr/bin/chromium`` or ``/usr/bin/chromedriver`` is missing and the process is root on a
system with ``apt-get`` (CI is), it installs the Debian packages ``chromium`` and
``chromium-driver`` (running ``apt-get update`` first if the package lists are stale) and
fails the step if that fails. Anywhere else it says what to run and passes: the browser
tests then skip, naming the reason. Nothing downloads a browser of its own (the Selenium
client is pointed at ``/usr/bin/chromedriver``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

__all__ = [
    "CHROMEDRIVER",
    "CHROMIUM",
    "PACKAGES",
    "browser_missing_reason",
    "ensure_browser",
    "main",
]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = ("chromium", "chromium-driver")
INSTALL = ("apt-get", "install", "-y", "--no-install-recommends", *PACKAGES)


def browser_missing_reason() -> str | None:
    """``None`` when Chromium and its driver are installed, else what is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} not installed (Debian: apt-get install -y "
        f"--no-install-recommends {' '.join(PACKAGES)}; `sessionspec gates` does it as root)"
    )


def _run(argv: Sequence[str]) -> int:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.call(list(argv), env=env)


def ensure_browser(
    out: TextIO | None = None,
    *,
    run: Callable[[Sequence[str]], int] = _run,
    is_root: bool | None = None,
    has_apt: bool | None = None,
) -> int:
    """Install Chromium and its driver when they are missing and we may; 0 unless an
    install that should have worked failed."""
    stream = out if out is not None else sys.stdout
    reason = browser_missing_reason()
    if reason is None:
        print(f"browser: {CHROMIUM} and {CHROMEDRIVER} are installed", file=stream)
        return 0
    root = os.geteuid() == 0 if is_root is None else is_root
    apt = shutil.which("apt-get") is not None if has_apt is None else has_apt
    if not root or not apt:
        why = "this is not root" if not root else "there is no apt-get here"
        print(
            f"browser: {reason}; {why}, so nothing was installed and the browser tests will "
            "be skipped. Install the packages and run again to include them.",
            file=stream,
        )
        return 0
    print(f"browser: installing {' '.join(PACKAGES)}: {' '.join(INSTALL)}", file=stream, flush=True)
    code = run(INSTALL)
    if code != 0:  # a fresh machine has no package lists yet
        print("browser: install failed; apt-get update, then once more", file=stream, flush=True)
        run(("apt-get", "update"))
        code = run(INSTALL)
    still = browser_missing_reason()
    if code != 0 or still is not None:
        print(f"browser: installing failed (exit {code}): {still}", file=stream)
        return 1
    print("browser: installed", file=stream)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    return ensure_browser()


if __name__ == "__main__":
    sys.exit(main())
