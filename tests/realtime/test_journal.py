"""The durable transcript: journal, reopen, durable dedup, crashes, faults (RT-040..RT-043)."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from tests.realtime.rt_cases import completed, interrupted, spoken_delta, text_delta, user

from sessionspec import InvalidRealtimeEventError, RealtimeTranscript
from sessionspec.errors import AppendFailedError, IllegalTransitionError, LogFailedError
from sessionspec.reference.realtime import ApplyStatus, DiagnosticCode
from sessionspec.storage.log import Durability
from sessionspec.storage.simfs import SimulatedCrash, SimulatedFileSystem
from sessionspec.tables.realtime import TranscriptState
from sessionspec.wire.realtime import REALTIME_EVENT_ADAPTER

PATH = "/voice/journal.jsonl"


def clock() -> int:
    return 1_700_000_000_000


#: A voice exchange with a barge-in, a second turn, and in-flight content after the barge-in.
EVENTS: list[dict[str, Any]] = [
    user("u1", "what's the weather"),
    text_delta("r1", "d1", "a1", "Sunny ", "u1"),
    text_delta("r1", "d2", "a1", "and warm.", "u1"),
    spoken_delta("r1", "d3", "a2", "Sunny and", "a1"),
    interrupted("r1"),
    spoken_delta("r1", "d4", "a2", " warm", "a1"),
    user("u2", "and tomorrow?", "a2"),
    spoken_delta("r2", "d5", "a3", "Rain.", "u2"),
    completed("r2", inp=30, out=4),
]


def run_in_memory(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    transcript = RealtimeTranscript(clock=clock)
    for event in events:
        transcript.apply(event)
    return [m.to_json_dict() for m in transcript.messages()]


EXPECTED = run_in_memory(EVENTS)


def test_expected_story_is_what_the_spec_says() -> None:
    assert [m["role"] for m in EXPECTED] == ["user", "assistant", "user", "assistant"]
    assert EXPECTED[1]["content"][0]["text"] == "Sunny and warm."
    assert EXPECTED[1]["stop_reason"] == "aborted"
    assert EXPECTED[3]["content"][0] == {
        "type": "text",
        "text": "Rain.",
        "ss_item_id": "a3",
        "ss_lane": "spoken",
    }
    assert EXPECTED[3]["usage"]["input_tokens"] == 30


@pytest.mark.req("RT-040", "RT-041")
def test_reopen_replays_to_a_byte_identical_transcript_and_replay_is_inert() -> None:
    fs = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=fs, clock=clock)
    for event in EVENTS:
        transcript.apply(event)
    fragments = transcript.discarded()
    transcript.close()
    reopened = RealtimeTranscript.open(PATH, fs=fs, clock=lambda: 0)
    assert [m.to_json_dict() for m in reopened.messages()] == EXPECTED
    assert reopened.discarded() == fragments
    for event in EVENTS:
        outcome = reopened.apply(event)
        assert outcome.status is not ApplyStatus.ACCEPTED
        assert outcome.is_inert
    assert [m.to_json_dict() for m in reopened.messages()] == EXPECTED


@pytest.mark.req("RT-040")
def test_persistence_is_one_append_per_accepted_event_and_nothing_for_duplicates() -> None:
    fs = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=fs, clock=clock)
    sizes = []
    for event in EVENTS:
        before = fs.operation_count
        outcome = transcript.apply(event)
        spent = fs.operation_count - before
        if outcome.status is ApplyStatus.ACCEPTED:
            assert spent == 2  # one write, one fsync: never a rewrite (O(1) per event)
        else:
            assert spent == 0
        sizes.append(len(fs.read_bytes(PATH)))
    before = fs.operation_count
    for event in EVENTS:
        transcript.apply(event)
    assert fs.operation_count == before
    growth = [b - a for a, b in itertools.pairwise(sizes)]
    assert max(growth) < 400


@pytest.mark.req("RT-041", "RT-042")
@pytest.mark.parametrize("group_commit", [False, True])
def test_crash_at_every_step_then_provider_replay_equals_the_uncrashed_transcript(
    group_commit: bool,
) -> None:
    probe = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=probe, clock=clock, group_commit=group_commit)
    start = probe.operation_count
    for event in EVENTS:
        transcript.apply(event)
        transcript.flush()
    total = probe.operation_count - start + 2
    for crash_at in range(total):
        for seed in range(3):
            fs = SimulatedFileSystem()
            transcript = RealtimeTranscript.create(
                PATH, fs=fs, clock=clock, group_commit=group_commit
            )
            fs.arm_crash(crash_at)
            acknowledged: list[dict[str, Any]] = []
            try:
                for event in EVENTS:
                    transcript.apply(event)
                    transcript.flush()
                    acknowledged.append(event)
            except SimulatedCrash:
                pass
            fs.disarm()
            fs.crash(random.Random(seed))
            reopened = RealtimeTranscript.open(PATH, fs=fs, clock=clock)
            for event in acknowledged:  # acknowledged means durable: their replay is inert
                assert reopened.apply(event).status is not ApplyStatus.ACCEPTED
            for event in EVENTS:  # the provider replays everything it sent
                reopened.apply(event)
            assert [m.to_json_dict() for m in reopened.messages()] == EXPECTED
            reopened.close()


@pytest.mark.req("RT-042")
def test_group_commit_batch_is_one_append() -> None:
    fs = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=fs, clock=clock)
    before = fs.operation_count
    outcomes = transcript.apply_batch(EVENTS + EVENTS)
    assert fs.operation_count - before == 2
    memory = RealtimeTranscript(clock=clock)
    accepted = sum(memory.apply(e).status is ApplyStatus.ACCEPTED for e in EVENTS)
    assert sum(o.status is ApplyStatus.ACCEPTED for o in outcomes) == accepted
    transcript.close()
    reopened = RealtimeTranscript.open(PATH, fs=fs, clock=clock)
    assert [m.to_json_dict() for m in reopened.messages()] == EXPECTED


@pytest.mark.req("RT-042", "RT-043")
def test_failed_append_changes_nothing_and_the_event_can_be_applied_again() -> None:
    fs = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=fs, clock=clock)
    transcript.apply(EVENTS[0])
    transcript.apply(EVENTS[1])
    fs.arm("fsync")
    with pytest.raises(AppendFailedError):
        transcript.apply(completed("r1"))
    assert transcript.in_flight_response_ids() == ["r1"]
    assert len(transcript.messages()) == 1
    assert transcript.state is TranscriptState.OPEN
    outcome = transcript.apply(completed("r1"))
    assert outcome.status is ApplyStatus.ACCEPTED and len(outcome.messages) == 1


@pytest.mark.req("RT-043")
def test_unrecoverable_journal_failure_fails_the_transcript() -> None:
    fs = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=fs, clock=clock)
    transcript.apply(EVENTS[0])
    fs.arm("write")
    fs.arm("truncate")
    with pytest.raises(LogFailedError):
        transcript.apply(EVENTS[1])
    assert transcript.state is TranscriptState.FAILED
    with pytest.raises(IllegalTransitionError):
        transcript.apply(EVENTS[2])
    transcript.close()
    reopened = RealtimeTranscript.open(PATH, fs=fs, clock=clock)
    assert len(reopened.messages()) == 1


@pytest.mark.req("RT-042")
def test_group_commit_flush_failure_keeps_events_pending_for_a_retry() -> None:
    fs = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=fs, clock=clock, group_commit=True)
    for event in EVENTS:
        transcript.apply(event)
    pending = transcript.pending_count
    fs.arm("fsync")
    with pytest.raises(AppendFailedError):
        transcript.flush()
    assert transcript.pending_count == pending
    transcript.flush()
    transcript.close()
    assert [
        m.to_json_dict() for m in RealtimeTranscript.open(PATH, fs=fs, clock=clock).messages()
    ] == EXPECTED


@pytest.mark.req("RT-042")
def test_real_file_system_no_sync(tmp_path: Any) -> None:
    path = str(tmp_path / "t.jsonl")
    transcript = RealtimeTranscript.create(path, clock=clock, durability=Durability.NO_SYNC)
    for event in EVENTS:
        transcript.apply(event)
    transcript.close()
    reopened = RealtimeTranscript.open(path, clock=clock)
    assert [m.to_json_dict() for m in reopened.messages()] == EXPECTED
    reopened.close()


@pytest.mark.req("RT-001")
def test_wire_models_and_dicts_are_the_same_event() -> None:
    models = [REALTIME_EVENT_ADAPTER.validate_python(event) for event in EVENTS]
    assert [m.to_json_dict() for m in models] == EVENTS
    transcript = RealtimeTranscript(clock=clock)
    for model in models:
        transcript.apply(model)
    assert [m.to_json_dict() for m in transcript.messages()] == EXPECTED


@pytest.mark.req("RT-002")
@pytest.mark.parametrize(
    "event",
    [
        {"type": "nope"},
        {"item_id": "x"},
        {"type": "item_observed", "item_id": "x", "role": "robot"},
        {"type": "user_transcript_final", "item_id": "x", "content_index": -1, "text": "a"},
        {"type": "user_transcript_final", "item_id": 3, "content_index": 0, "text": "a"},
        {"type": "assistant_text_delta", "response_id": "r", "item_id": "i", "delta": "a"},
        {"type": "assistant_turn_completed", "response_id": "r", "stop_reason": "done"},
        {
            "type": "assistant_turn_completed",
            "response_id": "r",
            "stop_reason": "end_turn",
            "usage": {"input_tokens": -1},
        },
    ],
)
def test_malformed_events_raise_and_change_nothing(event: dict[str, Any]) -> None:
    transcript = RealtimeTranscript(clock=clock)
    transcript.apply(EVENTS[0])
    with pytest.raises(InvalidRealtimeEventError):
        transcript.apply(event)
    assert len(transcript.messages()) == 1


@pytest.mark.req("RT-003")
@pytest.mark.parametrize(
    "event",
    [
        user(" ", "hi"),
        text_delta("r1", "", "a1", "x"),
        text_delta("", "d1", "a1", "x"),
        text_delta("r1", "d1", "\t", "x"),
        completed("  "),
        interrupted(""),
    ],
)
def test_blank_ids_are_a_typed_rejection(event: dict[str, Any]) -> None:
    outcome = RealtimeTranscript(clock=clock).apply(event)
    assert outcome.status is ApplyStatus.REJECTED
    assert [d.code for d in outcome.diagnostics] == [DiagnosticCode.INVALID_ID]


@pytest.mark.req("RT-042")
def test_unflushed_group_commit_is_lost_in_a_crash_and_restored_by_the_provider_replay() -> None:
    fs = SimulatedFileSystem()
    transcript = RealtimeTranscript.create(PATH, fs=fs, clock=clock, group_commit=True)
    for event in EVENTS:
        transcript.apply(event)
    assert transcript.pending_count > 0
    fs.crash(random.Random(7))
    reopened = RealtimeTranscript.open(PATH, fs=fs, clock=clock)
    assert reopened.messages() == []
    for event in EVENTS:
        reopened.apply(event)
    assert [m.to_json_dict() for m in reopened.messages()] == EXPECTED
