"""Redaction of secrets in what a session persists from tool calls and results (COORD-150..155).

Rules (spec/SPEC.md §4.2):

* Only two places are redacted (COORD-150): the ``arguments`` of an assistant's tool calls
  (a JSON document held as a string: it is parsed, redacted and, only if something was
  redacted, written back compactly; a string that is not JSON is redacted as one string)
  and the ``details`` of a tool result. Text, tool-result content, user messages and every
  other field are kept.
* The default redacts **secrets only** (COORD-151, COORD-153): the value of every object
  member whose key names a secret (:data:`DEFAULT_SECRET_KEYS`, or a key ending in one of
  :data:`DEFAULT_SECRET_KEY_SUFFIXES`; keys compared after ASCII lower-casing with ``-`` and
  spaces read as ``_``) becomes ``"[REDACTED]"``, and well-known secret shapes inside any
  string (:data:`SECRET_PATTERNS`: ``sk-`` keys, ``Bearer`` tokens, GitHub, AWS, Slack and
  Google keys, JWTs, PEM private keys, passwords in URLs) are replaced. Paths, commands,
  working directories and arguments are *not* secrets and are kept: the model must see
  after a resume what it saw before.
* opi's broader list (content keys such as ``command``, ``cwd``, ``path``) and its
  absolute-path rule are still available (:meth:`RedactionPolicy.opi`, COORD-152), as is
  turning redaction off; keys, suffixes and patterns are all configurable.
* Redaction never mutates its input and returns a new dict (COORD-154). The coordinator
  keeps in memory exactly what it persisted (COORD-017): whatever is redacted is redacted
  in the running context too, at the moment it is persisted, so resume equivalence
  (COORD-020) is exact.

Theory of operation: a pure recursive walk over JSON values; the caller passes the wire
form of a message (``to_json_dict()``) and both writes and keeps the result.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ABSOLUTE_PATH_PATTERN",
    "DEFAULT_REDACTED_KEYS",
    "DEFAULT_SECRET_KEYS",
    "DEFAULT_SECRET_KEY_SUFFIXES",
    "OPI_REDACTED_KEYS",
    "REDACTED",
    "SECRET_LITERALS",
    "SECRET_PATTERNS",
    "RedactionPolicy",
    "looks_like_absolute_path",
    "normalize_key",
    "redact_for_log",
    "redact_owned",
    "redact_value",
]

#: The replacement text, as opi writes it.
REDACTED = "[REDACTED]"

#: Key names whose value is a secret (compared after :func:`normalize_key`).
DEFAULT_SECRET_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "session_token",
        "api_key",
        "apikey",
        "x_api_key",
        "private_key",
        "secret_key",
        "access_key",
        "secret_access_key",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "credential",
        "credentials",
        "bearer",
    }
)

#: A key that ends in one of these (after :func:`normalize_key`) names a secret too:
#: ``github_token``, ``accessToken``, ``db_password``, ``openaiApiKey``, ...
DEFAULT_SECRET_KEY_SUFFIXES: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "privatekey",
    "private_key",
    "secretkey",
    "secret_key",
    "accesskey",
    "access_key",
    "credentials",
)

#: The default key list (COORD-151): secrets only.
DEFAULT_REDACTED_KEYS = DEFAULT_SECRET_KEYS

#: opi's content-sensitive keys (``diagnostic.rs``, v0.6.3): values that carry prompts, tool
#: output, environment blocks, commands, working directories and paths. Not the default:
#: redacting them changes what the model sees after a resume (see :meth:`RedactionPolicy.opi`).
OPI_REDACTED_KEYS: frozenset[str] = frozenset(
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

#: Secret shapes replaced inside every redacted string (COORD-153).
SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # PEM private keys (RSA, EC, OpenSSH, PKCS#8, encrypted), the whole block.
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----"
    ),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-_.=+/]{8,}"),
    # OpenAI and Anthropic keys (sk-..., sk-proj-..., sk-ant-...).
    re.compile(r"\bsk-[A-Za-z0-9\-_]{16,}"),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[baprs]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z\-_]{35}"),
    # JSON Web Tokens: three base64url parts, the first two JSON objects ("eyJ").
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    # The password of a URL's user info: scheme://user:password@host.
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
)

_KEY_FOLD = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ- ", "abcdefghijklmnopqrstuvwxyz__"
)


def normalize_key(key: str) -> str:
    """A key as the policy compares it: ASCII lower case, ``-`` and spaces read as ``_``."""
    return key.translate(_KEY_FOLD)


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What :func:`redact_for_log` redacts (COORD-151..COORD-155).

    The default redacts secrets only: keys in ``keys`` or ending in one of
    ``key_suffixes``, and the ``patterns`` inside strings. ``redact_absolute_paths`` adds
    opi's path rule; ``enabled=False`` persists messages unchanged.
    """

    keys: frozenset[str] = DEFAULT_SECRET_KEYS
    redact_absolute_paths: bool = False
    enabled: bool = True
    scrub_secrets: bool = True
    key_suffixes: tuple[str, ...] = DEFAULT_SECRET_KEY_SUFFIXES
    patterns: tuple[re.Pattern[str], ...] = SECRET_PATTERNS

    @classmethod
    def opi(cls) -> RedactionPolicy:
        """opi's Summary-mode redaction: its content keys (commands, paths, ...), its
        absolute-path rule and the secret shapes. Still exact on resume (COORD-017), but the
        model no longer sees those values once they are persisted."""
        return cls(
            keys=OPI_REDACTED_KEYS, redact_absolute_paths=True, key_suffixes=()
        )

    @classmethod
    def off(cls) -> RedactionPolicy:
        """No redaction: messages are persisted (and kept) exactly as given."""
        return cls(enabled=False)

    def is_sensitive_key(self, key: str) -> bool:
        folded = normalize_key(key)
        try:
            keys, suffixes = _folded_keys(self.keys), _folded_suffixes(self.key_suffixes)
        except TypeError:  # a set or a list given where the fields say frozenset and tuple
            keys = frozenset(normalize_key(k) for k in self.keys)
            suffixes = tuple(normalize_key(s) for s in self.key_suffixes)
        return folded in keys or folded.endswith(suffixes)


