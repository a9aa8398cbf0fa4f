"""Line framing and recovery classification: the pure core of the log (LOG-002, LOG-007).

Framing
-------
Every line sessionspec writes is one compact JSON object followed by ``\\n``. The storage
layer appends three extra fields to the object, in this order::

    {...entry fields...,"ss_seq":N[,"ss_end":true],"ss_crc":"xxxxxxxx"}

``ss_seq`` is the line's sequence number (the header is 0, the first entry 1, and so on),
``ss_end`` marks the last line of an appended batch (the batch's commit record), and
``ss_crc`` is the CRC-32 (hex, 8 digits) of every byte of the line *before* the text
``,"ss_crc":"``. Because the checksum is always the last field, a reader checks it by
slicing, without decoding the JSON first. An opi v1 reader ignores the three fields.

Lines without ``ss_crc`` are *legacy* lines (written by opi, or by hand): each is its own
committed batch, since opi fsyncs every line.

Classification
--------------
:func:`classify_lines` decides the fate of every complete line from its kind alone. It is a
pure function over a tuple of enums so CrossHair can check its contracts.
"""

from __future__ import annotations

import enum
import zlib

__all__ = [
    "CRC_MARKER",
    "CRC_SUFFIX_LENGTH",
    "FrameCheck",
    "LineFate",
    "LineKind",
    "check_frame",
    "classify_lines",
    "crc_hex",
    "frame_line",
    "has_crc_suffix",
]

NEWLINE = b"\n"
#: The text that introduces the checksum field; the checksum covers every byte before it.
CRC_MARKER = b',"ss_crc":"'
#: ``,"ss_crc":"`` + 8 hex digits + ``"}``.
CRC_SUFFIX_LENGTH = len(CRC_MARKER) + 8 + 2


def crc_hex(data: bytes) -> bytes:
    """CRC-32 of ``data`` as 8 lower-case hex digits (ASCII bytes).

    post: len(__return__) == 8
    post: all(c in b"0123456789abcdef" for c in __return__)
    """
    return b"%08x" % (zlib.crc32(data) & 0xFFFFFFFF)


def frame_line(body: bytes, seq: int, end: bool) -> bytes:
    """Frame one compact JSON object ``body`` as a log line, newline included (LOG-002).

    pre: len(body) >= 2 and body[:1] == b"{" and body[-1:] == b"}"
    pre: NEWLINE not in body
    pre: seq >= 0
    post: __return__.endswith(NEWLINE)
    post: __return__.count(NEWLINE) == 1
    post: check_frame(__return__[:-1]) == FrameCheck.VALID
    """
    # One concatenation for the head, one formatting for the checksum and the end (this
    # runs once per line written: LOG-010's hot path).
    if len(body) > 2:
        head = body[:-1] + (_SEQ_END % seq if end else _SEQ % seq)
    else:
        head = body[:-1] + (_FIRST_SEQ_END % seq if end else _FIRST_SEQ % seq)
    return head + _CRC_TAIL % (zlib.crc32(head) & 0xFFFFFFFF)


_SEQ = b',"ss_seq":%d'
_SEQ_END = b',"ss_seq":%d,"ss_end":true'
_FIRST_SEQ = b'"ss_seq":%d'
_FIRST_SEQ_END = b'"ss_seq":%d,"ss_end":true'
#: ``CRC_MARKER``, the checksum as 8 lower-case hex digits (``crc_hex``), ``"}`` and the newline.
_CRC_TAIL = CRC_MARKER + b'%08x"}\n'


class FrameCheck(enum.Enum):
    """What the checksum says about one line (newline excluded)."""

    #: The line carries ``ss_crc`` and it matches.
    VALID = "valid"
    #: The line carries ``ss_crc`` and it does not match: the bytes were damaged.
    MISMATCH = "mismatch"
    #: No checksum field: a legacy (opi) line, judged by parsing alone.
    UNFRAMED = "unframed"


def check_frame(line: bytes) -> FrameCheck:
    """Check the checksum of ``line`` (without its newline) by slicing (LOG-007).

    post: (__return__ == FrameCheck.UNFRAMED) == (not has_crc_suffix(line))
    post: __return__ != FrameCheck.VALID or crc_hex(line[:-CRC_SUFFIX_LENGTH]) == line[-10:-2]
    """
    if not has_crc_suffix(line):
        return FrameCheck.UNFRAMED
    if crc_hex(line[:-CRC_SUFFIX_LENGTH]) == line[-10:-2]:
        return FrameCheck.VALID
    return FrameCheck.MISMATCH


def has_crc_suffix(line: bytes) -> bool:
    """Whether ``line`` ends with ``,"ss_crc":"<8 characters>"}``."""
    return (
        len(line) >= CRC_SUFFIX_LENGTH
        and line[-2:] == b'"}'
        and line[-CRC_SUFFIX_LENGTH:-10] == CRC_MARKER
    )


