"""Shared test settings.

Under ``CI=true`` Hypothesis loads its built-in ``ci`` profile (derandomized, no example
database); we keep it. ``SESSIONSPEC_DEEP=1`` selects a deeper profile for long local runs.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile(
    "deep",
    settings.get_profile("ci" if os.environ.get("CI") else "default"),
    max_examples=1000,
    stateful_step_count=100,
    deadline=None,
)
if os.environ.get("SESSIONSPEC_DEEP"):
    settings.load_profile("deep")
