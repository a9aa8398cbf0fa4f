"""The embeddable runtime objects, built on the tables and the storage layer (DESIGN §2.4)."""
