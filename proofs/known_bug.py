"""A deliberately wrong contract: the proof gate must find its counterexample.

CrossHair upgrades, a changed flag or a broken runner can silently turn every proof into
"no counterexample found". The runner checks this module on every run and fails unless
CrossHair reports a counterexample here (research/verification.md §3.6, item 5): a gate that
cannot fail on a known bug proves nothing about the others.

Nothing imports this module; it is not part of the package.
"""

from __future__ import annotations

__all__ = ["KNOWN_BUG_TARGET", "next_free_seq"]

#: The target the runner checks, at the effort it uses for it.
KNOWN_BUG_TARGET = "proofs.known_bug.next_free_seq"
KNOWN_BUG_EFFORT = 20


def next_free_seq(seqs: tuple[int, ...]) -> int:
    """The next sequence number for a log whose entries carry ``seqs``.

    The bug: it trusts the last entry to carry the largest number, which holds for a log
    written in order and fails for one whose entries were reordered (e.g. by a bad merge).

    pre: all(s >= 0 for s in seqs)
    post: __return__ not in seqs
    post: __return__ >= 0
    """
    return seqs[-1] + 1 if seqs else 0
