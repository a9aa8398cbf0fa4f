"""The driver protocol (``spec/PROTOCOL.md``): one module per machine, assembled here.

``common`` owns the envelopes, the handshake, the capabilities, the typed error kinds and the
``sim.*``/``crash.*`` commands; each machine's module owns its own commands, argument and
result models and a ``COMMANDS`` table. This package joins the tables into :data:`COMMANDS`
and the discriminated :data:`Request` union, and publishes every message's JSON Schema
(:data:`PROTOCOL_SCHEMAS`, GEN-005). A machine joins the protocol by adding its module to
:data:`MACHINE_MODULES`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from sessionspec.conformance.protocol import (
    common,
    conversation,
    coordinator,
    realtime,
    recorder,
    state,
)
from sessionspec.conformance.protocol.common import (
    PROTOCOL_VERSION,
    RESPONSE_ADAPTER,
    Capability,
    Empty,
    ErrorInfo,
    ErrorType,
    Implementation,
    Response,
    StartResult,
)
from sessionspec.conformance.protocol.conversation import (
    ConversationObservation,
    LedgerObservation,
)
from sessionspec.conformance.protocol.coordinator import (
    CompactionSettings,
    CoordinatorObservation,
    SessionCost,
)
from sessionspec.conformance.protocol.realtime import RealtimeApplyResult, RealtimeObservation

__all__ = [
    "COMMANDS",
    "MACHINE_MODULES",
    "PROTOCOL_SCHEMAS",
    "PROTOCOL_VERSION",
    "REQUEST_ADAPTER",
    "RESPONSE_ADAPTER",
    "Capability",
    "CompactionSettings",
    "ConversationObservation",
    "CoordinatorObservation",
    "Empty",
    "ErrorInfo",
    "ErrorType",
    "Implementation",
    "LedgerObservation",
    "RealtimeApplyResult",
    "RealtimeObservation",
    "Request",
    "Response",
    "SessionCost",
    "StartResult",
]

#: The modules whose ``COMMANDS`` make up the protocol, in the order PROTOCOL.md lists them.
MACHINE_MODULES: tuple[ModuleType, ...] = (
    common, coordinator, realtime, conversation, state, recorder
)


def _commands() -> dict[str, tuple[type[Any], type[Any]]]:
    table: dict[str, tuple[type[Any], type[Any]]] = {}
    for module in MACHINE_MODULES:
        for name, pair in module.COMMANDS.items():
            if name in table:
                raise RuntimeError(f"protocol command {name!r} is defined twice")
            table[name] = pair
    return table


#: Every command of protocol version 1 and the model of its ``ok`` result.
COMMANDS: dict[str, tuple[type[Any], type[Any]]] = _commands()

#: Any request: the union of every command, told apart by ``cmd``. Built from the tables
#: (a static union would repeat them); its JSON Schema is published as ``request``.
Request: Any = Annotated[
    Union[tuple(command for command, _ in COMMANDS.values())],  # noqa: UP007
    Field(discriminator="cmd"),
]
REQUEST_ADAPTER: TypeAdapter[Any] = TypeAdapter(Request)


def _schemas() -> dict[str, TypeAdapter[Any]]:
    schemas: dict[str, TypeAdapter[Any]] = {
        "request": REQUEST_ADAPTER,
        "response": RESPONSE_ADAPTER,
    }
    for name, (command, result) in COMMANDS.items():
        schemas[f"{name}.request"] = TypeAdapter(command)
        schemas[f"{name}.result"] = TypeAdapter(result)
    return schemas


#: Every protocol message published under ``spec/schema/protocol/`` (GEN-005).
PROTOCOL_SCHEMAS: dict[str, TypeAdapter[Any]] = _schemas()
