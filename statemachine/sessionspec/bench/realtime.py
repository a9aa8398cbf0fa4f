"""Benchmarks of the realtime transcript (DESIGN §5), each against a baseline in the same run.

The stream is a voice conversation as a provider sends it: per turn a user transcript, an
assistant item announced, 40 transcript deltas, the final text and the completion, every
event a dict in the wire form. The baseline is the least a transcript can do: a dict-based
dedup by delta id and item, text appended per item, a message dict built at the completion.

* Apply throughput, in memory: events per second (targets: at least 100,000 events/s and
  at most 3x the baseline's time).
* Reconnect replay: the whole stream again; every event is a duplicate.
* Journaled, group commit: the same stream through ``apply_batch`` in batches of 500 on a
  real file (one write and one fsync per batch), against the in-memory apply.
* Journaled, one fsync per event (``Durability.SYNC``, the default): events per second on a
  shorter stream, reported without a target (it measures the disk).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from sessionspec.bench.common import BenchResult, measure, measure_pair
from sessionspec.runtime.realtime import RealtimeTranscript

__all__ = ["run", "voice_stream"]

_DELTAS = 40


def voice_stream(turns: int) -> list[dict[str, Any]]:
    """A realistic realtime event stream of ``turns`` exchanges, as wire dicts."""
    events: list[dict[str, Any]] = []
    previous: str | None = None
    counter = 0
    for turn in range(turns):
        user = f"item_u{turn}"
        events.append(
            {
                "type": "user_transcript_final",
                "item_id": user,
                "previous_item_id": previous,
                "content_index": 0,
                "text": f"question number {turn}",
            }
        )
        response, item = f"resp_{turn}", f"item_a{turn}"
        events.append(
            {
                "type": "item_observed",
                "item_id": item,
                "previous_item_id": user,
                "role": "assistant",
                "response_id": response,
            }
        )
        words = []
        for n in range(_DELTAS):
            counter += 1
            word = f"w{n} "
            words.append(word)
            events.append(
                {
                    "type": "assistant_transcript_delta",
                    "response_id": response,
                    "delta_id": f"event_{counter}",
                    "item_id": item,
                    "previous_item_id": user,
                    "content_index": 0,
                    "delta": word,
                }
            )
        events.append(
            {
                "type": "assistant_transcript_final_text",
                "response_id": response,
                "item_id": item,
                "content_index": 0,
                "text": "".join(words),
            }
        )
        events.append(
            {
                "type": "assistant_turn_completed",
                "response_id": response,
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 100, "output_tokens": 40},
            }
        )
        previous = item
    return events


def _baseline(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Minimal dict-based dedup: no causal order, no lanes, no diagnostics, no journal."""
    seen: set[Any] = set()
    texts: dict[str, list[str]] = {}
    finals: dict[str, str] = {}
    items_of: dict[str, list[str]] = {}
    messages: list[dict[str, Any]] = []
    for event in events:
        kind = event["type"]
        if kind == "assistant_transcript_delta" or kind == "assistant_text_delta":
            key: Any = event["delta_id"]
            if key in seen:
                continue
            seen.add(key)
            item = event["item_id"]
            if item not in texts:
                texts[item] = []
                items_of.setdefault(event["response_id"], []).append(item)
            texts[item].append(event["delta"])
        elif kind == "user_transcript_final":
            key = (kind, event["item_id"])
            if key in seen:
                continue
            seen.add(key)
            messages.append({"role": "user", "text": event["text"]})
        elif kind == "assistant_transcript_final_text":
            finals[event["item_id"]] = event["text"]
        elif kind == "assistant_turn_completed":
            key = (kind, event["response_id"])
            if key in seen:
                continue
            seen.add(key)
            for item in items_of.get(event["response_id"], ()):
                text = finals.get(item) or "".join(texts[item])
                messages.append({"role": "assistant", "text": text, "usage": event["usage"]})
    return messages


def run(quick: bool = False) -> list[BenchResult]:
    turns = 20 if quick else 2000
    events = voice_stream(turns)
    count = len(events)
    rounds = 1 if quick else 3
    # The in-memory pairs take a fraction of a second each: more alternated rounds (best of
    # each side) keep a shared machine's bursts of load out of the ratio.
    pair_rounds = 1 if quick else 7
    results: list[BenchResult] = []

    def ours() -> None:
        transcript = RealtimeTranscript(clock=lambda: 0)
        apply = transcript.apply
        for event in events:
            apply(event)

    ours_s, base_s = measure_pair(ours, lambda: _baseline(events), rounds=pair_rounds)
    results.append(
        BenchResult(
            "realtime apply, in memory (events/s)",
            count / ours_s,
            count / base_s,
            ours_s / base_s,
            "events/s",
            ">= 100,000 events/s and time ratio <= 3.0 (ratio shown: time ours / baseline)",
            limit=3.0,
        )
    )

    transcript = RealtimeTranscript(clock=lambda: 0)
    for event in events:
        transcript.apply(event)

    def replay() -> None:
        apply = transcript.apply
        for event in events:
            apply(event)

    replay_s, base_s = measure_pair(replay, lambda: _baseline(events + events), rounds=pair_rounds)
    results.append(
        BenchResult(
            "realtime reconnect replay, all duplicates (events/s)",
            count / replay_s,
            2 * count / base_s,
            replay_s / (base_s / 2),
            "events/s",
            "time ratio <= 3.0",
            limit=3.0,
        )
    )

    with tempfile.TemporaryDirectory() as directory:
        serial = [0]

        def journaled() -> None:
            serial[0] += 1
            path = os.path.join(directory, f"group-{serial[0]}.jsonl")
            transcript = RealtimeTranscript.create(path, clock=lambda: 0, group_commit=True)
            for start in range(0, count, 500):
                transcript.apply_batch(events[start : start + 500])
            transcript.close()

        journal_s = measure(journaled, repeat=rounds)
        results.append(
            BenchResult(
                "realtime apply, journaled, group commit of 500 (events/s)",
                count / journal_s,
                count / ours_s,
                journal_s / ours_s,
                "events/s",
                "informative: cost of durability (ratio: time journaled / in memory)",
            )
        )

        sync_events = events[: 200 if quick else 2000]

        def synced() -> None:
            serial[0] += 1
            path = os.path.join(directory, f"sync-{serial[0]}.jsonl")
            transcript = RealtimeTranscript.create(path, clock=lambda: 0)
            for event in sync_events:
                transcript.apply(event)
            transcript.close()

        sync_s = measure(synced, repeat=1)
        results.append(
            BenchResult(
                "realtime apply, journaled, fsync per event (events/s)",
                len(sync_events) / sync_s,
                count / journal_s,
                (sync_s / len(sync_events)) / (journal_s / count),
                "events/s",
                "informative: one fsync per event (ratio: time per event vs group commit)",
            )
        )
    return results


if __name__ == "__main__":
    for result in run():
        print(result.line())
