"""Exact resume by default (issue 7, item 2): COORD-017, COORD-020, COORD-151..COORD-155.

The running context must equal the resumed one, byte for byte, whatever the redaction policy:
the secret a tool call carried is redacted in the file and in memory at the same moment, and
paths and commands (not secrets) are kept in both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.coordinator.coord_helpers import assistant, clock, file_entries, tool_result, user

from sessionspec import SessionCoordinator
from sessionspec.redaction import REDACTED, RedactionPolicy

SECRET = "sk-proj-abcdefghijklmnop0123"


def secret_turn() -> list[dict[str, object]]:
    arguments = json.dumps(
        {"command": f"curl -H 'Authorization: Bearer {SECRET}' https://api.test",
         "path": "/home/alice/project/build.sh", "cwd": "/home/alice/project", "args": ["-v"],
         "api_key": SECRET}
    )
    return [
        user("deploy it"),
        assistant("running", calls=(("c1", arguments),)),
        tool_result("c1", "deployed", details={"cwd": "/tmp/build", "token": SECRET}),
        assistant("done"),
    ]


@pytest.mark.req("COORD-017", "COORD-020", "COORD-151", "COORD-153")
@pytest.mark.parametrize(
    "policy", [None, RedactionPolicy.opi(), RedactionPolicy.off()], ids=["default", "opi", "off"]
)
def test_the_running_context_is_the_resumed_context(
    tmp_path: Path, policy: RedactionPolicy | None
) -> None:
    coordinator = SessionCoordinator.new(
        tmp_path, "/w", session_id="s", clock=clock, redaction=policy
    )
    coordinator.on_turn_end(secret_turn(), {"input_tokens": 10})
    running = coordinator.context()
    coordinator.close()
    resumed = SessionCoordinator.open_existing(tmp_path / "s.jsonl", clock=clock, redaction=policy)
    assert resumed.context() == running  # exact: no normalization of either side
    assert [e["message"] for e in file_entries(tmp_path / "s.jsonl")[:4]] == running
    # A leaf move back onto the same branch reads the file again: still the same context.
    resumed.append_leaf(resumed.active_tip or "")
    assert resumed.context() == running
    fork = resumed.fork(session_id="f")
    forked = SessionCoordinator.open_existing(fork.path, clock=clock)
    assert forked.context() == running


@pytest.mark.req("COORD-151", "COORD-153", "COORD-155")
def test_the_default_redacts_secrets_and_keeps_paths_and_commands(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s", clock=clock)
    coordinator.on_turn_end(secret_turn())
    text = Path(coordinator.session_path).read_text()
    assert SECRET not in text and SECRET not in json.dumps(coordinator.context())
    arguments = json.loads(coordinator.context()[1]["content"][1]["tool_call"]["arguments"])
    assert arguments == {
        "command": f"curl -H 'Authorization: {REDACTED}' https://api.test",
        "path": "/home/alice/project/build.sh",
        "cwd": "/home/alice/project",
        "args": ["-v"],
        "api_key": REDACTED,
    }
    assert coordinator.context()[2]["details"] == {"cwd": "/tmp/build", "token": REDACTED}


@pytest.mark.req("COORD-150")
def test_arguments_without_secrets_reach_memory_and_file_unchanged(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s", clock=clock)
    arguments = '{"command": "ls -la /home/alice",  "n": 1}'  # spacing of the caller's own
    coordinator.on_turn_end([assistant("x", calls=(("c1", arguments),)), tool_result("c1", "ok")])
    assert coordinator.context()[0]["content"][1]["tool_call"]["arguments"] == arguments
    entry = file_entries(coordinator.session_path)[0]
    assert entry["message"]["content"][1]["tool_call"]["arguments"] == arguments


@pytest.mark.req("COORD-155")
def test_a_redaction_that_is_not_a_policy_is_a_caller_error(tmp_path: Path) -> None:
    from sessionspec.errors import CallerError

    with pytest.raises(CallerError, match="RedactionPolicy"):
        SessionCoordinator.new(tmp_path, "/w", redaction="off")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # nothing was created
    SessionCoordinator.new(tmp_path, "/w", session_id="s").close()
    before = (tmp_path / "s.jsonl").read_bytes()
    with pytest.raises(CallerError, match="RedactionPolicy"):
        SessionCoordinator.open_existing(tmp_path / "s.jsonl", redaction=object())  # type: ignore[arg-type]
    assert (tmp_path / "s.jsonl").read_bytes() == before
    SessionCoordinator.open_existing(tmp_path / "s.jsonl").close()  # the lock was not kept
