"""Every lifecycle table, for the diagrams (spec/diagrams/<name>.mmd) and the pair tests.

To publish a new machine, import its table and add it to :data:`TABLES` (one line each).
"""

from __future__ import annotations

from typing import Any

from sessionspec.tables.base import MachineTable
from sessionspec.tables.coordinator import COORDINATOR_TABLE
from sessionspec.tables.realtime import ITEM_TABLE, RESPONSE_TABLE, TRANSCRIPT_TABLE
from sessionspec.tables.recorder import LOOP_TABLE, SESSION_TABLE
from sessionspec.tables.state import STATE_TABLE

__all__ = ["TABLES"]

TABLES: list[MachineTable[Any, Any]] = []
TABLES.append(COORDINATOR_TABLE)
TABLES.extend([ITEM_TABLE, RESPONSE_TABLE, TRANSCRIPT_TABLE])
TABLES.append(STATE_TABLE)
TABLES.extend([LOOP_TABLE, SESSION_TABLE])
