"""The consultation chat server (``medbook chat``): websockets, beside the HTTP API."""
