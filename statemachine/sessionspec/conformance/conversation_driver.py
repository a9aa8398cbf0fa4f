"""The conversation and ledger drivers: objects of the implementation, through the protocol.

:class:`ProtocolConversation` is one conversation of the implementation reached through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``conversation.*`` commands of
``spec/PROTOCOL.md``), which the conversation machine (:mod:`.conversation_machine`) and the
hand-written cases (:mod:`.case_scripts`) drive, so both reach any implementation the same
way. :class:`ProtocolLedger` is one token ledger behind the ``ledger.*`` commands, for
:mod:`.ledger_machine` and the ledger's hand-written cases.

Answers are judged here only as far as the protocol goes: an ``errored`` or ``skipped``
answer where an answer is due is CONF-030; a typed rejection is handed to the caller by the
name of the library's error class (``RevisionConflict``...; CONF-121), which is what the
reference models name. What the answer means is the machines' business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sessionspec.conformance.adapters import Connection, Reply
from sessionspec.conformance.checks import require
from sessionspec.conformance.protocol import Capability, ErrorType
from sessionspec.errors import CallerError

__all__ = [
    "ERROR_CLASS",
    "REWRITE_REQUIREMENT",
    "LedgerRefusal",
    "ProtocolConversation",
    "ProtocolLedger",
    "wire_assistant",
    "wire_tool_result",
    "wire_user",
]

#: The protocol's typed rejections by the name of the error class the spec gives (CONF-121).
ERROR_CLASS: dict[str, str] = {
    ErrorType.REVISION_CONFLICT: "RevisionConflict",
    ErrorType.INVALID_REWRITE_RANGE: "InvalidRewriteRange",
    ErrorType.INVALID_TRANSCRIPT_SHAPE: "InvalidTranscriptShape",
    ErrorType.NO_OP_REWRITE: "NoOpRewrite",
    ErrorType.HISTORY_STATE_MALFORMED: "HistoryStateMalformed",
    ErrorType.MESSAGE_INDEX_OUT_OF_BOUNDS: "MessageIndexOutOfBounds",
    ErrorType.MESSAGE_ROLE_MISMATCH: "MessageRoleMismatch",
    ErrorType.BLOCK_INDEX_OUT_OF_BOUNDS: "BlockIndexOutOfBounds",
    ErrorType.LEDGER_CONFLICT: "LedgerConflictError",
    ErrorType.LEDGER_DECREASE: "LedgerDecreaseError",
    ErrorType.CALLER_ERROR: "CallerError",
}

#: The rule behind each refusal of a rewrite (CONF-121).
REWRITE_REQUIREMENT: dict[str, str] = {
    "RevisionConflict": "CONV-030",
    "InvalidRewriteRange": "CONV-031",
    "InvalidTranscriptShape": "CONV-034",
    "NoOpRewrite": "CONV-033",
}


def wire_user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "timestamp_ms": 1}


def wire_assistant(text: str, calls: Sequence[str] = ()) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [
        {"type": "tool_call", "tool_call": {"id": c, "name": "read", "arguments": "{}"}}
        for c in calls
    ]
    return {
        "role": "assistant",
        "content": content,
        "api": "Anthropic",
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "response_model": None,
        "response_id": None,
        "usage": {
            "input_tokens": 1,
            "output_tokens": 1,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
        },
        "stop_reason": "tool_use" if calls else "stop",
        "error_message": None,
        "timestamp_ms": 2,
    }


def wire_tool_result(call_id: str, text: str) -> dict[str, Any]:
    return {
        "role": "tool_result",
        "tool_call_id": call_id,
        "tool_name": "read",
        "content": [{"type": "text", "text": text}],
        "details": None,
        "is_error": False,
        "truncated": False,
        "timestamp_ms": 3,
    }


def _handle(connection: Connection, kind: str) -> str:
    """A handle unique on the connection (CONF-032): a conversation of one example never
    shares a name with one of another; a fresh connection gives the same ones (CONF-064)."""
    return f"{kind}-{connection.serial(kind)}"


def answered(reply: Reply, what: str) -> None:
    """An answer is due: ``errored`` or ``skipped`` breaks the protocol (CONF-030)."""
    require("CONF-030", reply.status in ("ok", "rejected"), f"{what}: {reply.describe()}")


def outcome(reply: Reply, what: str) -> str:
    """``"ok"`` or the error class a typed rejection names (CONF-121)."""
    answered(reply, what)
    if reply.ok:
        return "ok"
    kind = reply.error_type or ""
    return ERROR_CLASS.get(kind, kind)


class ProtocolConversation:
    """One conversation of the implementation, reached through the protocol."""

    def __init__(self, connection: Connection, handle: str) -> None:
        self.conn = connection
        self.handle = handle
        #: The ids of the last successful rewrite: ``(parent_revision, revision)``.
        self.last_commit: tuple[str, str] | None = None

    @classmethod
    def new(cls, connection: Connection, requirement: str = "CONV-001") -> ProtocolConversation:
        handle = _handle(connection, "conv")
        reply = connection.call("conversation.new", handle=handle)
        answered(reply, "conversation.new")
        require(requirement, reply.ok, f"conversation.new: {reply.describe()}")
        return cls(connection, handle)

    def _must(self, requirement: str, cmd: str, **args: Any) -> Reply:
        reply = self.conn.call(cmd, handle=self.handle, **args)
        answered(reply, cmd)
        require(requirement, reply.ok, f"{cmd}: {reply.describe()}")
        return reply

    def push(self, message: dict[str, Any]) -> None:
        self._must("CONV-003", "conversation.push", message=message)

    def push_batch(self, messages: list[dict[str, Any]]) -> None:
        self._must("CONV-003", "conversation.push_batch", messages=messages)

    def _fork(self, requirement: str, cmd: str, **args: Any) -> ProtocolConversation:
        into = _handle(self.conn, "conv")
        self._must(requirement, cmd, into=into, **args)
        return type(self)(self.conn, into)

    def fork(self) -> ProtocolConversation:
        return self._fork("CONV-010", "conversation.fork")

    def fork_at(self, index: int) -> ProtocolConversation:
        return self._fork("CONV-011", "conversation.fork_at", index=index)

    def fork_replacing(
        self, index: int, replacement: dict[str, Any]
    ) -> tuple[str, ProtocolConversation | None]:
        """``("ok", the fork)`` or ``(the error class, None)`` (CONV-012)."""
        into = _handle(self.conn, "conv")
        reply = self.conn.call(
            "conversation.fork_replacing",
            handle=self.handle,
            into=into,
            index=index,
            replacement=replacement,
        )
        result = outcome(reply, "conversation.fork_replacing")
        return result, (type(self)(self.conn, into) if reply.ok else None)

    def set_system_prompt(self, prompt: str) -> None:
        self._must("CONV-002", "conversation.set_system_prompt", prompt=prompt)

    def observe(self) -> dict[str, Any]:
        reply = self.conn.call("conversation.observe", handle=self.handle)
        require("CONF-030", reply.ok, f"conversation.observe: {reply.describe()}")
        return reply.result

    def messages(self) -> list[dict[str, Any]]:
        return list(self.observe().get("messages") or [])

    def system_prompt(self) -> str | None:
        prompt = self.observe().get("system_prompt")
        return None if prompt is None else str(prompt)

    def revision(self) -> str:
        return str(self.observe().get("revision"))

    def has_pending_boundary(self) -> bool:
        return bool(self.observe().get("pending_boundary"))

    def set_metadata(self, key: str, value: Any) -> None:
        self._must("CONV-005", "conversation.set_metadata", key=key, value=value)

    def remove_metadata(self, key: str) -> None:
        self._must("CONV-005", "conversation.remove_metadata", key=key)

    def backfill_metadata(self, key: str, value: Any) -> bool:
        """Whether the key was absent and is now set (CONV-005)."""
        reply = self._must("CONV-005", "conversation.backfill_metadata", key=key, value=value)
        return bool(reply.result.get("set"))

    def record_usage(self, usage: dict[str, int]) -> None:
        self._must("CONV-006", "conversation.record_usage", usage=usage)

    def rewrite(
        self, start: int, end: int, replacement: list[dict[str, Any]], expected: str | None
    ) -> str:
        reply = self.conn.call(
            "conversation.rewrite",
            handle=self.handle,
            start=start,
            end=end,
            replacement=replacement,
            expected_parent_revision=expected,
        )
        result = outcome(reply, "conversation.rewrite")
        if reply.ok:
            self.last_commit = (
                str(reply.result.get("parent_revision")),
                str(reply.result.get("revision")),
            )
        return result

    def _records_declared(self) -> None:
        require(
            "CONF-123",
            self.conn.has(str(Capability.CONVERSATION_RECORDS)),
            "rewrite records need the capability conversation.records",
        )

    def records(self) -> list[dict[str, Any]]:
        self._records_declared()
        reply = self.conn.call("conversation.records", handle=self.handle)
        require("CONF-030", reply.ok, f"conversation.records: {reply.describe()}")
        return [dict(r) for r in reply.result.get("records") or []]

    def validate_record(self, record: dict[str, Any]) -> str:
        self._records_declared()
        reply = self.conn.call("conversation.validate_record", record=record)
        return outcome(reply, "conversation.validate_record")

    def replay_records(self, records: list[dict[str, Any]]) -> tuple[str, str | None]:
        self._records_declared()
        handle = _handle(self.conn, "conv")
        reply = self.conn.call("conversation.replay", handle=handle, records=records)
        result = outcome(reply, "conversation.replay")
        if not reply.ok:
            return result, None
        self.conn.call("conversation.drop", handle=handle)
        return result, str(reply.result.get("revision"))

    def drop(self) -> None:
        self.conn.call("conversation.drop", handle=self.handle)


class LedgerRefusal(CallerError):
    """A typed rejection of a ledger command, by the name of its error class (CONF-125): the
    implementation refused what the machine asked, so a caller's error (GEN-009).

    Raised by :class:`ProtocolLedger` and caught by the ledger machine, which compares the
    name with the model's verdict; never escapes a run.
    """

    def __init__(self, error_class: str) -> None:
        super().__init__(error_class)
        self.error_class = error_class


Row = tuple[str, str, tuple[int, ...]]


class ProtocolLedger:
    """One token ledger of the implementation, reached through the protocol."""

    COUNTERS = (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    )

    def __init__(self, connection: Connection, handle: str) -> None:
        self.conn = connection
        self.handle = handle

    @classmethod
    def new(cls, connection: Connection) -> ProtocolLedger:
        handle = _handle(connection, "ledger")
        reply = connection.call("ledger.new", handle=handle)
        require("CONF-030", reply.ok, f"ledger.new: {reply.describe()}")
        return cls(connection, handle)

    def _made(self, cmd: str, reply: Reply, into: str) -> ProtocolLedger:
        result = outcome(reply, cmd)
        if result != "ok":
            raise LedgerRefusal(result)
        return type(self)(self.conn, into)

    def record(
        self, source: str, model: str, counters: tuple[int, ...], request_id: str | None
    ) -> bool:
        """Whether it counted; :class:`LedgerRefusal` for a typed rejection."""
        reply = self.conn.call(
            "ledger.record",
            handle=self.handle,
            source=source,
            model=model,
            usage=dict(zip(self.COUNTERS, counters, strict=True)),
            request_id=request_id,
        )
        result = outcome(reply, "ledger.record")
        if result != "ok":
            raise LedgerRefusal(result)
        return bool(reply.result.get("counted"))

    def copy(self) -> ProtocolLedger:
        into = _handle(self.conn, "ledger")
        return self._made(
            "ledger.copy", self.conn.call("ledger.copy", handle=self.handle, into=into), into
        )

    def merge(self, other: ProtocolLedger) -> ProtocolLedger:
        into = _handle(self.conn, "ledger")
        reply = self.conn.call("ledger.merge", handle=self.handle, other=other.handle, into=into)
        return self._made("ledger.merge", reply, into)

    def diff(self, after: ProtocolLedger) -> ProtocolLedger:
        """``diff(self, after)`` (STATE-032)."""
        into = _handle(self.conn, "ledger")
        reply = self.conn.call("ledger.diff", before=self.handle, after=after.handle, into=into)
        return self._made("ledger.diff", reply, into)

    def totals(self) -> dict[tuple[str, str], tuple[int, ...]]:
        """Every row with a counter above zero, by ``(source, model)``."""
        reply = self.conn.call("ledger.observe", handle=self.handle)
        require("CONF-030", reply.ok, f"ledger.observe: {reply.describe()}")
        totals: dict[tuple[str, str], tuple[int, ...]] = {}
        for row in reply.result.get("rows") or []:
            counters = tuple(int(row.get(name, 0)) for name in self.COUNTERS)
            if any(counters):
                totals[(str(row.get("source")), str(row.get("model")))] = counters
        return totals

    def drop(self) -> None:
        self.conn.call("ledger.drop", handle=self.handle)
