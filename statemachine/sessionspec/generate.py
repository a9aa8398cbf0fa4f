"""Everything in ``spec/`` that is generated, and the check that it is up to date (GEN-005).

Rules of this module:

1. The generated files are a pure function of the sources: the JSON Schema registry
   (:data:`sessionspec.wire.schemas.SCHEMAS`), the table registry
   (:data:`sessionspec.tables.registry.TABLES`), ``spec/SPEC.md``, the requirement markers in
   ``tests/**/*.py`` and the proof registries ``proofs/registry_*.py``. Nothing else goes in:
   no dates, no timings, no absolute paths, and every list is sorted, so that
   ``sessionspec generate --check`` is stable.
2. Tests are read statically (with :mod:`ast`), never imported or collected: reading the
   matrix must not depend on the test suite being importable.
3. ``spec/schema/*.json`` and ``spec/diagrams/*.mmd`` belong to the generator. A file there
   that no longer corresponds to a schema or a table is stale: ``generate`` removes it and
   ``generate --check`` reports it.

Theory of operation: :func:`render` builds the full set of expected files in memory
(``{relative path: text}``) together with a list of problems (ids referenced but not defined,
markers that cannot be read statically, ...). :func:`write` makes the disk equal to that set;
:func:`check` compares and returns what differs. Both report the problems; a problem is an
error for ``--check`` and makes ``generate`` exit non-zero after writing.

Where requirement ids come from (spec/SPEC.md): a bold ``**AREA-NNN**`` at the very start of
a list item or of a table cell *defines* the id. Anything else is a reference.

Where tests name ids: ``@pytest.mark.req("A", "B")`` on a test function, on a test class
(applies to every test in it, nested classes included), a class-level or module-level
``pytestmark = pytest.mark.req(...)`` (or a list or tuple of marks). A Hypothesis machine is
collected as ``TestX = SomeMachine.TestCase``; marks on ``SomeMachine`` (defined in the same
module) and the module's marks apply to ``TestX``.
"""

from __future__ import annotations

import ast
import difflib
import enum
import importlib.util
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from sessionspec.errors import CallerError

__all__ = [
    "CheckOutcome",
    "ProofEntry",
    "Rendered",
    "Requirement",
    "RootNotFoundError",
    "TestEntry",
    "TestScan",
    "check",
    "find_root",
    "load_proofs",
    "parse_requirements",
    "render",
    "render_diagrams",
    "render_matrix",
    "render_schemas",
    "run",
    "scan_tests",
    "write",
]

#: The shape of a requirement id (SPEC §0).
REQ_ID = re.compile(r"^[A-Z]+-\d{3}$")
_REQ_ID_ANYWHERE = re.compile(r"\b[A-Z]+-\d{3}\b")
#: A definition at the start of a list item: ``- **GEN-001** text``.
_LIST_DEFINITION = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+\*\*([A-Z]+-\d{3})\*\*(.*)$")
_TABLE_DEFINITION = re.compile(r"^\*\*([A-Z]+-\d{3})\*\*(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

SPEC_PATH = "spec/SPEC.md"
MATRIX_PATH = "spec/MATRIX.md"
SCHEMA_DIR = "spec/schema"
#: The driver protocol's messages (sessionspec.conformance.protocol, CONF-030).
PROTOCOL_SCHEMA_DIR = "spec/schema/protocol"
#: The case file format (sessionspec.conformance.cases, CONF-070).
CASE_SCHEMA_PATH = "spec/cases/case.schema.json"
DIAGRAM_DIR = "spec/diagrams"
DIAGRAM_INDEX = "spec/diagrams/README.md"
#: The generator owns these files: (directory, suffix).
_OWNED_PATTERNS = ((SCHEMA_DIR, ".json"), (PROTOCOL_SCHEMA_DIR, ".json"), (DIAGRAM_DIR, ".mmd"))

_MAX_RULE_EXCERPT = 110


class RootNotFoundError(CallerError):
    """No directory holding ``spec/SPEC.md`` and ``pyproject.toml`` above the start."""


# ----------------------------------------------------------------------------- the root


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory at or above ``start`` (default: the
    working directory) that holds both ``spec/SPEC.md`` and ``pyproject.toml``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / SPEC_PATH).is_file() and (candidate / "pyproject.toml").is_file():
            return candidate
    raise RootNotFoundError(
        f"no directory at or above {here} holds both {SPEC_PATH} and pyproject.toml"
    )