# The policy's keys folded once, not on every key a redaction looks at: folding each of the
# ~40 default keys per checked key was about a sixth of a turn end without fsync (issue 8).
@functools.lru_cache(maxsize=64)
def _folded_keys(keys: frozenset[str]) -> frozenset[str]:
    return frozenset(normalize_key(k) for k in keys)


@functools.lru_cache(maxsize=64)
def _folded_suffixes(suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normalize_key(s) for s in suffixes)


def looks_like_absolute_path(text: str) -> bool:
    """opi's absolute-path heuristic (COORD-152)."""
    return ABSOLUTE_PATH_PATTERN.search(text) is not None


#: For each of :data:`SECRET_PATTERNS`, in order, the literals one of which every match
#: of it contains (the ``bearer`` one case-insensitively, as its pattern reads it; the URL
#: password's is the ``://`` its look-behind needs). A string holding none of them holds no
#: default secret shape, and :func:`_scrub` returns it without running the patterns.
#: tests/coordinator/test_pure_redaction.py checks the pairing and the equality.
SECRET_LITERALS: tuple[tuple[str, ...], ...] = (
    ("-----BEGIN ",),
    ("bearer",),
    ("sk-",),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ("github_pat_",),
    ("AKIA", "ASIA"),
    ("xox",),
    ("AIza",),
    ("eyJ",),
    ("://",),
)
_CASE_SENSITIVE_LITERALS = tuple(
    literal for literals in SECRET_LITERALS for literal in literals if literal != "bearer"
)


