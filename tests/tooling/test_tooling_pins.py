"""GEN-008: the pins file, its check and its format."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sessionspec.pins import (
    CONSTRAINTS_NAME,
    check_pins,
    installed_versions,
    normalize,
    parse_constraints,
    render_constraints,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("GEN-008")
def test_the_repository_pins_every_development_tool_exactly() -> None:
    pins = parse_constraints((ROOT / CONSTRAINTS_NAME).read_text(encoding="utf-8"))
    for tool in ("crosshair-tool", "hypothesis", "mypy", "ruff", "pytest", "pydantic"):
        assert tool in pins, tool
    assert all(version and "*" not in version for version in pins.values())


@pytest.mark.req("GEN-008")
def test_the_running_environment_was_installed_from_the_pins() -> None:
    out = io.StringIO()
    assert check_pins(ROOT, out=out) == 0, out.getvalue()


@pytest.mark.req("GEN-008")
def test_a_release_elsewhere_is_reported_as_a_difference(tmp_path: Path) -> None:
    (tmp_path / CONSTRAINTS_NAME).write_text(
        render_constraints({"crosshair-tool": "0.0.112", "mypy": "1.0"}), encoding="utf-8"
    )
    out = io.StringIO()
    installed = {"crosshair-tool": "0.0.113", "mypy": "1.0", "rich": "13.0"}
    assert check_pins(tmp_path, installed, out=out) == 1
    text = out.getvalue()
    assert "crosshair-tool: installed 0.0.113, pinned 0.0.112" in text
    assert "rich: installed 13.0, not pinned" in text
    out = io.StringIO()
    assert check_pins(tmp_path, {"crosshair-tool": "0.0.112", "mypy": "1.0"}, out=out) == 0


@pytest.mark.req("GEN-008")
def test_a_missing_file_and_a_loose_line_are_errors(tmp_path: Path) -> None:
    out = io.StringIO()
    assert check_pins(tmp_path, {}, out=out) == 1
    assert "missing" in out.getvalue()
    with pytest.raises(ValueError, match="line 2"):
        parse_constraints("a==1\nb>=2\n")


@pytest.mark.req("GEN-008")
def test_rendering_sorts_normalizes_and_leaves_installers_out() -> None:
    text = render_constraints({"b": "2", "a": "1", "pip": "23", "sessionspec": "0.1"})
    assert [line for line in text.splitlines() if not line.startswith("#")] == ["a==1", "b==2"]
    assert normalize("Typing_Extensions") == "typing-extensions"
    assert "pip" in installed_versions()
