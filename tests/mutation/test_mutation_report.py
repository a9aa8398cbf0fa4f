"""The mutation report (spec/reports/mutation.md) accounts for every mutant it counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[2] / "spec" / "reports" / "mutation.md"


@pytest.mark.req("CONF-102")
def test_every_surviving_mutant_is_explained() -> None:
    text = REPORT.read_text(encoding="utf-8")
    row = re.search(
        r"\| `sessionspec\.runtime\.coordinator` \| (\d+)[^|]*\| (\d+) \| (\d+) \|", text
    )
    assert row is not None
    mutants, killed, survived = (int(x) for x in row.groups())
    assert killed + survived == mutants
    explained = [int(n) for n in re.findall(r"\*\*[^*]*, (\d+)\.\*\*", text)]
    assert sum(explained) == survived
