"""The generator of spec/: requirement ids, static test markers, the matrix, the staleness
check (GEN-005) and the diagrams built from the tables (GEN-004).

Every test builds a small repository in a temporary directory, so it neither reads nor
changes the real spec/.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

from sessionspec.generate import (
    DIAGRAM_INDEX,
    MATRIX_PATH,
    Rendered,
    RootNotFoundError,
    check,
    find_root,
    load_proofs,
    parse_requirements,
    render,
    scan_tests,
    write,
)
from sessionspec.tables.base import MachineTable

SPEC = """\
# Spec

## 1. General (GEN)

- **GEN-001** The first rule. It has a second sentence.
- **GEN-002** A rule that goes on
  over a second line.
  - a nested bullet that belongs to GEN-002
- plain item naming GEN-001 without defining it

```
- **GEN-099** inside a code fence: not a definition
```

## 2. Logs (LOG)

| id | rule |
|---|---|
| **LOG-001** | Appends are atomic \\| really. |
| see **LOG-001** | a reference, not a definition |
| **LOG-002** | Heads advance. |
"""

SAMPLE_TESTS = """\
import pytest
from pytest import mark

pytestmark = [pytest.mark.slow, pytest.mark.req("GEN-001")]


@pytest.mark.req("LOG-001")
def test_function():
    pass


def test_unmarked_function():
    pass


def helper_not_a_test():
    pass


@mark.req("LOG-002")
class TestGroup:
    pytestmark = pytest.mark.req("GEN-002")

    @pytest.mark.req("LOG-001")
    def test_method(self):
        pass

    def test_plain_method(self):
        pass

    class TestNested:
        def test_inner(self):
            pass


class Machine:
    pass


Machine = pytest.mark.req("LOG-002")(Machine)


@pytest.mark.req("LOG-001")
class MarkedMachine:
    pass


TestMarkedMachine = MarkedMachine.TestCase
"""

OTHER_TESTS = """\
import pytest

pytestmark: list[pytest.MarkDecorator] = [pytest.mark.req("LOG-002", "GEN-404")]


async def test_async_one():
    pass
"""

BAD_TESTS = """\
import pytest

IDS = ("GEN-001",)


@pytest.mark.req(*IDS)
def test_dynamic():
    pass


@pytest.mark.req("gen-1")
def test_malformed():
    pass


@pytest.mark.req("GEN-001")
class Orphan:
    pass
"""

REGISTRY = """\
from types import SimpleNamespace

