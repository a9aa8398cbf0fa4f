"""The conversation's buffer, forks, metadata and usage (spec §6.1)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.conversation.conv_helpers import Clock, assistant, dumped, result, user

from sessionspec import Conversation
from sessionspec.errors import (
    BlockIndexOutOfBounds,
    CallerError,
    CanonicalFormError,
    MessageIndexOutOfBounds,
    MessageRoleMismatch,
)
from sessionspec.runtime.conversation import (
    ReplaceAssistantBlock,
    ReplaceMessage,
    ReplaceToolResultContentBlock,
    ReplaceUserContentBlock,
)

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.mark.req("CONV-001")
def test_new_conversation_is_empty_with_a_uuid7() -> None:
    clock = Clock()
    conv = Conversation.new(clock=clock)
    assert UUID7.match(conv.id)
    assert conv.messages == () and len(conv) == 0 and conv.system_prompt is None
    assert conv.created_at_ns == conv.updated_at_ns
    assert conv.metadata == {} and conv.total_tokens() == 0
    assert Conversation.with_id("abc").id == "abc"
    with pytest.raises(CallerError):
        Conversation.with_id("  ")


@pytest.mark.req("CONV-003")
def test_push_and_push_batch_with_one_timestamp() -> None:
    clock = Clock()
    conv = Conversation.new(clock=clock)
    conv.push(user("a"))
    first = conv.updated_at_ns
    reads = clock.reads
    conv.push_batch([assistant("b"), user("c"), user("d")])
    assert clock.reads == reads + 1
    assert conv.updated_at_ns > first
    assert [m.role for m in conv.messages] == ["user", "assistant", "user", "user"]
    assert dumped(conv.last_n(2)) == [user("c"), user("d")]
    assert len(conv.last_n(10)) == 4 and conv.last_n(0) == ()
    before = conv.updated_at_ns
    conv.push_batch([])
    assert conv.updated_at_ns == before


@pytest.mark.req("CONV-003")
def test_a_bad_message_changes_nothing() -> None:
    conv = Conversation.new()
    conv.push(user("a"))
    revision = conv.transcript_revision()
    with pytest.raises(CallerError):
        conv.push({"role": "user", "content": "not a list", "timestamp_ms": 1})
    with pytest.raises(CallerError):
        conv.push_batch([user("ok"), {"role": "robot"}])
    assert len(conv) == 1 and conv.transcript_revision() == revision
    with pytest.raises(CallerError):
        conv.last_n(-1)


@pytest.mark.req("CONV-004")
@pytest.mark.parametrize(
    ("messages", "pending"),
    [
        ([], False),
        ([user("a")], True),
        ([user("a"), assistant("b")], False),
        ([user("a"), assistant("b", "c1"), result("c1")], True),
    ],
    ids=["empty", "after_user", "after_assistant", "after_tool_results"],
)
def test_has_pending_boundary(messages: list[dict[str, Any]], pending: bool) -> None:
    conv = Conversation.new()
    conv.push_batch(messages)
    assert conv.has_pending_boundary() is pending


@pytest.mark.req("CONV-004", "CONV-002")
def test_has_pending_boundary_after_system_prompt_only() -> None:
    conv = Conversation.new()
    conv.set_system_prompt("be brief")
    assert conv.has_pending_boundary() is False


@pytest.mark.req("CONV-005")
def test_metadata_rules() -> None:
    clock = Clock()
    conv = Conversation.new(clock=clock)
    conv.set_metadata("a", {"x": [1, 2]})
    stamp = conv.updated_at_ns
    assert conv.backfill_metadata_if_absent("b", 1) is True
    assert conv.backfill_metadata_if_absent("a", 2) is False
    assert conv.updated_at_ns == stamp
    copy = conv.metadata
    copy["a"]["x"].append(3)
    assert conv.metadata == {"a": {"x": [1, 2]}, "b": 1}
    assert conv.remove_metadata("zzz") is None and conv.updated_at_ns == stamp
    assert conv.remove_metadata("b") == 1 and conv.updated_at_ns > stamp
    with pytest.raises(CanonicalFormError):
        conv.set_metadata("big", 2**60)
    with pytest.raises(CallerError):
        conv.set_metadata(3, "x")  # type: ignore[arg-type]
    assert "big" not in conv.metadata


@pytest.mark.req("CONV-006")
def test_usage_record_and_totals() -> None:
    conv = Conversation.new()
    conv.record_usage({"input_tokens": 10, "output_tokens": 4, "cache_read_tokens": 100})
    conv.record_usage({"input_tokens": 1, "output_tokens": 1})
    total = conv.total_usage()
    assert (total.input_tokens, total.output_tokens, total.cache_read_tokens) == (11, 5, 100)
    assert conv.total_tokens() == 16
    with pytest.raises(CallerError):
        conv.record_usage({"input_tokens": -1})


@pytest.mark.req("CONV-008")
def test_append_external_content() -> None:
    conv = Conversation.new()
    conv.append_external_user_content("hello")
    conv.append_external_user_content([{"type": "text", "text": "more"}])
    conv.append_external_assistant_blocks([], "stop", {"input_tokens": 3})
    assert len(conv) == 2 and conv.total_usage().input_tokens == 3
    conv.append_external_assistant_blocks([{"type": "text", "text": "hi"}], "stop", None)
    assert len(conv) == 3 and conv.total_usage().input_tokens == 3
    assert conv.messages[2].role == "assistant"
    with pytest.raises(CallerError):
        conv.append_external_user_content([{"type": "video"}])
    with pytest.raises(CallerError):
        conv.append_external_assistant_blocks([{"type": "text", "text": "x"}], "bogus")
    assert len(conv) == 3


@pytest.mark.req("CONV-007")
def test_discard_transient_runtime_steer_context() -> None:
    conv = Conversation.new()
    steer = "[Runtime System Context]\nsource: runtime:steer:abc\nturn left"
    durable = "[Runtime System Context]\nsource: peer:fact\ndurable peer fact"
    conv.set_system_prompt("\n\n---\n\n".join(["You are helpful.", steer, durable]))
    conv.set_metadata(
        "session_system_context_state",
        {
            "pending": [{"source": "runtime:steer:abc", "text": "turn left"}],
            "applied": [
                {"source": "peer", "idempotency_key": "runtime:steer:x", "text": "s"},
                {"source": "peer", "idempotency_key": "k1", "text": "durable peer fact"},
            ],
            "seen": {"runtime:steer:abc": {"source": "x"}, "k2": {"source": "runtime:steer:y"},
                     "k1": {"source": "peer"}},
            "active_turn_pending_keys": ["runtime:steer:abc", "k1"],
        },
    )
    removed = conv.discard_transient_runtime_steer_context()
    assert removed == 6
    assert conv.system_prompt is not None
    assert "runtime:steer:" not in conv.system_prompt
    assert "durable peer fact" in conv.system_prompt
    state = conv.metadata["session_system_context_state"]
    assert [e["text"] for e in state["applied"]] == ["durable peer fact"]
    assert state["pending"] == [] and list(state["seen"]) == ["k1"]
    assert state["active_turn_pending_keys"] == ["k1"]
    assert conv.discard_transient_runtime_steer_context() == 0


@pytest.mark.req("CONV-010")
def test_fork_shares_until_either_side_writes() -> None:
    source = Conversation.new()
    source.push_batch([user(str(i)) for i in range(100)])
    fork = source.fork()
    assert fork.messages == source.messages
    assert all(a is b for a, b in zip(fork.messages, source.messages, strict=True))
    source.push(user("source only"))
    fork.push(user("fork only"))
    assert dumped(source.messages)[-1] == user("source only")
    assert dumped(fork.messages)[-1] == user("fork only")
    assert len(source) == len(fork) == 101
    source.set_system_prompt("s")
    source.set_metadata("k", 1)
    source.record_usage({"input_tokens": 5})
    assert fork.system_prompt is None and fork.metadata == {} and fork.total_tokens() == 0


@pytest.mark.req("CONV-011")
def test_fork_at_prefix_and_identity() -> None:
    source = Conversation.new()
    source.set_metadata("k", "v")
    source.record_usage({"input_tokens": 7})
    source.push_batch([user(str(i)) for i in range(100)])
    fork = source.fork_at(50)
    assert len(fork) == 50 and len(source) == 100
    assert fork.id != source.id and fork.metadata == {"k": "v"}
    assert fork.total_tokens() == 7
    assert fork.created_at_ns == fork.updated_at_ns
    assert len(source.fork_at(1000)) == 100
    fork.push(user("x"))
    assert len(source) == 100 and dumped(source.messages)[50] == user("50")
    with pytest.raises(MessageIndexOutOfBounds):
        source.fork_at(-1)


@pytest.mark.req("CONV-012")
def test_fork_replacing_variants_and_errors() -> None:
    conv = Conversation.new()
    conv.push_batch([user("q"), assistant("a", "c1"), result("c1"), assistant("done")])
    replaced = conv.fork_replacing(0, ReplaceUserContentBlock(0, {"type": "text", "text": "Q"}))
    assert dumped(replaced.messages) == [user("Q")]
    whole = conv.fork_replacing(3, ReplaceMessage(assistant("better")))
    assert dumped(whole.messages)[-1] == assistant("better") and len(whole) == 4
    block = conv.fork_replacing(1, ReplaceAssistantBlock(0, {"type": "text", "text": "A"}))
    assert block.messages[1].content[0].text == "A"  # type: ignore[union-attr]
    tool = conv.fork_replacing(
        2, ReplaceToolResultContentBlock(0, {"type": "text", "text": "fixed"})
    )
    assert dumped(tool.messages)[2] == result("c1", "fixed")
    assert len(conv) == 4 and dumped(conv.messages)[0] == user("q")
    with pytest.raises(MessageIndexOutOfBounds) as oob:
        conv.fork_replacing(4, ReplaceMessage(user("x")))
    assert (oob.value.message_index, oob.value.message_count) == (4, 4)
    with pytest.raises(MessageRoleMismatch) as role:
        conv.fork_replacing(1, ReplaceUserContentBlock(0, {"type": "text", "text": "x"}))
    assert (role.value.expected, role.value.actual) == ("user", "assistant")
    with pytest.raises(MessageRoleMismatch):
        conv.fork_replacing(0, ReplaceAssistantBlock(0, {"type": "text", "text": "x"}))
    with pytest.raises(MessageRoleMismatch):
        conv.fork_replacing(0, ReplaceToolResultContentBlock(0, {"type": "text", "text": "x"}))
    with pytest.raises(BlockIndexOutOfBounds) as block_oob:
        conv.fork_replacing(0, ReplaceUserContentBlock(1, {"type": "text", "text": "x"}))
    assert block_oob.value.block_kind == "user content block"
    with pytest.raises(BlockIndexOutOfBounds) as tool_oob:
        conv.fork_replacing(2, ReplaceToolResultContentBlock(5, {"type": "text", "text": "x"}))
    assert tool_oob.value.block_kind == "tool result content block"
    with pytest.raises(CallerError):
        conv.fork_replacing(0, ReplaceUserContentBlock(0, {"type": "thinking", "thinking": "x"}))


@pytest.mark.req("CONV-010")
def test_forks_pushed_from_threads_see_only_their_own_writes() -> None:
    import threading

    source = Conversation.new()
    source.push_batch([user(str(i)) for i in range(50)])
    forks = [source.fork() for _ in range(4)]
    barrier = threading.Barrier(4)

    def writer(number: int) -> None:
        barrier.wait()
        for step in range(200):
            forks[number].push(user(f"fork {number} step {step}"))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(source) == 50
    for number, fork in enumerate(forks):
        texts = [m.content[0].text for m in fork.messages]  # type: ignore[union-attr]
        assert texts == [str(i) for i in range(50)] + [
            f"fork {number} step {s}" for s in range(200)]
