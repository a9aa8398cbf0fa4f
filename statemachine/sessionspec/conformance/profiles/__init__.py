"""Seed profiles: implementations that behave as the seed systems are documented to behave.

spec/SPEC.md §9 lists, by requirement id, every place where our rules depart from what a seed
system does. A seed profile puts those behaviours back into sessionspec's own runtime (a
subclass per machine: :mod:`.opi` for the coordinator, :mod:`.meerkat` for the realtime
transcript, :mod:`.meerkat_conversation` for the conversation, :mod:`.phi` for phi-core's
session recorder). Run against a profile, the suite must
report each documented difference by its requirement id and nothing else (CONF-050): that is
how we know the suite finds real deviations and stays quiet otherwise.

Every profile is an adapter of its own (``module:factory``)::

    sessionspec conform --adapter sessionspec.conformance.profiles:opi
    sessionspec conform --adapter sessionspec.conformance.profiles:opi_tip_before_write

:data:`PROFILES` lists them with the requirement ids each one must fail: ``opi`` and
``meerkat`` carry every reproduced realtime quirk of their seed, ``phi`` every reproduced
phi-core quirk, the others exactly one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from sessionspec.conformance.harness import PythonImplementation, runtime_implementation
from sessionspec.conformance.profiles.meerkat import (
    MeerkatQuirk,
    MeerkatTranscript,
    meerkat_transcript_class,
)
from sessionspec.conformance.profiles.meerkat_conversation import (
    MeerkatConversation,
    MeerkatConversationQuirk,
    meerkat_conversation_class,
)
from sessionspec.conformance.profiles.opi import OpiCoordinator, OpiQuirk, opi_coordinator_class
from sessionspec.conformance.profiles.phi import PhiQuirk, PhiRecorder, phi_recorder_class

__all__ = ["PROFILES", "SeedProfile", "meerkat", "opi", "phi"]


@dataclass(frozen=True)
class SeedProfile:
    """One seed profile: its adapter factory and the requirement ids it departs from."""

    name: str
    #: The seed system (``opi``, ``meerkat``, ``phi-core``).
    seed: str
    #: The machine the profile changes (``coordinator``, ``realtime``, ``conversation``,
    #: ``recorder``).
    machine: str
    #: Requirement ids of spec/SPEC.md §9 the suite must report, and no other.
    documented: frozenset[str]
    factory: Callable[[], PythonImplementation]
    #: ``module:factory`` for ``--adapter``.
    adapter: str


def _opi_implementation(cls: type[OpiCoordinator], name: str) -> PythonImplementation:
    made = runtime_implementation(coordinator_cls=cls)
    # A coordinator profile has no realtime transcript of its own: the seed is opi.
    return dataclasses.replace(made, name=name, realtime=None)


def _meerkat_implementation(cls: type[MeerkatTranscript], name: str) -> PythonImplementation:
    made = runtime_implementation(transcript_cls=cls)
    return dataclasses.replace(made, name=name, coordinator=None)


def _only_recorder(cls: type[PhiRecorder], name: str) -> PythonImplementation:
    made = runtime_implementation(recorder_cls=cls)
    # phi-core's profile is its recorder alone: every other machine is another seed's.
    return PythonImplementation(name=name, version=made.version, recorder=made.recorder)


def _only_conversation(cls: type[MeerkatConversation], name: str) -> PythonImplementation:
    made = runtime_implementation(conversation_cls=cls)
    return PythonImplementation(name=name, version=made.version, conversation=made.conversation)


def phi() -> PythonImplementation:
    """sessionspec's session recorder with every reproduced phi-core quirk."""
    return _only_recorder(phi_recorder_class(frozenset(PhiQuirk)), "phi-core (seed profile)")


def _phi_single(quirk: PhiQuirk) -> Callable[[], PythonImplementation]:
    def factory() -> PythonImplementation:
        cls = phi_recorder_class(frozenset({quirk}))
        return _only_recorder(cls, f"phi-core: {quirk.value} (seed profile)")

    factory.__name__ = f"phi_{quirk.value}"
    factory.__doc__ = f"sessionspec's recorder with phi-core's {quirk.value} ({quirk.requirement})."
    return factory


