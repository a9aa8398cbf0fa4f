"""Run the conformance suite against pi's SessionManager and publish the report.

One command (from the repository root, Node.js 20 and npm on PATH)::

    .venv/bin/python -m tests.conformance.peers.pi_report

installs the pinned harness dependencies into the cache (statemachine/harnesses/pi/
package-lock.json, ``npm ci``), runs ``sessionspec conform`` through the harness over stdio
with the seed and budget below, and writes ``spec/reports/pi.json`` (the runner's complete
JSON report) and ``spec/reports/pi.md`` (the same findings for a reader: every deviation by
requirement id, what pi does there, and the shrunk steps). The explanations are ours, from
reading pi's source; the findings are the runner's, unedited. The suite is not tuned to pi:
it reports what pi does, and our rules stand.

A run kills the harness at random instants (``crash.kill``), so two runs may shrink a failure
to different steps; the set of failing requirements is what a rerun reproduces.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.conformance.peers.pi_install import HARNESS, ROOT, install_pi_modules

from sessionspec.conformance.adapters import SubprocessConnection
from sessionspec.conformance.report import render_json
from sessionspec.conformance.runner import Budget, Report, run_conformance

REPORTS = ROOT / "spec" / "reports"
ADAPTER = "node statemachine/harnesses/pi/harness.mjs"
SEED = 0
BUDGET = Budget(examples=20, steps=20, shrink_seconds=20.0)
COMMAND = ".venv/bin/python -m tests.conformance.peers.pi_report"

#: What pi does where the suite reports a deviation (read from pi 0.73.1's
#: dist/core/session-manager.js); keyed by the requirement the runner names.
EXPLANATIONS: dict[str, str] = {
    "COORD-001": (
        "pi's `SessionManager` has no lifecycle: there is no close, so after `close` it "
        "accepts every operation and writes it (the harness has nothing to refuse with)."
    ),
    "COORD-010": (
        "pi's session layer never says that a compaction is due: `appendMessage` returns an "
        "id and nothing else. pi's agent decides compaction elsewhere, by comparing the "
        "context's tokens with the model's window, not by the usage counted since the last "
        "compaction (COORD-030)."
    ),
    "COORD-014": (
        "A turn without messages: pi has no turns, so nothing is written and nothing is "
        "counted. What pi shows afterwards (turns and usage from the context's messages) "
        "lacks the turn and its usage, which our rules count (opi, and COORD-016)."
    ),
    "COORD-020": (
        "A reopen does not show what the running manager showed. pi persists no leaf: "
        "`branch()` moves an in-memory pointer, and `open`/`continueRecent` resume at the "
        "last entry in file order. And pi writes nothing before the first assistant message "
        "(`_persist` defers), so acknowledged turns that hold only user messages are not in "
        "the file."
    ),
    "COORD-050": (
        "A fork is `createBranchedSession(leaf)`: it throws `Entry null not found` for a "
        "session without entries, and a fork without an assistant message is not written "
        "until one arrives (the same deferral), so an acknowledged fork can be missing."
    ),
    "COORD-051": (
        "pi counts usage from the assistant messages of the context (`getSessionStats`). A "
        "fork copies those messages, so the fork counts the parent's usage again."
    ),
    "CONF-001": (
        "The context differs from the model after a step that has no requirement of its "
        "own. It is a consequence of a deviation already reported (the runner masks it and "
        "goes on): in the shrunk steps pi accepted a turn after `close` (COORD-001) and a "
        "reopen then showed it; pi's lost leaf (COORD-020) and partial writes at a process "
        "death (CONF-010) surface the same way."
    ),
    "CONF-002": (
        "The tip differs: an extension state is pi's `appendCustomEntry`, which makes the "
        "custom entry the leaf. Our rule (COORD-043) is that extension state does not move "
        "the tip; the ids of the context are equal up to renaming, the tip is not."
    ),
    "CONF-004": (
        "pi has no turn count and does not keep the usage a turn reports. The harness shows "
        "pi's own session statistics (`getSessionStats`: user messages and assistant usage "
        "of the context), so a turn without a user message counts nothing, and usage on "
        "abandoned branches or before a compaction is not counted."
    ),
    "CONF-005": (
        "The lifecycle state stays `ready` where the model is `compaction_due`: the same "
        "cause as COORD-010 (pi's session layer has no compaction threshold)."
    ),
    "CONF-007": (
        "The latest user message of the model's context is missing from pi's after a "
        "process death or a reopen: pi holds entries in memory until the first assistant "
        "message and writes them one line at a time without fsync (CONF-010), and resumes at "
        "the last entry in file order (COORD-020), so what a fresh process shows can lack "
        "the last user message. A consequence of those rows, reported under the check that "
        "saw it."
    ),
    "CONF-010": (
        "After a process death the session is neither the state before the operation nor "
        "the state after it, or an acknowledged operation is lost: pi does not fsync, holds "
        "every entry in memory until the first assistant message, then writes the buffered "
        "entries one line at a time."
    ),
}


def run(budget: Budget = BUDGET, seed: int = SEED) -> Report:
    """The suite against pi's harness (dependencies installed into the cache first)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("Node.js is not installed: pi's harness cannot run")
    env = dict(os.environ, SESSIONSPEC_PI_NODE_MODULES=str(install_pi_modules()))
    connection = SubprocessConnection([node, str(HARNESS)], env=env)
    try:
        return run_conformance(
            connection,
            adapter=ADAPTER,
            machines=("coordinator", "realtime"),
            budget=budget,
            seed=seed,
        )
    finally:
        connection.close()


