"""The recorder's conformance cases, written by hand: phi-core's tests (research/seeds.md §2.8).

Each case is a script of steps (an event in phi-core's JSON form with the outcome it must
have, or an operation: ``flush``, ``checkpoint``, ``drain``, ``current_loop``), the recorder's
configuration (``before_task``: ``"accept"`` or ``"reject:<session id>"``), and what must
hold at the end: a partial view of every session held, in order, and the callback calls.
The expectations are written from what the seed test asserts and from our decisions on its
quirks (REC ids), never computed by our code. ``python tests/recorder/rec_cases.py`` writes
``spec/cases/recorder/<name>.json``; ``test_rec_cases.py`` checks the files are current and
replays each against the runtime.

The view of a session (what ``expected.sessions`` may name; only the keys given are
compared): ``session_id``, ``segment``, ``formation`` (its kind), ``rejection``,
``parent_spawn_ref`` (its fields), ``loops``: per loop ``loop_id``, ``status``,
``parent_loop_id``, ``continuation_kind``, ``occurrence``, ``children_loop_ids``,
``child_loop_refs``, ``config_id``, ``event_types``, ``message_roles``, ``parallel_group``
(``all``, ``selected``, ``is_selected``) and ``turns``: per turn ``index``, ``trigger``,
``input_roles``, ``output_role``, ``tool_results`` (how many), ``tool_result_turn_index``.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from sessionspec.conformance.recorder_events import (
    agent_end,
    agent_start,
    assistant,
    message_end,
    parallel_end,
    parallel_start,
    tool_end,
    tool_result,
    turn_end,
    turn_start,
    user,
)

CASE_DIR = pathlib.Path(__file__).resolve().parents[2] / "spec" / "cases" / "recorder"
SEED = "phi-core 0.10.0 tests/session_test.rs"

Step = dict[str, Any]


def ev(event: dict[str, Any], expect: str = "recorded") -> Step:
    return {"event": event, "expect": expect}


def op(name: str, **fields: Any) -> Step:
    return {"op": name, **fields}


def case(
    name: str,
    description: str,
    requirements: list[str],
    steps: list[Step],
    sessions: list[dict[str, Any]],
    *,
    config: dict[str, Any] | None = None,
    calls: list[str] | None = None,
    seed: str = SEED,
) -> dict[str, Any]:
    expected: dict[str, Any] = {"sessions": sessions}
    if calls is not None:
        expected["callback_calls"] = calls
    configured = any(bool(value) for value in (config or {}).values())
    return {
        "version": 1,
        "machine": "recorder",
        "form": "script",
        "name": name,
        "seed": seed,
        "description": description,
        "requirements": requirements,
        "capabilities": ["recorder.config"] if configured else [],
        "config": config or {},
        "steps": steps,
        "expected": expected,
    }


L1 = "s1.anthropic.claude.1"
L2 = "s1.anthropic.claude.2"


def one_turn(loop: str, *, at: int = 0) -> list[Step]:
    return [
        ev(turn_start(loop, at=at)),
        ev(message_end(loop, user("hi"))),
        ev(message_end(loop, assistant("hello"))),
        ev(turn_end(loop, assistant("hello"), at=at + 1)),
    ]


def build_cases() -> list[dict[str, Any]]:
    return [
        case(
            "test_session_recorder_single_loop",
            "One loop, one session, completed, with its assistant message.",
            ["REC-010", "REC-011", "REC-020"],
            [
                ev(agent_start(L1, "s1")),
                *one_turn(L1),
                ev(agent_end(L1, at=2, messages=[user("hi"), assistant("hello")])),
                op("flush"),
            ],
            [
                {
                    "session_id": "s1",
                    "formation": "FirstLoop",
                    "loops": [
                        {
                            "loop_id": L1,
                            "status": "Completed",
                            "message_roles": ["user", "assistant"],
                        }
                    ],
                }
            ],
        ),
        case(
            "test_session_recorder_continuation",
            "A continuation: the parent lists the child, the child is Default, one root.",
            ["REC-010", "REC-023"],
            [
                ev(agent_start(L1, "s1")),
                ev(agent_end(L1, at=1)),
                ev(agent_start(L2, "s1", at=2, parent=L1, kind="Default")),
                ev(agent_end(L2, at=3)),
                op("flush"),
            ],
            [
                {
                    "session_id": "s1",
                    "loops": [
                        {"loop_id": L1, "parent_loop_id": None, "children_loop_ids": [L2]},
                        {"loop_id": L2, "parent_loop_id": L1, "continuation_kind": "Default"},
                    ],
                }
            ],
        ),
        case(
            "test_session_recorder_parallel_group",
            "Two parallel loops: both carry the group of two, exactly one is selected.",
            ["REC-034", "REC-042"],
            [
                ev(parallel_start("s1", ["s1.a.1", "s1.b.1"])),
                ev(agent_start("s1.a.1", "s1")),
                ev(agent_start("s1.b.1", "s1")),
                ev(agent_end("s1.a.1", at=1)),
                ev(agent_end("s1.b.1", at=2)),
                ev(parallel_end("s1", "s1.b.1", 1, at=3)),
                op("flush"),
            ],
            [
                {
                    "session_id": "s1",
                    "loops": [
                        {
                            "loop_id": "s1.a.1",
                            "parallel_group": {
                                "all": ["s1.a.1", "s1.b.1"],
                                "selected": "s1.b.1",
                                "is_selected": False,
                            },
                        },
                        {
                            "loop_id": "s1.b.1",
                            "parallel_group": {
                                "all": ["s1.a.1", "s1.b.1"],
                                "selected": "s1.b.1",
                                "is_selected": True,
                            },
                        },
                    ],
                }
            ],
        ),
        *[
            case(
                f"test_session_recorder_streaming_events_{'on' if on else 'off'}",
                "MessageUpdate is recorded only with include_streaming_events.",
                ["REC-017", "REC-030", "REC-031"],
                [
                    ev(agent_start(L1, "s1")),
                    ev(
                        {
                            "type": "MessageUpdate",
                            "loop_id": L1,
                            "message": assistant("he"),
                            "delta": {"Text": {"delta": "he"}},
                        },
                        "recorded" if on else "dropped:streaming_disabled",
                    ),
                    ev(message_end(L1, assistant("hello"))),
                    ev(agent_end(L1)),
                    op("flush"),
                ],
                [
                    {
                        "loops": [
                            {
                                "event_types": ["AgentStart"]
                                + (["MessageUpdate"] if on else [])
                                + ["MessageEnd", "AgentEnd"]
                            }
                        ]
                    }
                ],
                config={"include_streaming_events": on},
            )
            for on in (False, True)
        ],
        case(
            "test_session_recorder_bidirectional_tree",
            "A tree of three loops: parent links and child lists agree both ways.",
            ["REC-023"],
            [
                ev(agent_start("s1.c.1", "s1")),
                ev(agent_end("s1.c.1", at=1)),
                ev(agent_start("s1.c.2", "s1", at=2, parent="s1.c.1", kind="Default")),
                ev(agent_end("s1.c.2", at=3)),
                ev(
                    agent_start(
                        "s1.c.3", "s1", at=4, parent="s1.c.1", kind={"Branch": {"tag": "t"}}
                    )
                ),
                ev(agent_end("s1.c.3", at=5)),
                op("flush"),
            ],
            [
                {
                    "loops": [
                        {"loop_id": "s1.c.1", "children_loop_ids": ["s1.c.2", "s1.c.3"]},
                        {"loop_id": "s1.c.2", "parent_loop_id": "s1.c.1", "children_loop_ids": []},
                        {"loop_id": "s1.c.3", "parent_loop_id": "s1.c.1", "children_loop_ids": []},
                    ]
                }
            ],
        ),
        case(
            "test_session_recorder_continuation_kind",
            "Each continuation kind is kept as given; a loop without one is Initial.",
            ["REC-010"],
            [
                ev(agent_start("s1.c.1", "s1")),
                ev(agent_end("s1.c.1")),
                ev(agent_start("s1.c.2", "s1", parent="s1.c.1", kind={"Rerun": {"tag": "r"}})),
                ev(agent_end("s1.c.2")),
                ev(agent_start("s1.c.3", "s1", parent="s1.c.2", kind="Compaction")),
                ev(agent_end("s1.c.3")),
                op("flush"),
            ],
            [
                {
                    "loops": [
                        {"continuation_kind": "Initial"},
                        {"continuation_kind": {"Rerun": {"tag": "r"}}},
                        {"continuation_kind": "Compaction"},
                    ]
                }
            ],
        ),
        *[
            case(
                f"test_session_recorder_child_loop_ref{suffix}",
                "A sub-agent in its own session: the parent's child reference is filled, the "
                "child is not in the parent's children_loop_ids, its spawn reference is "
                "enriched" + (" (tool end before child end)" if first else ""),
                ["REC-032", "REC-033", "REC-023"],
                [
                    ev(agent_start("p.c.1", "p")),
                    ev(agent_start("k.c.1", "k", at=1, parent="p.c.1")),
                    *(
                        [
                            ev(tool_end("p.c.1", "call-1", child_loop_id="k.c.1")),
                            ev(agent_end("k.c.1", at=2)),
                        ]
                        if first
                        else [
                            ev(agent_end("k.c.1", at=2)),
                            ev(tool_end("p.c.1", "call-1", child_loop_id="k.c.1")),
                        ]
                    ),
                    ev(agent_end("p.c.1", at=3)),
                    op("flush"),
                ],
                [
                    {
                        "session_id": "p",
                        "loops": [
                            {
                                "children_loop_ids": [],
                                "child_loop_refs": [
                                    {
                                        "tool_call_id": "call-1",
                                        "tool_name": "spawn",
                                        "child_loop_id": "k.c.1",
                                        "child_session_id": "k",
                                    }
                                ],
                            }
                        ],
                    },
                    {
                        "session_id": "k",
                        "parent_spawn_ref": {
                            "parent_session_id": "p",
                            "parent_loop_id": "p.c.1",
                            "tool_call_id": "call-1",
                            "tool_name": "spawn",
                        },
                    },
                ],
            )
            for suffix, first in (("", False), ("_tool_end_before_child_end", True))
        ],
        case(
            "test_session_recorder_spawn_ref_enrichment_after_flush",
            "checkpoint promotes the child session first; the enrichment still reaches it.",
            ["REC-033", "REC-051"],
            [
                ev(agent_start("p.c.1", "p")),
                ev(agent_start("k.c.1", "k", parent="p.c.1")),
                ev(agent_end("k.c.1")),
                op("checkpoint", expect=1),
                ev(tool_end("p.c.1", "call-9", child_loop_id="k.c.1")),
                ev(agent_end("p.c.1")),
                op("flush"),
            ],
            [
                {"session_id": "k", "parent_spawn_ref": {"tool_call_id": "call-9"}},
                {"session_id": "p"},
            ],
        ),
        case(
            "test_session_recorder_flush_aborts_open_loop",
            "A loop without AgentEnd is Aborted by flush.",
            ["REC-050"],
            [ev(agent_start(L1, "s1")), op("flush")],
            [{"loops": [{"loop_id": L1, "status": "Aborted"}]}],
        ),
        case(
            "test_session_recorder_current_loop",
            "current_loop shows the running record and nothing once it ended.",
            ["REC-052"],
            [
                ev(agent_start(L1, "s1")),
                op("current_loop", loop_id=L1, expect={"loop_id": L1, "status": "Running"}),
                ev(agent_end(L1)),
                op("current_loop", loop_id=L1, expect=None),
            ],
            [{"session_id": "s1", "loops": [{"status": "Completed"}]}],
        ),
        case(
            "test_malformed_loop_id_handling",
            "No dot: the session is the whole id and there is no config id; one dot: no config "
            "id; a child without dots is its own session.",
            ["REC-015", "REC-032"],
            [
                ev(agent_start("nodots", "nodots")),
                ev(turn_start("nodots")),
                ev(turn_end("nodots", assistant("x"))),
                ev(tool_end("nodots", "c", child_loop_id="child-nodots")),
                ev(agent_end("nodots")),
                ev(agent_start("one.dot", "one")),
                ev(agent_end("one.dot", messages=[assistant("y")])),
                op("flush"),
            ],
            [
                {
                    "session_id": "nodots",
                    "loops": [
                        {
                            "config_id": None,
                            "child_loop_refs": [
                                {
                                    "child_loop_id": "child-nodots",
                                    "child_session_id": "child-nodots",
                                }
                            ],
                        }
                    ],
                },
                {"session_id": "one", "loops": [{"config_id": None}]},
            ],
        ),
        case(
            "test_turn_materialization_single_turn",
            "One turn: index 0, triggered by User, no tools, a user input, an assistant output.",
            ["REC-035", "REC-036"],
            [ev(agent_start(L1, "s1")), *one_turn(L1), ev(agent_end(L1)), op("flush")],
            [
                {
                    "loops": [
                        {
                            "config_id": "anthropic.claude",
                            "turns": [
                                {
                                    "index": 0,
                                    "trigger": "User",
                                    "input_roles": ["user"],
                                    "output_role": "assistant",
                                    "tool_results": 0,
                                }
                            ],
                        }
                    ]
                }
            ],
        ),
        case(
            "test_turn_materialization_multi_turn",
            "Turn 0 (User) calls a tool; turn 1 (Continuation) answers without tools. The tool "
            "result is in turn 0's tool results only (REC-036) and carries turn 0's id.",
            ["REC-035", "REC-036", "REC-003"],
            [
                ev(agent_start(L1, "s1")),
                ev(turn_start(L1, 0)),
                ev(message_end(L1, user("read it"))),
                ev(message_end(L1, assistant("", tool_calls=("c1",)))),
                ev(message_end(L1, tool_result("c1"))),
                ev(
                    turn_end(
                        L1, assistant("", tool_calls=("c1",)), tool_results=[tool_result("c1")]
                    )
                ),
                ev(turn_start(L1, 1, trigger="FollowUp")),
                ev(turn_end(L1, assistant("done"))),
                ev(agent_end(L1)),
                op("flush"),
            ],
            [
                {
                    "loops": [
                        {
                            "turns": [
                                {
                                    "index": 0,
                                    "trigger": "User",
                                    "input_roles": ["user"],
                                    "tool_results": 1,
                                    "tool_result_turn_index": [0],
                                },
                                {"index": 1, "trigger": "Continuation", "tool_results": 0},
                            ]
                        }
                    ]
                }
            ],
        ),
        case(
            "test_turn_aborted_loop_partial_turn_discarded",
            "AgentStart, TurnStart, flush: the loop is Aborted with no turn.",
            ["REC-050"],
            [ev(agent_start(L1, "s1")), ev(turn_start(L1)), op("flush")],
            [{"loops": [{"status": "Aborted", "turns": []}]}],
        ),
        case(
            "test_turn_agent_end_cleans_orphaned_partial_turn",
            "AgentEnd without TurnEnd: no turn.",
            ["REC-020"],
            [ev(agent_start(L1, "s1")), ev(turn_start(L1)), ev(agent_end(L1)), op("flush")],
            [{"loops": [{"status": "Completed", "turns": []}]}],
        ),
        case(
            "test_before_task_fires_on_new_session",
            "before_task is called when a session opens; after_task only at completion.",
            ["REC-012", "REC-053"],
            [ev(agent_start(L1, "s1")), ev(agent_end(L1))],
            [{"session_id": "s1"}],
            config={"before_task": "accept"},
            calls=["before_task s1"],
        ),
        case(
            "test_after_task_fires_on_flush",
            "after_task fires at flush, not before.",
            ["REC-053"],
            [ev(agent_start(L1, "s1")), op("flush")],
            [{"session_id": "s1"}],
            config={"before_task": "accept"},
            calls=["before_task s1", "after_task s1/0"],
        ),
        case(
            "test_task_callbacks_not_fired_on_continuation",
            "before_task once per session id, not for a continuation loop.",
            ["REC-012"],
            [
                ev(agent_start(L1, "s1")),
                ev(agent_end(L1)),
                ev(agent_start(L2, "s1", parent=L1, kind="Default")),
                ev(agent_end(L2)),
            ],
            [{"session_id": "s1"}],
            config={"before_task": "accept"},
            calls=["before_task s1"],
        ),
        case(
            "test_before_task_can_abort",
            "before_task returning false refuses the session visibly (REC-012; phi-core "
            "ignores the value): the loop is rejected at its start, its events dropped.",
            ["REC-012"],
            [
                ev(agent_start(L1, "s1")),
                ev(turn_start(L1), "dropped:loop_not_running"),
                ev(agent_end(L1), "dropped:loop_not_running"),
                op("flush"),
            ],
            [
                {
                    "session_id": "s1",
                    "rejection": "before_task returned false",
                    "loops": [{"status": "Rejected", "event_types": ["AgentStart"]}],
                }
            ],
            config={"before_task": "reject:s1"},
            calls=["before_task s1", "after_task s1/0"],
        ),
        case(
            "test_tool_use_turn_has_continuation_trigger",
            "The turn after a tool round trip is triggered by Continuation.",
            ["REC-003", "REC-035"],
            [
                ev(agent_start(L1, "s1")),
                ev(turn_start(L1, 0)),
                ev(turn_end(L1, assistant("", tool_calls=("c",)), tool_results=[tool_result("c")])),
                ev(turn_start(L1, 1, trigger="Continuation")),
                ev(turn_end(L1, assistant("ok"))),
                ev(agent_end(L1)),
                op("flush"),
            ],
            [
                {
                    "loops": [
                        {
                            "turns": [
                                {"trigger": "User", "tool_results": 1},
                                {"trigger": "Continuation", "tool_results": 0},
                            ]
                        }
                    ]
                }
            ],
        ),
        # -- our decisions on phi-core's quirks ---------------------------------------------
        case(
            "quirk_q3_running_loop_id_is_refused",
            "An AgentStart for a running loop id is refused; the record is kept.",
            ["REC-014"],
            [
                ev(agent_start(L1, "s1")),
                ev(turn_start(L1)),
                ev(agent_start(L1, "s1", at=9), "duplicate"),
                op("flush"),
            ],
            [{"loops": [{"loop_id": L1, "event_types": ["AgentStart", "TurnStart"]}]}],
            seed="phi-core quirk Q3 (research/seeds.md §2.7)",
        ),
        case(
            "quirk_q3_compaction_reuses_the_loop_id",
            "phi-core's compaction pass reuses the last loop id as its own parent: an explicit "
            "second record, linked to no one.",
            ["REC-014", "REC-023"],
            [
                ev(agent_start(L1, "s1")),
                ev(agent_end(L1)),
                ev(agent_start(L1, "s1", at=5, parent=L1, kind="Compaction")),
                ev(agent_end(L1, at=6)),
                op("flush"),
            ],
            [
                {
                    "loops": [
                        {"loop_id": L1, "occurrence": 1, "children_loop_ids": []},
                        {"loop_id": L1, "occurrence": 2, "continuation_kind": "Compaction"},
                    ]
                }
            ],
            seed="phi-core quirk Q3 (research/seeds.md §2.7)",
        ),
        case(
            "quirk_q5_loops_ordered_by_start",
            "Loops that end in reverse order are listed in start order.",
            ["REC-022"],
            [
                ev(agent_start("s1.c.1", "s1")),
                ev(agent_start("s1.c.2", "s1", at=1)),
                ev(agent_end("s1.c.2", at=2)),
                ev(agent_end("s1.c.1", at=3)),
                op("flush"),
            ],
            [{"loops": [{"loop_id": "s1.c.1"}, {"loop_id": "s1.c.2"}]}],
            seed="phi-core quirk Q5 (research/seeds.md §2.7)",
        ),
        case(
            "quirk_q9_reopened_session_is_a_new_segment",
            "An AgentStart after checkpoint opens segment 1 of the same id.",
            ["REC-013"],
            [
                ev(agent_start(L1, "s1")),
                ev(agent_end(L1)),
                op("checkpoint", expect=1),
                ev(agent_start(L2, "s1", at=5, parent=L1)),
                ev(agent_end(L2, at=6)),
                op("flush"),
            ],
            [
                {"session_id": "s1", "segment": 0, "loops": [{"children_loop_ids": []}]},
                {"session_id": "s1", "segment": 1, "formation": "FirstLoop"},
            ],
            config={"before_task": "accept"},
            calls=["before_task s1", "after_task s1/0", "after_task s1/1"],
            seed="phi-core quirk Q9 (research/seeds.md §2.7)",
        ),
        case(
            "quirk_q11_revert_applied_is_recorded",
            "RevertApplied is recorded in its loop's stream.",
            ["REC-041"],
            [
                ev(agent_start(L1, "s1")),
                ev({"type": "RevertApplied", "loop_id": L1, "timestamp": "2025-01-01T00:00:01Z"}),
                op("flush"),
            ],
            [{"loops": [{"event_types": ["AgentStart", "RevertApplied"]}]}],
            seed="phi-core quirk Q11 (research/seeds.md §2.7)",
        ),
        case(
            "events_before_start_and_after_end_are_dropped",
            "Events for a loop that is not running are dropped, with the reason.",
            ["REC-030"],
            [
                ev(turn_start(L1), "dropped:loop_not_running"),
                ev(agent_start(L1, "s1")),
                ev(agent_end(L1)),
                ev(message_end(L1, user("late")), "dropped:loop_not_running"),
                ev({"type": "InputRejected", "loop_id": "", "reason": "pii"}, "dropped:no_loop"),
                op("flush"),
            ],
            [{"loops": [{"event_types": ["AgentStart", "AgentEnd"]}]}],
            seed="phi-core §2.7 (events for loops that are not open)",
        ),
    ]


def write_cases() -> None:
    CASE_DIR.mkdir(parents=True, exist_ok=True)
    for item in build_cases():
        path = CASE_DIR / f"{item['name']}.json"
        path.write_text(json.dumps(item, indent=2) + "\n")


if __name__ == "__main__":
    write_cases()
