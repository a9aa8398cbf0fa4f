"""sessionspec."""
