"""The reference harness: any Python implementation served over the driver protocol.

:class:`PythonHarness` answers protocol requests (``spec/PROTOCOL.md``) by calling a Python
implementation built by factories: a :class:`CoordinatorFactory`, a
:class:`TranscriptFactory`, a :class:`ConversationFactory`, a :class:`TokenLedgerFactory`, a
:class:`StateFactory` and a :class:`RecorderFactory`, the same seam the machines used when
they drove Python objects directly (DESIGN §4).
:func:`runtime_implementation` binds it to sessionspec's own runtime;
``python -m sessionspec.conformance.harness`` serves that over stdin/stdout, which is what
proves the protocol: the suite run through this process must pass everything the in-process
run passes (CONF-041).

Storage. ``--storage sim`` runs every session on a :class:`SimulatedFileSystem` (power cuts
and injected I/O errors through ``sim.*``; every capability declared); ``--storage real``
(the default) runs on the real file system in the runner's workdir, declares ``crash.kill``
(an ``ok`` is durable) and the named crash points of :class:`CrashPointFileSystem`.

Errors map to the protocol's typed rejections by class (CONF-006); anything else is
``errored`` with the exception and its traceback, never a verdict.

Layout: ``core`` owns :class:`PythonHarness` (dispatch, handshake, ``sim.*``, ``crash.*``);
each machine's module (``coordinator``, ``realtime``, ``conversation`` with the ledger,
``state``, ``recorder``) owns its factory types and the handlers of its commands; ``answers``
maps the library's errors to typed rejections; ``crashpoints`` the named crash points;
``runtime`` binds our runtime; ``stdio`` serves over a pipe.
"""

from sessionspec.conformance.harness.answers import Rejection, Skip
from sessionspec.conformance.harness.conversation import ConversationFactory, TokenLedgerFactory
from sessionspec.conformance.harness.coordinator import CoordinatorFactory, compaction_config
from sessionspec.conformance.harness.core import PythonHarness, PythonImplementation
from sessionspec.conformance.harness.crashpoints import CRASH_POINTS, CrashPointFileSystem
from sessionspec.conformance.harness.realtime import TranscriptFactory
from sessionspec.conformance.harness.recorder import RecorderFactory
from sessionspec.conformance.harness.runtime import runtime_implementation
from sessionspec.conformance.harness.state import StateFactory
from sessionspec.conformance.harness.stdio import main, serve

__all__ = [
    "CRASH_POINTS",
    "ConversationFactory",
    "CoordinatorFactory",
    "CrashPointFileSystem",
    "PythonHarness",
    "PythonImplementation",
    "RecorderFactory",
    "Rejection",
    "Skip",
    "StateFactory",
    "TokenLedgerFactory",
    "TranscriptFactory",
    "compaction_config",
    "main",
    "runtime_implementation",
    "serve",
]
