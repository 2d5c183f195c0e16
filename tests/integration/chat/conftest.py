"""Fixtures for the chat server's tests: a fresh demo world per test, and a ``ChatServer`` over
it on 127.0.0.1 (a free port), running on an event loop of its own in a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from ws_support import LIMITS, RunningChat, Serve, World, build_world, running


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def serve(world: World) -> Iterator[Serve]:
    with ExitStack() as stack:
        yield lambda limits: stack.enter_context(running(world.services, limits))


@pytest.fixture
def server(serve: Serve) -> RunningChat:
    """A server with the tests' limits (``ws_support.LIMITS``)."""
    return serve(LIMITS)


@pytest.fixture
def url(server: RunningChat) -> str:
    return server.url