# ----------------------------------------------------------------------------- SPEC.md


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement as defined in spec/SPEC.md."""

    id: str
    #: The ``##`` heading the definition sits under (``""`` before any heading).
    section: str
    #: 1-based line of the definition.
    line: int
    #: The rule's text, whitespace collapsed, without the bold id.
    text: str

    @property
    def area(self) -> str:
        return self.id.split("-", 1)[0]

    def excerpt(self) -> str:
        """The first sentence of the rule, cut to a table-friendly length."""
        text = self.text
        sentence_end = re.search(r"(?<=[.!?])\s", text)
        if sentence_end:
            text = text[: sentence_end.start()]
        if len(text) > _MAX_RULE_EXCERPT:
            text = text[: _MAX_RULE_EXCERPT - 1].rstrip()
            if text.count("`") % 2:  # close a code span cut in the middle
                text += "`"
            text += "…"
        return text


def _split_table_row(line: str) -> list[str]:
    """Cells of a Markdown table row; ``\\|`` and pipes inside code spans do not split."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells: list[str] = []
    current: list[str] = []
    in_code = False
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body) and body[index + 1] == "|":
            current.append("\\|")
            index += 2
            continue
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    cells.append("".join(current))
    return [cell.strip() for cell in cells]


def _collapse(text: str) -> str:
    return " ".join(text.split())


def parse_requirements(spec_text: str) -> tuple[list[Requirement], list[str]]:
    """Every requirement defined in ``spec_text``, in document order, and the problems found
    (a definition repeated, which SPEC §0 forbids: ids are never reused)."""
    lines = spec_text.splitlines()
    found: list[Requirement] = []
    problems: list[str] = []
    section = ""
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            index += 1
            continue
        if in_fence:
            index += 1
            continue
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) == 2:
            section = heading.group(2)
        list_item = _LIST_DEFINITION.match(line)
        if list_item:
            indent = len(list_item.group(1))
            parts = [list_item.group(3)]
            follow = index + 1
            # The rule continues on the following lines that are indented deeper than the
            # bullet and do not start a new item; a blank line ends it.
            while follow < len(lines):
                nxt = lines[follow]
                if not nxt.strip():
                    break
                nxt_indent = len(nxt) - len(nxt.lstrip())
                if nxt_indent <= indent or _LIST_DEFINITION.match(nxt):
                    break
                if re.match(r"^\s*(?:[-*+]|\d+[.)])\s", nxt) and nxt_indent <= indent + 1:
                    break
                parts.append(nxt)
                follow += 1
            found.append(
                Requirement(list_item.group(2), section, index + 1, _collapse(" ".join(parts)))
            )
        elif stripped.startswith("|"):
            cells = _split_table_row(stripped)
            for position, cell in enumerate(cells):
                cell_def = _TABLE_DEFINITION.match(cell)
                if cell_def:
                    rest = " ".join([cell_def.group(2), *cells[position + 1 :]])
                    found.append(
                        Requirement(cell_def.group(1), section, index + 1, _collapse(rest))
                    )
        index += 1
    first_seen: dict[str, Requirement] = {}
    for requirement in found:
        earlier = first_seen.get(requirement.id)
        if earlier is not None:
            problems.append(
                f"{SPEC_PATH}:{requirement.line}: {requirement.id} is already defined on "
                f"line {earlier.line} (ids are never reused)"
            )
        else:
            first_seen[requirement.id] = requirement
    return list(first_seen.values()), problems


# ----------------------------------------------------------------------------- tests


@dataclass(frozen=True, slots=True)
class TestEntry:
    """One collected test item and the requirement ids it names."""

    __test__ = False  # not a pytest class, despite the name

    #: ``tests/path.py::Class::test_name``.
    nodeid: str
    requirements: tuple[str, ...]


@dataclass(slots=True)
class TestScan:
    """What the static scan of ``tests/`` found."""

    __test__ = False

    tests: list[TestEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _is_test_file(path: Path) -> bool:
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def _is_req_mark(func: ast.expr) -> bool:
    """``pytest.mark.req`` or ``mark.req`` (after ``from pytest import mark``)."""
    if not (isinstance(func, ast.Attribute) and func.attr == "req"):
        return False
    owner = func.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
        isinstance(owner, ast.Name) and owner.id == "mark"
    )


