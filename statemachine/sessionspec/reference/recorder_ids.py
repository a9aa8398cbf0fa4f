"""Pure helpers of the recorder: loop ids, start order, parent chains (REC-015, REC-022, REC-024).

Plain functions over strings and tuples, so CrossHair can check their contracts
(``proofs/registry_recorder.py``); the runtime and the reference model both use them.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ChainOutcome",
    "config_segment_from_loop_id",
    "loop_chain",
    "session_id_from_loop_id",
    "start_position",
]


def session_id_from_loop_id(loop_id: str) -> str:
    """The session part of a loop id ``{session}.{config}.{n}``: everything before the
    first ``.``, or the whole id when it has none (REC-015).

    post: '.' not in __return__
    post: loop_id.startswith(__return__)
    post: (__return__ == loop_id) == ('.' not in loop_id)
    """
    head, _, _ = loop_id.partition(".")
    return head


def config_segment_from_loop_id(loop_id: str) -> str | None:
    """The config part of a loop id: between the first and the last ``.``; ``None`` with
    fewer than two dots (REC-015).

    post: (__return__ is None) == (loop_id.count('.') < 2)
    post: __return__ is None or ('.' + __return__ + '.') in loop_id
    """
    first = loop_id.find(".")
    last = loop_id.rfind(".")
    if first == last:
        return None
    return loop_id[first + 1 : last]


#: ``(chain, cycle)``: the chain from the root to the target, and the cycle found (empty
#: when there is none).
ChainOutcome = tuple[tuple[str, ...], tuple[str, ...]]


def loop_chain(parents: Mapping[str, str | None], target: str) -> ChainOutcome:
    """The loops from the root of ``target``'s parent chain down to ``target`` (REC-024).

    ``parents`` maps each loop of one session to its parent id. The walk stops at a loop
    without a parent, at a parent outside the session (never included: it is not one of the
    session's loops) and at a loop naming itself (a loop id run again continues its earlier
    record, REC-014). A cycle ends the walk too and is returned, so a caller can raise.

    pre: target in parents
    post: __return__[0][-1] == target
    post: len(set(__return__[0])) == len(__return__[0])
    post: all(x in parents for x in __return__[0])
    post: not __return__[1] or __return__[1][0] == __return__[1][-1] in __return__[0]
    post: all(parents.get(a) == b for a, b in zip(__return__[1], __return__[1][1:]))
    """
    chain = [target]
    seen = {target}
    current = target
    while True:
        parent = parents.get(current)
        if parent is None or parent == current or parent not in parents:
            break
        if parent in seen:
            start = chain.index(parent)
            return tuple(reversed(chain)), (*chain[start:], parent)
        chain.append(parent)
        seen.add(parent)
        current = parent
    return tuple(reversed(chain)), ()


def start_position(starts: tuple[int, ...], start: int) -> int:
    """Where a closed loop goes among a session's loops, given their start positions
    (REC-022): after every loop that started before it, before every one that started after.

    pre: all(a < b for a, b in zip(starts, starts[1:]))
    pre: start not in starts
    post: 0 <= __return__ <= len(starts)
    post: all(s < start for s in starts[:__return__])
    post: all(s > start for s in starts[__return__:])
    """
    low, high = 0, len(starts)
    while low < high:
        middle = (low + high) // 2
        if starts[middle] < start:
            low = middle + 1
        else:
            high = middle
    return low
