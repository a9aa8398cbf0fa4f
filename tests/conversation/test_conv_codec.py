"""meerkat's session JSON through the codec at the edge (CONV-050)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conversation.conv_helpers import assistant, dumped, result, user

from sessionspec import CodecError, Conversation
from sessionspec.codecs.meerkat import conversation_from_meerkat, conversation_to_meerkat
from sessionspec.conformance.conversation_machine import message_strategy

#: A session in meerkat's JSON shape (written for this test, in meerkat's field names).
MEERKAT_SESSION: dict[str, Any] = {
    "version": 2,
    "id": "0190a5f0-7b2c-7c3d-8e4f-123456789abc",
    "messages": [
        {"role": "system", "content": "You are terse.", "created_at": "2025-01-02T03:04:05.000Z"},
        {"role": "user", "content": "What is in the picture?",
         "created_at": "2025-01-02T03:04:06.123456789Z"},
        {"role": "user", "content": [
            {"type": "text", "text": "this one"},
            {"type": "image", "media_type": "image/png", "source": "inline", "data": "iVBORw0K"},
            {"type": "image", "media_type": "image/jpeg", "source": "blob",
             "blob_id": "sha256:" + "ab" * 32},
        ], "created_at": "2025-01-02T03:04:07Z"},
        {"role": "block_assistant", "blocks": [
            {"block_type": "reasoning", "data": {"text": "look first"}},
            {"block_type": "text", "data": {"text": "Let me look."}},
            {"block_type": "tool_use", "data": {"id": "t1", "name": "zoom",
                                                "args": {"factor": 2}}},
            {"block_type": "tool_use", "data": {"id": "t2", "name": "crop", "args": [1, 2]}},
        ], "stop_reason": "tool_use", "created_at": "2025-01-02T03:04:08Z"},
        {"role": "tool_results", "results": [
            {"tool_use_id": "t1", "content": "zoomed", "is_error": False},
            {"tool_use_id": "t2", "content": "cropped", "is_error": True},
        ], "created_at": "2025-01-02T03:04:09Z"},
        {"role": "block_assistant", "blocks": [
            {"block_type": "transcript", "data": {"text": "A cat.", "source": "spoken"}},
        ], "stop_reason": "end_turn", "created_at": "2025-01-02T03:04:10Z",
         "interaction_id": "i-1"},
    ],
    "created_at": {"secs_since_epoch": 1735787045, "nanos_since_epoch": 123},
    "updated_at": {"secs_since_epoch": 1735787050, "nanos_since_epoch": 999999999},
    "metadata": {"session_metadata": {"title": "cats"}},
    "usage": {"input_tokens": 100, "output_tokens": 20, "cache_creation_tokens": 5,
              "cache_read_tokens": 7},
}


@pytest.mark.req("CONV-050", "CONV-002", "CONV-061")
def test_meerkat_session_reads_and_writes_back_the_same() -> None:
    conv = conversation_from_meerkat(copy.deepcopy(MEERKAT_SESSION))
    assert conv.system_prompt == "You are terse."
    assert [m.role for m in conv.messages] == [
        "user", "user", "assistant", "tool_result", "tool_result", "assistant"]
    assert conv.messages[3].tool_name == "zoom"  # type: ignore[union-attr]
    image = dumped(conv.messages)[1]["content"][2]
    assert image["source"] == {"type": "url", "url": "ss-blob:sha256:" + "ab" * 32}
    assert dumped(conv.messages)[5]["content"][0]["ss_lane"] == "spoken"
    assert conv.total_usage().cache_write_tokens == 5
    assert conv.created_at_ns == 1735787045_000000123
    assert conversation_to_meerkat(conv) == MEERKAT_SESSION
    assert "ss_wire" not in json.dumps(MEERKAT_SESSION)


@pytest.mark.req("CONV-050")
def test_a_stale_exact_form_yields_to_meerkat_s_edit() -> None:
    conv = Conversation.new()
    conv.push_batch([user("a"), assistant("b")])
    data = conversation_to_meerkat(conv)
    assert "ss_wire" in data["messages"][1]  # the model name has no meerkat field
    data["messages"][1]["blocks"][0]["data"]["text"] = "edited in meerkat"
    again = conversation_from_meerkat(data)
    assert again.messages[1].content[0].text == "edited in meerkat"  # type: ignore[union-attr]
    assert again.messages[1].provider == "meerkat"  # type: ignore[union-attr]


@pytest.mark.req("CONV-050")
def test_a_conversation_survives_the_meerkat_form() -> None:
    conv = Conversation.new()
    conv.set_system_prompt("sys")
    conv.push_batch([user("a"), assistant("b", "c1", "c2"), result("c1"), result("c2"),
                     assistant("fine")])
    conv.commit_transcript_rewrite((4, 5), [assistant("better")], "polish")
    conv.push(user("more"))
    conv.set_metadata("k", [1, 2])
    conv.record_usage({"input_tokens": 3, "cache_write_tokens": 2})
    data = json.loads(json.dumps(conversation_to_meerkat(conv)))
    assert [m["role"] for m in data["messages"]] == [
        "system", "user", "block_assistant", "tool_results", "block_assistant", "user"]
    again = conversation_from_meerkat(data)
    assert dumped(again.messages) == dumped(conv.messages)
    assert again.system_prompt == "sys"
    assert again.transcript_revision() == conv.transcript_revision()
    assert conversation_to_meerkat(again) == data
    assert again.transcript_history() is not None
    assert again.metadata == {"k": [1, 2]}
    assert again.total_usage() == conv.total_usage()
    assert (again.created_at_ns, again.updated_at_ns) == (conv.created_at_ns, conv.updated_at_ns)


@pytest.mark.req("CONV-050")
@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda s: s["messages"].append({"role": "system", "content": "late",
                                         "created_at": "2025-01-01T00:00:00Z"}), "leading"),
        (lambda s: s["messages"].append({"role": "system_notice", "created_at": "x"}),
         "system_notice"),
        (lambda s: s["messages"].append({"role": "assistant", "content": "legacy",
                                         "created_at": "2025-01-01T00:00:00Z"}), "assistant"),
        (lambda s: s["messages"][1].update(content=[{"type": "video", "media_type": "video/mp4"}]),
         "video"),
        (lambda s: s["messages"][2]["content"][1].update(media_type="image/tiff"), "tiff"),
        (lambda s: s.update(version=3), "version"),
        (lambda s: s["messages"][1].update(created_at="yesterday"), "RFC 3339"),
        (lambda s: s.update(created_at=5), "secs_since_epoch"),
        (lambda s: s["messages"][3]["blocks"].append({"block_type": "image", "data": {}}),
         "image"),
    ],
)
def test_what_cannot_be_expressed_is_a_codec_error(change: Any, fragment: str) -> None:
    session = copy.deepcopy(MEERKAT_SESSION)
    change(session)
    with pytest.raises(CodecError, match=fragment):
        conversation_from_meerkat(session)


@settings(max_examples=40, deadline=None)
@given(st.lists(message_strategy(), max_size=8), st.one_of(st.none(), st.text(max_size=5)))
@pytest.mark.req("CONV-050")
def test_any_conversation_survives_the_meerkat_form(
    messages: list[dict[str, Any]], prompt: str | None
) -> None:
    conv = Conversation.new()
    conv.push_batch(messages)
    if prompt is not None:
        conv.set_system_prompt(prompt)
    data = json.loads(json.dumps(conversation_to_meerkat(conv)))
    again = conversation_from_meerkat(data)
    assert dumped(again.messages) == dumped(conv.messages)
    assert again.transcript_revision() == conv.transcript_revision()
    assert conversation_to_meerkat(again) == data