class _MarkReader:
    """Reads requirement ids from mark expressions of one file, recording problems."""

    def __init__(self, relpath: str, problems: list[str]) -> None:
        self.relpath = relpath
        self.problems = problems

    def ids(self, expr: ast.expr | None) -> tuple[str, ...]:
        """The ids named by a mark expression: one mark, or a list or tuple of marks."""
        if expr is None:
            return ()
        if isinstance(expr, ast.List | ast.Tuple):
            collected: list[str] = []
            for element in expr.elts:
                collected.extend(self.ids(element))
            return tuple(collected)
        if isinstance(expr, ast.Call) and _is_req_mark(expr.func):
            return self._call_ids(expr)
        return ()

    def decorator_ids(self, decorators: Sequence[ast.expr]) -> tuple[str, ...]:
        collected: list[str] = []
        for decorator in decorators:
            collected.extend(self.ids(decorator))
        return tuple(collected)

    def _call_ids(self, call: ast.Call) -> tuple[str, ...]:
        ids: list[str] = []
        if call.keywords:
            self.problems.append(
                f"{self.relpath}:{call.lineno}: pytest.mark.req takes only requirement ids"
            )
        for argument in call.args:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                if REQ_ID.match(argument.value):
                    ids.append(argument.value)
                else:
                    self.problems.append(
                        f"{self.relpath}:{argument.lineno}: malformed requirement id "
                        f"{argument.value!r} (expected AREA-NNN)"
                    )
            else:
                self.problems.append(
                    f"{self.relpath}:{argument.lineno}: pytest.mark.req arguments must be "
                    "string literals (the matrix reads them statically)"
                )
        if not call.args:
            self.problems.append(f"{self.relpath}:{call.lineno}: pytest.mark.req names no id")
        return tuple(ids)


def _pytestmark_value(body: Sequence[ast.stmt]) -> ast.expr | None:
    """The value of the last ``pytestmark = ...`` (or annotated) assignment in ``body``."""
    value: ast.expr | None = None
    for statement in body:
        if isinstance(statement, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets):
                value = statement.value
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == "pytestmark"
            and statement.value is not None
        ):
            value = statement.value
    return value


def _unique(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(ids)))


def _scan_class(
    node: ast.ClassDef, prefix: str, inherited: tuple[str, ...], reader: _MarkReader
) -> Iterator[TestEntry]:
    """Test items of a ``Test*`` class (pytest's default collection rules)."""
    own = reader.decorator_ids(node.decorator_list) + reader.ids(_pytestmark_value(node.body))
    marks = inherited + own
    nodeid = f"{prefix}::{node.name}"
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if statement.name.startswith("test"):
                ids = marks + reader.decorator_ids(statement.decorator_list)
                yield TestEntry(f"{nodeid}::{statement.name}", _unique(ids))
        elif isinstance(statement, ast.ClassDef) and statement.name.startswith("Test"):
            yield from _scan_class(statement, nodeid, marks, reader)


def _testcase_owner(value: ast.expr, reader: _MarkReader) -> tuple[str | None, tuple[str, ...]]:
    """For ``TestX = [mark(...)](Machine.TestCase)``: the machine's name and the wrapping ids."""
    wrapped_ids: tuple[str, ...] = ()
    while isinstance(value, ast.Call) and len(value.args) == 1:
        if isinstance(value.func, ast.Call) and _is_req_mark(value.func.func):
            wrapped_ids += reader.ids(value.func)
        value = value.args[0]
    if (
        isinstance(value, ast.Attribute)
        and value.attr == "TestCase"
        and isinstance(value.value, ast.Name)
    ):
        return value.value.id, wrapped_ids
    return None, wrapped_ids


