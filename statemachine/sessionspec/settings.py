"""The settings that decide, persisted with the session (spec/SPEC.md §4.1, COORD-027, COORD-028).

Rules
-----
* A session's decisions depend on two settings: the model (the price of usage no message
  names, COORD-060) and the compaction configuration (engine on or off, threshold, trigger
  and cut policy, COORD-030, COORD-037). Both are part of the session's state, so they are
  in its file (COORD-027): :class:`SessionSettings` is written as the extra field
  ``ss_settings`` of the header when the session is created, and of a leaf when an explicit
  argument changes them on reopen (COORD-028). Both are opi's own types with one extra
  field, so an opi reader still loads the file (COORD-003).
* The settings in force are those of the last leaf, in file order, that carries a valid
  record, else the header's, else the defaults (a file written by opi or by an older
  sessionspec). Settings are session-wide, like usage: a leaf on an abandoned branch
  still counts.
* A cut policy is stored by kind (``count_tail``, ``token_budget`` with its budget). A
  caller's own policy class cannot be rebuilt from a file: it is stored as ``custom`` with
  its class name and read back as :class:`UnrestoredPolicy`, which refuses to cut with a
  :class:`~sessionspec.errors.CallerError` until the caller passes the policy again.

Theory of operation: pure values and their JSON form; the runtime and the reference model
(:func:`sessionspec.reference.coordinator.settings_of`) read and write them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessionspec.compaction import (
    CompactionConfig,
    CompactionTrigger,
    CountTailPolicy,
    CutCandidate,
    CutPolicy,
    TokenBudgetPolicy,
)
from sessionspec.errors import CallerError

__all__ = ["SETTINGS_FIELD", "SessionSettings", "UnrestoredPolicy", "policy_to_json"]

#: The extra field, on the header and on leaves, that carries the settings.
SETTINGS_FIELD = "ss_settings"


@dataclass(frozen=True, slots=True)
class UnrestoredPolicy:
    """A caller's own cut policy named in the file; it cannot be rebuilt from there."""

    name: str

    def first_kept(self, items: Sequence[CutCandidate]) -> int | None:
        raise CallerError(
            f"this session compacts with the caller's own cut policy {self.name!r}, which "
            "cannot be rebuilt from the file: pass compaction_config to open_existing"
        )


def policy_to_json(policy: CutPolicy) -> dict[str, Any]:
    """The stored form of a cut policy."""
    if isinstance(policy, CountTailPolicy):
        return {"kind": "count_tail"}
    if isinstance(policy, TokenBudgetPolicy):
        return {"kind": "token_budget", "keep_tokens": policy.keep_tokens}
    if isinstance(policy, UnrestoredPolicy):
        return {"kind": "custom", "name": policy.name}
    return {"kind": "custom", "name": type(policy).__qualname__}


def _policy_from_json(obj: object) -> CutPolicy | None:
    if not isinstance(obj, Mapping):
        return None
    kind = obj.get("kind")
    if kind == "count_tail":
        return CountTailPolicy()
    if kind == "token_budget":
        keep = obj.get("keep_tokens")
        return TokenBudgetPolicy(keep) if type(keep) is int and keep >= 0 else None
    if kind == "custom":
        name = obj.get("name")
        return UnrestoredPolicy(name) if isinstance(name, str) else None
    return None


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """The model and the compaction configuration of a session (COORD-027)."""

    model: str = ""
    compaction: CompactionConfig = field(default_factory=CompactionConfig)

    def to_json(self) -> dict[str, Any]:
        config = self.compaction
        return {
            "model": self.model,
            "compaction": {
                "enabled": config.enabled,
                "threshold_tokens": config.threshold_tokens,
                "trigger": config.trigger.value,
                "policy": policy_to_json(config.policy),
            },
        }

    @classmethod
    def from_json(cls, obj: object) -> SessionSettings | None:
        """The settings of a stored record, or ``None`` if it is not a valid one."""
        if not isinstance(obj, Mapping):
            return None
        model = obj.get("model")
        compaction = obj.get("compaction")
        if not isinstance(model, str) or not isinstance(compaction, Mapping):
            return None
        enabled = compaction.get("enabled")
        threshold = compaction.get("threshold_tokens")
        trigger = compaction.get("trigger")
        policy = _policy_from_json(compaction.get("policy"))
        if type(enabled) is not bool or type(threshold) is not int or threshold < 0:
            return None
        if (
            policy is None
            or type(trigger) is not str  # a list or an object is not hashable (GEN-009)
            or trigger not in {t.value for t in CompactionTrigger}
        ):
            return None
        config = CompactionConfig(
            enabled=enabled,
            threshold_tokens=threshold,
            policy=policy,
            trigger=CompactionTrigger(trigger),
        )
        return cls(model, config)
