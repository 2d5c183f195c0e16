"""``medbook chat``: the consultation chat over websockets (API.md, "Consultation chat").

One coroutine per connection reads its frames in order. The services are synchronous (they
hold a database transaction), so they run on a small thread pool; everything else — routing a
frame to the connections of a party, presence, the limits — happens on the event loop.

A message is acknowledged only after it is committed (group commit: the messages that arrive
while one transaction commits are stored together in the next, ``ChatService.send_all``); it
then reaches the recipient's connections and the sender's other connections through the broker,
wherever they are. The database is the source of truth: a frame the broker loses, a connection that
drops or a client too slow to keep up is repaired by ``sync``. Limits (docs/chat.md says why
each is what it is) are in ``ChatLimits``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http
import logging
import signal
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define, field, frozen
from prometheus_client import Counter, Gauge
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from medbook.domain.chat.model import Party
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError, Unauthenticated
from medbook.entrypoints.chat import frames
from medbook.entrypoints.chat.group_commit import GroupCommit
from medbook.entrypoints.http.body import MalformedBody, decode_json
from medbook.entrypoints.http.converter import BodyError, structure
from medbook.entrypoints.metrics import CONTENT_TYPE, MetricsAccess, exposition
from medbook.ports.broker import Broker
from medbook.ports.transaction import TransientConflict
from medbook.services.chat import Outgoing, Sent

if TYPE_CHECKING:
    from medbook.bootstrap import Services

log = logging.getLogger("medbook.chat")
T = TypeVar("T")

PATH = "/v1/chat"
#: Messages per page of a ``sync`` answer.
SYNC_PAGE = 100

# Close codes (RFC 6455 leaves 4000-4999 to applications; ours mirror HTTP statuses).
UNAUTHENTICATED = 4401  # no auth frame in time, or a bad, expired or revoked token
FORBIDDEN = 4403  # authenticated, but not a patient or a doctor
TOO_SLOW = 4408  # the client did not read what was sent to it: reconnect and sync
TOO_MANY = 4429  # more frames than the per-connection rate allows, or too many connections


@frozen
class ChatLimits:
    """What one connection may do. docs/chat.md gives the reasons for each number."""

    #: The largest frame a client may send (bytes); a larger one closes with 1009.
    max_frame_bytes: int = 64 * 1024
    #: Frames a connection may have received and not yet handled before reading pauses.
    max_queue: int = 16
    #: A sustained rate and a burst of frames per connection; beyond it, close with 4429.
    frames_per_second: float = 20.0
    burst: int = 60
    #: Seconds to send the auth frame after the connection opens.
    auth_timeout: float = 10.0
    #: Protocol pings: how often, and how long a pong may take before the connection is dropped.
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    #: Bytes queued for a client that does not read, past which it is closed with 4408.
    max_backlog: int = 1024 * 1024
    #: How often every connection's token is checked again (expired or revoked: 4401).
    recheck_interval: float = 60.0
    #: How often the notification feed is read for pushes.
    notification_poll: float = 1.0
    #: Pages of ``SYNC_PAGE`` messages one ``sync`` frame answers; then ``more`` asks again.
    sync_pages: int = 5
    #: Open connections of one user on one chat process (phone, tablet, browser tabs …).
    connections_per_user: int = 10


CONNECTIONS = Gauge("medbook_chat_connections", "Open chat connections that have authenticated")
MESSAGES = Counter(
    "medbook_chat_messages", "Messages stored from send frames (a resent client id counts once)"
)
CLOSES = Counter(
    "medbook_chat_closes",
    "Connections the server closed for a reason of its own, by close code",
    ["code"],
)


@define
class FrameRate:
    """A token bucket: ``burst`` frames at once, refilled at ``per_second``."""

    per_second: float
    burst: int
    tokens: float = field(init=False)
    at: float = field(factory=time.monotonic)

    def __attrs_post_init__(self) -> None:
        self.tokens = float(self.burst)

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def charge(self, frames: int) -> None:
        """Work a frame caused beyond itself, counted as that many frames (the bucket may go
        below zero: the next frames wait for it to refill)."""
        self.tokens -= frames


@define(eq=False)
class Client:
    """One open connection of an authenticated party."""

    websocket: ServerConnection
    party: Party
    actor: Actor
    token: str
    id: str = field(factory=lambda: uuid.uuid4().hex)
    #: Frames that arrived before ``ready`` was sent (None once it has been).
    early: list[str] | None = field(factory=list)
    #: What the connection may still send (``ChatLimits.frames_per_second`` and ``burst``).
    rate: FrameRate | None = None


@define(eq=False)
class ChatServer:
    services: Services
    broker: Broker
    limits: ChatLimits = field(factory=ChatLimits)
    #: Who may read ``/metrics`` on the chat's port.
    metrics_access: MetricsAccess = field(factory=MetricsAccess)
    threads: int = 8
    clients: dict[Party, dict[str, Client]] = field(factory=dict)
    _pool: ThreadPoolExecutor = field(init=False)
    #: Sends are stored by group commit: the messages that arrive during one commit share the
    #: next transaction, and each is acknowledged after it (``group_commit.py``).
    sends: GroupCommit = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(factory=list)
    _feed_seen: dict[int, float] = field(factory=dict)
    _closing: set[asyncio.Task[None]] = field(factory=set)

    def __attrs_post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="medbook-chat")
        self.sends = GroupCommit(self.services.chat.send_all, self._call)

    # --- running ---------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> Server:
        await self.broker.start(self._deliver)
        self._tasks = [
            asyncio.create_task(self._push_notifications(), name="notification-feed"),
            asyncio.create_task(self._recheck_tokens(), name="token-recheck"),
        ]
        return await serve(
            self.handle,
            host,
            port,
            process_request=self._route,
            max_size=self.limits.max_frame_bytes,
            max_queue=self.limits.max_queue,
            ping_interval=self.limits.ping_interval,
            ping_timeout=self.limits.ping_timeout,
            # Small JSON frames: deflate would cost CPU on every frame for little, and would
            # compress a client's token together with text an attacker may choose.
            compression=None,
            # The outgoing buffer's high-water mark: `send` waits (backpressure) above it.
            write_limit=64 * 1024,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.sends.stop()
        await self.broker.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "ok\n")
        if request.path.partition("?")[0] == "/metrics":
            return self._metrics(connection, request)
        if request.path.partition("?")[0] != PATH:
            return connection.respond(http.HTTPStatus.NOT_FOUND, f"the chat is at {PATH}\n")
        return None

    def _metrics(self, connection: ServerConnection, request: Request) -> Response:
        peer = connection.remote_address[0] if connection.remote_address else None
        headers = request.headers
        # A header sent twice: the proxies' lists joined, as HTTP has it; two credentials, none.
        hops = headers.get_all("X-Forwarded-For")
        forwarded = ", ".join(hops) if hops else None
        credentials = headers.get_all("Authorization")
        authorization = credentials[0] if len(credentials) == 1 else ""
        if not self.metrics_access.allows(peer, forwarded, authorization):
            return connection.respond(
                http.HTTPStatus.FORBIDDEN,
                "metrics are for internal addresses (MEDBOOK_METRICS_NETWORKS) or holders of "
                "MEDBOOK_METRICS_TOKEN\n",
            )
        body = exposition()
        headers = Headers({"Content-Type": CONTENT_TYPE, "Content-Length": str(len(body))})
        return Response(http.HTTPStatus.OK, "OK", headers, body)

    async def _call(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    # --- one connection --------------------------------------------------------------------------

    async def handle(self, websocket: ServerConnection) -> None:
        client = await self._authenticate(websocket)
        if client is None:
            return
        if len(self.clients.get(client.party, {})) >= self.limits.connections_per_user:
            await websocket.close(TOO_MANY, "too many connections: close another first")
            return
        self.clients.setdefault(client.party, {})[client.id] = client
        CONNECTIONS.inc()
        try:
            # `ready` only once the broker delivers here: nothing published to the party after
            # it may pass it by. What arrives meanwhile waits in `early` and follows `ready`.
            came_online = await self.broker.join(client.party, client.id)
            await _reply(client, frames.ready(client.party))
            early, client.early = client.early or [], None
            for frame in early:
                broadcast([websocket], frame)
            await self._arrive(client, came_online)
            await self._converse(client)
        except ConnectionClosed:
            pass
        finally:
            await self._forget(client)

    async def _forget(self, client: Client) -> None:
        """The client is gone (or going): no more deliveries; its counterparts hear of it when
        it was the party's last connection. Safe to call twice."""
        mine = self.clients.get(client.party, {})
        if mine.pop(client.id, None) is None:
            return
        CONNECTIONS.dec()
        if not mine:
            self.clients.pop(client.party, None)
        await self._depart(client)

    async def _authenticate(self, websocket: ServerConnection) -> Client | None:
        try:
            raw = await asyncio.wait_for(websocket.recv(), self.limits.auth_timeout)
            data = _decoded(raw)
            if not isinstance(data, dict) or data.get("type") != "auth":
                raise Unauthenticated("the first frame must be {type: auth, token}")
            auth = structure({k: v for k, v in data.items() if k != "type"}, frames.Auth)
            actor = await self._call(self.services.accounts.authenticate, auth.token)
        except (TimeoutError, MalformedBody, BodyError, Unauthenticated) as error:
            reason = "no auth frame in time" if isinstance(error, TimeoutError) else str(error)
            await websocket.close(UNAUTHENTICATED, _reason(reason))
            return None
        except ConnectionClosed:
            return None
        if actor.role not in (Role.PATIENT, Role.DOCTOR):
            await websocket.close(FORBIDDEN, "only patients and doctors chat")
            return None
        return Client(websocket, Party.of(actor), actor, auth.token)

    async def _arrive(self, client: Client, came_online: bool) -> None:
        """Tell the client which of its counterparts are online, and them that it now is."""
        counterparts = await self._call(self.services.chat.counterparts_of, client.actor)
        for party in sorted(await self.broker.online(counterparts)):
            await _reply(client, frames.presence(party, True))
        if came_online:
            for party in counterparts:
                await self._publish(party, _envelope(frames.presence(client.party, True)))

    async def _depart(self, client: Client) -> None:
        try:
            if await self.broker.leave(client.party, client.id):
                counterparts = await self._call(self.services.chat.counterparts_of, client.actor)
                for party in counterparts:
                    await self._publish(party, _envelope(frames.presence(client.party, False)))
        except Exception:  # the connection is gone either way; presence expires on its own
            log.exception("chat: could not record that %s left", client.party)

    async def _converse(self, client: Client) -> None:
        rate = client.rate = FrameRate(self.limits.frames_per_second, self.limits.burst)
        async for raw in client.websocket:
            if client.websocket.state is not State.OPEN:
                # Closing (the server stops, or the client said goodbye): what it queued is
                # read and dropped, unanswered, so that its closing frame is read behind it (a
                # full queue pauses reading, and the close would wait out close_timeout).
                continue
            if not rate.allow(time.monotonic()):
                # Gone at once for everyone else; then the frames it queued are read and
                # dropped, so that its closing reply is read too (a full queue pauses reading,
                # and the close would otherwise wait out close_timeout).
                await self._forget(client)
                self._close_later(client, TOO_MANY, "too many frames: slow down")
                async for _ in client.websocket:
                    pass
                return
            await self._answer(client, raw)

    async def _answer(self, client: Client, raw: str | bytes) -> None:
        ref: dict[str, Any] = {}
        try:
            if isinstance(raw, bytes):
                raise BodyError([{"field": "frame", "message": "must be a text frame"}])
            data = _decoded(raw)
            if not isinstance(data, dict):
                raise BodyError([{"field": "frame", "message": "must be a JSON object"}])
            if isinstance(data.get("client_id"), str) and len(data["client_id"]) <= 64:
                ref = {"client_id": data["client_id"]}
            named = data.get("type")
            kind = frames.CLIENT_FRAMES.get(named) if isinstance(named, str) else None
            if kind is None:
                names = ", ".join(frames.CLIENT_FRAMES)
                raise BodyError([{"field": "type", "message": f"must be one of {names}"}])
            frame: object = structure({k: v for k, v in data.items() if k != "type"}, kind)
            await self._dispatch(client, frame, ref)
        except MalformedBody as error:
            await _reply(client, frames.error("malformed_frame", str(error)))
        except BodyError as error:
            first = error.errors[0]
            await _reply(
                client, frames.error("invalid_frame", str(error), field=first["field"], **ref)
            )
        except DomainError as error:
            extra = {"field": error.field} if error.field else {}
            await _reply(client, frames.error(error.code, error.message, **extra, **ref))
        except TransientConflict:
            await _reply(client, frames.error("try_again", "busy: send it again", **ref))
        except ConnectionClosed:
            raise
        except Exception:
            log.exception("chat: a frame of %s failed", client.party)
            await _reply(client, frames.error("internal_error", "try again", **ref))

    async def _dispatch(self, client: Client, frame: object, ref: dict[str, Any]) -> None:
        chat = self.services.chat
        match frame:
            case frames.Send():
                sent = await self.sends.send(
                    Outgoing(
                        client.actor,
                        frame.conversation_id,
                        frame.client_id,
                        frame.kind,
                        frame.content,
                    )
                )
                if sent.new:
                    MESSAGES.inc()
                await _reply(
                    client,
                    frames.message("ack", sent.message, sent.read, client_id=frame.client_id),
                )
                await self._fan_out(client, sent)
            case frames.Read():
                read = await self._call(
                    chat.read_as, client.actor, frame.conversation_id, frame.up_to
                )
                if read.moved:
                    receipt = frames.receipt(frame.conversation_id, client.party, read.up_to)
                    for party in read.conversation.parties:
                        await self._publish(party, _envelope(receipt))
            case frames.Sync():
                await self._sync(client, frame.after)
            case frames.Ping():
                await _reply(client, frames.pong())

    async def _publish(self, party: Party, payload: str) -> None:
        """Best effort, like every live delivery: the database has what matters, and ``sync``
        repairs what a broker outage loses."""
        try:
            await self.broker.publish(party, payload)
        except Exception:
            log.exception("chat: could not publish to %s", party)

    async def _fan_out(self, client: Client, sent: Sent) -> None:
        """The stored message to the recipient's connections and the sender's others, or an
        inbox notice when the recipient has none. It is stored and acknowledged already: a
        failure here (the broker unreachable) is logged, never reported to the sender as a
        failed send; ``sync`` brings the message to the recipient."""
        out = frames.message("message", sent.message, sent.read)
        try:
            await self._publish(sent.recipient, _envelope(out))
            await self._publish(client.party, _envelope(out, skip=client.id))
            if sent.new and not await self.broker.online([sent.recipient]):
                await self._call(self.services.chat.notify_absent, sent.message)
        except Exception:
            log.exception("chat: message %s stored but not fanned out", sent.message.id)

    async def _sync(self, client: Client, after: int) -> None:
        """The messages of the client's conversations above ``after``, in id order, a page at a
        time (``send`` waits while the client is slow to read), then ``synced``: at most
        ``sync_pages`` pages per frame, so that one small frame cannot make the server read and
        send without end; ``more`` tells the client to ask again from ``last_id``."""
        last, more = after, False
        for pages in range(self.limits.sync_pages):
            if pages and client.rate is not None:
                # Every page after the first costs a frame of the rate: a storm of syncs, each
                # answered in full, closes with 4429 like any other flood.
                client.rate.charge(1)
            page = await self._call(self.services.chat.sync_as, client.actor, last, SYNC_PAGE)
            for view in page:
                await _reply(client, frames.message("message", view.message, view.read))
                assert view.message.id is not None
                last = view.message.id
            more = len(page) == SYNC_PAGE
            if not more:
                break
        await _reply(client, frames.synced(last, more))

    # --- what reaches a party --------------------------------------------------------------------

    def _deliver(self, party: Party, payload: str) -> None:
        """From the broker: a frame for every connection of ``party`` on this process (but the
        one it came from). Never waits: a client whose backlog is too long is closed (4408)
        and repairs the gap with ``sync`` when it reconnects."""
        skip, _, frame = payload.partition("\n")
        keeping_up = []
        for client in self.clients.get(party, {}).values():
            if client.id == skip:
                continue
            if client.early is not None:
                client.early.append(frame)
                continue
            transport = client.websocket.transport
            if transport.get_write_buffer_size() > self.limits.max_backlog:
                self._close_later(client, TOO_SLOW, "too slow: reconnect and sync")
            else:
                keeping_up.append(client.websocket)
        broadcast(keeping_up, frame)  # writes at once, in order; never waits on a client

    def _close_later(self, client: Client, code: int, reason: str) -> None:
        CLOSES.labels(str(code)).inc()
        task = asyncio.create_task(client.websocket.close(code, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _push_notifications(self) -> None:
        """Read new notifications (one query a second for the whole process) and push each to
        its recipient's connections here. Ids a slower transaction commits late are caught by
        re-reading the last few seconds' ids; ``_feed_seen`` keeps each push to one."""
        notifications = self.services.notifications
        low = await self._call(notifications.newest_id)
        horizon: list[tuple[float, int]] = []  # (when, highest id seen then)
        highest = low
        while True:
            await asyncio.sleep(self.limits.notification_poll)
            try:
                found = await self._call(notifications.since, low, 500)
            except Exception:
                log.exception("chat: the notification feed failed; trying again")
                continue
            now = time.monotonic()
            for notice in found:
                assert notice.id is not None
                if notice.id in self._feed_seen:
                    continue
                self._feed_seen[notice.id] = now
                highest = max(highest, notice.id)
                party = Party(notice.recipient_role, notice.recipient_id)
                if party in self.clients:
                    self._deliver(party, _envelope(frames.notification(notice)))
            horizon.append((now, highest))
            while horizon and horizon[0][0] < now - 10:
                low = max(low, horizon.pop(0)[1])
            self._feed_seen = {i: t for i, t in self._feed_seen.items() if i > low}

    async def _recheck_tokens(self) -> None:
        """Close (4401) the connections whose token expired or whose account is gone."""
        while True:
            await asyncio.sleep(self.limits.recheck_interval)
            for client in [c for mine in self.clients.values() for c in mine.values()]:
                try:
                    await self._call(self.services.accounts.authenticate, client.token)
                except Unauthenticated:
                    await client.websocket.close(UNAUTHENTICATED, "the token expired: log in")
                except Exception:
                    log.exception("chat: could not check a token")


async def _reply(client: Client, frame: str) -> None:
    """A frame to the client while its connection is open. Once it is closing, nothing more is
    sent: the client would not read it, and ``send`` would wait for the closing handshake, which
    waits for this handler to read the client's closing frame (``_converse``)."""
    if client.websocket.state is State.OPEN:
        await client.websocket.send(frame)


def _decoded(raw: str | bytes) -> object:
    """A frame's JSON, by the same strict decoder as HTTP bodies (``MalformedBody`` if not)."""
    return decode_json(raw.encode() if isinstance(raw, str) else raw)


def _envelope(frame: str, *, skip: str = "") -> str:
    """What travels through the broker: the connection not to deliver to, then the frame."""
    return f"{skip}\n{frame}"


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return text.encode()[:120].decode("utf-8", "ignore")


# --- the process ---------------------------------------------------------------------------------


#: The cyclic garbage collector's thresholds in a chat process. With CPython's defaults (700, 10,
#: 10) a process holding 1,000 connections ran a collection every few hundred frames and a full
#: one often enough to stall the event loop for tens of milliseconds: bench/chat.py at 3,000
#: messages/s had a p99 of 190-250 ms with them, ~60 ms without. Reference counting frees almost
#: everything a frame allocates; the collector only has cycles left to find.
GC_THRESHOLDS = (100_000, 50, 1000)


def _quiet_gc() -> None:
    """Fewer, cheaper collections: what was loaded to start (modules, the SQL metadata, the
    compiled statements) is frozen out of them, and the young generation is collected rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _stop_once(stop: asyncio.Future[None]) -> None:
    """The first SIGTERM or SIGINT stops the server; another, while it closes, changes nothing."""
    if not stop.done():
        stop.set_result(None)


async def run_server(
    services: Services,
    broker: Broker,
    host: str,
    port: int,
    metrics_access: MetricsAccess | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then close every connection (1001, going away)."""
    chat = ChatServer(services, broker, metrics_access=metrics_access or MetricsAccess())
    server = await chat.start(host, port)
    _quiet_gc()
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, _stop_once, stop)
    bound = ", ".join(f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in server.sockets)
    print(f"medbook chat: listening on ws://{bound}{PATH}", flush=True)
    try:
        await stop
    finally:
        server.close()
        await server.wait_closed()
        await chat.stop()
