"""Reports of a conformance run: text (a summary table by requirement), JSON and JUnit XML.

The JSON report is the complete record (CONF-050): the implementation and its capabilities,
the protocol and interpretation-rule versions, the seed and budget, every machine's result,
every failure with its requirement id, its shrunk steps and the command that replays it,
and the protocol round trips. The text report is that, for a person; the JUnit XML report
has one test case per requirement, so CI systems show the suite like any test run.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from sessionspec.conformance.runner import Report

__all__ = ["render_json", "render_junit", "render_text", "report_to_json"]


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        "format": "sessionspec conformance report",
        "version": 1,
        "protocol_version": report.protocol_version,
        "spec_version": report.spec_version,
        "adapter": report.adapter,
        "implementation": report.implementation,
        "capabilities": report.capabilities,
        "seed": report.seed,
        "budget": {
            "examples": report.budget.examples,
            "steps": report.budget.steps,
            "seconds": report.budget.seconds,
            "shrink_seconds": report.budget.shrink_seconds,
            "shrinks": report.budget.shrinks,
            "first_hand": report.budget.first_hand,
        },
        "passed": report.passed,
        "seconds": round(report.seconds, 3),
        "round_trips": report.round_trips,
        "round_trips_per_second": (
            round(report.round_trips / report.seconds, 1) if report.seconds > 0 else None
        ),
        "machines": [
            {
                "machine": m.machine,
                "status": m.status,
                "reason": m.reason,
                "examples": m.examples,
                "seconds": round(m.seconds, 3),
                "failures": len(m.failures),
            }
            for m in report.machines
        ],
        "requirements": [
            {"id": rid, "status": status, "machines": machines, "detail": detail}
            for rid, status, machines, detail in report.requirement_rows()
        ],
        "failures": [f.to_json() for f in report.failures],
    }


def render_json(report: Report) -> str:
    return json.dumps(report_to_json(report), indent=2, ensure_ascii=False) + "\n"


def render_text(report: Report, *, steps: bool = True) -> str:
    """A plain-text report: header, machines, the table by requirement, each failure."""
    impl = report.implementation
    lines = [
        f"sessionspec conformance report (protocol {report.protocol_version}, "
        f"rules v{report.spec_version})",
        f"implementation: {impl.get('name', '?')} {impl.get('version', '')} "
        f"({impl.get('language', '?')}) via {report.adapter}",
        f"capabilities: {', '.join(report.capabilities) or '(none)'}",
        f"seed {report.seed}; budget {report.budget.examples} examples x "
        f"{report.budget.steps} steps"
        + (f", {report.budget.seconds:g} s" if report.budget.seconds else "")
        + (", first hand" if report.budget.first_hand else "")
        + f"; {report.seconds:.1f} s, {report.round_trips} round trips",
        "",
        "machine            status   examples  seconds  failures",
    ]
    for m in report.machines:
        lines.append(
            f"{m.machine:<18} {m.status:<8} {m.examples:>8} {m.seconds:>8.1f} "
            f"{len(m.failures):>9}" + (f"  ({m.reason})" if m.reason else "")
        )
    lines += ["", "requirement  status    machines                 detail"]
    for rid, status, machines, detail in report.requirement_rows():
        lines.append(f"{rid:<12} {status:<9} {machines:<24} {detail}")
    failures = report.failures
    lines += ["", f"{len(failures)} distinct failing requirement(s)"]
    for number, failure in enumerate(failures, start=1):
        lines += [
            "",
            f"{number}. [{failure.requirement}] {failure.machine}: {failure.kind}"
            + ("" if failure.confirmed is None else
               f" (replayed in a fresh harness: {'fails' if failure.confirmed else 'passes'})"),
            f"   {failure.message}",
        ]
        if failure.replay:
            lines.append(f"   replay: {failure.replay}")
        if steps:
            lines.append(f"   steps ({len(failure.steps)}):")
            for step in failure.steps:
                lines.append("     " + json.dumps(step, ensure_ascii=False)[:300])
    lines += ["", "PASSED" if report.passed else "FAILED"]
    return "\n".join(lines) + "\n"


def render_junit(report: Report) -> str:
    """JUnit XML: one ``testsuite`` per run, one ``testcase`` per requirement (CONF-050)."""
    rows = report.requirement_rows()
    failures = {f.requirement: f for f in report.failures}
    suite = ET.Element(
        "testsuite",
        name=f"sessionspec conformance: {report.implementation.get('name', report.adapter)}",
        tests=str(len(rows)),
        failures=str(sum(1 for _, s, _, _ in rows if s in ("failed", "flaky"))),
        errors=str(sum(1 for _, s, _, _ in rows if s == "errored")),
        skipped=str(sum(1 for _, s, _, _ in rows if s == "skipped")),
        time=f"{report.seconds:.3f}",
    )
    for rid, status, machines, detail in rows:
        case = ET.SubElement(
            suite, "testcase", classname=f"sessionspec.{machines or 'none'}", name=rid
        )
        if status in ("failed", "flaky", "errored"):
            failure = failures[rid]
            body = json.dumps(failure.to_json(), indent=1, ensure_ascii=False)
            element = ET.SubElement(
                case, "error" if status == "errored" else "failure", message=failure.message
            )
            element.text = body
        elif status == "skipped":
            ET.SubElement(case, "skipped", message=detail)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
