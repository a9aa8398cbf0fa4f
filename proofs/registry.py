"""The shape of a proof entry. Each area lists its proofs in ``proofs/registry_<area>.py``.

A proof is one function whose contracts (PEP 316 docstring ``pre:``/``post:`` lines) CrossHair
checks with a fixed effort bound (``--max_uninteresting_iterations``), never a time bound, so
that runs repeat (DESIGN §4). ``requirements`` names the spec ids the contracts check.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Proof"]


@dataclass(frozen=True, slots=True)
class Proof:
    #: Dotted path of the function, e.g. ``sessionspec.storage.framing.frame_line``.
    target: str
    #: Requirement ids from spec/SPEC.md that the contracts of ``target`` check.
    requirements: tuple[str, ...]
    #: CrossHair's ``--max_uninteresting_iterations``: the effort bound.
    effort: int = 20
    #: One line: what the contract says, for the proof report.
    claim: str = ""
