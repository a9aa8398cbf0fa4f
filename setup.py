"""Build hook: ship the conformance suite's spec files inside the wheel (CONF-073).

The case files, their schema and interpretation rules, and the driver protocol live in
``spec/`` at the repository root (the design card fixes the layout); a user who runs
``pip install 'sessionspec[conformance]'`` needs them inside the package. ``build_py`` copies
them to ``sessionspec/conformance/spec/`` in the build tree; a source checkout reads them
from ``spec/`` directly (``sessionspec.conformance.cases.cases_root``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: (source under spec/, file patterns) copied into sessionspec/conformance/spec/.
SHIPPED = (
    ("cases", ("*.json", "*.md")),
    ("schema/protocol", ("*.json",)),
    (".", ("PROTOCOL.md",)),
)


class BuildWithConformanceSpec(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "sessionspec" / "conformance" / "spec"
        for folder, patterns in SHIPPED:
            source = ROOT / "spec" / folder
            for pattern in patterns:
                found = source.glob(pattern) if folder == "." else source.rglob(pattern)
                for path in sorted(found):
                    destination = target / path.relative_to(ROOT / "spec")
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, destination)


setup(cmdclass={"build_py": BuildWithConformanceSpec})
