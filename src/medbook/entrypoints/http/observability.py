"""What an operator sees of the HTTP app: one JSON log line per request, and ``/metrics``.

**The request log** (logger ``medbook.access``) holds the request id, the route *template*
(``/v1/shared-records/{code}``, never the path a client sent: paths can carry share codes and
ids of other people's records), the method, the status, the duration, and who asked (user id and
role). It never holds a body, a query string, a header or a token, so passwords, tokens,
identity numbers and health data cannot reach it.

**Metrics** (Prometheus' text format, by ``prometheus_client``): requests and their latency by
route and status; the business events those requests are (bookings, cancellations, orders,
payments); the database pool's connections. Under gunicorn the workers write their numbers to
``PROMETHEUS_MULTIPROC_DIR`` (``medbook serve`` makes one per run) and ``/metrics`` adds them up,
so every worker answers for all.

``/metrics`` answers only an internal caller (a peer inside ``MEDBOOK_METRICS_NETWORKS`` that came
straight, not through a proxy) or one with ``Authorization: Bearer <MEDBOOK_METRICS_TOKEN>``.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence

import falcon
from prometheus_client import Counter, Gauge, Histogram, multiprocess

from medbook.entrypoints.http import errors
from medbook.entrypoints.http.client import IPNetwork, from_trusted_proxy
from medbook.entrypoints.metrics import CONTENT_TYPE, MetricsAccess, exposition, method_label

access_log = logging.getLogger("medbook.access")
log = logging.getLogger("medbook.http")

#: A request id a proxy may hand on (nginx's ``$request_id`` is 32 hex digits); anything else is
#: replaced, so a client cannot write what it likes into the logs.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

#: Latency buckets (seconds): a sessions listing takes milliseconds, an argon2 login ~50 ms, an
#: upload to object storage up to seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "medbook_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "medbook_http_request_duration_seconds",
    "Time from the request's arrival in the app to its answer, by route template and method",
    ["route", "method"],
    buckets=BUCKETS,
)
EVENTS = Counter(
    "medbook_events",
    "What patients, doctors and gateways did: bookings, cancellations, orders, payments",
    ["event"],
)
POOL = Gauge(
    "medbook_db_pool_connections",
    "Database connections of the pool, summed over workers: checked out, or open in all",
    ["state"],
    multiprocess_mode="livesum",
)

#: (method, route template, status) -> the business event a successful answer is.
BUSINESS_EVENTS: dict[tuple[str, str, int], str] = {
    ("POST", "/v1/appointments", 201): "appointment_booked",
    ("POST", "/v1/appointments/{appointment_id:id}/cancel", 200): "appointment_cancelled",
    ("POST", "/v1/orders", 201): "order_placed",
    ("POST", "/v1/orders/{order_id:id}/cancel", 200): "order_cancelled",
    ("POST", "/v1/orders/{order_id:id}/complete", 200): "order_completed",
    ("POST", "/v1/payments/notify", 204): "payment_notification",
    ("POST", "/v1/payments/wechat/notify", 204): "payment_notification",
}
#: Refusals worth counting as events of their own (409: the session is full, already booked …).
BUSINESS_REFUSALS: dict[tuple[str, str, int], str] = {
    ("POST", "/v1/appointments", 409): "appointment_refused",
    ("POST", "/v1/orders", 409): "order_refused",
}


class RequestLog:
    """Falcon middleware: the request id, the log line and the metrics of every request, errors
    included."""

    def __init__(
        self,
        pool_use: Callable[[], tuple[int, int]] = lambda: (0, 0),
        trusted_proxies: Sequence[IPNetwork] = (),
    ) -> None:
        self.pool_use = pool_use
        self.trusted_proxies = tuple(trusted_proxies)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        # Only a trusted proxy names the request (a client could write a share code or a phone
        # number into the log as its "id", or collide with another request's).
        given = req.get_header("X-Request-ID") or ""
        trusted = from_trusted_proxy(req.remote_addr, self.trusted_proxies)
        req.context.request_id = (
            given if trusted and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        )
        req.context.started = time.perf_counter()
        req.context.actor = None

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", None)
        duration = time.perf_counter() - started if started is not None else 0.0
        route, method = req.uri_template or "unmatched", method_label(req.method)
        status = int(resp.status_code)
        resp.set_header("X-Request-ID", str(req.context.get("request_id", "")))
        try:
            self._count(method, route, status, duration)
        except Exception:  # the numbers are for the operator: never worth a patient's request
            log.warning("could not record the metrics of a request", exc_info=True)
        actor = req.context.get("actor")
        access_log.info(
            "%s %s %d",
            method,
            route,
            status,
            extra={
                "request_id": req.context.get("request_id"),
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 2),
                "user_id": getattr(actor, "id", None),
                "role": getattr(getattr(actor, "role", None), "value", None),
            },
        )

    def _count(self, method: str, route: str, status: int, duration: float) -> None:
        REQUESTS.labels(route, method, str(status)).inc()
        LATENCY.labels(route, method).observe(duration)
        key = (method, route, status)
        event = BUSINESS_EVENTS.get(key) or BUSINESS_REFUSALS.get(key)
        if event:
            EVENTS.labels(event).inc()
        checked_out, size = self.pool_use()
        POOL.labels("checked_out").set(checked_out)
        POOL.labels("open").set(size)


class Metrics:
    """``GET /metrics``: for internal callers and holders of the metrics token only."""

    def __init__(self, access: MetricsAccess) -> None:
        self.access = access

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        authorization = req.get_header("Authorization") or ""
        if not self.access.allows(
            req.remote_addr, req.get_header("X-Forwarded-For"), authorization
        ):
            errors.problem(
                resp,
                403,
                "metrics are for internal addresses (MEDBOOK_METRICS_NETWORKS) or holders of "
                "MEDBOOK_METRICS_TOKEN",
                "forbidden",
            )
            return
        resp.content_type = CONTENT_TYPE
        resp.data = exposition()


def worker_exited(pid: int) -> None:
    """For gunicorn's ``child_exit``: a dead worker's live gauges no longer count."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
