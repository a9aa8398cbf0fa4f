"""The log conformance machine: batches, faults and power cuts against a simple model.

The machine never touches a backend directly: it takes a :class:`LogAdapter`, so the same
test checks the JSONL log, a future SQLite backend or another implementation behind an
adapter (DESIGN §4). It drives the log on a
:class:`~sessionspec.storage.simfs.SimulatedFileSystem` and keeps the model: the list of
acknowledged batches and, at most, one batch *in doubt* (the batch being written when the
power failed, or whose failed append could not be cut back).

Invariant (LOG-003, LOG-014): what a reader sees is exactly the acknowledged batches, or the
acknowledged batches followed by the whole batch in doubt, never part of it. Crash outcomes
are sets, not values (Knossos's indeterminate operations).

Usage, for another backend::

    from hypothesis.stateful import run_state_machine_as_test
    from sessionspec.conformance.log_machine import LogCrashMachine

    def test_my_log_conforms():
        run_state_machine_as_test(lambda: LogCrashMachine(MyAdapter()))
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sessionspec.errors import AppendFailedError, HeadConflictError, LogFailedError
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog, read_log
from sessionspec.storage.log import LogState, LogStore
from sessionspec.storage.simfs import SimulatedCrash, SimulatedFileSystem

__all__ = ["JsonlAdapter", "LogAdapter", "LogCrashMachine"]

PATH = "/logs/s.jsonl"
HEADER: dict[str, Any] = {
    "type": "session",
    "version": 1,
    "id": "s",
    "timestamp": "2026-01-01T00:00:00Z",
    "cwd": "/",
    "parent_session": None,
}


class LogAdapter(Protocol):
    """How the machine creates, opens and reads the log under test."""

    def create(self, fs: FileSystem, path: str, header: Mapping[str, Any]) -> LogStore: ...

    def open(self, fs: FileSystem, path: str) -> LogStore: ...

    def read_entries(self, fs: FileSystem, path: str) -> list[dict[str, Any]]: ...


class JsonlAdapter:
    """The embedded default: :class:`~sessionspec.storage.jsonl.JsonlLog`."""

    def create(self, fs: FileSystem, path: str, header: Mapping[str, Any]) -> LogStore:
        return JsonlLog.create(path, header, fs=fs)

    def open(self, fs: FileSystem, path: str) -> LogStore:
        return JsonlLog.open(path, fs=fs)

    def read_entries(self, fs: FileSystem, path: str) -> list[dict[str, Any]]:
        return [record.entry for record in read_log(path, fs=fs).records]


def _batch(first_id: int, size: int, text: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for offset in range(size):
        number = first_id + offset
        entries.append(
            {
                "type": "extension_state",
                "id": f"state-{number}",
                "parent_id": None,
                "timestamp": "2026-01-01T00:00:00Z",
                "state": {"n": number, "text": text},
            }
        )
    return entries


FAULT_OPERATIONS = ("write", "fsync", "truncate")


class LogCrashMachine(RuleBasedStateMachine):
    """Appends, injected I/O errors, crashes at any step, and reopen, against the model."""

    def __init__(self, adapter: LogAdapter) -> None:
        super().__init__()
        self.adapter = adapter
        self.fs = SimulatedFileSystem()
        self.log: LogStore | None = adapter.create(self.fs, PATH, HEADER)
        self.acknowledged: list[list[dict[str, Any]]] = []
        self.in_doubt: list[dict[str, Any]] | None = None
        self.next_id = 1

    # -- helpers ---------------------------------------------------------------------------

    def _expected(self) -> list[dict[str, Any]]:
        return [entry for batch in self.acknowledged for entry in batch]

    def _settle_in_doubt(self) -> None:
        """After a reopen, the batch in doubt is either entirely there or entirely gone."""
        if self.in_doubt is None:
            return
        seen = self.adapter.read_entries(self.fs, PATH)
        expected = self._expected()
        if seen == expected + self.in_doubt:
            self.acknowledged.append(self.in_doubt)
        else:
            assert seen == expected, "a batch in doubt survived only in part"
        self.in_doubt = None

    def _reopen(self) -> None:
        # A reader that looks at the crashed file before any writer repairs it must
        # already see only whole batches (LOG-007).
        self.reader_sees_acknowledged_batches()
        self.log = self.adapter.open(self.fs, PATH)
        self._settle_in_doubt()

    # -- rules -----------------------------------------------------------------------------

    @precondition(lambda self: self.log is not None and self.log.state is LogState.OPEN)
    @rule(size=st.integers(1, 4), text=st.text(max_size=6))
    def append(self, size: int, text: str) -> None:
        assert self.log is not None
        batch = _batch(self.next_id, size, text)
        self.next_id += size
        head = self.log.head
        try:
            new_head = self.log.append(batch, expected_head=head)
        except AppendFailedError:
            assert self.log.head == head  # LOG-005: exactly as before
            return
        except LogFailedError:
            assert self.log.state is LogState.FAILED  # LOG-006
            self.in_doubt = batch
            return
        assert new_head == head + size
        self.acknowledged.append(batch)

    @precondition(lambda self: self.log is not None and self.log.state is LogState.OPEN)
    @rule(stale=st.integers(1, 3))
    def append_with_stale_head(self, stale: int) -> None:
        assert self.log is not None
        head = self.log.head
        try:
            self.log.append(_batch(self.next_id, 1, "stale"), expected_head=head + stale)
        except HeadConflictError as exc:
            assert (exc.expected, exc.actual) == (head + stale, head)
        else:
            raise AssertionError("a stale expected head was accepted")  # LOG-004
        assert self.log.head == head

    @precondition(lambda self: self.log is not None and self.log.state is LogState.OPEN)
    @rule(
        operation=st.sampled_from(FAULT_OPERATIONS),
        nth=st.integers(0, 2),
        partial=st.none() | st.floats(0.0, 1.0),
    )
    def inject_fault(self, operation: str, nth: int, partial: float | None) -> None:
        self.fs.arm(operation, nth, partial=partial if operation == "write" else None)

    @precondition(lambda self: self.log is not None and self.log.state is LogState.OPEN)
    @rule(step=st.integers(0, 3), size=st.integers(1, 4), seed=st.integers(0, 2**16))
    def crash_during_append(self, step: int, size: int, seed: int) -> None:
        """Power cut before the ``step``-th file operation of an append (LOG-003)."""
        assert self.log is not None
        batch = _batch(self.next_id, size, "crash")
        self.next_id += size
        self.fs.arm_crash(step)
        try:
            self.log.append(batch)
        except SimulatedCrash:
            self.in_doubt = batch
        except (AppendFailedError, LogFailedError):
            pass  # an armed fault fired first; the crash below still happens
        else:
            self.acknowledged.append(batch)  # the crash point lay beyond this append
        self.fs.crash(random.Random(seed))
        self._reopen()

    @rule(seed=st.integers(0, 2**16))
    def power_cut(self, seed: int) -> None:
        """Power cut between operations: nothing acknowledged may be lost."""
        self.fs.crash(random.Random(seed))
        self._reopen()

    @rule()
    def close_and_reopen(self) -> None:
        if self.log is not None:
            self.log.close()
        self.fs.disarm()
        self._reopen()

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def reader_sees_acknowledged_batches(self) -> None:
        seen = self.adapter.read_entries(self.fs, PATH)
        expected = self._expected()
        if self.in_doubt is None:
            assert seen == expected
        else:
            assert seen in (expected, expected + self.in_doubt)

    def teardown(self) -> None:
        if self.log is not None and self.log.state is not LogState.CLOSED:
            self.log.close()
