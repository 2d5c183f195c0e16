"""The broker of a single chat process: its connections are all the connections there are."""

from __future__ import annotations

from collections.abc import Iterable

from medbook.domain.chat.model import Party
from medbook.ports.broker import Deliver


class LocalBroker:
    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._connections: dict[Party, set[str]] = {}

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def close(self) -> None:
        self._deliver = None

    async def join(self, party: Party, connection_id: str) -> bool:
        mine = self._connections.setdefault(party, set())
        mine.add(connection_id)
        return len(mine) == 1

    async def leave(self, party: Party, connection_id: str) -> bool:
        mine = self._connections.get(party)
        if mine is None or connection_id not in mine:
            return False
        mine.discard(connection_id)
        if mine:
            return False
        del self._connections[party]
        return True

    async def online(self, parties: Iterable[Party]) -> set[Party]:
        return {party for party in parties if party in self._connections}

    async def publish(self, party: Party, frame: str) -> None:
        if self._deliver is not None and party in self._connections:
            self._deliver(party, frame)
