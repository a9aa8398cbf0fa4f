"""Session rotation after inactivity, with its reason recorded (REC-040, REC-043).

phi-core keeps this in its agent (``BasicAgent::check_and_rotate``), and its recorder never
learns why a new session id appeared, so it writes ``FirstLoop`` where its documentation
promises ``InactivityTimeout``. :class:`SessionRotator` is the same helper for any agent
loop: it owns the current session id and its loop-id counters, and tells the recorder (when
given one) about every rotation, so the next segment's formation records it.

Rules (REC-043), as phi-core: nothing rotates before the first :meth:`mark_active`;
a rotation happens iff the time since the last activity is strictly greater than the
threshold (a clock that went backwards counts as no time); after a rotation the activity
time is cleared, so an immediate second check does not rotate again; loop ids are
``{session_id}.{config_id}.{N}`` with ``N`` counted per config from 1, reset by a rotation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sessionspec.errors import CallerError
from sessionspec.runtime.recorder.recorder import SessionRecorder

__all__ = ["SessionRotator"]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class SessionRotator:
    """The current session id of one agent, rotated after inactivity (REC-043).

    :param recorder: told about every rotation (:meth:`SessionRecorder.note_rotation`).
    :param session_id: the first session id (default: a new UUID v4).
    :param clock: the current time, timezone-aware (injectable for tests).
    :param new_id: makes new session ids (default: UUID v4).
    """

    def __init__(
        self,
        recorder: SessionRecorder | None = None,
        *,
        session_id: str | None = None,
        clock: Callable[[], datetime] = _now,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self.recorder = recorder
        self._clock = clock
        self._new_id = new_id
        self._session_id = session_id or new_id()
        self._last_active: datetime | None = None
        self._counters: dict[str, int] = {}

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def last_active_at(self) -> datetime | None:
        return self._last_active

    def mark_active(self) -> None:
        """Call at the start of every prompt (before the loop runs), as phi-core does."""
        self._last_active = self._clock()

    def next_loop_id(self, config_id: str) -> str:
        """``{session_id}.{config_id}.{N}``, ``N`` from 1 per config in this session."""
        if not isinstance(config_id, str) or not config_id:
            raise CallerError(f"config id must be a non-empty string: {config_id!r}")
        count = self._counters.get(config_id, 0) + 1
        self._counters[config_id] = count
        return f"{self._session_id}.{config_id}.{count}"

    def new_session(self) -> str:
        """Start a new session id now (an explicit rotation, not recorded as inactivity)."""
        self._session_id = self._new_id()
        self._counters.clear()
        self._last_active = None
        return self._session_id

    def check_and_rotate(self, threshold: timedelta) -> str | None:
        """Rotate iff the agent was idle for longer than ``threshold``; return the new id.

        The recorder (if any) is told first, so the next ``AgentStart`` under the new id
        opens a session whose formation is ``InactivityTimeout`` (REC-040).
        """
        if not isinstance(threshold, timedelta):
            raise CallerError(f"threshold must be a timedelta, not {threshold!r}")
        if threshold < timedelta(0):
            raise CallerError(f"threshold must not be negative: {threshold}")
        if self._last_active is None:
            return None
        elapsed = max(self._clock() - self._last_active, timedelta(0))
        if not elapsed > threshold:
            return None
        previous = self._session_id
        candidate = self._new_id()
        if self.recorder is not None:
            self.recorder.note_rotation(
                candidate,
                previous_session_id=previous,
                threshold_secs=int(threshold.total_seconds()),
            )
        self._session_id = candidate
        self._counters.clear()
        self._last_active = None
        return candidate
