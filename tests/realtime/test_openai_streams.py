"""Real OpenAI Realtime server-event streams as cases (spec/cases/realtime/openai/*.json).

Each case is a whole connection's server events (recorded by others and rewritten with our
own text and ids, or written by us for the GA names), the translator's playback mode, the
client's own calls (``{"client_call": ...}`` entries) and the transcript the events say the
user heard. Each is replayed through :class:`OpenAIRealtimeTranslator` into a
:class:`RealtimeTranscript`, in memory and on a journal, and must: hold exactly that
transcript, raise nothing, reject nothing (normal traffic, RT-061), leave the expected
translator notes (RT-076), and stay inert under a second full replay through a fresh
translator (a reconnect, RT-010), also after reopening its journal (RT-041).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionspec import RealtimeTranscript
from sessionspec.codecs.openai_realtime import (
    SERVER_EVENTS,
    OpenAIRealtimeTranslator,
    estimate_heard_prefix,
)
from sessionspec.reference.realtime import ApplyStatus
from sessionspec.runtime.realtime import ApplyOutcome

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASE_DIR = ROOT / "spec" / "cases" / "realtime" / "openai"
CASES = sorted(CASE_DIR.glob("*.json"))
FORMAT_DOC = ROOT / "spec" / "formats" / "openai-realtime.md"

pytestmark = pytest.mark.req(
    "RT-060", "RT-061", "RT-070", "RT-071", "RT-072", "RT-073", "RT-074", "RT-075", "RT-076"
)


def load(path: pathlib.Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


def feed(
    transcript: RealtimeTranscript, translator: OpenAIRealtimeTranslator, entries: list[Any]
) -> list[ApplyOutcome]:
    outcomes: list[ApplyOutcome] = []
    for entry in entries:
        call = entry.get("client_call")
        if call == "playback_finished":
            events = translator.playback_finished(entry["response_id"])
        elif call == "playback_cut":
            events = translator.playback_cut(
                entry["item_id"], entry.get("content_index", 0), entry["audio_end_ms"]
            )
        elif call == "finish":
            events = translator.finish()
        else:
            assert call is None, f"unknown client call {call!r}"
            events = translator.translate(entry)
        outcomes.extend(transcript.apply(event) for event in events)
    return outcomes


def abstract(transcript: RealtimeTranscript) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for message in transcript.messages():
        data = message.to_json_dict()
        if data["role"] == "user":
            result.append({"role": "user", "text": data["content"][0]["text"]})
        else:
            result.append(
                {
                    "role": "assistant",
                    "texts": [block["text"] for block in data["content"]],
                    "stop_reason": data["ss_realtime_stop_reason"],
                }
            )
    return result


def test_there_are_recorded_and_own_streams() -> None:
    kinds = {load(path)["source"]["kind"] for path in CASES}
    assert len(CASES) >= 5
    assert any(kind.startswith("recorded") for kind in kinds)
    assert "own" in kinds


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_stream_transcript_is_what_was_heard(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    case = load(path)
    entries = case["server_events"]
    assert case["server_event_count"] == sum(1 for e in entries if "type" in e)
    playback = case["translator"]["playback"]
    translator = OpenAIRealtimeTranslator(playback=playback)
    transcript = RealtimeTranscript.create(str(tmp_path / "rt.jsonl"), clock=lambda: 0)
    outcomes = feed(transcript, translator, entries)
    rejected = [(o.status, o.diagnostics) for o in outcomes if o.status is ApplyStatus.REJECTED]
    assert rejected == [], "normal traffic produced a rejection (RT-061)"
    assert abstract(transcript) == case["expected"]["transcript"]
    assert [n.code.value for n in translator.notes] == case["expected"]["notes"]
    before = [m.to_json_dict() for m in transcript.messages()]
    # A reconnect replays everything: inert (RT-010).
    again = feed(transcript, OpenAIRealtimeTranslator(playback=playback), entries)
    assert all(o.status is not ApplyStatus.ACCEPTED and o.is_inert for o in again)
    assert [m.to_json_dict() for m in transcript.messages()] == before
    transcript.close()
    # After a restart too (RT-041).
    reopened = RealtimeTranscript.open(str(tmp_path / "rt.jsonl"), clock=lambda: 0)
    assert [m.to_json_dict() for m in reopened.messages()] == before
    again = feed(reopened, OpenAIRealtimeTranslator(playback=playback), entries)
    assert all(o.status is not ApplyStatus.ACCEPTED and o.is_inert for o in again)
    reopened.close()


@pytest.mark.req("RT-077")
def test_every_server_event_of_the_cases_is_in_the_table() -> None:
    seen = {e["type"] for path in CASES for e in load(path)["server_events"] if "type" in e}
    assert seen <= set(SERVER_EVENTS), sorted(seen - set(SERVER_EVENTS))


@pytest.mark.req("RT-077")
def test_the_format_document_lists_exactly_the_table() -> None:
    """spec/formats/openai-realtime.md has one row per server event type, with its handling."""
    rows: dict[str, str] = {}
    for line in FORMAT_DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    assert rows == {name: handling for name, (handling, _) in SERVER_EVENTS.items()}


@pytest.mark.req("RT-075")
@pytest.mark.parametrize(
    ("text", "end_ms", "streamed_ms", "heard"),
    [
        ("one two three four", 2000, 4000.0, "one two"),  # half of the audio: half the text
        ("one two three four", 2200, 4000.0, "one two"),  # inside a word: back to a boundary
        ("one two three four", 4000, 4000.0, "one two three four"),
        ("one two three four", 240, 4000.0, ""),  # under the threshold: nothing
        ("one two three four", None, 4000.0, ""),  # unknown cut position: nothing
        ("abcdefghijklmnopqrstu", 700, None, ""),  # one word, cut inside it: nothing
        ("hello there", 400, None, "hello"),  # 11 chars at 15/s = 733 ms
        ("", 5000, None, ""),
    ],
)
def test_heard_prefix_estimate(
    text: str, end_ms: int | None, streamed_ms: float | None, heard: str
) -> None:
    assert estimate_heard_prefix(text, end_ms, streamed_ms) == heard


@pytest.mark.req("RT-075")
@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="ab .", max_size=30),
    end=st.one_of(st.none(), st.integers(0, 5000)),
    later=st.integers(0, 5000),
    streamed=st.one_of(st.none(), st.floats(1.0, 6000.0)),
)
def test_heard_prefix_is_a_word_prefix_growing_with_the_cut(
    text: str, end: int | None, later: int, streamed: float | None
) -> None:
    heard = estimate_heard_prefix(text, end, streamed)
    assert text.startswith(heard)
    # It ends at a word boundary: the whole text, or followed by white space.
    assert heard == text or heard == "" or text[len(heard)].isspace()
    if end is None or end < 250:
        assert heard == ""
    # The later the cut, the more was heard.
    if end is not None:
        assert estimate_heard_prefix(text, end + later, streamed).startswith(heard)
