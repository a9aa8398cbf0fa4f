"""The session coordinator: turns, compaction, resume, branches and forks (spec/SPEC.md §4.1).

Rules of this package
--------------------
1. **Persist before mutate** (COORD-002, GEN-006). Every operation is three steps: decide
   (the lifecycle table, then a pure plan of the entries to append and of the new memory),
   persist (one :meth:`JsonlLog.append`), apply (replace memory, commit the lifecycle event).
   Nothing in memory changes before the append returned. A failed append that the log undid
   (:class:`AppendFailedError`) leaves the coordinator exactly as it was; one the log could
   not undo (:class:`LogFailedError`) moves it to ``failed`` (COORD-012).
2. **One batch per operation** (COORD-010). A turn is ``[*messages, leaf]``; the leaf is the
   commit record of the turn and carries the accounting after it (``ss_accounting``,
   COORD-016). A compaction is ``[compaction, leaf]``; a leaf move ``[leaf]``; an extension
   state ``[extension_state]``. The log makes each batch atomic on recovery (LOG-003).
3. **The log is the state** (COORD-020). Everything this object holds can be recomputed from
   its file: :meth:`SessionCoordinator.open_existing` does exactly that, and the reference
   model (:mod:`sessionspec.reference.coordinator`) says what the result must be. That
   includes the settings that decide (model and compaction configuration, ``ss_settings``
   on the header and on settings leaves, COORD-027, COORD-028), the per-model usage cost is
   priced from (``by_model`` in the accounting record, COORD-062), and the redacted form of
   every message, which memory keeps exactly as it was persisted (COORD-017).
4. **Memory follows the active branch** (COORD-024). After replay the coordinator keeps only
   the compaction buffer of the active branch (the last summary, the kept tail and what
   followed), validated with pydantic; the rest of the file is dropped.

Theory of operation
-------------------
The in-memory state is small: the buffer (a list of :class:`BufferItem`, each message in its
normalized wire form, redacted exactly as it was persisted, COORD-017), the active tip, the
accounting :class:`Figures`, the next id number, the log head, and the lifecycle. A turn
builds its batch from them, appends it with ``expected_head`` set to the head this object
last saw, and only then extends the buffer and swaps the figures.

A leaf move to another branch needs entries that are not in memory (other branches, or
messages an earlier compaction summarized), so it reads the file once, replays it with the new
leaf added, and swaps the result in after the leaf is durable (COORD-040). A fork reads the
file too and writes the new session under a temporary name, fsyncs it, renames it into place
and fsyncs the directory, so that a crash leaves either no fork or a complete one (COORD-050).

Layout
------
The machine's table is :data:`sessionspec.tables.coordinator.COORDINATOR_TABLE`; this
package holds the machine that runs it, one part per module:

* :mod:`.session`: :class:`SessionCoordinator`, every operation as decide, persist, apply;
* :mod:`.replay`: memory rebuilt from entries (resume, COORD-020..COORD-025, COORD-045);
* :mod:`.branches`: what a leaf move or a fork reads from the file (COORD-040..COORD-051);
* :mod:`.messages`: a turn's messages and usage normalized or refused (COORD-015);
* :mod:`.construction`: argument checks, log creation, the settings of a reopen;
* :mod:`.memory`: the memory value swapped after each write;
* :mod:`.results`: the public result types and the coordinator's errors.
"""

from __future__ import annotations

from sessionspec.runtime.coordinator.memory import Memory
from sessionspec.runtime.coordinator.messages import (
    MESSAGE_ADAPTER,
    normalize_message,
    normalize_usage,
    plain_message,
)
from sessionspec.runtime.coordinator.messages import (
    iso_timestamp as iso_timestamp,
)
from sessionspec.runtime.coordinator.replay import replay, select_active_branch
from sessionspec.runtime.coordinator.results import (
    CompactionResult,
    Diagnostic,
    ForkFailedError,
    ForkResult,
    ResumeReport,
    UnknownEntryError,
    WrittenEntries,
)
from sessionspec.runtime.coordinator.session import SessionCoordinator

__all__ = [
    "CompactionResult",
    "Diagnostic",
    "ForkFailedError",
    "ForkResult",
    "ResumeReport",
    "SessionCoordinator",
    "UnknownEntryError",
    "WrittenEntries",
]

# The names this package had as one module, for the code that imports them from here (the
# opi profile, the benchmarks, the planted bugs and white-box tests). New code imports them
# from their modules.
_MESSAGE_ADAPTER = MESSAGE_ADAPTER
_Memory = Memory
_normalize_message = normalize_message
_normalize_usage = normalize_usage
_plain_message = plain_message
_replay = replay
_select_active_branch = select_active_branch
