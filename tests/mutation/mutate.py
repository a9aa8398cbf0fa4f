"""A small mutation tester: how many deliberate bugs in a module do its tests catch?

Usage (from the repository root)::

    .venv/bin/python tests/mutation/mutate.py sessionspec.storage.jsonl tests/log \
        [--pytest-args "-k 'not kill'"] [--jobs 2] [--limit N] [--only-lines 120-300]

For each mutation point of the module (a comparison flipped, ``and``/``or`` swapped, a
``not`` dropped, an integer constant moved by one, ``True``/``False`` swapped, a call
statement deleted, a ``raise`` deleted) it runs the given tests in a fresh interpreter
whose import system serves the mutated source for that one module (a meta-path finder, so
the file on disk is never touched and other work in the tree is not disturbed). A mutant is
*killed* when the tests fail. Surviving mutants are printed with their line, for a reader
to kill with a new test or to explain.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PLUGIN = '''
import importlib.abc, importlib.util, os, sys

class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != os.environ["MUTANT_MODULE"]:
            return None
        spec = importlib.util.spec_from_file_location(
            name, os.environ["MUTANT_ORIGIN"], loader=_Loader(), submodule_search_locations=None
        )
        return spec

class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        with open(os.environ["MUTANT_SOURCE"], encoding="utf-8") as handle:
            source = handle.read()
        exec(compile(source, os.environ["MUTANT_ORIGIN"], "exec"), module.__dict__)

sys.meta_path.insert(0, _Finder())
'''

COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    description: str
    source: str


class _Mutator(ast.NodeTransformer):
    """Applies the ``target``-th mutation found in a walk of the tree, and counts points."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0
        self.applied: tuple[int, str] | None = None

    def _hit(self, node: ast.AST, description: str) -> bool:
        hit = self.seen == self.target
        self.seen += 1
        if hit:
            self.applied = (getattr(node, "lineno", 0), description)
        return hit

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        swap = COMPARE_SWAPS.get(type(node.ops[0]))
        if swap is not None and self._hit(node, f"{type(node.ops[0]).__name__} -> {swap.__name__}"):
            node.ops = [swap(), *node.ops[1:]]
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        if self._hit(node, f"{type(node.op).__name__} -> {type(other).__name__}"):
            node.op = other
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._hit(node, "drop `not`"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool):
            if self._hit(node, f"{node.value} -> {not node.value}"):
                return ast.copy_location(ast.Constant(not node.value), node)
        elif isinstance(node.value, int) and self._hit(node, f"{node.value} -> {node.value + 1}"):
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Call) and self._hit(node, f"delete `{ast.unparse(node)}`"):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        self.generic_visit(node)
        if self._hit(node, f"delete `{ast.unparse(node)[:60]}`"):
            return ast.copy_location(ast.Pass(), node)
        return node


def _strip_docstrings(tree: ast.Module) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                # Removed, not replaced: a module's `from __future__` must stay first.
                node.body[:1] = [] if len(node.body) > 1 else [ast.Pass()]


def unmutated(source: str) -> str:
    """The module as every mutant is built from it: docstrings stripped, re-rendered."""
    tree = ast.parse(source)
    _strip_docstrings(tree)
    return ast.unparse(tree)


def mutants(source: str, lines: range | None) -> Iterator[Mutant]:
    tree = ast.parse(source)
    _strip_docstrings(tree)
    counter = _Mutator(-1)
    counter.visit(copy.deepcopy(tree))
    for index in range(counter.seen):
        mutator = _Mutator(index)
        mutated = mutator.visit(copy.deepcopy(tree))
        assert mutator.applied is not None
        line, description = mutator.applied
        if lines is not None and line not in lines:
            continue
        ast.fix_missing_locations(mutated)
        yield Mutant(index, line, description, ast.unparse(mutated))


def _run(mutant: Mutant, module: str, origin: str, tests: list[str], extra: list[str],
         workdir: Path) -> bool:
    source_file = workdir / f"mutant_{mutant.index}.py"
    source_file.write_text(mutant.source, encoding="utf-8")
    env = dict(os.environ)
    env.update(
        MUTANT_MODULE=module,
        MUTANT_SOURCE=str(source_file),
        MUTANT_ORIGIN=origin,
        PYTHONPATH=os.pathsep.join([str(workdir), env.get("PYTHONPATH", "")]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "_mutant_plugin", "-x", "-q",
         "-p", "no:cacheprovider", *tests, *extra],
        env=env,
        capture_output=True,
        timeout=900,
    )
    return result.returncode != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("module")
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--pytest-args", default="")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--only-lines", default="")
    args = parser.parse_args(argv)
    spec = importlib.util.find_spec(args.module)
    assert spec is not None and spec.origin is not None, args.module
    origin = spec.origin
    lines = None
    if args.only_lines:
        low, high = (int(x) for x in args.only_lines.split("-"))
        lines = range(low, high + 1)
    found = list(mutants(Path(origin).read_text(encoding="utf-8"), lines))
    if args.limit:
        step = max(1, len(found) // args.limit)
        found = found[::step][: args.limit]
    extra = shlex.split(args.pytest_args)
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        workdir = Path(tmp)
        (workdir / "_mutant_plugin.py").write_text(PLUGIN, encoding="utf-8")
        # The unmutated module, served the same way, must pass: else every "kill" is noise.
        original = Mutant(-1, 0, "none", unmutated(Path(origin).read_text(encoding="utf-8")))
        if _run(original, args.module, origin, args.tests, extra, workdir):
            print("the tests fail on the unmutated module; fix that first", file=sys.stderr)
            return 2
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = list(
                pool.map(lambda m: _run(m, args.module, origin, args.tests, extra, workdir), found)
            )
    survivors = [m for m, killed in zip(found, outcomes, strict=True) if not killed]
    killed = len(found) - len(survivors)
    print(f"{args.module}: {len(found)} mutants, {killed} killed, {len(survivors)} survived")
    for mutant in survivors:
        print(f"  survived: line {mutant.line}: {mutant.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
