"""Demo chapter: a conversation forked, a stale rewrite refused, an image externalized, a
ledger that counts a forked request once, and a state committed with compare-and-swap."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, TextIO

from sessionspec.errors import HeadRevisionConflict, RevisionConflict
from sessionspec.runtime.conversation import Conversation
from sessionspec.runtime.ledger import TokenLedger
from sessionspec.runtime.state import PersistedSessionState
from sessionspec.storage.blobs import FileBlobStore
from sessionspec.storage.state_store import FileStateStore

SONNET = "anthropic:claude-sonnet-4"
#: A 1x1 transparent PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def _user(text: str, *images: bytes) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [
        {"type": "image", "source": {"type": "base64", "data": base64.b64encode(i).decode()},
         "media_type": "image/png"}
        for i in images
    ]
    return {"role": "user", "content": content, "timestamp_ms": 1_700_000_000_000}


def _assistant(text: str, request_id: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "api": "Anthropic",
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "response_id": request_id,
        "usage": {"input_tokens": 1200, "output_tokens": 80},
        "stop_reason": "stop",
        "timestamp_ms": 1_700_000_001_000,
    }


def _text(message: Any) -> str:
    return str(message.content[0].text)


def run(workdir: Path, out: TextIO) -> None:
    def say(line: str) -> None:
        print(f"   {line}", file=out)

    conv = Conversation.with_id("demo-conversation")
    conv.set_system_prompt("You are a careful assistant.")
    conv.push_batch([_user("What is in this picture?", PIXEL), _assistant("A pixel.", "req-1")])
    say(f"conversation with {len(conv)} messages, revision {conv.transcript_revision()[:19]}...")

    fork = conv.fork()
    fork.push(_user("Describe it as a poem."))
    conv.push(_user("How big is it?"))
    say(f"forked in O(1): the source has {len(conv)} messages, the fork {len(fork)};")
    say(f"  the source's last message: {_text(conv.messages[-1])!r}, "
        f"the fork's: {_text(fork.messages[-1])!r}")

    seen_by_editor = conv.transcript_revision()
    conv.push(_assistant("One pixel by one pixel.", "req-2"))
    say("an editor read the transcript, then the agent answered; the editor's rewrite of")
    say("turn 2 names the revision it read as its expected parent:")
    try:
        conv.commit_transcript_rewrite(
            (1, 2), [_assistant("A single transparent pixel.", "req-1b")],
            "clarify", "editor", seen_by_editor,
        )
    except RevisionConflict as conflict:
        say(f"  RevisionConflict: expected {conflict.expected[:19]}..., "
            f"head is {conflict.actual[:19]}...; nothing changed")
    commit = conv.commit_transcript_rewrite(
        (1, 2), [_assistant("A single transparent pixel.", "req-1")],
        "clarify", "editor", conv.transcript_revision(),
    )
    say(f"  retried against the head: revision {commit.revision[:19]}... "
        f"({commit.messages_before} -> {commit.messages_after} messages)")

    store = FileBlobStore(workdir / "blobs")
    moved = conv.externalize_media(store)
    url = conv.messages[0].to_json_dict()["content"][1]["source"]["url"]
    say(f"externalized {moved} image into {store.directory.name}/: {url[:27]}...")

    ledger = TokenLedger()
    ledger.record("turn", SONNET, {"input_tokens": 1200, "output_tokens": 80}, "req-1")
    fork_ledger = ledger.copy()  # the fork carries the request it was forked with
    ledger.record("turn", SONNET, {"input_tokens": 1400, "output_tokens": 20}, "req-2")
    fork_ledger.record("turn", SONNET, {"input_tokens": 1300, "output_tokens": 200}, "req-3")
    fork_ledger.record("compaction", "anthropic:claude-3-5-haiku", {"input_tokens": 900,
                                                                    "output_tokens": 60})
    merged = ledger.merge(fork_ledger)
    report = merged.report()
    say(f"ledger of the source and the fork: request req-1 is in both and counted once "
        f"({report.entry_count} entries; pricing {report.pricing_version}):")
    for line in report.lines():
        say("  " + line)

    states = FileStateStore(workdir / "state")
    state = PersistedSessionState("demo-conversation", token_ledger=merged, turn_index=2)
    state.commit(states)
    stale = PersistedSessionState.load(states, "demo-conversation")
    assert stale is not None
    state.turn_index = 3
    state.commit(states)
    try:
        stale.commit(states)
    except HeadRevisionConflict as conflict:
        say(f"state store: a second writer still at head {conflict.expected} lost to "
            f"head {conflict.actual}: HeadRevisionConflict, nothing written")
