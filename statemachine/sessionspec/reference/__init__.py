"""The reference model: pure functions over frozen dataclasses and tuples (DESIGN §2.3)."""
