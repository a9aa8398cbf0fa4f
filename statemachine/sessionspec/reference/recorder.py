"""The recorder's reference model: a pure fold of events into sessions (spec/SPEC.md §8).

Pure functions over frozen dataclasses and tuples; slow and obvious on purpose. It models
what the conformance machine observes of a recorder through its API: which events are
recorded or dropped and why, the duplicate-loop refusal, every record's status, occurrence,
number of events and turns, parent and child links, child references, parallel groups and
spawn references, sessions as segments in their order, and what ``flush``, ``checkpoint``
and ``drain_completed`` do. Messages, usage and timestamps are left to the unit tests.

:func:`step` is the whole specification of an event: it returns the next state and the
outcome (``"recorded"``, ``"dropped:<reason>"`` or ``"duplicate"``; REC-014, REC-030).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sessionspec.reference.recorder_ids import session_id_from_loop_id, start_position

__all__ = [
    "Checkpoint",
    "Drain",
    "End",
    "Flush",
    "LoopModel",
    "ParallelEnd",
    "ParallelStart",
    "RecEvent",
    "Record",
    "RecorderModel",
    "SessionModel",
    "Start",
    "ToolEnd",
    "Update",
    "step",
]

#: Loop event kinds that only add to a loop's stream (``TurnStart`` and ``TurnEnd`` also
#: open and close a partial turn).
PLAIN_KINDS = ("MessageEnd", "ToolExecutionStart", "RevertApplied", "CompactionStarted")
TURN_KINDS = ("TurnStart", "TurnEnd")
#: Kinds whose empty loop id means "no loop" rather than "a loop that is not running".
NO_LOOP_KINDS = ("ProgressMessage", "InputRejected")


@dataclass(frozen=True, slots=True)
class Start:
    loop_id: str
    session_id: str
    parent: str | None


@dataclass(frozen=True, slots=True)
class Record:
    """A loop event other than a start, an end or a tool end: ``kind`` is its ``type``
    (``TurnStart`` and ``TurnEnd`` also open and close a partial turn)."""

    loop_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class Update:
    """A ``MessageUpdate`` (streaming off: dropped, REC-031)."""

    loop_id: str


@dataclass(frozen=True, slots=True)
class End:
    loop_id: str
    rejected: bool


@dataclass(frozen=True, slots=True)
class ToolEnd:
    loop_id: str
    call_id: str
    child_loop_id: str | None


@dataclass(frozen=True, slots=True)
class ParallelStart:
    loop_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParallelEnd:
    selected: str
    index: int


@dataclass(frozen=True, slots=True)
class Flush:
    pass


@dataclass(frozen=True, slots=True)
class Checkpoint:
    pass


@dataclass(frozen=True, slots=True)
class Drain:
    pass


RecEvent = Start | Record | Update | End | ToolEnd | ParallelStart | ParallelEnd
Operation = RecEvent | Flush | Checkpoint | Drain

#: ``(all_loop_ids, selected_loop_id, selected_config_index, is_selected)``.
Group = tuple[tuple[str, ...], str, int, bool]
#: ``(parent_session_id, parent_loop_id, tool_call_id)``.
Spawn = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class LoopModel:
    loop_id: str
    session_id: str
    parent: str | None
    occurrence: int
    start_index: int
    status: str = "running"
    events: int = 1
    turns: int = 0
    children: tuple[str, ...] = ()
    #: ``(tool_call_id, child_loop_id, child_session_id)``.
    child_refs: tuple[tuple[str, str, str], ...] = ()
    group: Group | None = None


@dataclass(frozen=True, slots=True)
class SessionModel:
    session_id: str
    segment: int
    loops: tuple[LoopModel, ...] = ()
    spawn: Spawn | None = None


@dataclass(frozen=True, slots=True)
class RecorderModel:
    #: Open segments, in the order they opened.
    open: tuple[SessionModel, ...] = ()
    #: Completed segments not yet drained, in completion order.
    completed: tuple[SessionModel, ...] = ()
    #: Running loops, in start order.
    running: tuple[LoopModel, ...] = ()
    partial_turns: frozenset[str] = frozenset()
    #: ``(member, all members)`` for every announced parallel group member.
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    segments: tuple[tuple[str, int], ...] = ()
    occurrences: tuple[tuple[str, int], ...] = ()
    starts: int = 0
    #: Spawn refs waiting for their child loop to start: ``(child_loop_id, spawn)``.
    pending_spawns: tuple[tuple[str, Spawn], ...] = ()


def _lookup(pairs: tuple[tuple[str, int], ...], key: str) -> int:
    for name, value in pairs:
        if name == key:
            return value
    return 0


def _put(pairs: tuple[tuple[str, int], ...], key: str, value: int) -> tuple[tuple[str, int], ...]:
    return (*(p for p in pairs if p[0] != key), (key, value))


def _running(model: RecorderModel, loop_id: str) -> LoopModel | None:
    for loop in model.running:
        if loop.loop_id == loop_id:
            return loop
    return None


def _open_session(model: RecorderModel, session_id: str) -> SessionModel | None:
    for session in model.open:
        if session.session_id == session_id:
            return session
    return None


def _with_running(model: RecorderModel, loop: LoopModel) -> RecorderModel:
    return replace(
        model, running=tuple(loop if x.loop_id == loop.loop_id else x for x in model.running)
    )


def _with_open(model: RecorderModel, session: SessionModel) -> RecorderModel:
    return replace(
        model,
        open=tuple(session if s.session_id == session.session_id else s for s in model.open),
    )


def _add_child(loop: LoopModel, child: str) -> LoopModel:
    return loop if child in loop.children else replace(loop, children=(*loop.children, child))


def step(model: RecorderModel, op: Operation) -> tuple[RecorderModel, str]:
    """The next state and the outcome of one operation (the REC rules)."""
    if isinstance(op, Flush):
        return _flush(model), "flushed"
    if isinstance(op, Checkpoint):
        return _checkpoint(model)
    if isinstance(op, Drain):
        return replace(model, completed=()), f"drained:{len(model.completed)}"
    if isinstance(op, Start):
        return _start(model, op)
    if isinstance(op, ParallelStart):
        groups = model.groups
        for member in op.loop_ids:
            if member not in {g[0] for g in groups}:
                groups = (*groups, (member, op.loop_ids))
        return replace(model, groups=groups), "recorded"
    if isinstance(op, ParallelEnd):
        return _parallel_end(model, op), "recorded"
    if isinstance(op, Update):
        return model, "dropped:streaming_disabled"
    if isinstance(op, Record) and not op.loop_id and op.kind in NO_LOOP_KINDS:
        return model, "dropped:no_loop"
    loop = _running(model, op.loop_id)
    if loop is None:
        return model, "dropped:loop_not_running"
    loop = replace(loop, events=loop.events + 1)
    if isinstance(op, Record):
        partial = model.partial_turns
        if op.kind == "TurnStart":
            partial = partial | {op.loop_id}
        elif op.kind == "TurnEnd" and op.loop_id in partial:
            partial = partial - {op.loop_id}
            loop = replace(loop, turns=loop.turns + 1)
        return replace(_with_running(model, loop), partial_turns=partial), "recorded"
    if isinstance(op, ToolEnd):
        return _tool_end(model, loop, op), "recorded"
    assert isinstance(op, End)
    status = "rejected" if op.rejected else "completed"
    model = replace(
        model,
        running=tuple(x for x in model.running if x.loop_id != op.loop_id),
        partial_turns=model.partial_turns - {op.loop_id},
    )
    return _place(model, replace(loop, status=status)), "recorded"


def _start(model: RecorderModel, op: Start) -> tuple[RecorderModel, str]:
    if _running(model, op.loop_id) is not None:
        return model, "duplicate"
    session = _open_session(model, op.session_id)
    if session is None:
        segment = _lookup(model.segments, op.session_id)
        session = SessionModel(op.session_id, segment)
        model = replace(
            model,
            open=(*model.open, session),
            segments=_put(model.segments, op.session_id, segment + 1),
        )
    if (
        op.parent is not None
        and session_id_from_loop_id(op.parent) != op.session_id
        and session.spawn is None
    ):
        session = replace(session, spawn=(session_id_from_loop_id(op.parent), op.parent, ""))
    for child, spawn in model.pending_spawns:
        if child == op.loop_id and (session.spawn is None or not session.spawn[2]):
            session = replace(session, spawn=spawn)
    pending = tuple(p for p in model.pending_spawns if p[0] != op.loop_id)
    occurrence = _lookup(model.occurrences, op.loop_id) + 1
    loop = LoopModel(op.loop_id, op.session_id, op.parent, occurrence, model.starts)
    for other in session.loops:
        if other.parent == op.loop_id and other.loop_id != op.loop_id:
            loop = _add_child(loop, other.loop_id)
    model = replace(
        _with_open(model, session),
        running=(*model.running, loop),
        occurrences=_put(model.occurrences, op.loop_id, occurrence),
        starts=model.starts + 1,
        pending_spawns=pending,
    )
    return model, "recorded"


def _place(model: RecorderModel, loop: LoopModel) -> RecorderModel:
    session = _open_session(model, loop.session_id)
    assert session is not None
    parent = loop.parent
    loops = session.loops
    if parent is not None and parent != loop.loop_id:
        loops = tuple(_add_child(x, loop.loop_id) if x.loop_id == parent else x for x in loops)
        running = tuple(
            _add_child(x, loop.loop_id)
            if x.loop_id == parent and x.session_id == loop.session_id
            else x
            for x in model.running
        )
        model = replace(model, running=running)
    position = start_position(tuple(x.start_index for x in loops), loop.start_index)
    loops = (*loops[:position], loop, *loops[position:])
    return _with_open(model, replace(session, loops=loops))


def _tool_end(model: RecorderModel, loop: LoopModel, op: ToolEnd) -> RecorderModel:
    if op.child_loop_id is None:
        return _with_running(model, loop)
    child_session_id = session_id_from_loop_id(op.child_loop_id)
    loop = replace(
        loop, child_refs=(*loop.child_refs, (op.call_id, op.child_loop_id, child_session_id))
    )
    model = _with_running(model, loop)
    spawn = (loop.session_id, loop.loop_id, op.call_id)
    running_child = _running(model, op.child_loop_id)
    target_id = running_child.session_id if running_child is not None else child_session_id
    target = _open_session(model, target_id)
    if target is not None:
        if target.spawn is None or not target.spawn[2]:
            model = _with_open(model, replace(target, spawn=spawn))
        return model
    if running_child is None:
        for index in range(len(model.completed) - 1, -1, -1):
            done = model.completed[index]
            if done.session_id == child_session_id:
                if done.spawn is None or not done.spawn[2]:
                    completed = list(model.completed)
                    completed[index] = replace(done, spawn=spawn)
                    model = replace(model, completed=tuple(completed))
                return model
    never_started = _lookup(model.occurrences, op.child_loop_id) == 0
    if never_started and op.child_loop_id not in {p[0] for p in model.pending_spawns}:
        model = replace(model, pending_spawns=(*model.pending_spawns, (op.child_loop_id, spawn)))
    return model


def _parallel_end(model: RecorderModel, op: ParallelEnd) -> RecorderModel:
    members: tuple[str, ...] = (op.selected,)
    for member, group in model.groups:
        if member == op.selected:
            members = group
            break

    def wired(loop: LoopModel) -> LoopModel:
        if loop.loop_id not in members:
            return loop
        return replace(loop, group=(members, op.selected, op.index, loop.loop_id == op.selected))

    def wired_session(session: SessionModel) -> SessionModel:
        return replace(session, loops=tuple(wired(x) for x in session.loops))

    return replace(
        model,
        running=tuple(wired(x) for x in model.running),
        open=tuple(wired_session(s) for s in model.open),
        completed=tuple(wired_session(s) for s in model.completed),
        groups=tuple(g for g in model.groups if g[0] not in members),
    )


def _flush(model: RecorderModel) -> RecorderModel:
    """REC-050: abort every running loop in start order, then complete every open session."""
    model = replace(model, partial_turns=frozenset())
    for loop_id in [loop.loop_id for loop in model.running]:
        # Taken afresh: placing an earlier loop may have added a child to this one.
        loop = _running(model, loop_id)
        assert loop is not None
        model = replace(model, running=tuple(x for x in model.running if x.loop_id != loop_id))
        model = _place(model, replace(loop, status="aborted"))
    return replace(model, open=(), completed=(*model.completed, *model.open))


def _checkpoint(model: RecorderModel) -> tuple[RecorderModel, str]:
    busy = {loop.session_id for loop in model.running}
    ready = tuple(s for s in model.open if s.session_id not in busy)
    model = replace(
        model,
        open=tuple(s for s in model.open if s.session_id in busy),
        completed=(*model.completed, *ready),
    )
    return model, f"checkpoint:{len(ready)}"
