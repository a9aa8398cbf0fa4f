"""Redaction of what a session persists from tool calls and tool results (COORD-150..154).

Rules (spec/SPEC.md §4.2), after opi's ``message_for_session`` and ``redact`` in Summary mode:

* Only two places are redacted (COORD-150): the ``arguments`` of an assistant's tool calls
  (a JSON document held as a string: it is parsed, redacted and written back compactly; a
  string that is not JSON becomes the JSON string ``"[REDACTED]"``) and the ``details`` of
  a tool result. Text, tool-result content, user messages and every other field are kept.
* In those values (COORD-151), every object member whose key is in the policy's key list,
  compared ASCII-case-insensitively, has its value replaced by ``"[REDACTED]"`` (opi's list:
  :data:`DEFAULT_REDACTED_KEYS`); every string that looks like an absolute path (a Windows
  drive, a UNC path, or a common POSIX root such as ``/home/`` or ``/tmp/``) becomes
  ``"[REDACTED]"`` (COORD-152); and well-known secret shapes (API keys such as ``sk-...``,
  ``Bearer`` tokens, GitHub and AWS keys) inside strings are replaced (COORD-153). Each of
  the three is configurable in :class:`RedactionPolicy`.
* Redaction never mutates its input and returns a new dict (COORD-154): the coordinator
  persists the redacted form and keeps the original in memory, as opi does, so what the
  model sees in this process and what the file holds differ in exactly these fields.

Theory of operation: a pure recursive walk over JSON values; the caller passes the wire
form of a message (``to_json_dict()``) and writes the result.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ABSOLUTE_PATH_PATTERN",
    "DEFAULT_REDACTED_KEYS",
    "REDACTED",
    "SECRET_PATTERNS",
    "RedactionPolicy",
    "looks_like_absolute_path",
    "redact_for_log",
    "redact_value",
]

#: The replacement text, as opi writes it.
REDACTED = "[REDACTED]"

#: opi's content-sensitive keys (``diagnostic.rs``, v0.6.3): values that carry prompts, tool
#: output, environment blocks, commands, working directories and paths.
DEFAULT_REDACTED_KEYS: frozenset[str] = frozenset(
    {
        "prompt",
        "prompts",
        "tool_output",
        "tool_result",
        "env",
        "environment",
        "command",
        "args",
        "cwd",
        "body",
        "request_body",
        "response_body",
        "provider_error",
        "headers",
        "stdout",
        "stderr",
        "tool_error",
        "hook_error",
        "trace_error",
        "package_error",
        "package_message",
        "adapter_error",
        "path",
        "resolved_path",
        "user_path",
    }
)

#: opi's absolute-path heuristic: a drive path (``C:\\``, ``D:/``) not preceded by a letter
#: or digit (so ``https://`` is not one), a UNC path (``\\\\server``), or a common POSIX root.
ABSOLUTE_PATH_PATTERN = re.compile(
    r"(?:^|[^A-Za-z0-9])[A-Za-z]:[\\/]"
    r"|\\\\"
    r"|/(?:Users|home|root|tmp|var|etc|opt|mnt|private|proc|sys|dev|srv|lib|run|app|data|usr"
    r"|bin|sbin)/"
)

#: Secret shapes scrubbed inside any redacted string (a subset of opi's secret redactor).
SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-_.=+/]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9\-_]{16,}"),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[baprs]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z\-_]{35}"),
)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What :func:`redact_for_log` redacts. ``enabled=False`` persists messages unchanged."""

    keys: frozenset[str] = DEFAULT_REDACTED_KEYS
    redact_absolute_paths: bool = True
    enabled: bool = True
    scrub_secrets: bool = True

    def is_sensitive_key(self, key: str) -> bool:
        lowered = _ascii_lower(key)
        return any(_ascii_lower(k) == lowered for k in self.keys)


def looks_like_absolute_path(text: str) -> bool:
    """opi's absolute-path heuristic (COORD-152)."""
    return ABSOLUTE_PATH_PATTERN.search(text) is not None


def _scrub(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def redact_value(value: Any, policy: RedactionPolicy) -> Any:
    """A redacted copy of a JSON value (COORD-151..COORD-153); the input is not changed."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if policy.is_sensitive_key(str(key)) else redact_value(item, policy)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, policy) for item in value]
    if isinstance(value, str):
        if policy.redact_absolute_paths and looks_like_absolute_path(value):
            return REDACTED
        return _scrub(value) if policy.scrub_secrets else value
    return copy.deepcopy(value)


def _redact_arguments(arguments: Any, policy: RedactionPolicy) -> Any:
    if not isinstance(arguments, str):
        return redact_value(arguments, policy)
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return json.dumps(REDACTED)
    return json.dumps(redact_value(parsed, policy), ensure_ascii=False, separators=(",", ":"))


def redact_for_log(message: Mapping[str, Any], policy: RedactionPolicy) -> dict[str, Any]:
    """The form of ``message`` (wire form) to persist; a new dict, input untouched (COORD-150).

    Assistant tool-call arguments and tool-result details are redacted; everything else,
    including tool-result content and user messages, is kept as it is.
    """
    out: dict[str, Any] = copy.deepcopy(dict(message))
    if not policy.enabled:
        return out
    role = out.get("role")
    if role == "assistant":
        for block in out.get("content") or ():
            if isinstance(block, dict) and block.get("type") == "tool_call":
                call = block.get("tool_call")
                if isinstance(call, dict) and "arguments" in call:
                    call["arguments"] = _redact_arguments(call["arguments"], policy)
    elif role == "tool_result" and out.get("details") is not None:
        out["details"] = redact_value(out["details"], policy)
    return out
