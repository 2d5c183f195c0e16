"""The route table and the machinery that serves it.

Every route is declared once, as data: its path, and for each method the handler, the command class
its body is structured into, its query class, its status and response type. The Falcon resources and
the OpenAPI document are both made from this table, so they cannot drift apart.
"""

from __future__ import annotations

import functools
import io
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Generic, TypeVar

import attrs
import falcon
from attrs import frozen
from gunicorn.http.errors import ParseException  # type: ignore[import-untyped]

from medbook.domain.shared.actors import Actor
from medbook.domain.shared.entity import parse_id
from medbook.domain.shared.errors import InvalidValue, TooLarge, Unauthenticated
from medbook.entrypoints.http.body import MalformedBody, decode_json
from medbook.entrypoints.http.client import IPNetwork, client_address
from medbook.entrypoints.http.converter import BodyError, structure, unstructure
from medbook.services.uploads import read_limited

if TYPE_CHECKING:
    from medbook.bootstrap import Services

#: The command class of a call's body (``FileBody`` for a file, None for no body).
Body = TypeVar("Body")
#: The query class of a call (None for no query).
Query = TypeVar("Query")


@frozen
class Call(Generic[Body, Query]):
    """What a handler gets: the caller (None when anonymous), the parsed body, query and path,
    and the client's address (see ``client.client_address``; None when unknown).

    A handler names the classes its operation declares: ``Call[Register, None]``."""

    actor: Actor | None
    body: Body
    query: Query
    params: dict[str, Any]
    client: str | None = None

    @property
    def me(self) -> Actor:
        assert self.actor is not None, "the operation must declare auth=True"
        return self.actor


#: ``handler(services, call) -> view`` (or None for no body).
Handler = Callable[["Services", Call[Any, Any]], object]


@frozen
class Operation:
    handler: Handler
    summary: str
    auth: bool = True
    body: type | None = None
    query: type | None = None
    status: int = 200
    response: Any = None  # an attrs class, list[cls], or None for no body
    errors: tuple[int, ...] = ()
    description: str = ""
    #: Media types of a raw (file) body: the handler gets a ``FileBody``, not a JSON command.
    files: tuple[str, ...] = ()
    #: Other success statuses the handler may answer with, by returning an ``Answer``.
    also: tuple[int, ...] = ()
    #: The answer is a stored file: the handler returns a ``FileAnswer``.
    download: bool = False
    #: A download's one media type, when it always has the same (None: any, as a stored file).
    media_type: str | None = None
    #: The body is signed as it is (a gateway's notification): the handler gets a ``RawBody``.
    #: The class describes the JSON the body holds, for the document only.
    raw: type | None = None
    #: Request headers the operation reads (documented as header parameters).
    headers: tuple[str, ...] = ()


@frozen
class Answer:
    """A handler's result with another status than its operation's own (one of ``also``)."""

    status: int
    view: object


@frozen
class FileAnswer:
    """A stored file as an answer, served with headers that keep a browser from running it."""

    content_type: str
    size: int
    stream: BinaryIO


def send_file(resp: falcon.Response, answer: FileAnswer, cache: str) -> None:
    resp.content_type = answer.content_type
    resp.set_header("X-Content-Type-Options", "nosniff")
    # Whatever a file holds, a browser must not run it as part of this site, nor show it framed
    # in another (the app's middleware leaves a resource's own policy alone).
    resp.set_header(
        "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox"
    )
    resp.set_header("Cache-Control", cache)
    if answer.content_type == "application/pdf":
        resp.set_header("Content-Disposition", "attachment")
    resp.set_stream(answer.stream, answer.size)


@frozen
class RawBody:
    """A body as its bytes, with the request's headers (lower-case names)."""

    data: bytes
    headers: dict[str, str]


@frozen
class FileBody:
    stream: BinaryIO
    filename: str | None


