"""The published report of pi (spec/reports/pi.md, pi.json) is complete and current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conformance.peers.pi_report import EXPLANATIONS, render_markdown

REPORTS = Path(__file__).resolve().parents[3] / "spec" / "reports"


@pytest.mark.req("CONF-101")
def test_the_published_report_names_every_deviation_and_explains_it() -> None:
    data = json.loads((REPORTS / "pi.json").read_text(encoding="utf-8"))
    assert data["implementation"]["version"] == "0.73.1"
    assert not data["passed"] and data["failures"]
    for failure in data["failures"]:
        assert failure["requirement"] in EXPLANATIONS, failure["requirement"]
        assert failure["steps"] and failure["steps"][0]["mode"] == "start"
    failing = {f["requirement"] for f in data["failures"]}
    assert failing == {r["id"] for r in data["requirements"] if r["status"] == "failed"}


@pytest.mark.req("CONF-101")
def test_the_markdown_is_rendered_from_the_json() -> None:
    data = json.loads((REPORTS / "pi.json").read_text(encoding="utf-8"))
    assert (REPORTS / "pi.md").read_text(encoding="utf-8") == render_markdown(data)
