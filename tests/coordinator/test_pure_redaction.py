"""Redaction of persisted tool arguments and details (spec §4.2, COORD-150..COORD-155).

The default redacts secrets only (COORD-151, COORD-153). opi's tests
(session_coordinator_redacts_tool_result_details_but_keeps_content and
session_coordinator_redacts_assistant_tool_call_arguments, crates/opi-coding-agent/tests/
session_runtime.rs) run under :meth:`RedactionPolicy.opi`, whose key list and path heuristic
follow opi's diagnostic.rs.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionspec.redaction import (
    DEFAULT_REDACTED_KEYS,
    OPI_REDACTED_KEYS,
    REDACTED,
    SECRET_LITERALS,
    SECRET_PATTERNS,
    RedactionPolicy,
    _may_hold_a_default_secret,
    _scrub,
    looks_like_absolute_path,
    redact_for_log,
    redact_owned,
)

CANARY = "canary-7f3a9"
POLICY = RedactionPolicy()
OPI = RedactionPolicy.opi()


def tool_result(details: Any, text: str = f"output mentions {CANARY}") -> dict[str, Any]:
    return {
        "role": "tool_result",
        "tool_call_id": "c1",
        "tool_name": "bash",
        "content": [{"type": "text", "text": text}],
        "details": details,
        "is_error": False,
        "truncated": False,
        "timestamp_ms": 1,
    }


def assistant_call(arguments: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [
            {"type": "text", "text": f"I will run {CANARY}"},
            {
                "type": "tool_call",
                "tool_call": {"id": "c1", "name": "bash", "arguments": arguments},
            },
        ],
        "api": "Anthropic",
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "usage": {"input_tokens": 1, "output_tokens": 1},
        "stop_reason": "tool_use",
        "timestamp_ms": 1,
    }


@pytest.mark.req("COORD-150", "COORD-152")
def test_session_coordinator_redacts_tool_result_details_but_keeps_content() -> None:
    message = tool_result({"command": f"echo {CANARY}", "cwd": "/home/me/project", "exit": 0})
    out = redact_for_log(message, OPI)
    assert out["details"] == {"command": REDACTED, "cwd": REDACTED, "exit": 0}
    assert out["content"] == message["content"]  # content kept, canary and all
    assert CANARY not in json.dumps(out["details"])
    # The default: commands and paths are not secrets.
    assert redact_for_log(message, POLICY) == message


@pytest.mark.req("COORD-150", "COORD-152")
def test_session_coordinator_redacts_assistant_tool_call_arguments() -> None:
    message = assistant_call(json.dumps({"command": f"cat {CANARY}", "timeout": 5}))
    out = redact_for_log(message, OPI)
    arguments = out["content"][1]["tool_call"]["arguments"]
    assert CANARY not in arguments
    assert json.loads(arguments) == {"command": REDACTED, "timeout": 5}
    assert out["content"][0] == message["content"][0]  # the text block is kept


@pytest.mark.req("COORD-150")
def test_arguments_without_a_secret_are_kept_byte_for_byte() -> None:
    text = '{ "command" : "ls -la /home/me",\n "n": 1.0 }'
    assert redact_for_log(assistant_call(text), POLICY) == assistant_call(text)


@pytest.mark.req("COORD-150", "COORD-153")
def test_unparseable_arguments_are_redacted_as_one_string() -> None:
    out = redact_for_log(assistant_call(f"not json {CANARY}"), POLICY)
    assert out["content"][1]["tool_call"]["arguments"] == f"not json {CANARY}"
    secret = redact_for_log(assistant_call("run with sk-abcdefghijklmnop1234 now"), POLICY)
    assert secret["content"][1]["tool_call"]["arguments"] == "run with [REDACTED] now"
    path = redact_for_log(assistant_call("cat /home/me/x"), OPI)
    assert path["content"][1]["tool_call"]["arguments"] == REDACTED


@pytest.mark.req("COORD-151")
def test_keys_match_case_insensitively_and_nested() -> None:
    details = {"Env": {"A": "1"}, "STDOUT": "x", "nested": [{"Path": "rel/file"}, {"ok": 1}]}
    out = redact_for_log(tool_result(details), OPI)
    assert out["details"] == {
        "Env": REDACTED,
        "STDOUT": REDACTED,
        "nested": [{"Path": REDACTED}, {"ok": 1}],
    }


@pytest.mark.req("COORD-151")
def test_default_keys_name_secrets_not_content() -> None:
    for key in ("password", "api_key", "token", "authorization", "private_key", "cookie",
                "client_secret", "secret_access_key"):
        assert key in DEFAULT_REDACTED_KEYS
    for key in ("command", "args", "cwd", "path", "stdout", "env", "prompt"):
        assert key not in DEFAULT_REDACTED_KEYS, key
        assert key in OPI_REDACTED_KEYS
    details = {
        "GITHUB_TOKEN": "t1", "X-Api-Key": "t2", "accessToken": "t3", "db_password": "t4",
        "openaiApiKey": "t5", "Authorization": "t6", "nested": [{"Client-Secret": "t7"}],
        "command": "ls", "cwd": "/home/me", "max_tokens": 5, "path": "/etc/hosts",
    }
    out = redact_for_log(tool_result(details), POLICY)["details"]
    assert out == {
        "GITHUB_TOKEN": REDACTED, "X-Api-Key": REDACTED, "accessToken": REDACTED,
        "db_password": REDACTED, "openaiApiKey": REDACTED, "Authorization": REDACTED,
        "nested": [{"Client-Secret": REDACTED}],
        "command": "ls", "cwd": "/home/me", "max_tokens": 5, "path": "/etc/hosts",
    }


@pytest.mark.req("COORD-152")
def test_absolute_paths_are_redacted_only_under_opis_policy() -> None:
    for path in ("/home/me/.ssh/id_rsa", "see /tmp/x/y", "C:\\Users\\me", "d:/work",
                 "\\\\server\\share", "/Users/me/"):
        assert looks_like_absolute_path(path), path
    for text in ("https://example.com/a", "relative/path", "/other/root", "ratio 3:4"):
        assert not looks_like_absolute_path(text), text
    details = {"file": "/var/log/syslog", "url": "https://x.io/a"}
    out = redact_for_log(tool_result(details), OPI)
    assert out["details"] == {"file": REDACTED, "url": "https://x.io/a"}
    assert redact_for_log(tool_result(details), POLICY)["details"] == details


@pytest.mark.req("COORD-153")
def test_secret_shapes_are_scrubbed_inside_strings() -> None:
    details = {"note": "key sk-abcdefghijklmnop1234 and Bearer abc.def.ghi123", "n": 3}
    out = redact_for_log(tool_result(details), POLICY)
    assert "sk-abcdefghijklmnop1234" not in out["details"]["note"]
    assert "abc.def.ghi123" not in out["details"]["note"]
    assert out["details"]["note"].startswith("key [REDACTED]")


@pytest.mark.req("COORD-153")
def test_every_default_secret_shape() -> None:
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"
    secrets = [
        "sk-ant-api03-abcdefghijklmnopqrst", "sk-proj-ABCDEFGHIJKLMNOPQRST",
        "Bearer abcdefgh.ijklmnop", "ghp_abcdefghijklmnopqrstuvwxyz0123",
        "github_pat_11ABCDEFGHIJKLMNOPQRSTUV", "AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdef", "AIzaSyA1234567890abcdefghijklmnopqrstuv", jwt, pem,
    ]
    for secret in secrets:
        out = redact_for_log(tool_result({"note": f"use {secret} here"}), POLICY)
        assert out["details"]["note"] == f"use {REDACTED} here", secret
    url = redact_for_log(tool_result({"u": "postgres://bob:hunter2@db/x"}), POLICY)
    assert url["details"]["u"] == f"postgres://{REDACTED}@db/x"
    for harmless in ("task-abcdefghijklmnopqrstu", "/home/me/.ssh", "git status", "ASK-123"):
        assert redact_for_log(tool_result({"n": harmless}), POLICY)["details"]["n"] == harmless


@pytest.mark.req("COORD-151", "COORD-152", "COORD-153", "COORD-155")
def test_policy_is_configurable() -> None:
    details = {"command": "ls", "token_hint": "/home/me", "secret": "sk-abcdefghijklmnop1234"}
    custom = RedactionPolicy(
        keys=frozenset({"token_hint"}), key_suffixes=(), redact_absolute_paths=False,
        scrub_secrets=False,
    )
    assert redact_for_log(tool_result(details), custom)["details"] == {
        "command": "ls",
        "token_hint": REDACTED,
        "secret": "sk-abcdefghijklmnop1234",
    }
    off = redact_for_log(tool_result(details), RedactionPolicy(enabled=False))
    assert off == tool_result(details)
    assert RedactionPolicy.off() == RedactionPolicy(enabled=False)
    own = RedactionPolicy(patterns=(re.compile(r"ticket-\d+"),))
    assert redact_for_log(tool_result({"n": "ticket-42 sk-abcdefghijklmnop1234"}), own)[
        "details"
    ] == {"n": f"{REDACTED} sk-abcdefghijklmnop1234"}


@pytest.mark.req("COORD-154")
def test_input_is_never_mutated_and_output_is_new() -> None:
    for message in (
        tool_result({"command": "rm -rf /tmp/x", "deep": {"cwd": "/home"}}),
        assistant_call(json.dumps({"path": "/etc/passwd"})),
    ):
        before = copy.deepcopy(message)
        out = redact_for_log(message, POLICY)
        assert message == before
        assert out is not message
        assert out["content"] is not message["content"]


@pytest.mark.req("COORD-150")
def test_user_messages_and_null_details_are_unchanged() -> None:
    text = [{"type": "text", "text": "/home/me cwd"}]
    user = {"role": "user", "content": text, "timestamp_ms": 1}
    assert redact_for_log(user, POLICY) == user
    assert redact_for_log(tool_result(None), POLICY) == tool_result(None)


SECRET_VALUES = st.sampled_from(
    ["sk-proj-abcdefghijklmnop0123", "ghp_abcdefghijklmnopqrstuvwxyz0123", "hunter2-pw"]
)
JSON_LEAVES = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=12)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "path", "cmd", "api_key", "Token"]), inner,
                      max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(value=JSON_VALUES, secret=SECRET_VALUES, key=st.sampled_from(
    ["password", "api_key", "GITHUB_TOKEN", "x-api-key", "clientSecret"]))
@pytest.mark.req("COORD-017", "COORD-151", "COORD-154")
def test_redaction_hides_secrets_and_is_idempotent(value: Any, secret: str, key: str) -> None:
    details = {"data": value, key: secret, "nested": [{key: secret}]}
    message = assistant_call(json.dumps(details))
    once = redact_for_log(message, POLICY)
    assert secret not in json.dumps(once)
    # What memory keeps is what the file holds; redacting it again changes nothing, so a
    # message read back and persisted again (a fork, a re-import) stays the same.
    assert redact_for_log(once, POLICY) == once
    result = tool_result({"data": value, key: secret})
    assert redact_for_log(redact_for_log(result, POLICY), POLICY) == redact_for_log(
        result, POLICY
    )


@settings(max_examples=100, deadline=None)
@given(
    value=JSON_VALUES,
    secret=SECRET_VALUES,
    key=st.sampled_from(["password", "api_key", "cmd"]),
    policy=st.sampled_from([POLICY, RedactionPolicy.opi(), RedactionPolicy.off()]),
)
@pytest.mark.req("COORD-017", "COORD-154")
def test_the_coordinators_copy_on_write_redaction_equals_the_deep_one(
    value: Any, secret: str, key: str, policy: RedactionPolicy
) -> None:
    """``redact_owned`` (what a turn end uses) copies only what it redacts, never changes its
    input and gives what ``redact_for_log`` gives."""
    details = {"data": value, key: secret}
    call = assistant_call(json.dumps(details))
    call["content"].insert(0, {"type": "text", "text": f"/home/me {secret}"})
    for message in (call, tool_result(details), tool_result(None)):
        before = copy.deepcopy(message)
        out = redact_owned(message, policy)
        assert out == redact_for_log(message, policy)
        assert message == before and out is not message


@pytest.mark.req("COORD-151", "COORD-155")
def test_keys_given_as_a_set_or_a_list_still_match() -> None:
    as_set = RedactionPolicy(keys={"Token_Hint"}, key_suffixes=["-Secret"])  # type: ignore[arg-type]
    as_frozen = RedactionPolicy(keys=frozenset({"Token_Hint"}), key_suffixes=("-Secret",))
    for key, expected in (("token-hint", True), ("db_secret", True), ("command", False)):
        assert as_set.is_sensitive_key(key) is expected
        assert as_frozen.is_sensitive_key(key) is expected


# -- the literal prefilter of the default secret shapes (issue 8) -------------------------

def _every_pattern(text: str) -> str:
    """The ten default patterns run one by one, without the prefilter."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def _a_match_of(index: int) -> st.SearchStrategy[str]:
    """Strings the pattern at ``index`` matches in (the URL password's look-behind is
    given its ``scheme://``, which Hypothesis cannot generate from a look-behind)."""
    pattern = SECRET_PATTERNS[index].pattern
    if pattern.startswith("(?<=://)"):
        body = pattern.removeprefix("(?<=://)").removesuffix("(?=@)")
        return st.from_regex(body, fullmatch=True).map(lambda found: f"db://{found}@host")
    return st.from_regex(SECRET_PATTERNS[index], fullmatch=False)


