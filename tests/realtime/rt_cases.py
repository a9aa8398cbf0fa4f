"""The realtime conformance cases, written by hand: meerkat's tests (research/seeds.md §3.8),
and the playback rules that real OpenAI Realtime traffic needs (RT-070..RT-074, issue 15).

Each case is a list of events in the wire form, what each step must do, and the expected
transcript, written from what the seed test asserts (never computed by our code).
``python tests/realtime/rt_cases.py`` writes them to ``spec/cases/realtime/<name>.json``;
``test_meerkat_cases.py`` checks the files are current and replays each against the runtime and the
reference model.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

CASE_DIR = pathlib.Path(__file__).resolve().parents[2] / "spec" / "cases" / "realtime"

Event = dict[str, Any]
Step = dict[str, Any]


def user(item: str, text: str, prev: str | None = None, index: int = 0) -> Event:
    return {
        "type": "user_transcript_final",
        "item_id": item,
        "previous_item_id": prev,
        "content_index": index,
        "text": text,
    }


def observed(item: str, role: str, prev: str | None = None, response: str | None = None) -> Event:
    return {
        "type": "item_observed",
        "item_id": item,
        "previous_item_id": prev,
        "role": role,
        "response_id": response,
    }


def skipped(item: str, prev: str | None = None) -> Event:
    return {"type": "item_skipped", "item_id": item, "previous_item_id": prev}


def text_delta(
    response: str, delta_id: str, item: str, delta: str, prev: str | None = None
) -> Event:
    return {
        "type": "assistant_text_delta",
        "response_id": response,
        "delta_id": delta_id,
        "item_id": item,
        "previous_item_id": prev,
        "content_index": 0,
        "delta": delta,
    }


def spoken_delta(
    response: str, delta_id: str, item: str, delta: str, prev: str | None = None
) -> Event:
    event = text_delta(response, delta_id, item, delta, prev)
    return {**event, "type": "assistant_transcript_delta"}


def truncated(response: str, item: str, text: str) -> Event:
    return {
        "type": "assistant_transcript_truncated",
        "response_id": response,
        "item_id": item,
        "content_index": 0,
        "text": text,
    }


def final_text(response: str, item: str, text: str) -> Event:
    return {**truncated(response, item, text), "type": "assistant_transcript_final_text"}


def completed(response: str, stop: str = "end_turn", inp: int = 10, out: int = 5) -> Event:
    return {
        "type": "assistant_turn_completed",
        "response_id": response,
        "stop_reason": stop,
        "usage": {"input_tokens": inp, "output_tokens": out},
    }


def interrupted(response: str, inp: int | None = None, out: int = 0) -> Event:
    if inp is None:
        return {"type": "assistant_turn_interrupted", "response_id": response}
    return {
        "type": "assistant_turn_interrupted",
        "response_id": response,
        "usage": {"input_tokens": inp, "output_tokens": out},
    }


def playback_started(response: str) -> Event:
    return {"type": "assistant_playback_started", "response_id": response}


def playback_finished(response: str, item: str) -> Event:
    return {"type": "assistant_playback_finished", "response_id": response, "item_id": item}


def step(event: Event, status: str = "accepted", materialized: int = 0, *codes: str) -> Step:
    return {
        "event": event,
        "expect": {"status": status, "materialized": materialized, "diagnostics": list(codes)},
    }


def u(text: str) -> dict[str, Any]:
    return {"role": "user", "text": text}


def a(
    response: str, stop: str, *blocks: tuple[str, str], usage: tuple[int, int] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "response_id": response,
        "stop_reason": stop,
        "blocks": [{"text": t, "lane": lane} for t, lane in blocks],
    }
    if usage is not None:
        message["usage"] = {"input_tokens": usage[0], "output_tokens": usage[1]}
    return message


def case(
    name: str,
    description: str,
    requirements: list[str],
    steps: list[Step],
    messages: list[dict[str, Any]],
    in_flight: list[str] | None = None,
    seed: str = "meerkat-core 0.6.23 session.rs tests",
) -> dict[str, Any]:
    expected: dict[str, Any] = {"messages": messages}
    if in_flight is not None:
        expected["in_flight_response_ids"] = in_flight
    return {
        "version": 1,
        "machine": "realtime",
        "name": name,
        "seed": seed,
        "description": description,
        "requirements": requirements,
        "steps": steps,
        "expected": expected,
    }


D, S = "display", "spoken"


def build_cases() -> list[dict[str, Any]]:
    hello = user("u1", "hello")
    cases = [
        case(
            "realtime_transcript_append_is_idempotent_by_provider_item_and_delta_id",
            "A user final and a delta delivered twice, a completion delivered twice: the "
            "second delivery of each is inert; the history is [user hello, assistant hi].",
            ["RT-010", "RT-021"],
            [
                step(hello, "accepted", 1),
                step(hello, "duplicate"),
                step(text_delta("r1", "d1", "a1", "hi", "u1")),
                step(text_delta("r1", "d1", "a1", "hi", "u1"), "duplicate"),
                step(completed("r1"), "accepted", 1),
                step(completed("r1"), "duplicate"),
            ],
            [u("hello"), a("r1", "end_turn", ("hi", D), usage=(10, 5))],
        ),
        case(
            "realtime_transcript_final_text_overrides_partial_delta_and_promotes_to_spoken_lane",
            "A partial spoken delta is replaced by the final text; the block is spoken.",
            ["RT-013", "RT-014"],
            [
                step(hello, "accepted", 1),
                step(observed("a1", "assistant", "u1", "r1")),
                step(spoken_delta("r1", "d1", "a1", "incom")),
                step(final_text("r1", "a1", "complete answer")),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("complete answer", S))],
        ),
        case(
            "realtime_transcript_final_text_creates_item_when_no_delta_staged",
            "A final text alone creates the item on the spoken lane; the completion commits it.",
            ["RT-014", "RT-030"],
            [
                step(hello, "accepted", 1),
                step(final_text("r1", "a1", "only final")),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("only final", S))],
        ),
        case(
            "realtime_transcript_append_orders_causally_equivalent_out_of_order_items",
            "The assistant's delta and completion arrive before the user transcript they "
            "answer; the user final materializes both, user first.",
            ["RT-030", "RT-035"],
            [
                step(text_delta("r1", "d1", "a1", "hi", "u1")),
                step(completed("r1")),
                step(hello, "accepted", 2),
            ],
            [u("hello"), a("r1", "end_turn", ("hi", D))],
        ),
        case(
            "realtime_transcript_replay_of_seen_provider_items_is_inert",
            "After a full exchange, a reconnect replays every event: all inert.",
            ["RT-010", "RT-041"],
            [
                step(hello, "accepted", 1),
                step(observed("a1", "assistant", "u1", "r1")),
                step(text_delta("r1", "d1", "a1", "hi")),
                step(completed("r1"), "accepted", 1),
                step(hello, "duplicate"),
                step(observed("a1", "assistant", "u1", "r1"), "duplicate"),
                step(text_delta("r1", "d1", "a1", "hi"), "duplicate"),
                step(completed("r1"), "duplicate"),
            ],
            [u("hello"), a("r1", "end_turn", ("hi", D))],
        ),
        case(
            "realtime_transcript_user_final_replay_cannot_erase_existing_segment",
            "An empty replay of a user final does not erase it.",
            ["RT-015"],
            [step(hello, "accepted", 1), step(user("u1", ""), "duplicate")],
            [u("hello")],
        ),
        case(
            "realtime_transcript_empty_user_final_can_be_filled_by_later_nonempty_replay",
            "An empty user final materializes nothing; a later non-empty one fills it.",
            ["RT-015"],
            [step(user("u1", "")), step(hello, "accepted", 1)],
            [u("hello")],
        ),
        case(
            "realtime_transcript_skipped_provider_items_preserve_causal_order_without_content",
            "An assistant item chained to a skipped tool item chained to the user item "
            "waits for the skip, which produces no message.",
            ["RT-017", "RT-030"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "done", "t1")),
                step(completed("r1")),
                step(skipped("t1", "u1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("done", D))],
        ),
        case(
            "realtime_transcript_interrupted_assistant_item_unblocks_later_provider_items",
            "Barge-in keeps the display content, which materializes at once and unblocks "
            "the next user item: three messages.",
            ["RT-023", "RT-031"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "partial", "u1")),
                step(user("u2", "stop", "a1")),
                step(interrupted("r1"), "accepted", 2),
            ],
            [u("hello"), a("r1", "cancelled", ("partial", D), usage=(0, 0)), u("stop")],
        ),
        case(
            "realtime_transcript_late_interrupted_assistant_delta_stays_noncanonical",
            "A delta that arrives after the barge-in becomes a skipped anchor, which "
            "unblocks the next user item; a later completion of the response is refused.",
            ["RT-025", "RT-026"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "partial", "u1")),
                step(interrupted("r1"), "accepted", 1),
                step(user("u2", "next", "a2")),
                step(
                    spoken_delta("r1", "d2", "a2", "late words", "a1"),
                    "accepted",
                    1,
                    "late_content",
                ),
                step(completed("r1"), "rejected", 0, "already_terminal"),
            ],
            [u("hello"), a("r1", "cancelled", ("partial", D)), u("next")],
        ),
        case(
            "realtime_transcript_completion_only_finalizes_matching_response",
            "A completion finalizes only its own response's items.",
            ["RT-021"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "one", "u1")),
                step(text_delta("r2", "d2", "a2", "two", "a1")),
                step(completed("r2")),
                step(completed("r1"), "accepted", 2),
            ],
            [u("hello"), a("r1", "end_turn", ("one", D)), a("r2", "end_turn", ("two", D))],
        ),
        case(
            "realtime_transcript_completion_before_later_delta_is_response_scoped",
            "A completion that arrived earlier does not finalize a later response's delta.",
            ["RT-021", "RT-034"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "one", "u1")),
                step(completed("r1"), "accepted", 1),
                step(text_delta("r2", "d2", "a2", "two", "a1")),
            ],
            [u("hello"), a("r1", "end_turn", ("one", D))],
            ["r2"],
        ),
        case(
            "realtime_transcript_late_duplicate_completion_cannot_finalize_unrelated_response",
            "Replaying an old completion does not finalize a later response.",
            ["RT-010", "RT-021"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "one", "u1")),
                step(completed("r1"), "accepted", 1),
                step(text_delta("r2", "d2", "a2", "two", "a1")),
                step(completed("r1"), "duplicate"),
            ],
            [u("hello"), a("r1", "end_turn", ("one", D))],
            ["r2"],
        ),
        case(
            "realtime_transcript_interruption_discards_only_matching_response",
            "Interrupting one response leaves another intact.",
            ["RT-023"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "dropped", "u1")),
                step(spoken_delta("r2", "d2", "a2", "kept", "a1")),
                step(interrupted("r1")),
                step(completed("r2"), "accepted", 1),
            ],
            [u("hello"), a("r2", "end_turn", ("kept", S))],
        ),
        case(
            "realtime_transcript_assistant_transcript_delta_materializes_transcript_block",
            "A spoken transcript delta materializes as a spoken block.",
            ["RT-032"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "spoken words", "u1")),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("spoken words", S))],
        ),
        case(
            "round4_cc2_assistant_turn_completed_after_transcript_deltas_materializes_transcript",
            "Several spoken deltas, then the completion: one spoken block.",
            ["RT-014", "RT-032"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "Hel", "u1")),
                step(spoken_delta("r1", "d2", "a1", "lo", "u1")),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("Hello", S))],
        ),
        case(
            "realtime_transcript_assistant_text_delta_still_materializes_text_block",
            "A display delta materializes as a plain text block.",
            ["RT-032"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "written", "u1")),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("written", D))],
        ),
        case(
            "round4_cc7_mixed_response_persists_text_and_transcript_in_order",
            "A response with a display item and a spoken item: one assistant message, "
            "blocks in order.",
            ["RT-031"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "Here is", "u1")),
                step(spoken_delta("r1", "d2", "a2", "the answer", "a1")),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("Here is", D), ("the answer", S))],
        ),
        case(
            "round5_r55_mixed_response_barge_in_preserves_display_drops_spoken",
            "Barge-in on a mixed response keeps the display item and drops the spoken one.",
            ["RT-023"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "Here is", "u1")),
                step(spoken_delta("r1", "d2", "a2", "the answer", "a1")),
                step(interrupted("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "cancelled", ("Here is", D))],
        ),
        case(
            "round5_r55_barge_in_preserves_display_lane_drops_spoken",
            "A spoken item before a display item: barge-in keeps only the display item.",
            ["RT-023"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "dropped", "u1")),
                step(text_delta("r1", "d2", "a2", "kept", "a1")),
                step(interrupted("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "cancelled", ("kept", D))],
        ),
        case(
            "round5_r55_barge_in_finalizes_retained_display_into_committed_block",
            "The retained display content is committed at the barge-in itself.",
            ["RT-023", "RT-032"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "partial", "u1")),
                step(interrupted("r1"), "accepted", 1),
                step(completed("r1"), "rejected", 0, "already_terminal"),
            ],
            [u("hello"), a("r1", "cancelled", ("partial", D), usage=(0, 0))],
        ),
        case(
            "round5_r56_truncation_promotes_default_lane_item_to_spoken",
            "An observed item without content takes the spoken lane from a truncation.",
            ["RT-013"],
            [
                step(hello, "accepted", 1),
                step(observed("a1", "assistant", "u1", "r1")),
                step(truncated("r1", "a1", "heard")),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("heard", S))],
        ),
        case(
            "round5_r56_truncation_after_display_delta_is_no_op_keeping_display_content",
            "A truncation for a display item is refused as a lane conflict.",
            ["RT-013"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "shown", "u1")),
                step(truncated("r1", "a1", "sh"), "rejected", 0, "lane_conflict"),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("shown", D))],
        ),
        case(
            "round5_r56_sibling_display_delta_skipped_on_spoken_item",
            "A display delta for a spoken item is refused.",
            ["RT-013"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "spoken", "u1")),
                step(text_delta("r1", "d2", "a1", "text", "u1"), "rejected", 0, "lane_conflict"),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("spoken", S))],
        ),
        case(
            "round5_r56_sibling_spoken_delta_skipped_on_display_item",
            "A spoken delta for a display item is refused.",
            ["RT-013"],
            [
                step(hello, "accepted", 1),
                step(text_delta("r1", "d1", "a1", "text", "u1")),
                step(
                    spoken_delta("r1", "d2", "a1", "spoken", "u1"), "rejected", 0, "lane_conflict"
                ),
                step(completed("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("text", D))],
        ),
        case(
            "round5_r57_late_final_text_after_turn_completed_warns_and_skips",
            "A final text after the completion is late; the message does not change.",
            ["RT-026", "RT-033"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "abc", "u1")),
                step(completed("r1"), "accepted", 1),
                step(final_text("r1", "a1", "abcdef"), "rejected", 0, "late_content"),
            ],
            [u("hello"), a("r1", "end_turn", ("abc", S))],
        ),
    ]
    return cases + playback_cases()


#: The seed of the playback cases: what real OpenAI Realtime streams showed (issue 15).
REAL_TRAFFIC = "sessionspec: real OpenAI Realtime traffic (spec/cases/realtime/openai)"


def playback_cases() -> list[dict[str, Any]]:
    hello = user("u1", "hello")
    greeting = [
        step(hello, "accepted", 1),
        step(playback_started("r1")),
        step(spoken_delta("r1", "d1", "a1", "Good afternoon, ", "u1")),
        step(spoken_delta("r1", "d2", "a1", "how can I help?", "u1")),
    ]
    return [
        case(
            "playback_cut_after_response_done_keeps_the_heard_prefix",
            "The response completes while its audio still plays; the user speaks over it and "
            "the cut comes after response.done: expected, not late. The item waits for it and "
            "holds what was heard.",
            ["RT-072", "RT-073", "RT-074"],
            [
                *greeting,
                step(completed("r1")),
                step(truncated("r1", "a1", "Good afternoon,"), "accepted", 1),
                step(truncated("r1", "a1", "Good afternoon,"), "duplicate"),
                step(truncated("r1", "a1", "Good"), "rejected", 0, "late_content"),
            ],
            [u("hello"), a("r1", "end_turn", ("Good afternoon,", S), usage=(10, 5))],
            seed=REAL_TRAFFIC,
        ),
        case(
            "playback_finished_after_response_done_keeps_everything",
            "The audio is played to the end after the response completed: all of it was heard.",
            ["RT-071", "RT-073"],
            [
                *greeting,
                step(completed("r1")),
                step(playback_finished("r1", "a1"), "accepted", 1),
                step(playback_finished("r1", "a1"), "duplicate"),
            ],
            [u("hello"), a("r1", "end_turn", ("Good afternoon, how can I help?", S))],
            seed=REAL_TRAFFIC,
        ),
        case(
            "barge_in_keeps_the_cut_heard_before_it",
            "A cut during the response, then the barge-in: the heard prefix is kept (meerkat "
            "discards the whole item), with the stop reason of a barge-in.",
            ["RT-023", "RT-072"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "Once upon a time, ", "u1")),
                step(truncated("r1", "a1", "Once upon")),
                step(spoken_delta("r1", "d2", "a1", "there was", "u1")),
                step(interrupted("r1"), "accepted", 1),
            ],
            [u("hello"), a("r1", "cancelled", ("Once upon", S), usage=(0, 0))],
            seed=REAL_TRAFFIC,
        ),
        case(
            "barge_in_then_cut_to_nothing_leaves_an_anchor",
            "A barge-in before anything was heard (the cut is at 0 ms): the item waits, then "
            "becomes an anchor, and the next user item materializes.",
            ["RT-072", "RT-073"],
            [
                step(hello, "accepted", 1),
                step(playback_started("r1")),
                step(spoken_delta("r1", "d1", "a1", "I am going to", "u1")),
                step(interrupted("r1")),
                step(user("u2", "wait", "a1")),
                step(truncated("r1", "a1", ""), "accepted", 1),
            ],
            [u("hello"), u("wait")],
            seed=REAL_TRAFFIC,
        ),
        case(
            "playback_started_after_the_end_is_late",
            "A playback reported after its response ended is late: the spoken text already "
            "counted as streamed.",
            ["RT-070"],
            [
                step(hello, "accepted", 1),
                step(spoken_delta("r1", "d1", "a1", "hi", "u1")),
                step(completed("r1"), "accepted", 1),
                step(playback_started("r1"), "rejected", 0, "late_content"),
            ],
            [u("hello"), a("r1", "end_turn", ("hi", S))],
            seed=REAL_TRAFFIC,
        ),
        case(
            "cut_after_the_end_of_an_item_without_content_is_refused",
            "Found by the permutation property: an item of a reported playback with no content "
            "at the end of its response is an anchor (RT-021), so a cut after the end is "
            "late (RT-026); only a cut before the end gives it content. The generator keeps such a "
            "cut before the terminal event (RT-035 (b)).",
            ["RT-021", "RT-035", "RT-073"],
            [
                step(hello, "accepted", 1),
                step(playback_started("r1")),
                step(observed("a1", "assistant", "u1", "r1")),
                step(completed("r1")),
                step(truncated("r1", "a1", "fin"), "rejected", 0, "late_content"),
            ],
            [u("hello")],
            seed=REAL_TRAFFIC,
        ),
        case(
            "run_waits_for_an_item_awaiting_playback",
            "A response with a display item and a spoken item: the message waits until the "
            "spoken item's playback ended, so the response is one message whatever the order.",
            ["RT-031", "RT-072"],
            [
                step(hello, "accepted", 1),
                step(playback_started("r1")),
                step(text_delta("r1", "d1", "a1", "map: left at the bridge", "u1")),
                step(spoken_delta("r1", "d2", "a2", "turn left", "a1")),
                step(completed("r1")),
                step(playback_finished("r1", "a2"), "accepted", 1),
            ],
            [u("hello"), a("r1", "end_turn", ("map: left at the bridge", D), ("turn left", S))],
            seed=REAL_TRAFFIC,
        ),
        case(
            "user_item_without_transcript_is_skipped_and_unblocks",
            "Input transcription off: a user audio item never gets a transcript and blocks "
            "the answer after it until the codec skips it; a transcript after that is refused.",
            ["RT-017", "RT-076"],
            [
                step(observed("u1", "user")),
                step(spoken_delta("r1", "d1", "a1", "hi", "u1")),
                step(completed("r1")),
                step(skipped("u1"), "accepted", 1),
                step(user("u1", "too late"), "rejected", 0, "item_skipped"),
            ],
            [a("r1", "end_turn", ("hi", S))],
            seed=REAL_TRAFFIC,
        ),
    ]


def write_cases() -> None:
    CASE_DIR.mkdir(parents=True, exist_ok=True)
    for item in build_cases():
        path = CASE_DIR / f"{item['name']}.json"
        path.write_text(json.dumps(item, indent=2) + "\n")


if __name__ == "__main__":
    write_cases()
