"""The log conformance machine against the JSONL log (LOG-003..LOG-006, LOG-014)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import settings

from sessionspec.conformance import run_machine
from sessionspec.conformance.log_machine import JsonlAdapter, LogCrashMachine
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog
from sessionspec.storage.log import Durability, LogStore

DEEP = bool(os.environ.get("SESSIONSPEC_DEEP"))
BUDGET = settings(
    max_examples=1000 if DEEP else 200,
    stateful_step_count=50 if DEEP else 30,
    deadline=None,
)


@pytest.mark.req("LOG-003", "LOG-004", "LOG-005", "LOG-006", "LOG-008", "LOG-014")
def test_jsonl_log_conforms_under_faults_and_power_cuts() -> None:
    run_machine(lambda: LogCrashMachine(JsonlAdapter()), settings=BUDGET)


class _AckBeforeFsync(JsonlAdapter):
    """A planted bug: appends are acknowledged without an fsync."""

    def create(self, fs: FileSystem, path: str, header: Any) -> LogStore:
        log = super().create(fs, path, header)
        assert isinstance(log, JsonlLog)
        log._durability = Durability.NO_SYNC
        return log

    def open(self, fs: FileSystem, path: str) -> LogStore:
        log = super().open(fs, path)
        assert isinstance(log, JsonlLog)
        log._durability = Durability.NO_SYNC
        return log


class _PartialBatchVisible(JsonlAdapter):
    """A planted bug: the reader returns the lines of an uncommitted tail too."""

    def read_entries(self, fs: FileSystem, path: str) -> list[dict[str, Any]]:
        import sessionspec.storage.jsonl as jsonl
        from sessionspec.storage.framing import LineFate, classify_lines

        original = classify_lines

        def leaky(kinds: Any) -> Any:
            return tuple(
                LineFate.COMMITTED if fate is LineFate.UNCOMMITTED_TAIL else fate
                for fate in original(kinds)
            )

        setattr(jsonl, "classify_lines", leaky)  # noqa: B010 - planting the bug
        try:
            return super().read_entries(fs, path)
        finally:
            setattr(jsonl, "classify_lines", original)  # noqa: B010


@pytest.mark.req("LOG-003", "LOG-010", "LOG-014")
@pytest.mark.parametrize("adapter", [_AckBeforeFsync, _PartialBatchVisible])
def test_the_machine_finds_planted_bugs(adapter: type[JsonlAdapter]) -> None:
    with pytest.raises(AssertionError):
        run_machine(
            lambda: LogCrashMachine(adapter()),
            settings=settings(
                max_examples=200, stateful_step_count=25, deadline=None, report_multiple_bugs=False
            ),
        )