@frozen
class Route:
    path: str
    operations: dict[str, Operation]
    tag: str = "medbook"
    #: The regular expression of each path field that is not an ``{name:id}``.
    patterns: dict[str, str] = attrs.field(factory=dict)


class _Resource:
    """Serves one route: authenticates, parses, calls the handler, renders its result."""

    def __init__(
        self,
        services: Services,
        route: Route,
        max_body: int,
        trusted_proxies: Sequence[IPNetwork] = (),
    ) -> None:
        self.services = services
        self.route = route
        self.max_body = max_body
        self.trusted_proxies = trusted_proxies

    def _serve(
        self, method: str, req: falcon.Request, resp: falcon.Response, **params: Any
    ) -> None:
        operation = self.route.operations[method]
        actor = self._actor(req) if operation.auth else None
        req.context.actor = actor  # for the request log: who asked
        body = self._body(req, operation.body) if operation.body else None
        if operation.files:
            body = self._file(req)
        if operation.raw is not None:
            body = self._raw(req)
        query = parse_query(req, operation.query) if operation.query else None
        client = client_address(
            req.remote_addr, req.get_header("X-Forwarded-For"), self.trusted_proxies
        )
        result = operation.handler(self.services, Call(actor, body, query, params, client))
        status = operation.status
        if isinstance(result, Answer):
            assert result.status in operation.also, "an Answer's status must be in ``also``"
            status, result = result.status, result.view
        resp.status = falcon.code_to_http_status(status)
        if isinstance(result, FileAnswer):
            # Private: a shared cache must never keep it; the caller's own browser may.
            send_file(resp, result, "private, max-age=300")
        elif result is not None:
            resp.media = unstructure(result)

    def _actor(self, req: falcon.Request) -> Actor:
        return bearer_actor(self.services, req)

    def _file(self, req: falcon.Request) -> FileBody:
        limit = self.services.uploads.max_bytes
        media_type = media_type_of(req)
        if media_type == MULTIPART:
            return self._form_file(req, limit)
        if req.content_length is not None and req.content_length > limit:
            raise TooLarge(f"the file is larger than {limit} bytes", limit=limit)
        filename = req.get_header("X-Filename")
        disposition = req.get_header("Content-Disposition") or ""
        match = re.search(r'filename="?([^";]+)"?', disposition)
        return FileBody(body_stream(req), filename or (match[1] if match else None))

    def _form_file(self, req: falcon.Request, limit: int) -> FileBody:
        """The file of a ``multipart/form-data`` body (what a browser's FormData and generated
        clients send): its part named ``file``, read as a stream under the same limit as a raw
        body. A form without one is a 422 naming ``file``; a body that is
        not well-formed multipart is a 400 (Falcon's ``MultipartParseError``); any other part, or a
        second file, is a 422 naming it (as an unknown JSON field is). The file is read whole, under
        the limit, before the next part: the service would read it whole anyway."""
        if req.content_length is not None and req.content_length > limit + FORM_OVERHEAD:
            raise TooLarge(f"the file is larger than {limit} bytes", limit=limit)
        found: FileBody | None = None
        try:
            for part in self._form(req, limit):
                if part.name != FORM_FIELD:
                    raise InvalidValue(
                        part.name or "body", "not a part this form takes (only file)"
                    )
                if found is not None:
                    raise InvalidValue(FORM_FIELD, "send one file")
                data = read_limited(typing.cast(BinaryIO, part.stream), limit)
                found = FileBody(io.BytesIO(data), part.filename or None)
        except falcon.MediaMalformedError as error:
            raise falcon.HTTPBadRequest(
                description=f"the form could not be read: {error.description}",
                code="malformed_body",
            ) from None
        except UnicodeDecodeError:  # a part's headers in another encoding than UTF-8
            raise falcon.HTTPBadRequest(
                description="the form could not be read: its part headers are not UTF-8",
                code="malformed_body",
            ) from None
        if found is None:
            raise InvalidValue(FORM_FIELD, "send the file as the form part named file")
        return found

    @staticmethod
    def _form(req: falcon.Request, limit: int) -> Any:
        """The parts of a form. Falcon's parser needs the body's length, which a chunked body
        does not say: such a body is read first (at most the limit and the form's overhead)."""
        if req.content_length is not None:
            return req.get_media()
        data = body_stream(req).read(limit + FORM_OVERHEAD + 1)
        if len(data) > limit + FORM_OVERHEAD:
            raise TooLarge(f"the file is larger than {limit} bytes", limit=limit)
        handler = req.options.media_handlers[MULTIPART]
        return handler.deserialize(io.BytesIO(data), req.content_type, len(data))

    def _raw(self, req: falcon.Request) -> RawBody:
        raw = self._bytes(req)
        return RawBody(raw, {name.lower(): value for name, value in req.headers.items()})

    def _bytes(self, req: falcon.Request) -> bytes:
        ensure_length(req, self.max_body)
        if media_type_of(req) != "application/json":
            raise falcon.HTTPUnsupportedMediaType(description="send the body as application/json")
        return read_within(req, self.max_body)

    def _body(self, req: falcon.Request, cls: type) -> Any:
        return structure(json_of(self._bytes(req)), cls)


