"""Canonical form, revision ids, rewrites, records and replay (spec §6.2-6.4)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conversation.conv_helpers import Clock, assistant, dumped, result, user

from sessionspec import (
    Conversation,
    HistoryStateMalformed,
    InvalidRewriteRange,
    InvalidTranscriptShape,
    MessageRange,
    NoOpRewrite,
    RevisionConflict,
    RewriteReason,
    TranscriptHistory,
    TranscriptRewriteRecord,
)
from sessionspec.errors import CanonicalFormError
from sessionspec.reference.conversation import (
    canonical_json,
    span_digest,
    tool_shape_violation,
    transcript_digest,
)


def conversation(*messages: dict[str, Any]) -> Conversation:
    conv = Conversation.new(clock=Clock())
    conv.push_batch(list(messages))
    return conv


@pytest.mark.req("CONV-020")
def test_canonical_form_is_rfc8785() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é", None]}) == b'{"a":[1.5,"\xc3\xa9",null],"b":1}'
    assert canonical_json({"\u20ac": 1, "\r": 2}) == '{"\\r":2,"\u20ac":1}'.encode()
    for bad in (2**60, float("nan"), {1: 2}):
        with pytest.raises(CanonicalFormError):
            canonical_json(bad)


@pytest.mark.req("CONV-021")
def test_revision_id_is_sha256_of_the_canonical_transcript() -> None:
    conv = conversation(user("hi"), assistant("yo"))
    conv.set_system_prompt("sys")
    body: Any = {"messages": dumped(conv.messages), "system": "sys"}
    expected = "sha256:" + hashlib.sha256(rfc8785.dumps(body)).hexdigest()
    assert conv.transcript_revision() == expected
    # the digest does not depend on the key order of the input
    shuffled = [dict(reversed(list(m.items()))) for m in dumped(conv.messages)]
    assert transcript_digest("sys", shuffled) == expected
    assert span_digest([]) == "sha256:" + hashlib.sha256(b"[]").hexdigest()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=8), max_size=12), st.integers(0, 12), st.booleans())
@pytest.mark.req("CONV-021", "CONV-010")
def test_incremental_digest_matches_a_full_recomputation(
    texts: list[str], cut: int, prompt: bool
) -> None:
    conv = Conversation.new()
    for text in texts:
        conv.push(user(text))
    if prompt:
        conv.set_system_prompt("p")
    fork = conv.fork_at(cut)
    for subject in (conv, fork, conv.fork()):
        assert subject.transcript_revision() == transcript_digest(
            subject.system_prompt, dumped(subject.messages)
        )


@pytest.mark.req("CONV-022")
def test_revision_ids_name_contents() -> None:
    a = conversation(user("x"))
    b = conversation(user("x"))
    assert a.id != b.id and a.transcript_revision() == b.transcript_revision()


@pytest.mark.req("CONV-030", "CONV-035")
def test_rewrite_with_a_stale_parent_is_a_conflict() -> None:
    conv = conversation(user("a"), assistant("b"))
    stale = conv.transcript_revision()
    conv.push(user("c"))
    before = dumped(conv.messages)
    with pytest.raises(RevisionConflict) as conflict:
        conv.commit_transcript_rewrite((0, 1), [user("A")], "fix", "me", stale)
    assert conflict.value.expected == stale
    assert conflict.value.actual == conv.transcript_revision()
    assert dumped(conv.messages) == before and conv.transcript_history() is None
    commit = conv.commit_transcript_rewrite(
        MessageRange(0, 1), [user("A")], RewriteReason("fix", "typo"), "me",
        conv.transcript_revision(),
    )
    assert commit.parent_revision != commit.revision == conv.transcript_revision()
    assert (commit.messages_before, commit.messages_after) == (3, 3)
    assert commit.reason == RewriteReason("fix", "typo") and commit.actor == "me"
    assert dumped(conv.messages)[0] == user("A")


@pytest.mark.req("CONV-031")
@pytest.mark.parametrize(("start", "end"), [(2, 1), (0, 4), (-1, 1), (4, 4)])
def test_invalid_rewrite_range(start: int, end: int) -> None:
    conv = conversation(user("a"), assistant("b"), user("c"))
    with pytest.raises(InvalidRewriteRange) as error:
        conv.commit_transcript_rewrite((start, end), [], "x")
    assert (error.value.start, error.value.end, error.value.message_count) == (start, end, 3)


@pytest.mark.req("CONV-033")
def test_transcript_rewrite_rejects_no_op_self_edge() -> None:
    conv = conversation(user("a"), assistant("b"))
    with pytest.raises(NoOpRewrite):
        conv.commit_transcript_rewrite((1, 2), [assistant("b")], "same")
    assert conv.transcript_history() is None


@pytest.mark.req("CONV-034")
@pytest.mark.parametrize(
    ("name", "messages", "fragment"),
    [
        ("transcript_rewrite_rejects_orphaned_tool_results",
         [user("a"), result("c1")], "does not answer"),
        ("transcript_rewrite_rejects_trailing_assistant_tool_call",
         [user("a"), assistant("b", "c1")], "not followed"),
        ("transcript_rewrite_rejects_duplicate_tool_results",
         [user("a"), assistant("b", "c1"), result("c1"), result("c1")], "repeated"),
        ("mismatched_results", [user("a"), assistant("b", "c1"), result("c2")], "do not answer"),
        ("repeated_call_ids", [user("a"), assistant("b", "c1", "c1"), result("c1")], "repeats"),
    ],
)
def test_rewrites_refuse_bad_tool_shapes(
    name: str, messages: list[dict[str, Any]], fragment: str
) -> None:
    conv = conversation(user("x"))
    with pytest.raises(InvalidTranscriptShape) as error:
        conv.commit_transcript_rewrite((0, 1), messages, name)
    assert fragment in str(error.value)
    assert dumped(conv.messages) == [user("x")]


@pytest.mark.req("CONV-034")
def test_tool_shape_accepts_results_in_any_order() -> None:
    shape = (("user", ()), ("assistant", ("a", "b")), ("tool_result", ("b",)),
             ("tool_result", ("a",)), ("assistant", ()))
    assert tool_shape_violation(shape) is None


@pytest.mark.req("CONV-035")
def test_transcript_rewrite_preserves_full_assistant_block_trace() -> None:
    conv = conversation(user("q"), assistant("thinking", "c1"), result("c1"), assistant("a"))
    conv.commit_transcript_rewrite((3, 4), [assistant("better")], "polish")
    assert dumped(conv.messages)[:3] == [user("q"), assistant("thinking", "c1"), result("c1")]
    history = conv.transcript_history()
    assert history is not None and len(history.commits) == 1


@pytest.mark.req("CONV-032")
def test_implicit_revisions_on_append_after_a_rewrite() -> None:
    conv = conversation(user("a"), assistant("b"))
    first = conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    conv.push(user("c"))
    history = conv.transcript_history()
    assert history is not None
    head = history.head
    assert head == transcript_digest(None, dumped(conv.messages)) != first.revision
    assert history.bodies[head].parent_revision == first.revision
    assert len(history.commits) == 1
    # transcript_rewrite_run_boundary_guard_accepts_rewrite_then_append
    conv.commit_transcript_rewrite((2, 3), [user("C")], "y", None, head)
    assert conv.transcript_revision() != head


@pytest.mark.req("CONV-032", "CONV-002")
def test_set_system_prompt_refreshes_transcript_history_head_after_rewrite() -> None:
    conv = conversation(user("a"), assistant("b"))
    commit = conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    conv.set_system_prompt("new prompt")
    assert conv.transcript_revision() != commit.revision
    assert conv.transcript_revision() == transcript_digest("new prompt", dumped(conv.messages))


@pytest.mark.req("CONV-011", "CONV-032")
def test_fork_at_resets_transcript_history_state_for_branch_identity() -> None:
    conv = conversation(user("a"), assistant("b"), user("c"))
    conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    fork = conv.fork_at(2)
    assert fork.transcript_history() is None and fork.id != conv.id
    own = fork.transcript_revision()
    commit = fork.commit_transcript_rewrite((0, 1), [user("A")], "y")
    assert commit.parent_revision == own


@pytest.mark.req("CONV-040")
def test_records_validate_and_round_trip_through_json() -> None:
    conv = conversation(user("a"), assistant("b"), user("c"))
    conv.commit_transcript_rewrite((1, 2), [assistant("B"), user("extra")], "x")
    for record in conv.transcript_rewrite_records():
        record.validate()
        again = TranscriptRewriteRecord.from_json(json.loads(json.dumps(record.to_json())))
        again.validate()
        assert again.to_json() == record.to_json()


def _tampered(record: TranscriptRewriteRecord, position: int) -> TranscriptRewriteRecord:
    data = record.to_json()
    data["revision_body"]["messages"][position]["content"][0]["text"] = "tampered"
    body = data["revision_body"]
    body["revision"] = transcript_digest(body["system_prompt"], body["messages"])
    data["commit"]["revision"] = body["revision"]
    return TranscriptRewriteRecord.from_json(data)


@pytest.mark.req("CONV-040")
def test_transcript_rewrite_record_rejects_prefix_or_suffix_tampering() -> None:
    conv = conversation(user("a"), assistant("b"), user("c"))
    conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    [record] = conv.transcript_rewrite_records()
    with pytest.raises(HistoryStateMalformed, match="prefix"):
        _tampered(record, 0).validate()
    with pytest.raises(HistoryStateMalformed, match="suffix"):
        _tampered(record, 2).validate()
    with pytest.raises(HistoryStateMalformed, match="replacement"):
        _tampered(record, 1).validate()
    lying = replace(record, commit=replace(record.commit, original_span_digest="sha256:00"))
    with pytest.raises(HistoryStateMalformed, match="original span"):
        lying.validate()
    count = replace(record, commit=replace(record.commit, messages_after=9))
    with pytest.raises(HistoryStateMalformed, match="counts"):
        count.validate()


@pytest.mark.req("CONV-040")
def test_a_body_that_does_not_hash_to_its_id_is_refused() -> None:
    conv = conversation(user("a"), assistant("b"))
    conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    data = conv.transcript_rewrite_records()[0].to_json()
    data["parent_body"]["messages"][0]["content"][0]["text"] = "changed"
    with pytest.raises(HistoryStateMalformed, match="hash"):
        TranscriptRewriteRecord.from_json(data).validate()
    self_edge = conv.transcript_rewrite_records()[0].to_json()
    self_edge["commit"]["revision"] = self_edge["commit"]["parent_revision"]
    self_edge["revision_body"] = dict(
        self_edge["parent_body"], parent_revision=self_edge["commit"]["parent_revision"]
    )
    with pytest.raises(NoOpRewrite):
        TranscriptRewriteRecord.from_json(self_edge).validate()


@pytest.mark.req("CONV-041")
def test_transcript_rewrite_replay_allows_normal_turn_revisions_between_rewrites() -> None:
    conv = conversation(user("a"), assistant("b"))
    conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    conv.push_batch([user("c"), assistant("d")])
    conv.commit_transcript_rewrite((3, 4), [assistant("D")], "y")
    records = conv.transcript_rewrite_records()
    assert len(records) == 2
    restored = Conversation.from_rewrite_records(records)
    assert dumped(restored.messages) == dumped(conv.messages)
    assert restored.transcript_revision() == conv.transcript_revision()
    history = restored.transcript_history()
    assert history is not None
    history.validate()


@pytest.mark.req("CONV-041")
def test_transcript_rewrite_replay_rejects_branched_rewrite_records() -> None:
    base = conversation(user("a"), assistant("b"))
    left, right = base.fork(), base.fork()
    left.commit_transcript_rewrite((1, 2), [assistant("L")], "x")
    right.commit_transcript_rewrite((1, 2), [assistant("R")], "y")
    records = left.transcript_rewrite_records() + right.transcript_rewrite_records()
    with pytest.raises(HistoryStateMalformed, match="does not extend"):
        TranscriptHistory.from_rewrite_records(records)
    with pytest.raises(HistoryStateMalformed):
        TranscriptHistory.from_rewrite_records([])


@pytest.mark.req("CONV-041")
def test_apply_transcript_history_state_uses_latest_commit_time_for_restored_head() -> None:
    clock = Clock()
    conv = Conversation.new(clock=clock)
    conv.push_batch([user("a"), assistant("b")])
    first = conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    second = conv.commit_transcript_rewrite((0, 1), [user("A")], "y")
    restored = Conversation.from_rewrite_records(conv.transcript_rewrite_records())
    assert restored.updated_at_ns == second.committed_at_ns > first.committed_at_ns


@pytest.mark.req("CONV-042")
def test_history_validation_requires_a_reachable_head() -> None:
    conv = conversation(user("a"), assistant("b"))
    conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    history = conv.transcript_history()
    assert history is not None
    history.validate()
    history.head = "sha256:unknown"
    with pytest.raises(HistoryStateMalformed):
        history.validate()


@pytest.mark.req("CONV-041")
def test_restore_refuses_messages_that_do_not_extend_the_head() -> None:
    conv = conversation(user("a"), assistant("b"))
    conv.commit_transcript_rewrite((1, 2), [assistant("B")], "x")
    records = conv.transcript_rewrite_records()
    with pytest.raises(HistoryStateMalformed):
        Conversation.restore(
            "id", messages=[user("other")], created_at_ns=1, updated_at_ns=1,
            history_records=records,
        )
