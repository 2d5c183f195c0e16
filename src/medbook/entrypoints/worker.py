"""``medbook worker``: the background work of a deployment, every ``interval`` seconds, until it is
told to stop (SIGTERM or SIGINT: the run in progress finishes, then the process exits 0).

Each round sends the appointment reminders that have come due (``ReminderService.run_once``),
settles the waitlists (``WaitlistService.sweep``: offers whose hold ran out lapse and go to the
next patient waiting, places freed by a raised quota are offered, started sessions' waitlists
close), expires unpaid orders past their deadline and asks the gateway again for refunds it has not
taken. Everything it does is recorded in the database before it counts as done, and claimed
row by row (``FOR UPDATE SKIP LOCKED``), so several workers, or a worker and cron's
``medbook remind --once``, may run at once and after restarts: each reminder goes out once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from medbook.bootstrap import Services

log = logging.getLogger("medbook.worker")

#: Seconds between rounds: a reminder goes out at most this late.
DEFAULT_INTERVAL = 30.0


class Worker:
    def __init__(self, services: Services, interval: float = DEFAULT_INTERVAL) -> None:
        self.services = services
        self.interval = interval
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def round(self) -> None:
        """One round; an error (the database unreachable) is logged and the next round tries
        again: nothing is half done, as each step is its own transactions."""
        steps: tuple[tuple[str, Callable[[], object]], ...] = (
            ("reminders", self.services.reminders.run_once),
            ("waitlists", self.services.waitlist.sweep),
            ("expire orders", self.services.orders.expire_overdue),
            ("settle refunds", self.services.orders.settle_refunds),
        )
        for name, step in steps:
            if self.stopping.is_set() and name != "reminders":
                return
            try:
                result = step()
            except Exception:
                log.exception("the worker's step %r failed; it runs again next round", name)
                continue
            log.info("worker step %s: %s", name, result)

    def run(self) -> None:
        log.info("worker started: a round every %.0f s", self.interval)
        while not self.stopping.is_set():
            self.round()
            self.stopping.wait(self.interval)
        log.info("worker stopped")


def run_until_signalled(services: Services, interval: float) -> int:
    worker = Worker(services, interval)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the round in progress", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run()
    return 0
