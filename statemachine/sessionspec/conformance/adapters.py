"""Adapters: how the runner reaches an implementation (CONF-040..CONF-042).

Every machine talks to an implementation only through a :class:`Connection`: one
request/response per protocol command (``spec/PROTOCOL.md``), the capabilities the harness
declared at ``start``, and, for real processes, death on purpose. Three kinds:

* :class:`InProcessConnection` -- a Python object with ``handle(request) -> response``
  (a :class:`~sessionspec.conformance.harness.PythonHarness` serving our runtime, or any
  Python implementation through ``module:factory``); no JSON round trip, no process.
* :class:`SubprocessConnection` -- any command that speaks the protocol on stdin/stdout;
  it can be killed with SIGKILL anywhere inside an operation and restarted on its workdir
  (CONF-033).
* :func:`connect` -- turns the ``--adapter`` string into one of those: ``runtime`` (our
  runtime in process, on a simulated file system), ``module:factory`` (a Python
  implementation), or a shell-style command line.
"""

from __future__ import annotations

import importlib
import os
import random
import re
import selectors
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from sessionspec.conformance.protocol import PROTOCOL_VERSION
from sessionspec.errors import CallerError, StorageError

__all__ = [
    "Connection",
    "HarnessError",
    "InProcessConnection",
    "Reply",
    "SubprocessConnection",
    "connect",
]

Json = dict[str, Any]
DEFAULT_CLOCK_MS = 1_700_000_000_000


