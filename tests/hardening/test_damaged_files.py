"""Every reader and opener against damaged files (issue 7, "Done when"; GEN-009, LOG-008).

Each damaged file goes to every public path that reads or opens a log: ``scan_log_bytes``,
``read_log`` (lenient and strict, with either header model), ``JsonlLog.open``,
``SessionCoordinator.open_existing`` (then ``context()``, ``fork()`` into another directory
and ``close()``), and ``RealtimeTranscript.open`` (then ``messages()``). Each must

* raise nothing but a :class:`SessionSpecError` subclass,
* answer within a time limit (no hang), and
* leave the file byte for byte as it was, except that an open for writing may cut crash
  residue (a torn last line, framed lines without a commit record) and nothing else;
  the directory gains no other file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.hardening.damage import (
    Hang,
    base_journal,
    base_session,
    damages,
    deep_value,
    every_field_replaced,
    only_residue_cut,
    time_limit,
)

from sessionspec import RealtimeTranscript, SessionCoordinator
from sessionspec.errors import SessionSpecError
from sessionspec.storage import JsonlLog, read_log, scan_log_bytes
from sessionspec.wire.realtime import JOURNAL_ENTRY_TYPES, RealtimeJournalHeader

DEEP = bool(os.environ.get("SESSIONSPEC_DEEP"))
CI = bool(os.environ.get("CI"))
EXAMPLES = 1000 if DEEP else (100 if CI else 150)
#: Seconds a single reader may take on one damaged file (the largest is a few hundred KB).
LIMIT = 20.0


def _read_session(path: str) -> None:
    read_log(path)


def _read_session_strict(path: str) -> None:
    read_log(path, strict=True)


def _read_journal(path: str) -> None:
    read_log(path, header_model=RealtimeJournalHeader, entry_types=JOURNAL_ENTRY_TYPES)


def _scan(path: str) -> None:
    scan_log_bytes(Path(path).read_bytes(), path=path)


def _open_log(path: str) -> None:
    JsonlLog.open(path).close()


def _open_journal_log(path: str) -> None:
    JsonlLog.open(path, header_model=RealtimeJournalHeader, entry_types=JOURNAL_ENTRY_TYPES).close()


def _open_coordinator(path: str) -> None:
    with SessionCoordinator.open_existing(path) as coordinator:
        coordinator.context()
        coordinator.recovery.diagnostics()
        with tempfile.TemporaryDirectory() as elsewhere:
            coordinator.fork(dir=elsewhere)


def _open_transcript(path: str) -> None:
    with RealtimeTranscript.open(path) as transcript:
        transcript.messages()


READERS = (
    _scan,
    _read_session,
    _read_session_strict,
    _read_journal,
    _open_log,
    _open_journal_log,
    _open_coordinator,
    _open_transcript,
)


def check_every_reader(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "s1.jsonl")
        for reader in READERS:
            Path(path).write_bytes(data)
            try:
                with time_limit(LIMIT):
                    reader(path)
            except SessionSpecError:
                pass
            except Hang:
                pytest.fail(f"{reader.__name__} hung on {len(data)} damaged bytes")
            except Exception as exc:
                raise AssertionError(
                    f"{reader.__name__} raised {type(exc).__name__}: {exc}"
                ) from exc
            after = Path(path).read_bytes()
            problem = only_residue_cut(data, after)
            assert problem is None, f"{reader.__name__}: {problem}"
            assert os.listdir(directory) == ["s1.jsonl"], f"{reader.__name__} left files behind"


@pytest.mark.req("GEN-009", "LOG-008", "LOG-021", "COORD-025", "RT-049")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.sampled_from(["session", "journal"]).flatmap(
    lambda kind: damages(base_session() if kind == "session" else base_journal())
))  # fmt: skip
def test_every_reader_survives_damaged_files(data: bytes) -> None:
    check_every_reader(data)


def _last_lines_offsets(data: bytes, lines: int) -> range:
    cut = len(data)
    for _ in range(lines):
        cut = data.rfind(b"\n", 0, cut - 1) + 1
    return range(cut, len(data) + 1)


@pytest.mark.req("GEN-009", "LOG-008")
@pytest.mark.parametrize("kind", ["session", "journal"])
def test_truncation_at_every_offset_of_the_last_lines(kind: str) -> None:
    """Every prefix that ends inside the last two lines (every offset under
    ``SESSIONSPEC_DEEP``, every 2nd locally, every 11th under CI): an open for writing cuts exactly
    the torn or uncommitted tail, and every reader answers with a typed error at most."""
    data = base_session() if kind == "session" else base_journal()
    offsets = _last_lines_offsets(data, 2)
    step = 1 if DEEP else (11 if CI else 2)
    for offset in offsets[::step]:
        check_every_reader(data[:offset])


#: One bad value per field, in turn: a list, an object, null, a bool, a float, deep nesting.
ROTATING_BAD_VALUES: tuple[Any, ...] = (["x"], {"k": "v"}, None, True, 1.5, deep_value(300))


@pytest.mark.req("GEN-009", "LOG-007", "COORD-024", "RT-049")
@pytest.mark.parametrize("kind", ["session", "journal"])
def test_a_bad_type_in_every_field_of_every_line(kind: str) -> None:
    """Every field of every line (the header's included, at any depth) in turn holds a value
    of the wrong type, in a line re-framed with a valid checksum: every reader answers with
    a typed error at most and the file keeps its bytes."""
    data = base_session() if kind == "session" else base_journal()
    variants = list(every_field_replaced(data, ROTATING_BAD_VALUES))
    assert len(variants) > 50
    for variant in variants[:: 1 if DEEP or not CI else 3]:
        check_every_reader(variant)
