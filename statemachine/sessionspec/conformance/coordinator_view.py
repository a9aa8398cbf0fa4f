"""What the coordinator driver sees, and the rule a difference shows broken.

:class:`DriverView` is the half of :class:`~sessionspec.conformance.coordinator_driver.Driver`
that looks: the implementation's observation through the protocol (``coordinator.observe``,
``coordinator.read_log``), the model's view of a log, the fields that differ (CONF-001..005,
ids up to one consistent renaming without ``coordinator.ids``, CONF-002, or once COORD-004 is
masked, CONF-161), and the judgements
that charge a difference to the rule it shows broken whatever step noticed it (CONF-060):
ids renumbered (COORD-004), usage truncated to 32 bits (COORD-061), figures alone after a
reopen (COORD-020), a failed operation's effect in memory (COORD-002). The pure parts of
those judgements live in :mod:`sessionspec.conformance.coordinator_charges`; the driver
itself (the steps and the order of the checks) in :mod:`.coordinator_driver`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sessionspec.compaction import CompactionConfig
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.checks import current, require
from sessionspec.conformance.coordinator_charges import (
    FIGURE_FIELDS,
    in_model_ids,
    learn_renaming,
    only_figures,
    renumbered,
    shows_the_effect,
    truncated_usage,
)
from sessionspec.conformance.coordinator_model import (
    Entry,
    Expected,
    Log,
    comparable_cost,
    cost_json,
    model_observation,
)
from sessionspec.conformance.protocol import Capability

__all__ = ["DriverView"]

_COUNTERS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


class DriverView:
    """Observation, the model's view, and the charging of differences (the driver's base)."""

    conn: Connection
    config: CompactionConfig
    #: Without exact ids: model id -> implementation id, learned (CONF-002, CONF-161).
    id_map: dict[str, str]
    #: COORD-004 was masked when the example began (CONF-161): ids are judged up to one
    #: consistent renaming, as without ``coordinator.ids``.
    renumbering_masked: bool

    # -- seeing ------------------------------------------------------------------------------

    def has(self, capability: Capability) -> bool:
        return self.conn.has(str(capability))

    @staticmethod
    def renumbering_is_masked() -> bool:
        """Whether the run has already reported COORD-004 and masks it (CONF-061): read once,
        when an example begins, so an example is judged by one rule throughout (CONF-161)."""
        return "COORD-004" in current().masked

    @property
    def exact_ids(self) -> bool:
        """Ids are COORD-004's exactly: declared (``coordinator.ids``) and not already found
        renumbered. Once COORD-004 is reported and masked, a renumbering is no news: the rest
        of the run compares ids up to one consistent renaming (CONF-002), so what else the
        implementation does is judged, not abandoned at its ids (CONF-160, CONF-161)."""
        return self.has(Capability.COORDINATOR_IDS) and not self.renumbering_masked

    def in_model_ids(self, found: Log | None, *models: Log, session: str = "main") -> Log | None:
        """A file read back, in the model's ids: as it is with exact ids; else with the ids
        its entries take where they are ``models``' entries (learned into :attr:`id_map`,
        CONF-002), so the file is compared and charged as with exact ids (CONF-161). Another
        session (a fork) numbers its own entries: what it teaches stays with it."""
        if found is None or self.exact_ids:
            return found
        mapping = self.id_map if session == "main" else dict(self.id_map)
        for model in models:
            learn_renaming(found, model, mapping)
        renamed: Log = in_model_ids(found, mapping)
        return renamed

    def _impl_id(self, model_id: str) -> str:
        if self.exact_ids:
            return model_id
        known = self.id_map.get(model_id)
        if known is not None:
            return known
        # An id the model has no entry for (a bogus leaf target) stays one the implementation
        # has none for either, also where a renumbering gave that id to another entry.
        return f"{model_id}?" if model_id in self.id_map.values() else model_id

    def observe(self, handle: str = "main") -> Entry | None:
        reply = self.conn.call("coordinator.observe", handle=handle)
        require("CONF-030", reply.ok, f"coordinator.observe: {reply.describe()}")
        if not reply.ok:
            return None
        r = reply.result
        usage = r.get("usage") or {}
        return {
            # Exactly as the implementation returns it: memory holds the redacted form too,
            # so no normalization of either side (COORD-017, issue 7).
            "context": list(r.get("context") or []),
            "ids": list(r.get("ids") or []),
            "tip": r.get("tip"),
            "usage": {k: int(usage.get(k, 0)) for k in _COUNTERS},
            "turns": r.get("turns"),
            "state": r.get("state"),
            "watermark": r.get("watermark"),
            # The next id number is compared with exact ids only (CONF-002).
            "next_seq": r.get("next_seq") if self.exact_ids else None,
            "cost": comparable_cost(r.get("cost")),
        }

    def model_view(self, log: Log) -> Entry:
        m = model_observation(log, self.config)
        figures = m["figures"]
        return {
            "context": m["context"],
            "ids": m["ids"],
            "tip": m["tip"],
            "usage": {k: getattr(figures, k) for k in _COUNTERS},
            "turns": figures.turns,
            "state": m["state"],
            "watermark": figures.watermark,
            "next_seq": m["next_seq"] if self.exact_ids else None,
            "cost": comparable_cost(cost_json(m["cost"])),
        }

    def differences(self, seen: Entry, expected: Entry) -> list[str]:
        """The observed fields that differ from the model (CONF-001..CONF-005)."""
        fields = ["context", "usage", "turns", "state"]
        if self.has(Capability.COORDINATOR_FIGURES):
            fields += ["watermark", "next_seq"]
        if self.has(Capability.COORDINATOR_COST):
            fields.append("cost")
        found = [f for f in fields if seen[f] != expected[f]]
        if self.exact_ids:
            found += [f for f in ("ids", "tip") if seen[f] != expected[f]]
        else:
            found += self._renamed_differences(seen, expected)
        return found

    def _renamed_differences(self, seen: Entry, expected: Entry) -> list[str]:
        """Ids equal up to one consistent renaming (CONF-002), learned as the run goes."""
        pairs = list(zip(expected["ids"], seen["ids"], strict=False))
        for model_item, seen_item in zip(expected["context"], seen["context"], strict=False):
            if model_item.get("type") == "compaction_summary":
                pairs.append(
                    (model_item.get("compaction_entry_id"), seen_item.get("compaction_entry_id"))
                )
        if expected["tip"] is not None and seen["tip"] is not None:
            pairs.append((expected["tip"], seen["tip"]))
        found: list[str] = []
        if len(expected["ids"]) != len(seen["ids"]) or (expected["tip"] is None) != (
            seen["tip"] is None
        ):
            found.append("ids")
        reverse = {v: k for k, v in self.id_map.items()}
        for model_id, impl_id in pairs:
            known = self.id_map.get(model_id)
            owner = reverse.get(impl_id)
            if (known is not None and known != impl_id) or (owner not in (None, model_id)):
                found.append("ids")
                break
            self.id_map[model_id] = impl_id
            reverse[impl_id] = model_id
        return sorted(set(found))

    def _summaryless(self, context: list[Entry]) -> list[Entry]:
        if self.exact_ids:
            return context
        return [
            {**i, "compaction_entry_id": "*"} if i.get("type") == "compaction_summary" else i
            for i in context
        ]

    def matches(self, seen: Entry | None, log: Log) -> bool:
        if seen is None:
            return False
        expected = self.model_view(log)
        if self.exact_ids:
            return not self.differences(seen, expected)
        seen = {**seen, "context": self._summaryless(seen["context"])}
        expected = {**expected, "context": self._summaryless(expected["context"])}
        learned = dict(self.id_map)
        if self.differences(seen, expected):
            self.id_map = learned  # a view that is not this one teaches no ids (CONF-002)
            return False
        return True

    def _same(self, a: Entry, b: Entry) -> bool:
        """Two of the implementation's observations agree (a twin, a reopen); without exact
        ids, their ids up to a renumbering: a twin takes ids of its own (CONF-161)."""
        keys = ["context", "ids", "tip", "usage", "turns", "state"]
        if self.has(Capability.COORDINATOR_FIGURES):
            keys += ["watermark", "next_seq"]
        if self.has(Capability.COORDINATOR_COST):
            keys.append("cost")
        if self.exact_ids:
            return all(a[k] == b[k] for k in keys)
        named = ("context", "ids", "tip")
        return all(a[k] == b[k] for k in keys if k not in named) and self.same_up_to_ids(
            {k: a[k] for k in named}, {k: b[k] for k in named}
        )

    def same_up_to_ids(self, found: Any, model: Any) -> bool:
        """``found == model``; without exact ids, also when only their entry ids' numbers
        differ (CONF-002, CONF-161)."""
        return found == model or (not self.exact_ids and renumbered(found, model))

    def read_log(self, session_id: str) -> Log | None:
        reply = self.conn.call("coordinator.read_log", session_id=session_id)
        if reply.error_type == "not_found":
            return None
        require("CONF-030", reply.ok, f"coordinator.read_log: {reply.describe()}")
        return tuple(reply.result.get("entries") or ())

    # -- charging a difference to the rule it shows broken (CONF-060) -----------------------

    def _shown(self, differing: Sequence[str], seen: Entry, expected: Entry, *,
               resumed: bool, cause: str | None) -> str | None:
        """The rule an observation that differs shows broken, whatever the step (CONF-060):
        ids renumbered (COORD-004), usage truncated to 32 bits (COORD-061), figures alone
        after a reopen (COORD-020; after another writer's message they are COORD-023's)."""
        if not differing:
            return None
        if self._renumbered_view(seen, expected):
            return "COORD-004"
        if set(differing) <= {"usage", "cost"} and truncated_usage(seen["usage"],
                                                                    expected["usage"]):
            return "COORD-061"
        if resumed and cause != "COORD-023" and only_figures(differing):
            return "COORD-020"
        return None

    def _renumbered_view(self, seen: Entry, view: Entry) -> bool:
        """Whether an observation is the model's view with its ids renumbered (COORD-004),
        its figures aside: a counter that is not COORD-004's shows in the ids whatever else
        differs in the figures."""
        if not self.exact_ids:
            return False
        aside = FIGURE_FIELDS | {"state", "cost"}
        return renumbered(seen, view) or renumbered(
            {k: v for k, v in seen.items() if k not in aside},
            {k: v for k, v in view.items() if k not in aside},
        )

    def _ids(self, charged: str, found: Any, *models: Any) -> str:
        """COORD-004 when ``found`` is one of ``models`` with its entry ids renumbered (with
        ``coordinator.ids``: the ids are COORD-004's exactly), else ``charged``. A file is
        also compared with the beginning of each model log: one that holds part of a batch
        whose ids are renumbered shows the ids wrong before it shows the batch cut."""
        if not self.exact_ids or found is None:
            return charged
        for model in models:
            if isinstance(found, tuple) and isinstance(model, tuple):
                model = model[: len(found)]
            if renumbered(found, model):
                return "COORD-004"
        return charged

    def _resumed_requirement(self, charged: str, seen: Entry | None,
                             running: Entry | None) -> str:
        """A reopened coordinator (or twin) that differs from the one that kept running:
        COORD-004 when only its id numbers differ, COORD-020 when only its figures do."""
        if seen is None or running is None:
            return charged
        if self._renumbered_view(seen, running):
            return "COORD-004"
        differing = [k for k in running if seen.get(k) != running[k]]
        return "COORD-020" if only_figures(differing) else charged

    def _unsettled(self, requirement: str, seen: Entry | None, durable: Log | None,
                   candidates: Sequence[Log]) -> str:
        """A reopened session that is neither outcome, judged against the outcome its file
        took (either, when the file is not compared): COORD-004 when it is that outcome with
        its ids renumbered; COORD-020 when it shows that outcome but for its figures: the
        outcome is right and the resume did not restore it."""
        if seen is None:
            return requirement
        if any(self._ids("", durable, log) for log in candidates):
            return "COORD-004"
        for log in candidates:
            if durable is not None and durable != log:
                continue
            view = self.model_view(log)
            if self._renumbered_view(seen, view):
                return "COORD-004"
            seen_cmp = {**seen, "context": self._summaryless(seen["context"])}
            view_cmp = {**view, "context": self._summaryless(view["context"])}
            if only_figures(self.differences(seen_cmp, view_cmp)):
                return "COORD-020"
        return requirement

    def _memory_requirement(self, charged: str, before: Entry | None, after: Entry | None,
                            expected: Expected) -> str:
        """Memory after an operation whose append failed: showing the operation's effect,
        it was changed before the append returned (COORD-002); with only its id numbers
        moved, the counter advanced without an append (COORD-004); else ``charged``."""
        if before is None or after is None:
            return charged
        model_after = self.model_view(expected.after)
        if not self.exact_ids:
            model_after = {
                **model_after,
                "ids": [self._impl_id(i) for i in model_after["ids"]],
                "tip": None if model_after["tip"] is None else self._impl_id(model_after["tip"]),
            }

        def comparable(view: Entry) -> Entry:
            return {**view, "context": self._summaryless(view["context"])}

        if shows_the_effect(comparable(before), comparable(after), comparable(model_after)):
            return "COORD-002"
        return self._ids(charged, {**after, "state": before["state"]}, before)