def _step_text(step: Mapping[str, Any]) -> str:
    """One step, with each message shortened to its role and text."""
    shown = dict(step)
    if "messages" in shown:
        shown["messages"] = [_message_text(m) for m in shown["messages"]]
    return json.dumps(shown, ensure_ascii=False)


def _message_text(message: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for block in message.get("content") or []:
        if block.get("type") == "text":
            parts.append(repr(block.get("text")))
        elif block.get("type") == "tool_call":
            parts.append(f"call {block['tool_call']['id']}")
    if message.get("role") == "tool_result":
        parts.insert(0, f"for {message.get('tool_call_id')}")
    return f"{message.get('role')}({', '.join(parts)})"


def render_markdown(data: Mapping[str, Any]) -> str:
    """``spec/reports/pi.md`` from the JSON report."""
    impl = data["implementation"]
    failures: Sequence[Mapping[str, Any]] = data["failures"]
    lines = [
        "# Conformance report: pi's SessionManager",
        "",
        f"Implementation: **{impl['name']} {impl['version']}** ({impl['language']}, npm "
        "`@mariozechner/pi-coding-agent`, pinned by `statemachine/harnesses/pi/"
        "package-lock.json`), driven through `statemachine/harnesses/pi/harness.mjs` over "
        f"the driver protocol (version {data['protocol_version']}; interpretation rules "
        f"v{data['spec_version']}).",
        "",
        "Reproduce (Node.js 20 and npm on PATH; installs the pinned packages into "
        "`~/.cache/sessionspec/pi-harness/`, runs the suite, rewrites this file and "
        "`pi.json`):",
        "",
        "```",
        COMMAND,
        "```",
        "",
        f"Seed {data['seed']}; budget {data['budget']['examples']} examples x "
        f"{data['budget']['steps']} steps per chunk; {data['seconds']:.0f} s, "
        f"{data['round_trips']} protocol round trips "
        f"({data['round_trips_per_second']} per second, including process restarts).",
        "",
        "Capabilities the harness declares: "
        + ", ".join(f"`{c}`" for c in data["capabilities"])
        + ". pi writes its own format (v3 JSONL) with its own ids and no fsync, so the "
        "format, ids, figures and simulated-storage checks do not apply; its compaction "
        "cut is its own token budget, so `coordinator.compaction` (our cut policies and "
        "core summary) is not declared and compaction is not exercised; pi has no realtime "
        "transcript. The suite judges what pi shows through its API: the context it would "
        "send next, the tip, usage and turns as pi's agent computes them, typed rejections, "
        "what a reopen in a fresh process shows, and what a SIGKILL at a random instant "
        "leaves.",
        "",
        "The suite is not tuned to pi: each row is a place where pi does something our rules "
        "(spec/SPEC.md) do not allow. Several rows have one root cause; the runner reports "
        "every distinct failing requirement it reaches (masking each once found), so a row "
        "can be a consequence of an earlier one, as the explanations say.",
        "",
        "## Requirements",
        "",
        "| requirement | status | detail |",
        "|---|---|---|",
    ]
    for row in data["requirements"]:
        detail = str(row["detail"]).replace("|", "\\|")
        lines.append(f"| {row['id']} | {row['status']} | {detail} |")
    lines += ["", "Machines:", ""]
    for machine in data["machines"]:
        why = f" ({machine['reason']})" if machine["reason"] else ""
        lines.append(
            f"- `{machine['machine']}`: {machine['status']}{why}, {machine['examples']} "
            f"examples, {machine['failures']} distinct failing requirements"
        )
    lines += ["", "## Deviations", ""]
    for number, failure in enumerate(
        sorted(failures, key=lambda f: str(f["requirement"])), start=1
    ):
        requirement = str(failure["requirement"])
        lines += [
            f"### {number}. {requirement} ({failure['kind']})",
            "",
            EXPLANATIONS.get(requirement, "Not analysed yet: see the steps."),
            "",
            "The check that failed:",
            "",
            "```",
            str(failure["message"])[:600],
            "```",
            "",
            f"Shrunk steps ({len(failure['steps'])}; messages shortened to role and text):",
            "",
            "```",
            *(_step_text(step) for step in failure["steps"]),
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPORTS)
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite pi.md from the existing pi.json"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        text = (args.out / "pi.json").read_text(encoding="utf-8")
        (args.out / "pi.md").write_text(render_markdown(json.loads(text)), encoding="utf-8")
        return 0
    report = run()
    text = render_json(report)
    (args.out / "pi.json").write_text(text, encoding="utf-8")
    (args.out / "pi.md").write_text(render_markdown(json.loads(text)), encoding="utf-8")
    print(f"{len(report.failures)} distinct failing requirements; wrote {args.out}/pi.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
