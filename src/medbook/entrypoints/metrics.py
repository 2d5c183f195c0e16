"""Who may read the metrics, and the metrics in Prometheus' text format: shared by the HTTP app's
``/metrics`` and the chat server's.

An internal caller is a peer inside ``MEDBOOK_METRICS_NETWORKS`` (loopback by default) that
came straight, or a client inside them that a trusted proxy names in ``X-Forwarded-For``; anyone
else needs ``Authorization: Bearer <MEDBOOK_METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import os

from attrs import frozen
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from medbook.bootstrap import LOOPBACK
from medbook.entrypoints.http.client import (
    IPNetwork,
    client_address,
    from_trusted_proxy,
    names_someone,
    within,
)

#: The content type of ``exposition()``.
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The methods a label may name; any other is ``other``. A label takes whatever a client sends
#: otherwise, and every new value is a new series: thousands of made-up methods once made
#: ``/metrics`` megabytes long and slower than gunicorn's worker timeout.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


@frozen
class MetricsAccess:
    token: str | None = None
    networks: tuple[IPNetwork, ...] = LOOPBACK
    trusted_proxies: tuple[IPNetwork, ...] = ()

    def allows(self, peer: str | None, forwarded_for: str | None, authorization: str) -> bool:
        scheme, _, given = authorization.partition(" ")
        if self.token and scheme.lower() == "bearer":
            return hmac.compare_digest(
                given.strip().encode("utf-8", "replace"), self.token.encode()
            )
        if forwarded_for is None:  # came straight: the peer is the caller
            return within(peer, self.networks)
        # Relayed: only a trusted proxy's word counts, and then only for a client it names (an
        # empty or malformed header names nobody; the proxy itself is not the caller).
        if not from_trusted_proxy(peer, self.trusted_proxies) or not names_someone(forwarded_for):
            return False
        return within(client_address(peer, forwarded_for, self.trusted_proxies), self.networks)


def registry() -> CollectorRegistry:
    """The numbers of every gunicorn worker (``PROMETHEUS_MULTIPROC_DIR``), or of this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
        return collected
    from prometheus_client import REGISTRY

    return REGISTRY


def exposition() -> bytes:
    return generate_latest(registry())
