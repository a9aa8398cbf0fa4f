"""A realtime transcript that behaves as meerkat's does (research/seeds.md §3.5).

:class:`MeerkatTranscript` is sessionspec's :class:`RealtimeTranscript` with some of
meerkat's documented behaviours put back at its edge (what an event returns), each one a
:class:`MeerkatQuirk` naming the requirement of spec/SPEC.md §9 it departs from:

* ``BLANK_IDS_IGNORED`` (RT-003): an event whose item or response id is blank is ignored
  (inert, no diagnostic). (meerkat also applies a delta whose delta id is blank without
  remembering it, so its replays append again; that part is not reproduced: it shows as a
  different transcript, RT-031, not as the missing rejection of RT-003.)
* ``WARNINGS_ONLY`` (RT-005): conflicts, late content, refused skips and second terminal
  events are only logged: the outcome carries no diagnostic.
* ``USER_ITEMS_NOT_SKIPPABLE`` (RT-017): ``item_skipped`` never turns a user item into a
  skipped anchor, even an empty one (a failed transcription blocks the conversation).

The other meerkat rows of §9 (RT-012..RT-014, RT-021, RT-025, RT-026, RT-031, RT-040) live
inside the materialization walk and the journal; they are documented, not reproduced here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar

from sessionspec.reference.realtime import ApplyStatus, Diagnostic, DiagnosticCode
from sessionspec.runtime.realtime import ApplyOutcome, RealtimeTranscript
from sessionspec.wire.messages import WireModel

__all__ = ["QUIRK_REQUIREMENTS", "MeerkatQuirk", "MeerkatTranscript", "meerkat_transcript_class"]


class MeerkatQuirk(enum.Enum):
    """One documented meerkat behaviour (research/seeds.md §3.5)."""

    BLANK_IDS_IGNORED = "blank_ids_ignored"
    WARNINGS_ONLY = "warnings_only"
    USER_ITEMS_NOT_SKIPPABLE = "user_items_not_skippable"

    @property
    def requirement(self) -> str:
        return QUIRK_REQUIREMENTS[self]


QUIRK_REQUIREMENTS: dict[MeerkatQuirk, str] = {
    MeerkatQuirk.BLANK_IDS_IGNORED: "RT-003",
    MeerkatQuirk.WARNINGS_ONLY: "RT-005",
    MeerkatQuirk.USER_ITEMS_NOT_SKIPPABLE: "RT-017",
}

_ASSISTANT_EVENTS = frozenset(
    {
        "assistant_text_delta",
        "assistant_transcript_delta",
        "assistant_transcript_truncated",
        "assistant_transcript_final_text",
        "assistant_turn_completed",
        "assistant_turn_interrupted",
    }
)
_INERT = ApplyOutcome(ApplyStatus.DUPLICATE)


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


class MeerkatTranscript(RealtimeTranscript):
    """sessionspec's transcript with the quirks in :attr:`quirks` (a subclass sets them)."""

    quirks: ClassVar[frozenset[MeerkatQuirk]] = frozenset(MeerkatQuirk)

    def apply(self, event: WireModel | Mapping[str, Any]) -> ApplyOutcome:
        raw = event if isinstance(event, Mapping) else None
        if raw is not None and MeerkatQuirk.BLANK_IDS_IGNORED in self.quirks:
            kind = raw.get("type")
            if _blank(raw.get("item_id")) or (
                kind in _ASSISTANT_EVENTS and _blank(raw.get("response_id"))
            ):
                return _INERT  # meerkat returns before storing anything
        if raw is not None and MeerkatQuirk.USER_ITEMS_NOT_SKIPPABLE in self.quirks:
            refused = self._refuse_user_skip(raw)
            if refused is not None:
                return refused
        outcome = super().apply(event)
        if MeerkatQuirk.WARNINGS_ONLY in self.quirks and outcome.diagnostics:
            kept = tuple(d for d in outcome.diagnostics if d.code is DiagnosticCode.INVALID_ID)
            outcome = ApplyOutcome(outcome.status, outcome.messages, kept, outcome.discarded)
        return outcome

    def _refuse_user_skip(self, raw: Mapping[str, Any]) -> ApplyOutcome | None:
        if raw.get("type") != "item_skipped" or not isinstance(raw.get("item_id"), str):
            return None
        item = self._items.get(raw["item_id"].strip())
        if item is None or item.role != "user" or item.state.value != "observed":
            return None
        prev = raw.get("previous_item_id")
        if isinstance(prev, str) and prev.strip() and prev.strip() != item.prev:
            return None  # a new predecessor: judged by the rules that are not this quirk's
        diagnostic = Diagnostic(
            DiagnosticCode.SKIP_REFUSED,
            "item_skipped",
            item.item_id,
            None,
            "meerkat never skips a user item",
        )
        return ApplyOutcome(ApplyStatus.REJECTED, (), (diagnostic,))


def meerkat_transcript_class(quirks: frozenset[MeerkatQuirk]) -> type[MeerkatTranscript]:
    """A transcript class with exactly ``quirks``."""
    order = list(MeerkatQuirk)
    name = "Meerkat" + "".join(
        q.name.title().replace("_", "") for q in sorted(quirks, key=order.index)
    )
    return type(name, (MeerkatTranscript,), {"quirks": frozenset(quirks)})
