"""The chat server's broker: who is connected where, and the wake-up that reaches them.

The database is the source of truth for messages; the broker only carries frames to the
connections of a party, on whichever chat process they are, and counts those connections for
presence. A frame the broker loses is repaired by the client's ``sync``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from medbook.domain.chat.model import Party

#: Called by the broker for every frame published to a party that has joined on this process.
Deliver = Callable[[Party, str], None]


class Broker(Protocol):
    async def start(self, deliver: Deliver) -> None:
        """Begin handing frames published to the parties joined here to ``deliver``."""
        ...

    async def close(self) -> None: ...

    async def join(self, party: Party, connection_id: str) -> bool:
        """A connection of ``party`` opened here; True when it is the party's first anywhere
        (the party came online)."""
        ...

    async def leave(self, party: Party, connection_id: str) -> bool:
        """That connection closed; True when it was the party's last anywhere (went offline)."""
        ...

    async def online(self, parties: Iterable[Party]) -> set[Party]:
        """Which of ``parties`` have a connection open on any process."""
        ...

    async def publish(self, party: Party, frame: str) -> None:
        """Send ``frame`` to every connection of ``party``, on every process (at most once)."""
        ...
