"""Tables layer: every lifecycle machine as one typed table (DESIGN §2.2)."""

from sessionspec.tables.base import MachineTable, Rejected

__all__ = ["MachineTable", "Rejected"]
