"""The HTTP API (Falcon)."""
