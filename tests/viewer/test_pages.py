"""The viewer's pages without a browser: their data against the read, self-containment,
typed errors, the commands, and the gate step that installs the browser (VIEW)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.viewer.viewer_sessions import HOSTILE, pi_lines, pi_with_branch

import sessionspec.gates
from sessionspec import BadReportError
from sessionspec.cli import main
from sessionspec.codecs import read_session, read_session_bytes
from sessionspec.viewer import browser as browser_module
from sessionspec.viewer.page import embed_json
from sessionspec.viewer.report_page import load_report, render_report_page
from sessionspec.viewer.session_page import render_session_page, session_view_data

ROOT = Path(__file__).resolve().parents[2]
PI_REPORT = ROOT / "spec" / "reports" / "pi.json"


def page_data(page: str) -> dict[str, object]:
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', page, re.S)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


@pytest.mark.req("VIEW-001", "VIEW-008")
def test_the_data_is_the_read_in_columns(tmp_path: Path) -> None:
    read = read_session(pi_with_branch(tmp_path / "pi.jsonl"))
    data = session_view_data(read)
    ids = data["id"]
    assert ids == [e.id for e in read.entries]
    parents: list[int] = []
    for position, delta in enumerate(data["parent"]):
        parents.append(-1 if delta == 0 else position - delta)
    by_id = {e.id: n for n, e in enumerate(read.entries)}
    assert parents == [by_id.get(e.parent_id, -1) if e.parent_id else -1 for e in read.entries]
    lines, total = [], 0
    for delta in data["line"]:
        total += delta
        lines.append(total)
    assert lines == [e.line for e in read.entries]
    assert [ids[i] for i in data["branch"]] == list(read.active_branch)
    assert ids[data["leaf"]] == read.leaf_id
    strings = data["strings"]
    assert len(strings) == len(set(strings))  # each string once
    assert len(data["usage"]) == len(read.usage)


@pytest.mark.req("VIEW-003")
def test_what_each_compaction_cut_is_what_replay_loses_across_it() -> None:
    raw = pi_lines(700)  # compactions at entries 200, 400 and 600
    read = read_session_bytes(raw, "pi.jsonl")
    data = session_view_data(read)
    lines = raw.splitlines(keepends=True)
    checked = 0
    for key, (kept, cut, _first, _last, replaced) in data["compactions"].items():
        entry = read.entries[int(key)]
        before = read_session_bytes(b"".join(lines[: entry.line - 1]), "before.jsonl")
        after = read_session_bytes(b"".join(lines[: entry.line]), "after.jsonl")
        assert cut == len(before.context) - (len(after.context) - 1), entry.line
        assert read.entries[kept].id == entry.first_kept_entry_id and replaced == -1
        checked += 1
    assert checked == 3


@pytest.mark.req("VIEW-008")
def test_long_texts_are_cut_saying_how_much() -> None:
    read = read_session_bytes(pi_lines(8), "pi.jsonl")
    data = session_view_data(read, max_text=20)
    cut = [s for s in data["strings"] if "more characters not shown" in s]
    assert cut and all(s.startswith(s[:20]) and len(s) < 80 for s in cut)
    assert not any("more characters" in s for s in session_view_data(read, max_text=0)["strings"])


@pytest.mark.req("VIEW-007")
def test_a_page_is_self_contained_and_its_data_cannot_close_its_script(tmp_path: Path) -> None:
    page = render_session_page(read_session(pi_with_branch(tmp_path / "pi.jsonl", entries=30)))
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "default-src 'none'" in page
    assert HOSTILE not in page  # only in its escaped form
    assert HOSTILE in json.dumps(page_data(page), ensure_ascii=False)
    assert embed_json({"t": "</script>"}) == '{"t":"\\u003c/script>"}'
    assert page.count("<script") == 2  # the data and the page's own script


@pytest.mark.req("VIEW-011")
@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"format": "other"}', "its format is 'other'"),
        ('{"format": "sessionspec conformance report", "version": 2}', "report version 2"),
        ('{"format": "sessionspec conformance report", "version": 1}', "'implementation'"),
    ],
)
def test_a_file_that_is_not_a_report_is_a_typed_error(
    tmp_path: Path, content: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(BadReportError) as caught:
        load_report(path)
    assert says in str(caught.value) and str(path) in str(caught.value)
    out = tmp_path / "page.html"
    assert main(["conform-report", str(PI_REPORT), str(path), "-o", str(out)]) == 1
    assert not out.exists() and says in capsys.readouterr().err


@pytest.mark.req("VIEW-012")
def test_the_report_page_holds_every_failure_with_its_steps_and_replay() -> None:
    report = load_report(PI_REPORT)
    page = render_report_page([report, report])
    for failure in report["failures"]:
        anchor = f'id="failure-0-{failure["requirement"]}"'
        assert anchor in page
        assert f'data-steps="{len(failure["steps"])}"' in page
    # Two reports of one implementation: the columns say which file.
    assert page.count("pi SessionManager 0.73.1 (pi.json)") >= 2


@pytest.mark.req("VIEW-001", "VIEW-012")
def test_the_commands_write_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = pi_with_branch(tmp_path / "pi.jsonl", entries=40)
    page = tmp_path / "pi.html"
    assert main(["view", str(source), "-o", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert "entries" in capsys.readouterr().out
    assert main(["view", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.html")]) == 1
    (tmp_path / "junk.jsonl").write_text("hello\n")
    assert main(["view", str(tmp_path / "junk.jsonl"), "-o", str(tmp_path / "x.html")]) == 1
    assert not (tmp_path / "x.html").exists()
    out = tmp_path / "conformance.html"
    assert main(["conform-report", str(PI_REPORT), str(PI_REPORT), "-o", str(out)]) == 0
    assert "COORD-050" in out.read_text()
    html_report = tmp_path / "run.html"
    code = main(
        [
            "conform",
            "--adapter",
            "runtime",
            "--machine",
            "coordinator",
            "--examples",
            "2",
            "--steps",
            "5",
            "--quiet",
            "--no-progress",
            "--report-html",
            str(html_report),
        ]
    )
    assert code == 0 and "✔ PASSED" in html_report.read_text()


@pytest.mark.req("VIEW-013")
def test_the_gate_installs_the_browser_only_when_missing_and_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []
    present = {"now": False}

    def missing() -> str | None:
        return None if present["now"] else "/usr/bin/chromium not installed"

    monkeypatch.setattr(browser_module, "browser_missing_reason", missing)

    def failing(argv: Sequence[str]) -> int:
        calls.append(tuple(argv))
        return 100

    out = io.StringIO()
    assert browser_module.ensure_browser(out, run=failing, is_root=False, has_apt=True) == 0
    assert calls == [] and "not root" in out.getvalue() and "skipped" in out.getvalue()
    assert browser_module.ensure_browser(out, run=failing, is_root=True, has_apt=True) == 1
    assert calls == [browser_module.INSTALL, ("apt-get", "update"), browser_module.INSTALL]

    def installing(argv: Sequence[str]) -> int:
        calls.append(tuple(argv))
        present["now"] = True
        return 0

    calls.clear()
    assert browser_module.ensure_browser(out, run=installing, is_root=True, has_apt=True) == 0
    assert calls == [browser_module.INSTALL]
    assert "--no-install-recommends" in browser_module.INSTALL
    assert browser_module.ensure_browser(out, run=failing, is_root=True, has_apt=True) == 0
    names = [step.name for step in sessionspec.gates.steps(ROOT)]
    assert names.index("browser") == names.index("pytest") - 1
