"""Implementations of the ports: memory (fakes and embedded use), sql, and the rest."""
