"""A realtime transcript journaled in a SQL store (RT-045): SQLite and PostgreSQL.

The same conversation, with every event kind (playback included), journaled per event and
with group commit, is reopened from the store and must be the transcript that kept running;
a full replay of the provider's events is then inert (RT-041).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.realtime.rt_cases import (
    completed,
    interrupted,
    observed,
    playback_finished,
    playback_started,
    skipped,
    spoken_delta,
    text_delta,
    truncated,
    user,
)

from sessionspec import (
    BadHeaderError,
    JournalVersionError,
    RealtimeTranscript,
    SessionCoordinator,
)
from sessionspec.storage.log import Durability
from sessionspec.storage.urls import create_store_log, open_store_log
from sessionspec.wire.realtime import JOURNAL_ENTRY_TYPES, RealtimeJournalHeader

pytestmark = pytest.mark.req("RT-045", "RT-040", "RT-041")

EVENTS: list[dict[str, Any]] = [
    user("u1", "What is on today?"),
    playback_started("r1"),
    spoken_delta("r1", "d1", "a1", "You have ", "u1"),
    spoken_delta("r1", "d2", "a1", "two meetings."),
    completed("r1", inp=90, out=12),
    playback_finished("r1", "a1"),
    user("u2", "Move the first.", "a1"),
    observed("call1", "assistant", "u2", "r2"),
    skipped("call1", "u2"),
    completed("r2", inp=40, out=6),
    skipped("out1", "call1"),
    text_delta("r3", "d3", "a3", "Moved to ", "out1"),
    text_delta("r3", "d4", "a3", "noon."),
    completed("r3", inp=60, out=4),
    user("u3", "And", "a3"),
    playback_started("r4"),
    spoken_delta("r4", "d5", "a4", "Anything else I can", "u3"),
    interrupted("r4", inp=30, out=9),
    truncated("r4", "a4", "Anything"),
]


def observe(transcript: RealtimeTranscript) -> tuple[Any, ...]:
    return (
        [m.to_json_dict() for m in transcript.messages()],
        transcript.unattached_usage(),
        transcript.in_flight_response_ids(),
        transcript.discarded(),
    )


def journal_and_reopen(url: str, group_commit: bool) -> None:
    with RealtimeTranscript.create(url, clock=lambda: 1_000, group_commit=group_commit) as live:
        for n, event in enumerate(EVENTS):
            live.apply(event)
            if group_commit and n % 4 == 3:
                live.flush()
        kept = observe(live)
    assert kept[0] and kept[1]  # messages, and r2's usage without a message
    with RealtimeTranscript.open(url, clock=lambda: 2_000) as reopened:
        assert reopened.recovery.clean
        assert observe(reopened) == kept
        assert all(reopened.apply(event).status.value != "accepted" for event in EVENTS)
        assert observe(reopened) == kept
        more = user("u4", "Thanks.", "a4")
        assert reopened.apply(more).status.value == "accepted"
    with RealtimeTranscript.open(url) as again:
        assert len(again.messages()) == len(kept[0]) + 1


@pytest.mark.parametrize("group_commit", [False, True], ids=["per-event", "group-commit"])
def test_a_journal_on_sqlite_reopens_to_the_same_transcript(
    tmp_path: Path, group_commit: bool
) -> None:
    journal_and_reopen(f"sqlite://{tmp_path}/voice.db#call-1", group_commit)


@pytest.mark.req("SQL-001")
def test_journals_and_sessions_share_a_sqlite_store(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/shared.db"
    coordinator = SessionCoordinator.new(store, "/work", session_id="chat")
    coordinator.close()
    with RealtimeTranscript.create(f"{store}#call-2", clock=lambda: 0) as transcript:
        transcript.apply(EVENTS[0])
    # A realtime journal is not a session, and a session is not a realtime journal.
    with pytest.raises(BadHeaderError, match="realtime journal"):
        RealtimeTranscript.open(f"{store}#chat")
    with RealtimeTranscript.open(f"{store}#call-2") as reopened:
        assert len(reopened.messages()) == 1


@pytest.mark.req("RT-044")
def test_a_newer_journal_in_a_store_is_refused_with_a_typed_error(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/new.db"
    header = RealtimeJournalHeader(
        id="future", created="c", api="OpenAi", provider="openai", model="m"
    ).to_json_dict()
    # Written as a newer sessionspec would: a version this one does not read.
    log = create_store_log(
        url,
        "future",
        {**header, "version": 3},
        Durability.SYNC,
        header_model=_AnyHeader,
        entry_types=JOURNAL_ENTRY_TYPES,
    )
    log.close()
    with pytest.raises(JournalVersionError) as raised:
        RealtimeTranscript.open(f"{url}#future")
    assert raised.value.version == 3
    open_store_log(f"{url}#future", entry_types=JOURNAL_ENTRY_TYPES).close()  # untouched


@pytest.mark.req("SQL-012")
@pytest.mark.parametrize("group_commit", [False, True], ids=["per-event", "group-commit"])
def test_a_journal_on_postgresql_reopens_to_the_same_transcript(
    pg_url: str, group_commit: bool
) -> None:
    journal_and_reopen(f"{pg_url}#call-pg", group_commit)


class _AnyHeader(RealtimeJournalHeader):
    """A header model that takes any version: what a newer writer's model would accept."""

    version: int  # type: ignore[assignment]
