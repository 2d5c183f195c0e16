"""Data that ships with medbook (read with ``importlib.resources``)."""
