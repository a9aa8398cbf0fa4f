"""The conformance report page: one or more JSON reports side by side (spec §16, VIEW).

Rules
-----
* Input is the JSON report of ``sessionspec conform`` (CONF-050) in version 1; anything else
  is a :class:`~sessionspec.errors.BadReportError` naming the file and what is wrong
  (VIEW-011).
* Requirements are grouped by the machines that touched them and shown one row each, one
  column per report, with the status each report gives (passed, failed, flaky, errored,
  skipped with the missing capability) or "not in this report"; every status has a word and
  a symbol, never a colour alone (VIEW-010, VIEW-012).
* Each failure is an expandable element holding its message, its shrunk steps (as many as
  the report has, in order) and the command that replays it, exactly as the report states
  them (VIEW-012).

Theory of operation: the page is rendered here, as plain HTML, from the reports' own values
(escaped); the page's script only filters rows and opens failures. The report is small (a
hundred requirements), so nothing is virtualized.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.errors import BadReportError
from sessionspec.viewer.page import render_page

__all__ = ["STATUS_SYMBOLS", "load_report", "render_report_page"]

#: A symbol beside each status word, so a status reads without colour (VIEW-010).
STATUS_SYMBOLS = {
    "passed": "✔",
    "failed": "✘",
    "flaky": "≈",
    "errored": "‼",
    "skipped": "–",
    "absent": "·",
}

REPORT_FORMAT = "sessionspec conformance report"


def _check(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadReportError(path, "the document is not a JSON object")
    if data.get("format") != REPORT_FORMAT:
        raise BadReportError(path, f"its format is {data.get('format')!r}")
    if data.get("version") != 1:
        raise BadReportError(path, f"report version {data.get('version')!r} (this reads 1)")
    for key, kind in (
        ("implementation", dict),
        ("machines", list),
        ("requirements", list),
        ("failures", list),
    ):
        if not isinstance(data.get(key), kind):
            raise BadReportError(path, f"{key!r} is missing or not a {kind.__name__}")
    for row in data["requirements"]:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise BadReportError(path, f"a requirement row without an id: {row!r:.80}")
    for failure in data["failures"]:
        if not isinstance(failure, dict) or not isinstance(failure.get("requirement"), str):
            raise BadReportError(path, f"a failure without a requirement: {failure!r:.80}")
    return data


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON report read and checked (VIEW-011); its ``source`` is set to the file's name."""
    name = os.fspath(path)
    with open(name, "rb") as handle:
        raw = handle.read()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReportError(name, f"not JSON ({exc})") from exc
    checked = _check(data, name)
    checked.setdefault("source", os.path.basename(name))
    return checked


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _column_names(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    names = []
    for report in reports:
        impl = report["implementation"]
        name = f"{impl.get('name', report.get('adapter', '?'))} {impl.get('version', '')}".strip()
        names.append(name)
    for index, name in enumerate(names):  # two reports of one implementation: say which file
        if names.count(name) > 1:
            names[index] = f"{name} ({reports[index].get('source', index + 1)})"
    return names


def _anchor(column: int, requirement: str) -> str:
    return f"failure-{column}-{requirement}"


def _status_cell(column: int, row: Mapping[str, Any] | None, failed: bool) -> str:
    if row is None:
        return (
            f'<td class="st st-absent" data-status="absent">{STATUS_SYMBOLS["absent"]} '
            "not in this report</td>"
        )
    status = str(row.get("status", "?"))
    symbol = STATUS_SYMBOLS.get(status, "?")
    detail = row.get("detail") or ""
    text = (
        f'<span class="sym" aria-hidden="true">{symbol}</span> '
        f'<span class="word">{_e(status)}</span>'
    )
    if failed:
        text += (
            f' <a class="to-failure" href="#{_anchor(column, str(row["id"]))}">steps and replay</a>'
        )
    if detail:
        text += f'<div class="why">{_e(detail)}</div>'
    return f'<td class="st st-{_e(status)}" data-status="{_e(status)}">{text}</td>'


def _implementations(reports: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    def row(title: str, cells: Sequence[str]) -> str:
        return f'<tr><th scope="row">{title}</th>{"".join(f"<td>{c}</td>" for c in cells)}</tr>'

    head = "".join(f'<th scope="col">{_e(n)}</th>' for n in names)
    rows = [
        row(
            "result",
            [
                f'<strong class="result">{"✔ PASSED" if r.get("passed") else "✘ FAILED"}</strong>'
                for r in reports
            ],
        ),
        row("language", [_e(r["implementation"].get("language")) for r in reports]),
        row("adapter", [f"<code>{_e(r.get('adapter'))}</code>" for r in reports]),
        row(
            "capabilities",
            [_e(", ".join(r.get("capabilities") or ()) or "(none)") for r in reports],
        ),
        row(
            "protocol / rules",
            [
                f"protocol {_e(r.get('protocol_version'))}, rules v{_e(r.get('spec_version'))}"
                for r in reports
            ],
        ),
        row(
            "seed and budget",
            [
                f"seed {_e(r.get('seed'))}; {_e((r.get('budget') or {}).get('examples'))} examples "
                f"× {_e((r.get('budget') or {}).get('steps'))} steps"
                for r in reports
            ],
        ),
        row(
            "time",
            [f"{_e(r.get('seconds'))} s, {_e(r.get('round_trips'))} round trips" for r in reports],
        ),
        row(
            "machines",
            [
                "<ul>"
                + "".join(
                    f"<li>{_e(m.get('machine'))}: {_e(m.get('status'))}"
                    + (
                        f" ({_e(m.get('reason'))})"
                        if m.get("reason")
                        else f", {_e(m.get('examples'))} examples, "
                        f"{_e(m.get('failures'))} failure(s)"
                    )
                    + "</li>"
                    for m in r["machines"]
                )
                + "</ul>"
                for r in reports
            ],
        ),
        row("report file", [_e(r.get("source", "")) for r in reports]),
    ]
    return (
        f'<table class="impls"><thead><tr><th scope="col">implementation</th>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _requirements(reports: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    by_report = [{str(r["id"]): r for r in report["requirements"]} for report in reports]
    failed = [{str(f["requirement"]) for f in report["failures"]} for report in reports]
    groups: dict[str, list[str]] = {}
    for requirement in sorted({rid for rows in by_report for rid in rows}):
        machines = next(
            (
                str(rows[requirement].get("machines") or "")
                for rows in by_report
                if requirement in rows and rows[requirement].get("machines")
            ),
            "",
        )
        groups.setdefault(machines or "no machine (skipped for a capability)", []).append(
            requirement
        )
    head = "".join(f'<th scope="col">{_e(n)}</th>' for n in names)
    sections = []
    for machines in sorted(groups):
        body = []
        for requirement in groups[machines]:
            cells = [
                _status_cell(column, rows.get(requirement), requirement in failed[column])
                for column, rows in enumerate(by_report)
            ]
            statuses = {
                str(rows[requirement].get("status")) if requirement in rows else "absent"
                for rows in by_report
            }
            body.append(
                f'<tr class="req" data-req="{_e(requirement)}" '
                f'data-differs="{1 if len(statuses) > 1 else 0}" '
                f'data-statuses="{_e(" ".join(sorted(statuses)))}">'
                f'<th scope="row"><code>{_e(requirement)}</code></th>{"".join(cells)}</tr>'
            )
        sections.append(
            f'<table class="reqs" data-machines="{_e(machines)}"><caption>{_e(machines)} '
            f'<span class="count">({len(groups[machines])} requirement(s))</span></caption>'
            f'<thead><tr><th scope="col">requirement</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    return "".join(sections)


def _failures(reports: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    out = []
    for column, report in enumerate(reports):
        failures = report["failures"]
        items = []
        for failure in failures:
            requirement = str(failure["requirement"])
            steps = failure.get("steps") or []
            message = str(failure.get("message") or "")
            first = message.splitlines()[0] if message else ""
            symbol = STATUS_SYMBOLS.get(str(failure.get("kind")), "✘")
            confirmed = failure.get("confirmed")
            replay = failure.get("replay") or ""
            items.append(
                f'<details class="failure" id="{_anchor(column, requirement)}" '
                f'data-req="{_e(requirement)}" data-steps="{len(steps)}">'
                f'<summary><span aria-hidden="true">{symbol}</span> '
                f"<code>{_e(requirement)}</code> {_e(failure.get('machine'))}: "
                f"{_e(failure.get('kind'))} — {_e(first[:160])}</summary>"
                f'<div class="failure-body"><pre class="message">{_e(message)}</pre>'
                + (
                    ""
                    if confirmed is None
                    else "<p>Replayed in a fresh harness: "
                    f"{'fails' if confirmed else 'passes'}.</p>"
                )
                + (
                    f'<p>Replay: <code class="replay">{_e(replay)}</code></p>'
                    if replay
                    else '<p class="muted">The report names no replay command.</p>'
                )
                + (
                    f"<p>Case file: <code>{_e(failure.get('case'))}</code></p>"
                    if failure.get("case")
                    else ""
                )
                + f'<h4>Shrunk steps ({len(steps)})</h4><ol class="steps">'
                + "".join(
                    f"<li><code>{_e(json.dumps(step, ensure_ascii=False))}</code></li>"
                    for step in steps
                )
                + "</ol></div></details>"
            )
        out.append(
            f'<section class="failures-of" data-column="{column}"><h3>{_e(names[column])}: '
            f"{len(failures)} failing requirement(s)</h3>"
            + ("".join(items) or "<p>No failures.</p>")
            + "</section>"
        )
    return "".join(out)


def render_report_page(reports: Sequence[Mapping[str, Any]], *, title: str | None = None) -> str:
    """One page with every report side by side (VIEW-012); each report as
    :func:`load_report` returns it (or ``report_to_json``'s value)."""
    if not reports:
        raise BadReportError("<none>", "no report to show")
    checked = [
        _check(dict(r), str(r.get("source", f"report {n + 1}"))) for n, r in enumerate(reports)
    ]
    names = _column_names(checked)
    heading = title or (
        "Conformance: " + " · ".join(names) if len(names) > 1 else f"Conformance: {names[0]}"
    )
    body = (
        f'<header class="page-head"><h1>{_e(heading)}</h1>'
        f"<p>{len(checked)} report(s) of <code>sessionspec conform</code>, side by side. "
        "Statuses: ✔ passed, ✘ failed, ≈ flaky, ‼ errored, – skipped (a capability the "
        "implementation does not declare), · not in this report.</p></header>"
        '<nav class="toolbar" aria-label="Filters">'
        '<label><input type="checkbox" id="only-differ"> only requirements where the reports '
        "differ</label>"
        '<label>status <select id="status-filter"><option value="">any</option>'
        + "".join(
            f'<option value="{s}">{s}</option>'
            for s in ("failed", "passed", "skipped", "flaky", "errored", "absent")
        )
        + '</select></label><button type="button" id="expand-all">Expand every failure'
        '</button><span id="shown" role="status" aria-live="polite"></span></nav>'
        f'<main class="report"><section aria-labelledby="impl-h"><h2 id="impl-h">'
        f"Implementations</h2>{_implementations(checked, names)}</section>"
        f'<section aria-labelledby="req-h"><h2 id="req-h">Requirements by machine</h2>'
        f"{_requirements(checked, names)}</section>"
        f'<section aria-labelledby="fail-h"><h2 id="fail-h">Failures</h2>'
        f"{_failures(checked, names)}</section></main>"
    )
    return render_page(
        title=heading,
        body="",
        styles=("base.css", "report.css"),
        scripts=("report.js",),
        body_html=body,
    )
