"""The chat protocol's frames (API.md, "Consultation chat"): what a client may send, structured
by the same strict JSON boundary as the HTTP API, and what the server sends back."""

from __future__ import annotations

import json
from typing import Any

from attrs import frozen

from medbook.domain.chat.model import Message, MessageKind, Party
from medbook.domain.notifications.model import Notification
from medbook.entrypoints.http.chat import MessageOut
from medbook.entrypoints.http.converter import unstructure
from medbook.entrypoints.http.notifications import NotificationOut

# --- from the client -----------------------------------------------------------------------------


@frozen
class Auth:
    token: str


@frozen
class Send:
    conversation_id: int
    client_id: str
    kind: MessageKind
    content: str


@frozen
class Read:
    conversation_id: int
    up_to: int


@frozen
class Sync:
    after: int


@frozen
class Ping:
    """An application-level ping, for clients (browsers) that cannot send protocol pings."""


#: ``type`` → the frame class it names.
CLIENT_FRAMES: dict[str, type] = {"send": Send, "read": Read, "sync": Sync, "ping": Ping}


# --- to the client -------------------------------------------------------------------------------


def encode(frame: dict[str, Any]) -> str:
    # Compact and ASCII-only: no raw newline or lone surrogate can ever be in a frame.
    return json.dumps(unstructure(frame), separators=(",", ":"), ensure_ascii=True)


def ready(party: Party) -> str:
    return encode({"type": "ready", "user_id": party.id, "role": party.role.value})


def message(kind: str, m: Message, read: bool, **extra: Any) -> str:
    return encode({"type": kind, **extra, "message": MessageOut.of(m, read)})


def receipt(conversation_id: int, reader: Party, up_to: int) -> str:
    return encode(
        {
            "type": "read",
            "conversation_id": conversation_id,
            "reader": {"id": reader.id, "role": reader.role.value},
            "up_to": up_to,
        }
    )


def presence(party: Party, online: bool) -> str:
    return encode(
        {"type": "presence", "user_id": party.id, "role": party.role.value, "online": online}
    )


def notification(n: Notification) -> str:
    return encode({"type": "notification", "notification": NotificationOut.of(n)})


def synced(last_id: int, more: bool) -> str:
    return encode({"type": "synced", "last_id": last_id, "more": more})


def pong() -> str:
    return encode({"type": "pong"})


def error(code: str, detail: str, **extra: Any) -> str:
    return encode({"type": "error", "code": code, "detail": detail, **extra})