def _scan_file(relpath: str, tree: ast.Module, problems: list[str]) -> list[TestEntry]:
    reader = _MarkReader(relpath, problems)
    module_ids = reader.ids(_pytestmark_value(tree.body))
    entries: list[TestEntry] = []
    other_classes: dict[str, tuple[int, tuple[str, ...]]] = {}
    machines_used: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if statement.name.startswith("test"):
                ids = module_ids + reader.decorator_ids(statement.decorator_list)
                entries.append(TestEntry(f"{relpath}::{statement.name}", _unique(ids)))
        elif isinstance(statement, ast.ClassDef):
            if statement.name.startswith("Test"):
                entries.extend(_scan_class(statement, relpath, module_ids, reader))
            else:
                own = reader.decorator_ids(statement.decorator_list)
                own += reader.ids(_pytestmark_value(statement.body))
                other_classes[statement.name] = (statement.lineno, own)
    for statement in tree.body:
        if not isinstance(statement, ast.Assign):
            continue
        names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
        test_names = [n for n in names if n.startswith("Test")]
        if not test_names:
            continue
        machine, wrapped_ids = _testcase_owner(statement.value, reader)
        if machine is None:
            continue
        machines_used.add(machine)
        machine_ids = other_classes.get(machine, (0, ()))[1]
        for name in test_names:
            ids = module_ids + machine_ids + wrapped_ids
            entries.append(TestEntry(f"{relpath}::{name}", _unique(ids)))
    for name, (lineno, own) in sorted(other_classes.items()):
        if own and name not in machines_used:
            problems.append(
                f"{relpath}:{lineno}: class {name} carries requirement marks but pytest "
                f"collects no test from it (name it Test*, or assign TestX = {name}.TestCase)"
            )
    return entries


def scan_tests(root: Path) -> TestScan:
    """Statically read the requirement marks of every test under ``root/tests``."""
    scan = TestScan()
    tests_dir = root / "tests"
    if not tests_dir.is_dir():
        return scan
    paths = sorted(
        p for p in tests_dir.rglob("*.py") if "__pycache__" not in p.parts and _is_test_file(p)
    )
    for path in paths:
        relpath = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relpath)
        except SyntaxError as error:
            scan.problems.append(f"{relpath}:{error.lineno}: cannot parse: {error.msg}")
            continue
        scan.tests.extend(_scan_file(relpath, tree, scan.problems))
    scan.tests.sort(key=lambda entry: entry.nodeid)
    return scan


# ----------------------------------------------------------------------------- proofs


@dataclass(frozen=True, slots=True)
class ProofEntry:
    """One entry of a proof registry (``proofs/registry_*.py``), as plain data."""

    target: str
    requirements: tuple[str, ...]
    effort: int
    claim: str
    #: The registry file it came from, relative to the root.
    source: str


def _import_registry(root: Path, path: Path) -> ModuleType:
    """Import one registry file with ``root`` first on ``sys.path`` (registries import
    ``proofs.registry``)."""
    module_name = f"_sessionspec_proof_registry_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    root_entry = str(root)
    added = root_entry not in sys.path
    if added:
        sys.path.insert(0, root_entry)
    try:
        spec.loader.exec_module(module)
    finally:
        if added:
            sys.path.remove(root_entry)
    return module


def load_proofs(root: Path) -> tuple[list[ProofEntry], list[str]]:
    """Every proof of every ``root/proofs/registry_*.py``, sorted by target, and the
    problems (a registry that fails to import or has no ``PROOFS`` list, a bad entry)."""
    entries: list[ProofEntry] = []
    problems: list[str] = []
    for path in sorted((root / "proofs").glob("registry_*.py")):
        relpath = path.relative_to(root).as_posix()
        try:
            module = _import_registry(root, path)
        except Exception as error:  # any import failure is reported, never swallowed
            problems.append(f"{relpath}: import failed: {type(error).__name__}: {error}")
            continue
        proofs = getattr(module, "PROOFS", None)
        if not isinstance(proofs, list):
            problems.append(f"{relpath}: has no PROOFS list")
            continue
        for proof in proofs:
            target = getattr(proof, "target", None)
            requirements = getattr(proof, "requirements", None)
            effort = getattr(proof, "effort", None)
            claim = getattr(proof, "claim", "")
            if (
                not isinstance(target, str)
                or not isinstance(requirements, tuple)
                or not all(isinstance(r, str) for r in requirements)
                or not isinstance(effort, int)
                or effort <= 0
                or not isinstance(claim, str)
            ):
                problems.append(f"{relpath}: not a valid Proof entry: {proof!r}")
                continue
            for requirement in requirements:
                if not REQ_ID.match(requirement):
                    problems.append(
                        f"{relpath}: {target}: malformed requirement id {requirement!r}"
                    )
            entries.append(ProofEntry(target, tuple(requirements), effort, claim, relpath))
    entries.sort(key=lambda entry: (entry.target, entry.source))
    seen: set[str] = set()
    for entry in entries:
        if entry.target in seen:
            problems.append(f"{entry.source}: {entry.target} is registered more than once")
        seen.add(entry.target)
    return entries, problems


