"""Group commit for the chat server's sends: one transaction for every message that arrived while
the previous one was committing.

A ``send`` frame's message waits here, on the event loop, until the batch it joins has been
committed; only then does its sender get the ``ack`` and its recipient the ``message`` frame.
While no commit is in flight a message is stored at once, on its own (no waiting for company);
under load, the messages that arrive during one commit are stored together in the next
(``ChatService.send_all``: one transaction, one commit, each message checked on its own). At most
one batch is in flight, so the database sees one writer from this process and its commit cost is
shared by the whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from attrs import define, field
from prometheus_client import Counter

from medbook.services.chat import Outgoing, Sent

BATCHES = Counter(
    "medbook_chat_send_batches", "Transactions that stored send frames (group commit)"
)
BATCHED = Counter("medbook_chat_send_batched", "Send frames those transactions stored or refused")

#: Stores a batch; answers each message with its ``Sent`` or its error.
StoreBatch = Callable[[Sequence[Outgoing]], Sequence[Sent | Exception]]
#: Runs a blocking call off the event loop (the chat server's thread pool).
RunBlocking = Callable[[StoreBatch, Sequence[Outgoing]], Awaitable[Sequence[Sent | Exception]]]


@define(eq=False)
class GroupCommit:
    store: StoreBatch
    run: RunBlocking
    #: The most messages one transaction stores; more wait for the next one. (Up to twice as
    #: many parties are locked by one ``IN`` list: MariaDB rewrites lists of 1,000 or more.)
    max_batch: int = 200
    #: Batches committed, and messages they held (for tests and metrics).
    batches: int = 0
    messages: int = 0
    _waiting: list[tuple[Outgoing, asyncio.Future[Sent]]] = field(factory=list)
    _flusher: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Messages waiting for the next batch (not the one in flight)."""
        return len(self._waiting)

    async def send(self, outgoing: Outgoing) -> Sent:
        """Store the message; return once it is committed (or raise its error)."""
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        self._waiting.append((outgoing, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="chat-group-commit")
        return await future

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()

    async def _flush(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                results: Sequence[Sent | Exception] = await self.run(
                    self.store, [outgoing for outgoing, _ in batch]
                )
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as error:  # noqa: BLE001 - e.g. the pool shut down: every sender hears
                results = [error] * len(batch)
            self.batches += 1
            self.messages += len(batch)
            BATCHES.inc()
            BATCHED.inc(len(batch))
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # its sender's handler is gone
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
