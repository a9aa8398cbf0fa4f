"""Codecs: other formats, translated at the edge to the package's one model (DESIGN §2)."""