def _meerkat_conversation_single(
    quirk: MeerkatConversationQuirk,
) -> Callable[[], PythonImplementation]:
    def factory() -> PythonImplementation:
        cls = meerkat_conversation_class(frozenset({quirk}))
        return _only_conversation(cls, f"meerkat: {quirk.value} (seed profile)")

    factory.__name__ = f"meerkat_{quirk.value}"
    factory.__doc__ = (
        f"sessionspec's conversation with meerkat's {quirk.value} ({quirk.requirement})."
    )
    return factory


def opi() -> PythonImplementation:
    """sessionspec's coordinator with every reproduced opi quirk."""
    return _opi_implementation(opi_coordinator_class(frozenset(OpiQuirk)), "opi (seed profile)")


def meerkat() -> PythonImplementation:
    """sessionspec's realtime transcript with every reproduced meerkat quirk."""
    return _meerkat_implementation(
        meerkat_transcript_class(frozenset(MeerkatQuirk)), "meerkat (seed profile)"
    )


def _opi_single(quirk: OpiQuirk) -> Callable[[], PythonImplementation]:
    def factory() -> PythonImplementation:
        cls = opi_coordinator_class(frozenset({quirk}))
        return _opi_implementation(cls, f"opi: {quirk.value} (seed profile)")

    factory.__name__ = f"opi_{quirk.value}"
    factory.__doc__ = f"sessionspec's coordinator with opi's {quirk.value} ({quirk.requirement})."
    return factory


def _meerkat_single(quirk: MeerkatQuirk) -> Callable[[], PythonImplementation]:
    def factory() -> PythonImplementation:
        cls = meerkat_transcript_class(frozenset({quirk}))
        return _meerkat_implementation(cls, f"meerkat: {quirk.value} (seed profile)")

    factory.__name__ = f"meerkat_{quirk.value}"
    factory.__doc__ = (
        f"sessionspec's transcript with meerkat's {quirk.value} ({quirk.requirement})."
    )
    return factory


def _add_singles(
    found: dict[str, SeedProfile],
    seed: str,
    machine: str,
    singles: list[tuple[str, Callable[[], PythonImplementation]]],
) -> None:
    """Register each single-quirk factory as a profile and as this module's attribute (so
    ``sessionspec.conformance.profiles:<name>`` is its adapter)."""
    for requirement, factory in singles:
        name = factory.__name__
        globals()[name] = factory
        found[name] = SeedProfile(
            name, seed, machine, frozenset({requirement}), factory, f"{__name__}:{name}"
        )


def _profiles() -> dict[str, SeedProfile]:
    module = __name__
    found: dict[str, SeedProfile] = {
        "opi": SeedProfile(
            "opi",
            "opi",
            "coordinator",
            frozenset(q.requirement for q in OpiQuirk),
            opi,
            f"{module}:opi",
        ),
        "meerkat": SeedProfile(
            "meerkat",
            "meerkat",
            "realtime",
            frozenset(q.requirement for q in MeerkatQuirk),
            meerkat,
            f"{module}:meerkat",
        ),
    }
    _add_singles(found, "opi", "coordinator", [(q.requirement, _opi_single(q)) for q in OpiQuirk])
    _add_singles(
        found, "meerkat", "realtime", [(q.requirement, _meerkat_single(q)) for q in MeerkatQuirk]
    )
    found["phi"] = SeedProfile(
        "phi",
        "phi-core",
        "recorder",
        frozenset(q.requirement for q in PhiQuirk),
        phi,
        f"{module}:phi",
    )
    _add_singles(found, "phi-core", "recorder", [(q.requirement, _phi_single(q)) for q in PhiQuirk])
    _add_singles(
        found,
        "meerkat",
        "conversation",
        [(q.requirement, _meerkat_conversation_single(q)) for q in MeerkatConversationQuirk],
    )
    return found


#: Every seed profile by name (``opi``, ``meerkat``, ``phi``, ``opi_<quirk>``,
#: ``meerkat_<quirk>``, ``phi_<quirk>``).
PROFILES: dict[str, SeedProfile] = _profiles()
