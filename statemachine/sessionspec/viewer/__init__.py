"""Pages to look at: a session file as an entry tree, conformance reports side by side (§16).

Tooling, apart from the runtime: nothing under :mod:`sessionspec.runtime` imports this
package. Each page has its own module (:mod:`.session_page`, :mod:`.report_page`); the
styles, scripts and body fragments are package data files under ``assets/`` that
:mod:`.page` inlines into one self-contained HTML file (VIEW-007): no network when the page
is opened, no CDN. :mod:`.browser` finds or installs the Chromium the browser tests drive;
:mod:`.command` adds ``sessionspec view`` and ``sessionspec conform-report``.
"""

from __future__ import annotations

from sessionspec.viewer.report_page import load_report, render_report_page
from sessionspec.viewer.session_page import render_session_page, session_view_data

__all__ = ["load_report", "render_report_page", "render_session_page", "session_view_data"]
