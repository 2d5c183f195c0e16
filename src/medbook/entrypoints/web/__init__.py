"""The web client: static pages and ES modules shipped inside the package, served at ``/``.

The client is written only against the public API (``/v1``, ../shared/API.md), like any other
client; this module only hands out its files. Nothing is built at install time: the files under
``static/`` are what the browser runs (plain ES modules and one vendored library, htm + Preact,
``static/vendor/README.txt``).

- ``GET /`` answers the page (``static/index.html``) under ``PAGE_POLICY``: scripts, styles and
  images from this origin only, no inline script, no ``eval``, no framing; the API and the chat
  server (``connect-src``) are the only places it talks to.
- ``GET /web/{name}`` answers one of the files under ``static/``, listed once at import: a name
  that is not in that list (``..``, a query for a folder, anything else) is a 404 without touching
  the file system. Each answer carries an ``ETag``; ``If-None-Match`` answers 304, and
  ``Cache-Control: no-cache`` makes browsers ask again each time (a new release is seen at once).
"""

from __future__ import annotations

import hashlib
import html
import urllib.parse
from collections.abc import Mapping
from importlib import resources

import falcon

#: What a file's suffix says it is. A file of any other kind is not served.
CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


def page_policy(chat_url: str = "") -> str:
    """The page's Content-Security-Policy: everything from this origin only, no inline script or
    style element, no ``eval``, no framing; it talks to the API on its own origin and to the chat
    server's origin (``chat_url``'s scheme, host and port), if any."""
    connect = "'self'"
    if chat_url:
        parts = urllib.parse.urlsplit(chat_url)
        connect += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


PAGE_POLICY = page_policy()


class _File:
    __slots__ = ("body", "content_type", "etag")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _files() -> dict[str, _File]:
    """Every servable file under ``static/``, by its path relative to it (``vendor/x.js``)."""
    found: dict[str, _File] = {}
    pending = [("", resources.files(__package__) / "static")]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((f"{prefix}{entry.name}/", entry))
                continue
            suffix = "." + entry.name.rpartition(".")[2]
            if suffix in CONTENT_TYPES and not entry.name.startswith("."):
                found[prefix + entry.name] = _File(entry.read_bytes(), CONTENT_TYPES[suffix])
    return found


FILES = _files()


def send_file(req: falcon.Request, resp: falcon.Response, file: _File) -> None:
    resp.set_header("ETag", file.etag)
    resp.cache_control = ["no-cache"]
    # Weak comparison (RFC 9110 13.1.2): a proxy that compresses the file marks the tag weak.
    asked = [
        tag.strip().removeprefix("W/") for tag in (req.get_header("If-None-Match") or "").split(",")
    ]
    if file.etag in asked or "*" in asked:
        resp.status = falcon.HTTP_304
        return
    resp.content_type = file.content_type
    resp.data = file.body


class WebPage:
    """``GET /``: the client's one page (its views are chosen by the URL's ``#`` fragment), with
    the chat server's address in ``<meta name="medbook-chat">`` (checked by ``check_chat_url``:
    no quote or angle bracket can be in it, and it is escaped besides)."""

    def __init__(self, chat_url: str = "") -> None:
        self.policy = page_policy(chat_url)
        page = FILES["index.html"].body.decode()
        meta = f'<meta name="medbook-chat" content="{html.escape(chat_url, quote=True)}">'
        page = page.replace("<!-- medbook-chat -->", meta)
        self.page = _File(page.encode(), CONTENT_TYPES[".html"])

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.set_header("Content-Security-Policy", self.policy)
        send_file(req, resp, self.page)


class WebAsset:
    """``GET /web/{name}``: a script, style sheet or image of the client."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        file = FILES.get(name)
        if file is None or name.endswith(".html"):  # pages have their own addresses
            raise falcon.HTTPNotFound(description="no such file of the web client")
        resp.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        send_file(req, resp, file)