def bearer_actor(services: Services, req: falcon.Request) -> Actor:
    """The caller the request's bearer token names; 401 without one that is well formed."""
    header = req.get_header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send a bearer token: Authorization: Bearer <token>")
    return services.accounts.authenticate(token.strip())


def media_type_of(req: falcon.Request) -> str:
    """The body's media type, without its parameters, in lower case ("" when none is given)."""
    return (req.content_type or "").split(";")[0].strip().lower()


def ensure_length(req: falcon.Request, max_body: int) -> None:
    """413 for a body whose ``Content-Length`` says it is larger than ``max_body``, unread."""
    if req.content_length is not None and req.content_length > max_body:
        raise falcon.HTTPContentTooLarge(description=f"the body may be at most {max_body} bytes")


def read_within(req: falcon.Request, max_body: int) -> bytes:
    """The whole body, or 413 once it passes ``max_body`` (a chunked body says no length)."""
    raw = body_stream(req).read(max_body + 1)
    if len(raw) > max_body:
        raise falcon.HTTPContentTooLarge(description=f"the body may be at most {max_body} bytes")
    return raw


def json_of(raw: bytes) -> Any:
    """The JSON value of a body; 400 ``malformed_body`` for text that does not mean one thing."""
    try:
        return decode_json(raw)
    except MalformedBody as error:
        raise falcon.HTTPBadRequest(description=str(error), code="malformed_body") from None


#: The form part that holds an upload's file, and what a form may add around it (boundaries, part
#: headers, small other fields) before its length alone says the file is too large.
FORM_FIELD = "file"
FORM_OVERHEAD = 64 * 1024
MULTIPART = "multipart/form-data"


def body_stream(req: falcon.Request) -> BinaryIO:
    """The request body: ``Content-Length`` bytes, or a chunked body read to its end.

    Falcon's ``bounded_stream`` reads nothing when there is no ``Content-Length``; a chunked body
    has none, and the WSGI server (gunicorn) has already removed the chunk framing. Callers bound
    what they read with their own limit either way. A body the client framed wrongly (a bad chunk,
    a connection closed before ``Content-Length`` bytes came) is a 400, not a server error.
    """
    chunked = "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
    stream = req.stream if chunked and req.content_length is None else req.bounded_stream
    body = WholeBody(stream, None if chunked else req.content_length)
    req.context[_WHOLE_BODY] = body
    return typing.cast(BinaryIO, body)


_WHOLE_BODY = "medbook.whole_body"


def body_ended(req: falcon.Request) -> bool:
    """``body_stream(req)`` was read to the body's end (a chunked body's last chunk came)."""
    body = req.context.get(_WHOLE_BODY)
    return body is not None and body.ended


