"""The realtime transcript: provider events in, canonical messages out (spec/SPEC.md §5).

Rules
-----
* ``apply(event)`` takes one of the eleven events (a wire model or a dict in the wire
  form, RT-001) and returns an :class:`ApplyOutcome`: ``accepted``, ``duplicate`` or
  ``rejected``, the messages this event materialized (empty when inert), typed diagnostics
  and the fragments it discarded (RT-004). A malformed event raises
  :class:`InvalidRealtimeEventError` and changes nothing (RT-002); a blank id is a typed
  rejection (RT-003).
* Idempotent: an event that adds no fact is a duplicate and changes nothing, byte for byte
  (RT-010). Order-insensitive over causally equivalent deliveries (RT-035): acceptance looks
  only at facts, never at what has been materialized. Append-only: a message, once returned,
  never changes (RT-033).
* Durable (RT-040..RT-043): opened on a journal, every accepted event is appended before it
  changes memory (GEN-006); reopening replays the journal, so a provider's reconnect replay
  after a restart is inert.
* Playback (RT-070..RT-074): a spoken item of a response whose playback the client reports
  holds what the user heard; past its response's end it awaits the end of its playback
  (played in full, or cut at a heard prefix), so no message is ever emitted with text the
  user did not hear.
* Usage (RT-027): every ended response's usage counts once, cancelled and interrupted ones
  included (the provider bills them): on the response's first message, or, when the
  response never gets one, as an :class:`UnattachedUsage` that the hand-off delivers.

Theory of operation
-------------------
Items and responses are records whose states follow :data:`ITEM_TABLE` and
:data:`RESPONSE_TABLE`. The canonical order (RT-030) is produced incrementally: a heap
holds the *frontier*, the items whose predecessor has been consumed (or who have none),
keyed by first-seen rank; the walk pops the earliest-seen item while it is final (an
anchor, a ready user item, a ready assistant item) and stops at the first one that is not.
A response's consecutive items become one assistant message; when a run could still grow
(it ends at an open item or at the end of what is known while the response has ready items
not yet placed), the walk rolls back and waits (RT-031). Each consumed item pushes its
children onto the heap. Every step is O(log n) per item; a delta costs a few dict lookups.

Hot path. Deltas are nearly all of a stream, so :meth:`RealtimeTranscript.apply` decides a
delta given as a plain dict inline (in memory and on a journal alike; a reopen replays
through it too) and hands every other event, and every delta it cannot decide, to the
checked handlers; ``tests/realtime/test_fast_paths.py`` holds the two to the same answers.
What is kept per delta is chosen for the garbage collector and the memory cache as much as
for lookups: its dedup key (type, ids, predecessor, index, text) is split into the delta's
text and the number of a *context* shared by the segment's deltas, kept in a log (two lists
appended in order), with one dict from delta id to log position; none of it is a tracked
object per delta. The delta that follows one the hot path accepted, into the same segment
with no checked event between them (the usual case), skips the item and its checks: the
transcript remembers that segment until the next checked event. No reference cycle holds a
transcript or its records (handlers are looked up on the class, a response keeps the ranks
of its items): a dropped transcript is freed at once, not by a full collection, which on the
bench stream took the collector's time per run to less than half.
Messages are built by :func:`_construct`, which sets what ``model_construct`` sets without
its per-field walk.

The reference model (:mod:`sessionspec.reference.realtime`) is the specification of all of
this; the stateful tests drive both in lock step.

Modules, along the machine's parts
----------------------------------
* :mod:`.records`: what an event returns (:class:`ApplyOutcome`), the item, segment and
  response records, the field checks of the checked path and message construction.
* :mod:`.core`: the transcript's state, its lifecycle (``TRANSCRIPT_TABLE``), item
  declarations (RT-012) and the walk that turns ready items into messages (RT-030..RT-032).
* :mod:`.journal`: durability (RT-040..RT-043, RT-049): persist before mutate, group commit,
  and the journal file.
* :mod:`.assembly`: the checked handlers of items and content, response ends and late
  content (RT-010..RT-026).
* :mod:`.playback`: playback and barge-in (RT-070..RT-074).
* :mod:`.transcript`: :class:`RealtimeTranscript`, the public facade with the delta hot path.
* :mod:`.handoff`: :class:`CoordinatorSink`, the hand-off of turns to a coordinator (RT-050).

The item and response tables themselves are owned by :mod:`sessionspec.tables.realtime`.
"""

from __future__ import annotations

from sessionspec.runtime.realtime.handoff import CoordinatorSink, TurnSink
from sessionspec.runtime.realtime.records import (
    ApplyOutcome,
    InvalidRealtimeEventError,
    JournalRecovery,
    SkippedJournalEntry,
    UnattachedUsage,
)
from sessionspec.runtime.realtime.transcript import RealtimeTranscript

__all__ = [
    "ApplyOutcome",
    "CoordinatorSink",
    "InvalidRealtimeEventError",
    "JournalRecovery",
    "RealtimeTranscript",
    "SkippedJournalEntry",
    "TurnSink",
    "UnattachedUsage",
]
