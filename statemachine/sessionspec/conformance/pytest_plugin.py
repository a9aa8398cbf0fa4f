"""pytest plugin: the conformance suite inside a user's own test run (CONF-080).

Installed with the package (entry point ``pytest11``)::

    pytest --sessionspec-adapter='node harness.mjs'
    pytest --sessionspec-adapter=mypackage.harness:make --sessionspec-examples=50

adds one test item per requirement the selected machines check
(``sessionspec/<machine>/<requirement>``) and one per shipped case file
(``sessionspec/cases/<machine>/<name>``). The machines run once, when the first requirement
item runs; each item then passes, fails with the failure's message and shrunk steps, or is
skipped (a capability the harness did not declare, a requirement the run never exercised, a
machine the harness does not serve). Without ``--sessionspec-adapter`` the plugin adds
nothing, and imports nothing beyond this module.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sessionspec.conformance.checks import RequirementFailure

__all__ = ["pytest_addoption", "pytest_collection_modifyitems"]

_STATE_KEY = "sessionspec_conformance_state"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sessionspec", "sessionspec conformance suite")
    group.addoption("--sessionspec-adapter", default=None, metavar="ADAPTER",
                    help="run the conformance suite against ADAPTER ('runtime', "
                    "'module:factory' or a command speaking spec/PROTOCOL.md)")
    group.addoption("--sessionspec-machine", action="append", default=None,
                    help="only this machine (repeatable)")
    group.addoption("--sessionspec-examples", type=int, default=50)
    group.addoption("--sessionspec-steps", type=int, default=25)
    group.addoption("--sessionspec-seed", type=int, default=0)
    group.addoption("--sessionspec-shrink-seconds", type=float, default=20.0,
                    help="time Hypothesis may spend shrinking one failure")
    group.addoption("--sessionspec-no-cases", action="store_true",
                    help="do not add the shipped case files as items")


class _Suite:
    """Runs the machines once per session, lazily; shared by every requirement item."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report: Any = None
        self.error: str | None = None

    def _option(self, name: str) -> Any:
        return self.config.getoption(name)

    def connection(self) -> Any:
        from sessionspec.conformance.adapters import connect

        return connect(str(self._option("--sessionspec-adapter")))

    def machines(self) -> tuple[str, ...]:
        from sessionspec.conformance.runner import MACHINES

        return tuple(self._option("--sessionspec-machine") or MACHINES)

    def run(self) -> Any:
        if self.report is None and self.error is None:
            from sessionspec.conformance.runner import Budget, run_conformance

            try:
                connection = self.connection()
            except Exception as exc:
                self.error = f"cannot start the harness: {type(exc).__name__}: {exc}"
                return None
            try:
                self.report = run_conformance(
                    connection,
                    adapter=str(self._option("--sessionspec-adapter")),
                    machines=self.machines(),
                    budget=Budget(
                        examples=int(self._option("--sessionspec-examples")),
                        steps=int(self._option("--sessionspec-steps")),
                        shrink_seconds=float(self._option("--sessionspec-shrink-seconds")),
                    ),
                    seed=int(self._option("--sessionspec-seed")),
                )
            finally:
                connection.close()
        return self.report


class RequirementItem(pytest.Item):
    def __init__(self, *, machine: str, requirement: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.machine = machine
        self.requirement = requirement

    def runtest(self) -> None:
        suite: _Suite = self.config.stash[_SUITE]
        report = suite.run()
        if report is None:
            raise RequirementFailure("CONF-030", suite.error or "the suite did not run")
        result = next((m for m in report.machines if m.machine == self.machine), None)
        if result is None or result.status == "skipped":
            pytest.skip(result.reason if result is not None else "machine not run")
        for failure in result.failures:
            if failure.requirement == self.requirement:
                steps = "\n".join("  " + json.dumps(s, ensure_ascii=False) for s in failure.steps)
                raise RequirementFailure(
                    failure.requirement,
                    f"{failure.kind}: {failure.message}\nshrunk steps:\n{steps}",
                )
        for rid, status, _, detail in report.requirement_rows():
            if rid == self.requirement and status == "skipped":
                pytest.skip(detail)
        if self.requirement not in result.exercised:
            pytest.skip("no example of this run exercised the requirement")

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, RequirementFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int, str]:
        return "sessionspec", 0, f"{self.machine}: {self.requirement}"


class CaseItem(pytest.Item):
    def __init__(self, *, case_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case_path = case_path

    def runtest(self) -> None:
        from sessionspec.conformance.cases import load_case, replay_case

        suite: _Suite = self.config.stash[_SUITE]
        connection = suite.connection()
        try:
            result = replay_case(load_case(self.case_path), connection, path=self.case_path)
        finally:
            connection.close()
        if result.status == "skipped":
            pytest.skip(result.reason)
        if result.status != "passed":
            rid, _ = result.failures[0]
            raise RequirementFailure(
                rid, "\n".join(f"[{r}] {message}" for r, message in result.failures)
            )

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, RequirementFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int, str]:
        return self.case_path, 0, f"case {self.name}"


class SuiteCollector(pytest.Collector):
    def collect(self) -> list[pytest.Item]:
        from pathlib import Path

        suite: _Suite = self.config.stash[_SUITE]
        from sessionspec.conformance.runner import MACHINE_REQUIREMENTS

        items: list[pytest.Item] = []
        for machine in suite.machines():
            for requirement in MACHINE_REQUIREMENTS[machine]:
                items.append(RequirementItem.from_parent(
                    self, name=f"{machine}/{requirement}", machine=machine,
                    requirement=requirement,
                ))
        if not self.config.getoption("--sessionspec-no-cases"):
            from sessionspec.conformance.cases import cases_root, iter_case_files

            root = cases_root()
            for path in iter_case_files(root):
                name = "cases/" + Path(path).relative_to(root).with_suffix("").as_posix()
                items.append(CaseItem.from_parent(self, name=name, case_path=str(path)))
        return items


_SUITE = pytest.StashKey[_Suite]()


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("--sessionspec-adapter", default=None):
        return
    config.stash[_SUITE] = _Suite(config)
    collector = SuiteCollector.from_parent(session, name="sessionspec")
    items.extend(collector.collect())