#: What a WSGI server raises while reading a body the client framed wrongly: gunicorn's own parse
#: errors (a bad chunk size, a chunk without its CRLF), OSError for a body cut short or a reset
#: socket, ValueError from servers that check less.
UNREADABLE = (ParseException, OSError, ValueError)


class WholeBody:
    """A request body that ends where its framing says, or fails with a 400 saying why."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream = stream
        self._length = length
        self._read = 0
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._stream.read(size)
        except UNREADABLE as error:
            raise falcon.HTTPBadRequest(
                description=f"the body could not be read: {type(error).__name__}",
                code="malformed_body",
            ) from None
        self._read += len(data)
        ended = not data or size < 0 or len(data) < size
        self.ended = self.ended or ended
        if ended and self._length is not None and self._read < self._length:
            raise falcon.HTTPBadRequest(
                description=f"the body ended after {self._read} of its {self._length} bytes",
                code="malformed_body",
            )
        return data


def make_resource(
    services: Services, route: Route, max_body: int, trusted_proxies: Sequence[IPNetwork] = ()
) -> _Resource:
    """A resource with a responder for each of the route's methods (and none for the others)."""
    responders = {f"on_{method.lower()}": _responder(method) for method in route.operations}
    cls = type("RouteResource", (_Resource,), responders)
    resource: _Resource = cls(services, route, max_body, trusted_proxies)
    return resource


def _responder(method: str) -> Callable[..., None]:
    def respond(self: _Resource, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        self._serve(method, req, resp, **params)

    return respond


# --- ids in paths --------------------------------------------------------------------------------


class IdConverter(falcon.routing.BaseConverter):
    """``{name:id}`` in a route: a positive integer no larger than ``MAX_ID``, written the one way
    it is written in our answers (``/v1/doctors/01`` names no doctor: it is not a canonical id)."""

    def convert(self, value: str) -> int | None:
        return parse_id(value)


# --- query strings -------------------------------------------------------------------------------

# ASCII digits only: \d would take U+0661 (Arabic-Indic one), which Python reads as 1.
_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _base(kind: Any) -> Any:
    """X for ``X | None``."""
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        rest = [a for a in typing.get_args(kind) if a is not type(None)]
        return rest[0]
    return kind


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """``cls``'s type hints, worked out once (``get_type_hints`` evaluates every annotation)."""
    return typing.get_type_hints(cls)


def parse_query(req: falcon.Request, cls: type) -> Any:
    """The query string as an instance of ``cls`` (an attrs class of scalars)."""
    hints = _hints(cls)
    values: dict[str, Any] = {}
    errors = []
    for field in attrs.fields(cls):
        name = query_name(field)
        raw = req.get_param(name)
        if raw is None:
            continue
        if isinstance(req.params.get(name), list):
            errors.append({"field": name, "message": "must be given once"})
            continue
        kind = _base(hints[field.name])
        if kind is int and not _INT.fullmatch(raw):
            errors.append({"field": name, "message": "must be an integer"})
        elif kind is float and not _FLOAT.fullmatch(raw):
            errors.append({"field": name, "message": "must be a number"})
        elif kind is bool and raw not in ("true", "false"):
            errors.append({"field": name, "message": "must be true or false"})
        else:
            values[field.name] = (
                int(raw)
                if kind is int
                else float(raw)
                if kind is float
                else raw == "true"
                if kind is bool
                else raw
            )
    if errors:
        raise BodyError(errors)
    try:
        return structure(values, cls)
    except BodyError as error:  # name the query parameters, not the attributes
        aliases = {f.name: query_name(f) for f in attrs.fields(cls)}
        raise BodyError(
            [{**e, "field": aliases.get(e["field"], e["field"])} for e in error.errors]
        ) from None


def query_name(field: attrs.Attribute[Any]) -> str:
    """The query parameter of a field: its name, or ``metadata["name"]`` (e.g. "from")."""
    return str(field.metadata.get("name", field.name))
