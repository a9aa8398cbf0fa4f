"""Every Python example in the README runs as written (in a scratch folder)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example-{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(block: str, tmp_path: Path) -> None:
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(block, str(README), "exec"), {"__name__": "readme_example"})
    finally:
        os.chdir(previous)


def test_there_are_examples() -> None:
    assert len(BLOCKS) >= 3