PROOFS = [
    SimpleNamespace(target="pkg.mod.good", requirements=("LOG-001",), effort=5, claim="c"),
    SimpleNamespace(target="pkg.mod.stray", requirements=("LOG-777",), effort=5, claim=""),
]
"""


class Light(enum.Enum):
    OFF = "off"
    ON = "on"


class Flip(enum.Enum):
    PRESS = "press"


LIGHT = MachineTable(
    name="light",
    states=Light,
    events=Flip,
    initial=Light.OFF,
    transitions={(Light.OFF, Flip.PRESS): Light.ON, (Light.ON, Flip.PRESS): Light.OFF},
    requirements={(Light.OFF, Flip.PRESS): "GEN-002"},
)


class Point(BaseModel):
    x: int
    y: int = 0


SCHEMAS: dict[str, TypeAdapter[Any]] = {"point": TypeAdapter(Point)}


def make_repo(root: Path, *, bad: bool = False) -> Path:
    """A minimal repository: SPEC.md, pyproject.toml, tests and one proof registry."""
    (root / "spec").mkdir(parents=True)
    (root / "spec" / "SPEC.md").write_text(SPEC)
    (root / "pyproject.toml").write_text("[project]\nname = 'fixture'\n")
    (root / "tests" / "sub").mkdir(parents=True)
    (root / "tests" / "test_sample.py").write_text(SAMPLE_TESTS)
    (root / "tests" / "sub" / "test_other.py").write_text(OTHER_TESTS)
    (root / "tests" / "helpers.py").write_text(
        'import pytest\n\n@pytest.mark.req("GEN-001")\ndef test_in_helper():\n    pass\n'
    )
    if bad:
        (root / "tests" / "test_bad.py").write_text(BAD_TESTS)
    (root / "proofs").mkdir()
    (root / "proofs" / "registry_fixture.py").write_text(REGISTRY)
    return root


def render_fixture(root: Path) -> Rendered:
    return render(root, schemas=SCHEMAS, tables=[LIGHT])


# ----------------------------------------------------------------------------- SPEC.md


@pytest.mark.req("GEN-005")
def test_definitions_are_bold_ids_at_the_start_of_list_items_and_table_cells() -> None:
    requirements, problems = parse_requirements(SPEC)
    assert problems == []
    assert [r.id for r in requirements] == ["GEN-001", "GEN-002", "LOG-001", "LOG-002"]
    by_id = {r.id: r for r in requirements}
    assert by_id["GEN-001"].section == "1. General (GEN)"
    assert by_id["GEN-001"].excerpt() == "The first rule."
    assert by_id["GEN-002"].text.startswith("A rule that goes on over a second line.")
    assert by_id["LOG-001"].section == "2. Logs (LOG)"
    assert by_id["LOG-001"].text == "Appends are atomic \\| really."


@pytest.mark.req("GEN-005")
def test_a_repeated_definition_is_a_problem() -> None:
    requirements, problems = parse_requirements(
        "- **GEN-001** one\n- **GEN-001** again\n| **GEN-002** | x |\n"
    )
    assert [r.id for r in requirements] == ["GEN-001", "GEN-002"]
    assert len(problems) == 1
    assert "GEN-001 is already defined on line 1" in problems[0]


# ----------------------------------------------------------------------------- markers


@pytest.mark.req("GEN-005")
def test_markers_on_functions_classes_and_pytestmark_are_read_statically(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    scan = scan_tests(root)
    assert scan.problems == []
    found = {t.nodeid: t.requirements for t in scan.tests}
    assert found == {
        "tests/sub/test_other.py::test_async_one": ("GEN-404", "LOG-002"),
        "tests/test_sample.py::TestGroup::TestNested::test_inner": (
            "GEN-001",
            "GEN-002",
            "LOG-002",
        ),
        "tests/test_sample.py::TestGroup::test_method": (
            "GEN-001",
            "GEN-002",
            "LOG-001",
            "LOG-002",
        ),
        "tests/test_sample.py::TestGroup::test_plain_method": ("GEN-001", "GEN-002", "LOG-002"),
        "tests/test_sample.py::TestMarkedMachine": ("GEN-001", "LOG-001"),
        "tests/test_sample.py::test_function": ("GEN-001", "LOG-001"),
        "tests/test_sample.py::test_unmarked_function": ("GEN-001",),
    }
    assert [t.nodeid for t in scan.tests] == sorted(found)


@pytest.mark.req("GEN-005")
def test_markers_that_cannot_be_read_or_apply_to_nothing_are_problems(tmp_path: Path) -> None:
    root = make_repo(tmp_path, bad=True)
    problems = scan_tests(root).problems
    assert len(problems) == 3, problems
    assert any("must be string literals" in p and "test_bad.py:6" in p for p in problems)
    assert any("malformed requirement id 'gen-1'" in p for p in problems)
    assert any("class Orphan carries requirement marks" in p for p in problems)


# ----------------------------------------------------------------------------- matrix


@pytest.mark.req("GEN-005")
def test_the_matrix_lists_tests_and_proofs_per_id_and_flags_undefined_ids(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path)
    proofs, proof_problems = load_proofs(root)
    assert proof_problems == []
    assert [p.target for p in proofs] == ["pkg.mod.good", "pkg.mod.stray"]

    rendered = render_fixture(root)
    matrix = rendered.files[MATRIX_PATH]
    assert "| requirements defined in SPEC.md | 4 |" in matrix
    assert "| with at least one test | 4 |" in matrix
    assert "| with at least one proof | 1 |" in matrix
    assert "Requirements with neither a test nor a proof: none." in matrix
    row = next(line for line in matrix.splitlines() if line.startswith("| LOG-001 |"))
    assert "`tests/test_sample.py::test_function`" in row
    assert "`pkg.mod.good` (effort 5)" in row
    undefined = sorted(p for p in rendered.problems if "not defined" in p)
    assert len(undefined) == 2
    assert undefined[0].startswith("GEN-404 is referenced but not defined")
    assert "tests/sub/test_other.py::test_async_one" in undefined[0]
    assert undefined[1].startswith("LOG-777 is referenced but not defined")
    assert "pkg.mod.stray" in undefined[1]
    assert "- **GEN-404**:" in matrix
    assert "## Test items naming no requirement\n\nNone." in matrix  # the module mark counts


@pytest.mark.req("GEN-005")
def test_ids_without_test_or_proof_are_listed_explicitly(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    (root / "spec" / "SPEC.md").write_text(SPEC + "\n- **LOG-003** Untested rule.\n")
    matrix = render_fixture(root).files[MATRIX_PATH]
    assert "Requirements with neither a test nor a proof: LOG-003." in matrix
    assert "| with neither a test nor a proof | 1 |" in matrix


@pytest.mark.req("GEN-005")
def test_rendering_is_deterministic(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    assert render_fixture(root).files == render_fixture(root).files


# ----------------------------------------------------------------------------- diagrams


@pytest.mark.req("GEN-004", "GEN-005")
def test_diagrams_are_the_tables_own_mermaid_and_are_indexed(tmp_path: Path) -> None:
    files = render_fixture(make_repo(tmp_path)).files
    assert files["spec/diagrams/light.mmd"] == LIGHT.mermaid()
    index = files[DIAGRAM_INDEX]
    assert "## light" in index
    assert "```mermaid\n" + LIGHT.mermaid() + "```" in index
    assert files["spec/schema/point.json"].endswith("}\n")
    assert '"title": "Point"' in files["spec/schema/point.json"]


# ----------------------------------------------------------------------------- --check


@pytest.mark.req("GEN-005")
def test_check_reports_stale_missing_and_extra_files(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    rendered = render_fixture(root)
    assert not check(root, rendered).up_to_date
    written, removed = write(root, rendered)
    assert sorted(written) == sorted(rendered.files) and removed == []
    assert check(root, rendered).up_to_date
    assert write(root, rendered) == ([], [])

    (root / "spec" / "diagrams" / "light.mmd").write_text("stateDiagram-v2\n")
    (root / "spec" / "schema" / "point.json").unlink()
    (root / "spec" / "schema" / "gone.json").write_text("{}\n")
    (root / "spec" / "diagrams" / "notes.txt").write_text("not owned by the generator\n")
    outcome = check(root, rendered)
    assert outcome.stale == ["spec/diagrams/light.mmd"]
    assert outcome.missing == ["spec/schema/point.json"]
    assert outcome.extra == ["spec/schema/gone.json"]
    assert "+    off --> on : press (GEN-002)" in outcome.diffs["spec/diagrams/light.mmd"]

    write(root, rendered)
    assert check(root, rendered).up_to_date
    assert not (root / "spec" / "schema" / "gone.json").exists()
    assert (root / "spec" / "diagrams" / "notes.txt").exists()


@pytest.mark.req("GEN-005")
def test_a_new_test_makes_the_matrix_stale(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    write(root, render_fixture(root))
    (root / "tests" / "test_new.py").write_text(
        'import pytest\n\n@pytest.mark.req("LOG-002")\ndef test_new():\n    pass\n'
    )
    assert check(root, render_fixture(root)).stale == [MATRIX_PATH]


@pytest.mark.req("GEN-005")
def test_the_root_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    assert find_root(root / "tests" / "sub") == root.resolve()
    with pytest.raises(RootNotFoundError):
        find_root(tmp_path)