@pytest.mark.req("COORD-153")
def test_every_default_pattern_has_its_literals() -> None:
    assert len(SECRET_LITERALS) == len(SECRET_PATTERNS)
    for pattern, literals in zip(SECRET_PATTERNS, SECRET_LITERALS, strict=True):
        # Each literal is spelled out in its pattern (or is its case-insensitive word).
        assert all(
            literal in pattern.pattern or literal in pattern.pattern.lower()
            or literal[:2] in pattern.pattern
            for literal in literals
        ), pattern.pattern


@settings(max_examples=300, deadline=None)
@given(data=st.data(), index=st.integers(0, len(SECRET_PATTERNS) - 1))
@pytest.mark.req("COORD-153")
def test_a_string_a_default_pattern_matches_in_passes_the_prefilter(
    data: st.DataObject, index: int
) -> None:
    text = data.draw(_a_match_of(index))
    assert SECRET_PATTERNS[index].search(text) is not None
    assert _may_hold_a_default_secret(text)
    assert _scrub(text, SECRET_PATTERNS) == _every_pattern(text) != text


FRAGMENTS = st.sampled_from(
    ["sk-", "Bearer ", "BEARER\t", "ghp_", "github_pat_", "AKIA", "ASIA", "xoxb-", "AIza",
     "eyJ", ".", "://", "@", ":", "-----BEGIN RSA PRIVATE KEY-----", "\n",
     "-----END RSA PRIVATE KEY-----", "abcdefghijklmnopqrstuvwxyz", "0123456789ABCDEF", " "]
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(FRAGMENTS | st.text(max_size=6), max_size=12))
@pytest.mark.req("COORD-153")
def test_the_prefiltered_scrub_equals_every_pattern_run(parts: list[str]) -> None:
    text = "".join(parts)
    assert _scrub(text, SECRET_PATTERNS) == _every_pattern(text)
    if not _may_hold_a_default_secret(text):
        assert all(pattern.search(text) is None for pattern in SECRET_PATTERNS)