def encode_line(message: Json) -> bytes:
    """One protocol line: compact JSON, UTF-8, newline-terminated (PROTOCOL.md §1)."""
    try:
        return orjson.dumps(message) + b"\n"
    except TypeError:  # beyond orjson (an integer past 64 bits): the standard library
        import json

        return (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


class HarnessError(StorageError):
    """The harness broke the protocol: no answer, a bad line, a wrong ``seq``, a dead process.

    The I/O side of GEN-002: the channel to the implementation failed, not the caller's call.
    """


@dataclass(frozen=True)
class Reply:
    """One response, as the machines read it."""

    status: str
    result: Json = field(default_factory=dict)
    error: Json | None = None
    reason: str = ""
    message: str = ""
    context: Json = field(default_factory=dict)

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Reply:
        status = raw.get("status")
        if not isinstance(status, str):
            raise HarnessError(f"a response without a status: {dict(raw)!r:.300}")
        result = raw.get("result")
        error = raw.get("error")
        context = raw.get("context")
        return cls(
            status=status,
            result=dict(result) if isinstance(result, Mapping) else {},
            error=dict(error) if isinstance(error, Mapping) else None,
            reason=str(raw.get("reason", "")),
            message=str(raw.get("message", "")),
            context=dict(context) if isinstance(context, Mapping) else {},
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def error_type(self) -> str | None:
        return None if self.error is None else str(self.error.get("type"))

    def describe(self) -> str:
        if self.status == "ok":
            return "ok"
        if self.status == "rejected":
            return f"rejected {self.error_type}: {(self.error or {}).get('message', '')}"
        if self.status == "skipped":
            return f"skipped: {self.reason}"
        if self.status == "errored":
            return f"errored: {self.message}"
        return self.status


class Harness(Protocol):
    """What an in-process harness offers: one request in, one response out."""

    def handle(self, request: Mapping[str, Any]) -> Json: ...


class Connection(Protocol):
    """What the machines need of an implementation."""

    implementation: Json
    capabilities: frozenset[str]
    crash_points: tuple[str, ...]
    #: Requests sent so far (round trips), for the speed figure.
    round_trips: int

    def call(self, cmd: str, **args: Any) -> Reply: ...

    def has(self, capability: str) -> bool: ...

    def serial(self, kind: str) -> int:
        """The next number of ``kind`` on this connection: 1, 2, 3, ..."""
        ...

    def kill_during(
        self, cmd: str, args: Mapping[str, Any], rng: random.Random, point: str | None = None
    ) -> Reply | None:
        """Send ``cmd`` and kill the harness while it runs (or at ``point``); the reply if
        one arrived before the kill, else ``None``. Afterwards the harness is restarted."""
        ...

    def close(self) -> None: ...


class _Base:
    implementation: Json
    capabilities: frozenset[str]
    crash_points: tuple[str, ...]

    def __init__(self) -> None:
        self.seq = 0
        self.round_trips = 0
        self.implementation = {}
        self.capabilities = frozenset()
        self.crash_points = ()
        self._serials: dict[str, int] = {}

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def serial(self, kind: str) -> int:
        """The next number of ``kind`` (``session``, ``journal``, ``conv``, ...) on this
        connection, from 1. The machines name what they create with it: names are unique
        on one connection, so no example meets another's (CONF-032), and a fresh connection
        hands out the same ones, so a seed sends the same requests on it whatever ran
        before in the process (CONF-064). A process-wide counter had made a later run's
        names longer ("s41" for "s1"), and with them the bytes an implementation writes:
        an opi profile's torn write fell elsewhere and the run named another requirement."""
        number = self._serials.get(kind, 0) + 1
        self._serials[kind] = number
        return number

    def _handshake(self, reply: Reply) -> None:
        if not reply.ok:
            raise HarnessError(f"the harness refused start: {reply.describe()}")
        version = reply.result.get("version")
        if version != PROTOCOL_VERSION:
            raise HarnessError(
                f"the harness speaks protocol version {version!r}, the runner {PROTOCOL_VERSION}"
            )
        self.implementation = dict(reply.result.get("implementation") or {})
        self.capabilities = frozenset(str(c) for c in reply.result.get("capabilities") or ())
        self.crash_points = tuple(str(p) for p in reply.result.get("crash_points") or ())

    def _request(self, cmd: str, args: Mapping[str, Any]) -> Json:
        self.seq += 1
        self.round_trips += 1
        return {"seq": self.seq, "cmd": cmd, "args": dict(args)}


class InProcessConnection(_Base):
    """A Python harness object, called directly (no JSON, no process)."""

    def __init__(self, harness: Harness, workdir: str = "/conform") -> None:
        super().__init__()
        self.harness = harness
        reply = Reply.of(
            harness.handle(
                {"seq": 0, "cmd": "start",
                 "args": {"version": PROTOCOL_VERSION, "workdir": workdir,
                          "clock_ms": DEFAULT_CLOCK_MS}}
            )
        )
        self._handshake(reply)
        # A process that cannot be killed does not offer process death.
        self.capabilities = self.capabilities - {"crash.kill", "crash.points"}

    def call(self, cmd: str, **args: Any) -> Reply:
        request = self._request(cmd, args)
        raw = self.harness.handle(request)
        if raw.get("seq") != request["seq"]:
            raise HarnessError(f"{cmd}: answered seq {raw.get('seq')!r}, sent {request['seq']}")
        return Reply.of(raw)

    def kill_during(
        self, cmd: str, args: Mapping[str, Any], rng: random.Random, point: str | None = None
    ) -> Reply | None:
        raise CallerError("an in-process harness cannot be killed")

    def close(self) -> None:
        self.call("stop")


class SubprocessConnection(_Base):
    """A harness in another process, speaking JSON lines on stdin/stdout (CONF-032)."""

    def __init__(
        self,
        argv: Sequence[str],
        workdir: str | None = None,
        *,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        if not argv:
            raise CallerError("an empty adapter command")
        self.argv = list(argv)
        self.timeout = timeout
        self.env = dict(os.environ if env is None else env)
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="sessionspec-conform-")
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.restarts = 0
        self._spawn()

    # -- process ----------------------------------------------------------------------------

    def _spawn(self) -> None:
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            raise HarnessError(f"cannot start {shlex.join(self.argv)}: {exc}") from exc
        self._buffer = b""
        self.seq = -1
        self.round_trips += 1
        self.seq = 0
        self._send({"seq": 0, "cmd": "start",
                    "args": {"version": PROTOCOL_VERSION, "workdir": self.workdir,
                             "clock_ms": DEFAULT_CLOCK_MS,
                             "runner": {"name": "sessionspec", "version": ""}}})
        self._handshake(self._receive(0, "start"))

    def stderr_tail(self, limit: int = 2000) -> str:
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - limit))
        return self._stderr.read().decode("utf-8", "replace")

    def _send(self, message: Json) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(encode_line(message))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise HarnessError(
                f"the harness is gone ({exc}); stderr: {self.stderr_tail()}"
            ) from exc

    def _read_line(self, timeout: float | None) -> bytes | None:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if remaining == 0.0:
                    return None
                if not selector.select(remaining):
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise HarnessError(
                        f"the harness closed its stdout (exit {self.process.poll()}); "
                        f"stderr: {self.stderr_tail()}"
                    )
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _parse(self, line: bytes) -> Json:
        try:
            raw = orjson.loads(line)
        except ValueError as exc:
            raise HarnessError(f"not a JSON line from the harness: {line[:200]!r}") from exc
        if not isinstance(raw, dict):
            raise HarnessError(f"not a JSON object from the harness: {line[:200]!r}")
        return raw

    def _receive(self, seq: int, cmd: str) -> Reply:
        line = self._read_line(self.timeout)
        if line is None:
            raise HarnessError(f"{cmd}: no answer within {self.timeout}s")
        raw = self._parse(line)
        if raw.get("seq") != seq:
            raise HarnessError(f"{cmd}: answered seq {raw.get('seq')!r}, sent {seq}")
        return Reply.of(raw)

    def call(self, cmd: str, **args: Any) -> Reply:
        request = self._request(cmd, args)
        self._send(request)
        return self._receive(request["seq"], cmd)

    def kill_during(
        self, cmd: str, args: Mapping[str, Any], rng: random.Random, point: str | None = None
    ) -> Reply | None:
        if point is not None:
            armed = self.call("crash.arm", point=point, nth=0)
            if not armed.ok:
                raise HarnessError(f"crash.arm {point}: {armed.describe()}")
        request = self._request(cmd, args)
        self._send(request)
        reply: Reply | None = None
        if point is not None:
            line = self._read_line(self.timeout)
            if line is None:
                raise HarnessError(f"{cmd}: neither an answer nor the crash point {point}")
            raw = self._parse(line)
            if raw.get("status") != "at_crash_point":
                reply = Reply.of(raw)
        else:
            # A random instant inside the operation: most operations take well under 5 ms.
            line = self._read_line(rng.choice((0.0, 0.0005, 0.001, 0.002, 0.005)))
            if line is not None:
                reply = Reply.of(self._parse(line))
        self._kill()
        self._spawn()
        self.restarts += 1
        return reply

    def _kill(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.call("stop")
                self.process.wait(timeout=10)
            except (HarnessError, subprocess.TimeoutExpired):
                pass
        self._kill()
        self._stderr.close()
        if self._own_workdir:
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)