# ----------------------------------------------------------------------------- rendering


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_schemas(
    schemas: Mapping[str, Any], directory: str = SCHEMA_DIR
) -> tuple[dict[str, str], list[str]]:
    """``<directory>/<name>.json`` for each TypeAdapter, keeping pydantic's key order."""
    files: dict[str, str] = {}
    problems: list[str] = []
    for name in sorted(schemas):
        if not _SAFE_NAME.match(name):
            problems.append(f"schema name {name!r} is not usable as a file name")
            continue
        files[f"{directory}/{name}.json"] = _json_text(schemas[name].json_schema())
    return files, problems


def _table_name(table: Any) -> str:
    name = getattr(table, "name", None)
    return name if isinstance(name, str) else repr(table)


def render_diagrams(tables: Sequence[Any]) -> tuple[dict[str, str], list[str]]:
    """``spec/diagrams/<name>.mmd`` for each table and the index ``README.md``."""
    files: dict[str, str] = {}
    problems: list[str] = []
    diagrams: dict[str, str] = {}
    for table in tables:
        name = _table_name(table)
        if not _SAFE_NAME.match(name):
            problems.append(f"table name {name!r} is not usable as a file name")
            continue
        if name in diagrams:
            problems.append(f"two tables are named {name!r}")
            continue
        diagrams[name] = table.mermaid()
    index = [
        "<!-- Generated by `sessionspec generate` from sessionspec.tables.registry.TABLES."
        " Do not edit. -->",
        "",
        "# Lifecycle diagrams",
        "",
        "One Mermaid state diagram per lifecycle table (GEN-004, GEN-005). Each edge is a",
        "transition of the table, labelled with its event and, where the table names one, the",
        "requirement id; every (state, event) pair without an edge is rejected (GEN-003).",
        "",
    ]
    if not diagrams:
        index += ["No table is registered yet.", ""]
    for name in sorted(diagrams):
        files[f"{DIAGRAM_DIR}/{name}.mmd"] = diagrams[name]
        index += [f"## {name}", "", f"Source: [`{name}.mmd`]({name}.mmd)", "", "```mermaid"]
        index += diagrams[name].rstrip("\n").split("\n")
        index += ["```", ""]
    files[DIAGRAM_INDEX] = "\n".join(index).rstrip("\n") + "\n"
    return files, problems


