"""One self-contained HTML file from the viewer's asset files (VIEW-007).

The styles, scripts and body fragments are package data files under
``sessionspec/viewer/assets/``; a page inlines the ones it names, with its data as a JSON
document in a ``<script type="application/json">`` element. Nothing is fetched when the page
is opened: no link, script or style points outside the file. ``<`` is written as ``\\u003c``
inside the JSON so no text of a session can close the element or open a comment.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from importlib import resources
from typing import Any

__all__ = ["asset_text", "embed_json", "render_page", "write_page"]


def asset_text(name: str) -> str:
    """The text of one asset file shipped with the package."""
    return resources.files("sessionspec.viewer").joinpath("assets", name).read_text("utf-8")


def embed_json(data: Any) -> str:
    """``data`` as compact JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c")


def render_page(
    *,
    title: str,
    body: str,
    styles: tuple[str, ...],
    scripts: tuple[str, ...],
    data: Any = None,
    body_html: str | None = None,
) -> str:
    """The page: ``styles`` and ``scripts`` inlined, the ``body`` asset (or ``body_html``),
    and ``data`` in ``<script id="page-data" type="application/json">``."""
    css = "\n".join(asset_text(name) for name in styles)
    js = "\n".join(asset_text(name) for name in scripts)
    content = body_html if body_html is not None else asset_text(body)
    data_element = (
        ""
        if data is None
        else f'<script id="page-data" type="application/json">{embed_json(data)}</script>\n'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No network at view time (VIEW-007): the page may load nothing from anywhere.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{css}\n</style>\n</head>\n<body>\n"
        f"{content}\n{data_element}<script>\n{js}\n</script>\n</body>\n</html>\n"
    )


def write_page(path: str | os.PathLike[str], text: str) -> int:
    """Write the page atomically (a temporary file renamed over ``path``); its size in bytes.

    On any failure nothing is left at ``path`` that was not there before."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    data = text.encode("utf-8")
    handle, temporary = tempfile.mkstemp(prefix=".sessionspec-view-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return len(data)