class LineKind(enum.Enum):
    """A complete line, as the reader found it."""

    #: A framed, valid line that ends its batch (carries ``ss_end``).
    END = "end"
    #: A framed, valid line inside a batch (no ``ss_end``).
    PENDING = "pending"
    #: A legacy line that parsed: its own committed batch.
    LEGACY = "legacy"
    #: A line that failed its checksum or did not parse.
    BAD = "bad"


class LineFate(enum.Enum):
    """What recovery does with a complete line."""

    #: Part of a committed batch: read.
    COMMITTED = "committed"
    #: Damaged: skipped and reported; kept on disk.
    CORRUPT = "corrupt"
    #: Inside a batch that never got its commit record but is followed by other lines:
    #: skipped and reported; kept on disk (cutting it would cut committed lines after it).
    ORPHANED = "orphaned"
    #: Part of the trailing batch that never committed: skipped, reported, and cut by a
    #: writer opening the file (LOG-008).
    UNCOMMITTED_TAIL = "uncommitted_tail"


def classify_lines(kinds: tuple[LineKind, ...]) -> tuple[LineFate, ...]:
    """Decide the fate of each complete line from the kinds of all lines (LOG-007).

    Rules: a BAD line is CORRUPT; END and LEGACY lines are COMMITTED; a PENDING line is
    COMMITTED when the next line that is neither PENDING nor BAD is an END line (its
    batch's commit record, maybe with damaged lines in between); the maximal run of
    PENDING lines at the very end is the UNCOMMITTED_TAIL; any other PENDING line is
    ORPHANED.

    post: len(__return__) == len(kinds)
    post: _bad_is_corrupt(kinds, __return__)
    post: _records_commit(kinds, __return__)
    post: _only_pending_uncommitted(kinds, __return__)
    post: _tail_is_suffix(__return__)
    post: _commit_needs_record(kinds, __return__)
    """
    fates: list[LineFate] = []
    # Scan backwards, remembering the kind of the nearest later line that settles a batch.
    settled_by: LineKind | None = None
    in_tail = True
    for kind in reversed(kinds):
        if kind is LineKind.BAD:
            fates.append(LineFate.CORRUPT)
            in_tail = False
        elif kind is LineKind.PENDING:
            if in_tail:
                fates.append(LineFate.UNCOMMITTED_TAIL)
            elif settled_by is LineKind.END:
                fates.append(LineFate.COMMITTED)
            else:
                fates.append(LineFate.ORPHANED)
        else:
            fates.append(LineFate.COMMITTED)
            settled_by = kind
            in_tail = False
    fates.reverse()
    return tuple(fates)


# -- the predicates of classify_lines' contract (proofs/registry_log.py) ------------------


def _bad_is_corrupt(kinds: tuple[LineKind, ...], fates: tuple[LineFate, ...]) -> bool:
    """A line is CORRUPT exactly when it is BAD."""
    pairs = zip(kinds, fates, strict=True)
    return all((f is LineFate.CORRUPT) == (k is LineKind.BAD) for k, f in pairs)


def _records_commit(kinds: tuple[LineKind, ...], fates: tuple[LineFate, ...]) -> bool:
    """END and LEGACY lines are always COMMITTED."""
    settling = (LineKind.END, LineKind.LEGACY)
    return all(f is LineFate.COMMITTED for k, f in zip(kinds, fates, strict=True) if k in settling)


def _only_pending_uncommitted(kinds: tuple[LineKind, ...], fates: tuple[LineFate, ...]) -> bool:
    """Only PENDING lines can be ORPHANED or part of the UNCOMMITTED_TAIL."""
    loose = (LineFate.ORPHANED, LineFate.UNCOMMITTED_TAIL)
    return all(k is LineKind.PENDING for k, f in zip(kinds, fates, strict=True) if f in loose)


def _tail_is_suffix(fates: tuple[LineFate, ...]) -> bool:
    """Once a line is in the UNCOMMITTED_TAIL, every later line is too: a writer cuts a suffix."""
    tail = [f is LineFate.UNCOMMITTED_TAIL for f in fates]
    return all(tail[j] for i in range(len(tail)) if tail[i] for j in range(i, len(tail)))


def _commit_needs_record(kinds: tuple[LineKind, ...], fates: tuple[LineFate, ...]) -> bool:
    """A PENDING line is COMMITTED only if an END line follows it (never part of a batch)."""
    return all(
        LineKind.END in kinds[i + 1 :]
        for i, (k, f) in enumerate(zip(kinds, fates, strict=True))
        if k is LineKind.PENDING and f is LineFate.COMMITTED
    )
