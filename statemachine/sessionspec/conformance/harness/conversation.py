"""The harness's conversation and token ledger commands (``conversation.*``, ``ledger.*``).

Both live in memory: the harness keeps each object under the handle the runner chose
(``h.conversations``, ``h.ledgers``). The library's typed errors become typed rejections in
:mod:`.answers` (``revision_conflict``..., ``ledger_conflict``, ``ledger_decrease``;
CONF-121, CONF-125), so a handler only calls the object and shapes its answer.

A :class:`ConversationFactory` makes objects with the API of :class:`sessionspec.Conversation`
(``push``, ``push_batch``, ``fork``, ``fork_at``, ``fork_replacing``, ``set_system_prompt``,
``messages``, ``system_prompt``, ``transcript_revision``, ``has_pending_boundary``,
``commit_transcript_rewrite``, ``transcript_rewrite_records``, ``metadata``, ``set_metadata``,
``remove_metadata``, ``backfill_metadata_if_absent``, ``record_usage``, ``total_usage``); a
:class:`TokenLedgerFactory` objects with the API of :class:`sessionspec.TokenLedger`
(``record``, ``copy``, ``merge``, ``totals_by_key``) and its ``diff``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionspec.conformance.harness.answers import Json, Rejection, Skip
from sessionspec.conformance.protocol import Capability, ErrorType

if TYPE_CHECKING:
    from sessionspec.conformance.harness.core import PythonHarness, PythonImplementation

__all__ = ["HANDLERS", "ConversationFactory", "TokenLedgerFactory", "capabilities"]

#: The four counters of a conversation's usage (CONV-006).
USAGE = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
LEDGER_COUNTERS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


@dataclass(frozen=True)
class ConversationFactory:
    """How a harness makes conversations, and (optionally) reads rewrite records."""

    #: ``() -> conversation``: an empty one (CONV-001).
    new: Callable[[], Any]
    #: ``(records as JSON) -> conversation`` at the head of the replayed records (CONV-041).
    from_records: Callable[[list[dict[str, Any]]], Any] | None = None
    #: ``(record as JSON) -> None``; raises the typed error of a bad record (CONV-040).
    validate_record: Callable[[dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class TokenLedgerFactory:
    """How a harness makes token ledgers (STATE-030..STATE-033)."""

    #: ``() -> ledger``: an empty one.
    new: Callable[[], Any]
    #: ``(before, after) -> ledger``: the ledger that merged into ``before`` gives ``after``.
    diff: Callable[[Any, Any], Any]


def capabilities(implementation: PythonImplementation) -> list[Capability]:
    """What a harness can offer for this implementation's conversation and ledger."""
    caps: list[Capability] = []
    factory = implementation.conversation
    if factory is not None:
        caps += [Capability.CONVERSATION, Capability.CONVERSATION_METADATA]
        if factory.from_records is not None and factory.validate_record is not None:
            caps.append(Capability.CONVERSATION_RECORDS)
    if implementation.ledger is not None:
        caps.append(Capability.LEDGER)
    return caps


# -- conversation.* -----------------------------------------------------------------------


def _conversations(h: PythonHarness) -> ConversationFactory:
    if h.implementation.conversation is None:
        raise Skip("this implementation has no conversation")
    return h.implementation.conversation


def _conversation(h: PythonHarness, args: Mapping[str, Any], key: str = "handle") -> Any:
    handle = str(args.get(key, ""))
    if handle not in h.conversations:
        raise Rejection(ErrorType.NOT_FOUND, f"no conversation {handle!r}")
    return h.conversations[handle]


def _keep(h: PythonHarness, handle: Any, conversation: Any) -> Json:
    h.conversations[str(handle)] = conversation
    return {}


