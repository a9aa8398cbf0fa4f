"""A conversation that behaves as meerkat's ``Session`` does (research/seeds.md §3.1-§3.4).

:class:`MeerkatConversation` is sessionspec's :class:`Conversation` with meerkat's
documented behaviours put back where the conversation machine can see them, each one a
:class:`MeerkatConversationQuirk` naming the requirement of spec/SPEC.md §9 it departs from:

* ``FIELD_ORDER_REVISION_IDS`` (CONV-021): the revision id hashes the serializer's bytes
  with keys in the order the message fields are declared (serde_json writes a Rust
  struct's fields in declaration order), not the RFC 8785 canonical form. Reproduced for
  the transcript's own revision (a conversation without rewrites, and the head a push
  after a rewrite makes); the bodies a rewrite itself stores keep canonical ids, which the
  suite never reaches first: it compares the revision after every step.

The other meerkat rows of §9 are not reproduced, because the conversation machine cannot
see them: record validation without the tool-shape and system-prompt checks (CONV-040) is
reached only through ``conversation.validate_record``, which the machine never calls (the
static cases do, with tampered texts only, which meerkat refuses too); the system prompt
as message 0 (CONV-002) and the block addressing of tool results (CONV-012) are API
shapes, not behaviours; the partial rewrite of ``externalize_media`` after a store error
(CONV-060) needs a blob store, which no ``conversation.*`` command has.
"""

from __future__ import annotations

import enum
import hashlib
import json
from typing import ClassVar

from sessionspec.runtime.conversation import Conversation

__all__ = [
    "QUIRK_REQUIREMENTS",
    "MeerkatConversation",
    "MeerkatConversationQuirk",
    "meerkat_conversation_class",
]


class MeerkatConversationQuirk(enum.Enum):
    """One documented meerkat behaviour of its ``Session`` (research/seeds.md §3)."""

    FIELD_ORDER_REVISION_IDS = "field_order_revision_ids"

    @property
    def requirement(self) -> str:
        return QUIRK_REQUIREMENTS[self]


QUIRK_REQUIREMENTS: dict[MeerkatConversationQuirk, str] = {
    MeerkatConversationQuirk.FIELD_ORDER_REVISION_IDS: "CONV-021",
}


class MeerkatConversation(Conversation):
    """sessionspec's conversation with the quirks in :attr:`quirks` (a subclass sets them)."""

    quirks: ClassVar[frozenset[MeerkatConversationQuirk]] = frozenset(MeerkatConversationQuirk)

    def _digest(self) -> str:
        if MeerkatConversationQuirk.FIELD_ORDER_REVISION_IDS not in self.quirks:
            return super()._digest()
        transcript = {
            "messages": [m.to_json_dict() for m in self.messages],
            "system": self.system_prompt,
        }
        # Declaration order, compact separators, as serde_json::to_vec writes it.
        data = json.dumps(transcript, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def meerkat_conversation_class(
    quirks: frozenset[MeerkatConversationQuirk],
) -> type[MeerkatConversation]:
    """A conversation class with exactly ``quirks``."""
    order = list(MeerkatConversationQuirk)
    name = "MeerkatConversation" + "".join(
        q.name.title().replace("_", "") for q in sorted(quirks, key=order.index)
    )
    return type(name, (MeerkatConversation,), {"quirks": frozenset(quirks)})