def _table_references(tables: Sequence[Any]) -> dict[str, list[str]]:
    """Requirement ids named in the tables' ``requirements`` maps: id -> where."""
    references: dict[str, list[str]] = {}
    for table in tables:
        requirements = getattr(table, "requirements", {}) or {}
        for (state, event), text in requirements.items():
            state_name = state.value if isinstance(state, enum.Enum) else str(state)
            event_name = event.value if isinstance(event, enum.Enum) else str(event)
            for requirement in _REQ_ID_ANYWHERE.findall(str(text)):
                references.setdefault(requirement, []).append(
                    f"table {_table_name(table)} ({state_name}, {event_name})"
                )
    return references


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_matrix(
    requirements: Sequence[Requirement],
    scan: TestScan,
    proofs: Sequence[ProofEntry],
    table_refs: Mapping[str, Sequence[str]] | None = None,
) -> tuple[str, list[str]]:
    """``spec/MATRIX.md`` and the problems it exposes (ids used but not defined)."""
    defined = {r.id for r in requirements}
    tests_by_id: dict[str, list[str]] = {}
    for test in scan.tests:
        for rid in test.requirements:
            tests_by_id.setdefault(rid, []).append(test.nodeid)
    proofs_by_id: dict[str, list[ProofEntry]] = {}
    for proof in proofs:
        for rid in sorted(set(proof.requirements)):
            proofs_by_id.setdefault(rid, []).append(proof)
    undefined: dict[str, list[str]] = {}
    for rid, nodeids in tests_by_id.items():
        if rid not in defined:
            undefined.setdefault(rid, []).extend(f"test `{n}`" for n in nodeids)
    for rid, entries in proofs_by_id.items():
        if rid not in defined:
            undefined.setdefault(rid, []).extend(
                f"proof `{p.target}` ({p.source})" for p in entries
            )
    for rid, places in (table_refs or {}).items():
        if rid not in defined:
            undefined.setdefault(rid, []).extend(places)
    problems = [
        f"{rid} is referenced but not defined in {SPEC_PATH}: " + "; ".join(sorted(places))
        for rid, places in sorted(undefined.items())
    ]

    ordered = sorted(requirements, key=lambda r: r.id)
    with_test = [r.id for r in ordered if r.id in tests_by_id]
    with_proof = [r.id for r in ordered if r.id in proofs_by_id]
    neither = [r.id for r in ordered if r.id not in tests_by_id and r.id not in proofs_by_id]
    unmarked = [t.nodeid for t in scan.tests if not t.requirements]

    out = [
        "<!-- Generated by `sessionspec generate` from spec/SPEC.md, the requirement markers"
        " in tests/**/*.py and proofs/registry_*.py. Do not edit. -->",
        "",
        "# Requirement matrix",
        "",
        "For every requirement defined in [SPEC.md](SPEC.md): the tests that name it",
        '(`@pytest.mark.req("ID")`) and the CrossHair proofs that name it (their status and',
        "bound are in [proofs/RESULTS.md](../proofs/RESULTS.md)).",
        "",
        "## Summary",
        "",
        "| | count |",
        "|---|---|",
        f"| requirements defined in SPEC.md | {len(ordered)} |",
        f"| with at least one test | {len(with_test)} |",
        f"| with at least one proof | {len(with_proof)} |",
        f"| with neither a test nor a proof | {len(neither)} |",
        f"| test items | {len(scan.tests)} |",
        f"| test items naming no requirement | {len(unmarked)} |",
        f"| proofs | {len(proofs)} |",
        f"| ids referenced but not defined | {len(undefined)} |",
        "",
        "Requirements with neither a test nor a proof: "
        + (", ".join(neither) if neither else "none")
        + ".",
        "",
        "## Ids referenced but not defined in SPEC.md",
        "",
    ]
    if undefined:
        out += [
            f"- **{rid}**: " + "; ".join(sorted(set(places)))
            for rid, places in sorted(undefined.items())
        ]
    else:
        out.append("None.")
    out.append("")

    sections: list[str] = []
    for requirement in requirements:
        if requirement.section not in sections:
            sections.append(requirement.section)
    out += ["## Requirements", ""]
    for section in sections:
        out += [f"### {section or '(before the first section)'}", ""]
        out += ["| id | rule | tests | proofs |", "|---|---|---|---|"]
        for requirement in sorted(
            (r for r in requirements if r.section == section), key=lambda r: r.id
        ):
            tests = "<br>".join(f"`{n}`" for n in sorted(tests_by_id.get(requirement.id, [])))
            proof_cell = "<br>".join(
                f"`{p.target}` (effort {p.effort})" for p in proofs_by_id.get(requirement.id, [])
            )
            out.append(
                f"| {requirement.id} | {_cell(requirement.excerpt())} | {tests or '—'} | "
                f"{proof_cell or '—'} |"
            )
        out.append("")
    out += ["## Test items naming no requirement", ""]
    out += [f"- `{n}`" for n in unmarked] if unmarked else ["None."]
    out.append("")
    return "\n".join(out), problems


# ----------------------------------------------------------------------------- all files


@dataclass(slots=True)
class Rendered:
    """The expected generated files (relative posix path -> text) and the problems."""

    files: dict[str, str]
    problems: list[str]


def _default_schemas() -> Mapping[str, Any]:
    from sessionspec.wire.schemas import SCHEMAS

    return SCHEMAS


def _protocol_schemas() -> Mapping[str, Any]:
    from sessionspec.conformance.protocol import PROTOCOL_SCHEMAS

    return PROTOCOL_SCHEMAS


def _case_schema() -> str:
    """The case file format (sessionspec.conformance.cases, CONF-070)."""
    from sessionspec.conformance.cases import CASE_ADAPTER

    schema = dict(CASE_ADAPTER.json_schema())
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "sessionspec conformance case, format version 1",
        **schema,
    }
    return _json_text(schema)


def _default_tables() -> Sequence[Any]:
    from sessionspec.tables.registry import TABLES

    return TABLES


