"""The pure core of the log: framing, the checksum check and line classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionspec.storage import framing
from sessionspec.storage.framing import (
    CRC_MARKER,
    FrameCheck,
    LineFate,
    LineKind,
    check_frame,
    classify_lines,
    crc_hex,
    frame_line,
    has_crc_suffix,
)

END, PENDING, LEGACY, BAD = LineKind.END, LineKind.PENDING, LineKind.LEGACY, LineKind.BAD
COMMITTED, CORRUPT = LineFate.COMMITTED, LineFate.CORRUPT
ORPHANED, TAIL = LineFate.ORPHANED, LineFate.UNCOMMITTED_TAIL


@pytest.mark.req("LOG-002", "LOG-007")
def test_check_frame_tells_valid_damaged_and_legacy_lines_apart() -> None:
    line = frame_line(b'{"type":"leaf","id":"leaf-1"}', 1, True)[:-1]
    assert check_frame(line) is FrameCheck.VALID and has_crc_suffix(line)
    damaged = line.replace(b"leaf-1", b"leaf-2")
    assert check_frame(damaged) is FrameCheck.MISMATCH
    assert check_frame(b'{"type":"leaf","id":"leaf-1"}') is FrameCheck.UNFRAMED
    assert check_frame(line[:-1] + b"]") is FrameCheck.UNFRAMED  # no closing "}
    assert check_frame(line.replace(CRC_MARKER, b',"ss_crx":"')) is FrameCheck.UNFRAMED
    assert check_frame(b'"}') is FrameCheck.UNFRAMED  # too short to carry a checksum
    assert crc_hex(b"") == b"00000000" and crc_hex(b"a") == b"e8b7be43"


# A definition of classify_lines written differently: for each line, look ahead.
def _fate(kinds: tuple[LineKind, ...], index: int) -> LineFate:
    kind = kinds[index]
    if kind is BAD:
        return CORRUPT
    if kind in (END, LEGACY):
        return COMMITTED
    later = kinds[index + 1 :]
    if all(k is PENDING for k in later):
        return TAIL
    settling = next((k for k in later if k in (END, LEGACY)), None)
    return COMMITTED if settling is END else ORPHANED


@pytest.mark.req("LOG-003", "LOG-007", "LOG-008")
@given(st.lists(st.sampled_from(list(LineKind)), max_size=12).map(tuple))
def test_classify_lines_agrees_with_a_look_ahead_definition(kinds: tuple[LineKind, ...]) -> None:
    fates = classify_lines(kinds)
    assert fates == tuple(_fate(kinds, i) for i in range(len(kinds)))


@pytest.mark.req("LOG-003", "LOG-007")
def test_classify_lines_examples() -> None:
    assert classify_lines((PENDING, PENDING, END)) == (COMMITTED,) * 3
    assert classify_lines((END, PENDING, PENDING)) == (COMMITTED, TAIL, TAIL)
    assert classify_lines((PENDING, BAD, END)) == (COMMITTED, CORRUPT, COMMITTED)
    assert classify_lines((PENDING, LEGACY)) == (ORPHANED, COMMITTED)
    assert classify_lines((PENDING, BAD)) == (ORPHANED, CORRUPT)


@pytest.mark.req("GEN-007")
def test_the_contract_predicates_can_fail() -> None:
    """Each predicate of classify_lines' contract rejects a wrong answer (else the proof of
    the contract would prove nothing)."""
    assert not framing._bad_is_corrupt((BAD,), (COMMITTED,))
    assert not framing._bad_is_corrupt((END,), (CORRUPT,))
    assert not framing._records_commit((LEGACY,), (ORPHANED,))
    assert not framing._only_pending_uncommitted((END,), (TAIL,))
    assert not framing._tail_is_suffix((TAIL, COMMITTED))
    assert not framing._commit_needs_record((PENDING, LEGACY), (COMMITTED, COMMITTED))
    good = (PENDING, END, PENDING)
    fates = classify_lines(good)
    assert framing._bad_is_corrupt(good, fates) and framing._records_commit(good, fates)
    assert framing._only_pending_uncommitted(good, fates) and framing._tail_is_suffix(fates)
    assert framing._commit_needs_record(good, fates)
