"""The coordinator's memory: everything it holds apart from the log and the lifecycle.

One :class:`Memory` value is swapped in as a whole after each durable write (COORD-002);
a plan builds the next one without touching the installed one, so a failed append leaves
the coordinator exactly as it was (COORD-011).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sessionspec.compaction import BufferItem
from sessionspec.reference.coordinator import Figures

__all__ = ["Memory"]


@dataclass(frozen=True, slots=True)
class Memory:
    """The coordinator's state apart from the log and the lifecycle (swapped as a whole).

    The buffer is the first ``length`` items of ``store``, a list that successive memories
    share and that is only ever appended to: a turn adds its items to the end instead of
    copying the buffer, so it costs O(its own messages), not O(session length). No item of
    ``store[:length]`` ever changes, so an older memory (or one a failed append left behind)
    keeps seeing exactly its own buffer. A memory whose store has grown past its own length
    (the items of a plan whose append failed) branches off a copy before adding to it.
    """

    store: list[BufferItem]
    length: int
    tip: str | None
    figures: Figures
    next_seq: int

    @classmethod
    def of(
        cls, items: Iterable[BufferItem], tip: str | None, figures: Figures, next_seq: int
    ) -> Memory:
        store = list(items)
        return cls(store, len(store), tip, figures, next_seq)

    @property
    def items(self) -> tuple[BufferItem, ...]:
        """The compaction buffer, as a tuple (a copy: O(buffer length))."""
        return tuple(self.store[: self.length])

    def extended(
        self, added: Sequence[BufferItem], tip: str | None, figures: Figures, next_seq: int
    ) -> Memory:
        """The memory after ``added`` joins the buffer. This memory still sees its own
        buffer: the shared store is appended to, never changed below ``length``."""
        store = self.store
        if len(store) != self.length:
            store = store[: self.length]  # items of an abandoned plan follow ours: branch off
        store.extend(added)
        return Memory(store, len(store), tip, figures, next_seq)

    def moved(self, tip: str | None, figures: Figures, next_seq: int) -> Memory:
        """The same buffer with another tip, figures or next id."""
        return Memory(self.store, self.length, tip, figures, next_seq)
