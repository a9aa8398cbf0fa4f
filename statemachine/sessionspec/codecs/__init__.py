"""Codecs at the edge: other tools' session and message shapes (DESIGN §2)."""
