"""Seed profiles: implementations that behave as the seed systems are documented to behave.

spec/SPEC.md §9 lists, by requirement id, every place where our rules depart from what a seed
system does. A seed profile puts those behaviours back into sessionspec's own runtime (a
subclass per machine: :mod:`.opi` for the coordinator, :mod:`.meerkat` for the realtime
transcript; phi-core's recorder has no machine yet). Run against a profile, the suite must
report each documented difference by its requirement id and nothing else (CONF-050): that is
how we know the suite finds real deviations and stays quiet otherwise.

Every profile is an adapter of its own (``module:factory``)::

    sessionspec conform --adapter sessionspec.conformance.profiles:opi
    sessionspec conform --adapter sessionspec.conformance.profiles:opi_tip_before_write

:data:`PROFILES` lists them with the requirement ids each one must fail: ``opi`` and
``meerkat`` carry every reproduced quirk of their seed, the others exactly one.
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
from sessionspec.conformance.profiles.opi import OpiCoordinator, OpiQuirk, opi_coordinator_class

__all__ = ["PROFILES", "SeedProfile", "meerkat", "opi"]


@dataclass(frozen=True)
class SeedProfile:
    """One seed profile: its adapter factory and the requirement ids it departs from."""

    name: str
    #: The seed system (``opi``, ``meerkat``).
    seed: str
    #: The machine the profile changes (``coordinator``, ``realtime``).
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
    for quirk in OpiQuirk:
        factory = _opi_single(quirk)
        globals()[factory.__name__] = factory
        found[factory.__name__] = SeedProfile(
            factory.__name__,
            "opi",
            "coordinator",
            frozenset({quirk.requirement}),
            factory,
            f"{module}:{factory.__name__}",
        )
    for mquirk in MeerkatQuirk:
        factory = _meerkat_single(mquirk)
        globals()[factory.__name__] = factory
        found[factory.__name__] = SeedProfile(
            factory.__name__,
            "meerkat",
            "realtime",
            frozenset({mquirk.requirement}),
            factory,
            f"{module}:{factory.__name__}",
        )
    return found


#: Every seed profile by name (``opi``, ``meerkat``, ``opi_<quirk>``, ``meerkat_<quirk>``).
PROFILES: dict[str, SeedProfile] = _profiles()
