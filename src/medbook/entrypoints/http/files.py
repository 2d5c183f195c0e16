"""Serving stored objects back (the local-disk adapter's URLs point here)."""

from __future__ import annotations

import falcon

from medbook.ports.storage import ObjectStorage


class Files:
    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage

    def on_get(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        stored = self.storage.stat(key)  # ObjectNotFound → 404, InvalidKey → 422
        resp.content_type = stored.content_type
        resp.set_header("X-Content-Type-Options", "nosniff")
        # Whatever a file holds, a browser must not run it as part of this site.
        resp.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        resp.set_header("Cache-Control", "private, max-age=86400, immutable")
        if stored.content_type == "application/pdf":
            resp.set_header("Content-Disposition", "attachment")
        resp.set_stream(self.storage.open(key), stored.size)
