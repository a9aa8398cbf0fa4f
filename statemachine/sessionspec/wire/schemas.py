"""Every model whose JSON Schema is published in ``spec/schema/`` (GEN-005).

``sessionspec generate`` writes ``spec/schema/<name>.json`` for each entry. To publish a new
model, add one line here.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from sessionspec.wire.agent_events import AgentEvent
from sessionspec.wire.log import SessionEntry, SessionHeader
from sessionspec.wire.messages import Message, Usage
from sessionspec.wire.realtime import RealtimeEvent, RealtimeJournalEntry, RealtimeJournalHeader

__all__ = ["SCHEMAS"]

SCHEMAS: dict[str, TypeAdapter[Any]] = {
    "session-header": TypeAdapter(SessionHeader),
    "session-entry": TypeAdapter(SessionEntry),
    "message": TypeAdapter(Message),
    "usage": TypeAdapter(Usage),
    "realtime-event": TypeAdapter(RealtimeEvent),
    "realtime-journal-header": TypeAdapter(RealtimeJournalHeader),
    "realtime-journal-entry": TypeAdapter(RealtimeJournalEntry),
    "agent-event": TypeAdapter(AgentEvent),
}