def render(
    root: Path,
    *,
    schemas: Mapping[str, Any] | None = None,
    tables: Sequence[Any] | None = None,
) -> Rendered:
    """Every generated file, in memory. ``schemas`` and ``tables`` default to the package
    registries (tests pass small ones)."""
    schemas = _default_schemas() if schemas is None else schemas
    tables = _default_tables() if tables is None else tables
    problems: list[str] = []
    files: dict[str, str] = {}

    schema_files, schema_problems = render_schemas(schemas)
    if schemas is _default_schemas():
        protocol_files, protocol_problems = render_schemas(
            _protocol_schemas(), PROTOCOL_SCHEMA_DIR
        )
        schema_files.update(protocol_files)
        schema_problems += protocol_problems
        schema_files[CASE_SCHEMA_PATH] = _case_schema()
    diagram_files, diagram_problems = render_diagrams(tables)
    files.update(schema_files)
    files.update(diagram_files)
    problems += schema_problems + diagram_problems

    requirements, spec_problems = parse_requirements((root / SPEC_PATH).read_text(encoding="utf-8"))
    scan = scan_tests(root)
    proofs, proof_problems = load_proofs(root)
    matrix, matrix_problems = render_matrix(requirements, scan, proofs, _table_references(tables))
    files[MATRIX_PATH] = matrix
    problems += spec_problems + scan.problems + proof_problems + matrix_problems
    return Rendered(files, problems)


def _owned_on_disk(root: Path) -> set[str]:
    """Files on disk that the generator owns (so may be stale extras)."""
    owned: set[str] = set()
    for directory, suffix in _OWNED_PATTERNS:
        folder = root / directory
        if folder.is_dir():
            owned.update(
                p.relative_to(root).as_posix()
                for p in folder.iterdir()
                if p.is_file() and p.suffix == suffix
            )
    return owned


@dataclass(slots=True)
class CheckOutcome:
    """What differs between the disk and the expected files."""

    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    #: A short unified diff per stale file.
    diffs: dict[str, str] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return not (self.stale or self.missing or self.extra)


def check(root: Path, rendered: Rendered) -> CheckOutcome:
    """Compare the disk with ``rendered`` without writing anything."""
    outcome = CheckOutcome()
    for relpath, text in sorted(rendered.files.items()):
        path = root / relpath
        if not path.is_file():
            outcome.missing.append(relpath)
            continue
        current = path.read_text(encoding="utf-8")
        if current != text:
            outcome.stale.append(relpath)
            diff = difflib.unified_diff(
                current.splitlines(),
                text.splitlines(),
                f"{relpath} (on disk)",
                f"{relpath} (generated)",
                lineterm="",
                n=1,
            )
            lines = list(diff)
            if len(lines) > 40:
                lines = [*lines[:40], f"... ({len(lines) - 40} more diff lines)"]
            outcome.diffs[relpath] = "\n".join(lines)
    outcome.extra = sorted(_owned_on_disk(root) - set(rendered.files))
    return outcome


def write(root: Path, rendered: Rendered) -> tuple[list[str], list[str]]:
    """Make the disk equal to ``rendered``: returns (written, removed) relative paths."""
    written: list[str] = []
    for relpath, text in sorted(rendered.files.items()):
        path = root / relpath
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(relpath)
    removed = sorted(_owned_on_disk(root) - set(rendered.files))
    for relpath in removed:
        (root / relpath).unlink()
    return written, removed


def run(root: Path, *, check_only: bool, out: TextIO, err: TextIO) -> int:
    """``sessionspec generate [--check]``: 0 when the files are (now) up to date and no
    problem was found, 1 otherwise."""
    rendered = render(root)
    status = 0
    if check_only:
        outcome = check(root, rendered)
        for relpath in outcome.missing:
            print(f"missing: {relpath}", file=err)
        for relpath in outcome.stale:
            print(f"stale: {relpath}", file=err)
            print(outcome.diffs[relpath], file=err)
        for relpath in outcome.extra:
            print(f"stale extra file (corresponds to no schema or table): {relpath}", file=err)
        if outcome.up_to_date:
            print(f"generated files up to date ({len(rendered.files)} files)", file=out)
        else:
            status = 1
            print("run `sessionspec generate` to regenerate", file=err)
    else:
        written, removed = write(root, rendered)
        for relpath in written:
            print(f"wrote {relpath}", file=out)
        for relpath in removed:
            print(f"removed {relpath}", file=out)
        print(
            f"{len(rendered.files)} generated files, {len(written)} written, "
            f"{len(removed)} removed",
            file=out,
        )
    for problem in rendered.problems:
        print(f"problem: {problem}", file=err)
    if rendered.problems:
        status = 1
    return status