def conversation_new(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return _keep(h, args["handle"], _conversations(h).new())


def conversation_push(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _conversation(h, args).push(dict(args["message"]))
    return {}


def conversation_push_batch(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _conversation(h, args).push_batch([dict(m) for m in args["messages"]])
    return {}


def conversation_fork(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return _keep(h, args["into"], _conversation(h, args).fork())


def conversation_fork_at(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return _keep(h, args["into"], _conversation(h, args).fork_at(int(args["index"])))


def _replacement(data: Mapping[str, Any]) -> Any:
    """The library's replacement of CONV-012 from its protocol form."""
    from sessionspec.runtime import conversation_edits as edits

    kind = data.get("kind")
    if kind == "message":
        return edits.ReplaceMessage(dict(data.get("message") or {}))
    kinds = {
        "user_content_block": edits.ReplaceUserContentBlock,
        "assistant_block": edits.ReplaceAssistantBlock,
        "tool_result_content_block": edits.ReplaceToolResultContentBlock,
    }
    if kind not in kinds:
        raise Rejection(ErrorType.CALLER_ERROR, f"not a replacement kind: {kind!r}")
    return kinds[kind](int(data.get("block_index", 0)), dict(data.get("block") or {}))


def conversation_fork_replacing(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    fork = _conversation(h, args).fork_replacing(
        int(args["index"]), _replacement(args["replacement"])
    )
    return _keep(h, args["into"], fork)


def conversation_set_system_prompt(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _conversation(h, args).set_system_prompt(str(args["prompt"]))
    return {}


def conversation_rewrite(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    commit = _conversation(h, args).commit_transcript_rewrite(
        (int(args["start"]), int(args["end"])),
        [dict(m) for m in args["replacement"]],
        str(args.get("reason", "conformance")),
        args.get("actor"),
        args.get("expected_parent_revision"),
    )
    return {"parent_revision": commit.parent_revision, "revision": commit.revision}


def conversation_observe(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    conversation = _conversation(h, args)
    total = conversation.total_usage()
    return {
        "messages": [m.to_json_dict() for m in conversation.messages],
        "system_prompt": conversation.system_prompt,
        "revision": conversation.transcript_revision(),
        "pending_boundary": conversation.has_pending_boundary(),
        "metadata": conversation.metadata,
        "usage": {name: getattr(total, name) for name in USAGE},
    }


def conversation_set_metadata(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _conversation(h, args).set_metadata(str(args["key"]), args.get("value"))
    return {}


def conversation_remove_metadata(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _conversation(h, args).remove_metadata(str(args["key"]))
    return {}


def conversation_backfill_metadata(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    was_set = _conversation(h, args).backfill_metadata_if_absent(
        str(args["key"]), args.get("value")
    )
    return {"set": bool(was_set)}


def conversation_record_usage(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    usage = dict(args.get("usage") or {})
    _conversation(h, args).record_usage({name: int(usage.get(name, 0)) for name in USAGE})
    return {}


def conversation_records(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    records = _conversation(h, args).transcript_rewrite_records()
    return {"records": [r.to_json() for r in records]}


def _records_factory(h: PythonHarness) -> ConversationFactory:
    factory = _conversations(h)
    if factory.from_records is None or factory.validate_record is None:
        raise Skip("this implementation does not read rewrite records")
    return factory


def conversation_validate_record(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    validate = _records_factory(h).validate_record
    assert validate is not None  # checked by _records_factory
    validate(dict(args["record"]))
    return {}


def conversation_replay(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    from_records = _records_factory(h).from_records
    assert from_records is not None  # checked by _records_factory
    conversation = from_records([dict(r) for r in args["records"]])
    _keep(h, args["handle"], conversation)
    return {"revision": conversation.transcript_revision()}


def conversation_drop(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    h.conversations.pop(str(args.get("handle", "")), None)
    return {}


# -- ledger.* -------------------------------------------------------------------------------


def _ledgers(h: PythonHarness) -> TokenLedgerFactory:
    if h.implementation.ledger is None:
        raise Skip("this implementation has no token ledger")
    return h.implementation.ledger


def _ledger(h: PythonHarness, args: Mapping[str, Any], key: str = "handle") -> Any:
    handle = str(args.get(key, ""))
    if handle not in h.ledgers:
        raise Rejection(ErrorType.NOT_FOUND, f"no ledger {handle!r}")
    return h.ledgers[handle]


def ledger_new(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    h.ledgers[str(args["handle"])] = _ledgers(h).new()
    return {}


def ledger_record(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    usage = dict(args.get("usage") or {})
    counted = _ledger(h, args).record(
        str(args["source"]),
        str(args["model"]),
        {name: int(usage.get(name, 0)) for name in LEDGER_COUNTERS},
        args.get("request_id"),
    )
    return {"counted": bool(counted)}


def ledger_copy(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    h.ledgers[str(args["into"])] = _ledger(h, args).copy()
    return {}


def ledger_merge(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    merged = _ledger(h, args).merge(_ledger(h, args, "other"))
    h.ledgers[str(args["into"])] = merged
    return {}


def ledger_diff(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    delta = _ledgers(h).diff(_ledger(h, args, "before"), _ledger(h, args, "after"))
    h.ledgers[str(args["into"])] = delta
    return {}


def ledger_observe(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    rows = []
    for (source, model), counts in sorted(_ledger(h, args).totals_by_key().items()):
        row: Json = {"source": source, "model": model}
        row.update(zip(LEDGER_COUNTERS, counts.as_tuple(), strict=True))
        rows.append(row)
    return {"rows": rows}


def ledger_drop(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    h.ledgers.pop(str(args.get("handle", "")), None)
    return {}


HANDLERS: dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]] = {
    "conversation.new": conversation_new,
    "conversation.push": conversation_push,
    "conversation.push_batch": conversation_push_batch,
    "conversation.fork": conversation_fork,
    "conversation.fork_at": conversation_fork_at,
    "conversation.fork_replacing": conversation_fork_replacing,
    "conversation.set_system_prompt": conversation_set_system_prompt,
    "conversation.rewrite": conversation_rewrite,
    "conversation.observe": conversation_observe,
    "conversation.records": conversation_records,
    "conversation.validate_record": conversation_validate_record,
    "conversation.replay": conversation_replay,
    "conversation.set_metadata": conversation_set_metadata,
    "conversation.remove_metadata": conversation_remove_metadata,
    "conversation.backfill_metadata": conversation_backfill_metadata,
    "conversation.record_usage": conversation_record_usage,
    "conversation.drop": conversation_drop,
    "ledger.new": ledger_new,
    "ledger.record": ledger_record,
    "ledger.copy": ledger_copy,
    "ledger.merge": ledger_merge,
    "ledger.diff": ledger_diff,
    "ledger.observe": ledger_observe,
    "ledger.drop": ledger_drop,
}