_MODULE_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _from_python(spec: str) -> Connection:
    from sessionspec.conformance.harness import PythonHarness, PythonImplementation

    module_name, _, attr = spec.partition(":")
    # As ``python -m`` does: modules of the current directory are importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    factory: Callable[[], Any] = getattr(module, attr)
    made = factory()
    if isinstance(made, PythonImplementation):
        made = PythonHarness(made, storage="sim")
    if not callable(getattr(made, "handle", None)):
        raise CallerError(
            f"{spec}: the factory must return a PythonImplementation or an object with "
            "handle(request) -> response"
        )
    return InProcessConnection(made)


def connect(spec: str, *, timeout: float = 60.0) -> Connection:
    """The connection an ``--adapter`` string names (CONF-040)."""
    spec = spec.strip()
    if not spec:
        raise CallerError("an empty adapter")
    if spec in ("runtime", "runtime:sim"):
        from sessionspec.conformance.harness import PythonHarness, runtime_implementation

        return InProcessConnection(PythonHarness(runtime_implementation(), storage="sim"))
    if _MODULE_FACTORY.match(spec) and not os.path.exists(spec.split(":")[0]):
        try:
            return _from_python(spec)
        except ModuleNotFoundError as exc:
            if spec.partition(":")[0].split(".")[0] == exc.name:
                raise CallerError(f"{spec}: no module {exc.name!r}") from exc
            raise
    return SubprocessConnection(shlex.split(spec), timeout=timeout)
