"""Conformance layer: strategies, machines, adapters and case runner (DESIGN §2.6)."""