def _may_hold_a_default_secret(text: str) -> bool:
    """Whether ``text`` contains one of :data:`SECRET_LITERALS` (a superset of the strings
    a default pattern matches in). ``in`` is a fast substring search; the ten patterns ran
    one by one cost 3.1 µs on a 14-character tool argument and 2.3 ms on 11 KB of prose,
    this check 0.24 µs and 80 µs (issue 8: an eighth of the plan of a turn with a tool
    call). Only ASCII B, E, A, R lower to b, e, a, r, so ``lower()`` finds every match of
    ``(?i)bearer``."""
    for literal in _CASE_SENSITIVE_LITERALS:
        if literal in text:
            return True
    return "bearer" in text.lower()


def _scrub(text: str, patterns: tuple[re.Pattern[str], ...]) -> str:
    if patterns is SECRET_PATTERNS and not _may_hold_a_default_secret(text):
        return text  # no default pattern can match: each needs one of SECRET_LITERALS
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return text


def redact_value(value: Any, policy: RedactionPolicy) -> Any:
    """A redacted copy of a JSON value (COORD-151..COORD-153); the input is not changed."""
    # Strings and the immutable JSON scalars first: the Mapping ABC check costs more than
    # redacting a short string.
    if isinstance(value, str):
        if policy.redact_absolute_paths and looks_like_absolute_path(value):
            return REDACTED
        return _scrub(value, policy.patterns) if policy.scrub_secrets else value
    kind = type(value)
    if kind is int or kind is float or kind is bool or value is None:
        return value  # immutable: the deep copy below would return it as it is
    if isinstance(value, Mapping):
        return {
            key: REDACTED if policy.is_sensitive_key(str(key)) else redact_value(item, policy)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, policy) for item in value]
    return copy.deepcopy(value)


def _redact_arguments(arguments: Any, policy: RedactionPolicy) -> Any:
    """Tool-call arguments, redacted; the very same string when nothing was redacted."""
    if not isinstance(arguments, str):
        return redact_value(arguments, policy)
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        # Not JSON: redacted as one string (secret shapes, or opi's path rule).
        return redact_value(arguments, policy)
    redacted = redact_value(parsed, policy)
    if redacted == parsed:
        return arguments
    text = json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\uDXXX escape: keep it escaped
        text = json.dumps(redacted, separators=(",", ":"))
    return text


def redact_for_log(message: Mapping[str, Any], policy: RedactionPolicy) -> dict[str, Any]:
    """The form of ``message`` (wire form) to persist; a new dict, input untouched (COORD-150).

    Assistant tool-call arguments and tool-result details are redacted; everything else,
    including tool-result content and user messages, is kept as it is.
    """
    return _redact_into(copy.deepcopy(dict(message)), policy)


def redact_owned(message: dict[str, Any], policy: RedactionPolicy) -> dict[str, Any]:
    """What :func:`redact_for_log` returns, for a message no one else holds a part of (the
    coordinator's own normalized copy): only the objects on the way to a redacted value
    are copied, the rest is shared with ``message``, which is not changed either.

    The deep copy of every assistant message with a tool call was about a sixth of a turn
    end without fsync (issue 8); ``tests/coordinator/test_pure_redaction.py`` holds both
    functions equal."""
    out = dict(message)
    if not policy.enabled:
        return out
    role = out.get("role")
    if role == "assistant":
        if not isinstance(out.get("content"), list):
            return redact_for_log(message, policy)
        content: list[Any] = []
        for block in out["content"]:
            if isinstance(block, dict) and isinstance(block.get("tool_call"), dict):
                block = {**block, "tool_call": dict(block["tool_call"])}
            content.append(block)
        out["content"] = content
    return _redact_into(out, policy)


def _redact_into(out: dict[str, Any], policy: RedactionPolicy) -> dict[str, Any]:
    """Redact ``out`` in place: its content list and tool calls are the caller's own."""
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
