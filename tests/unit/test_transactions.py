"""transactionally / read_only: one unit of work per attempt, retried only on TransientConflict."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

import pytest

from medbook.domain.shared.errors import SessionFull
from medbook.ports.transaction import TransientConflict
from medbook.services import transactions
from medbook.services.transactions import ATTEMPTS, read_only, transactionally


class FakeUnitOfWork:
    """Records what happens to it in a log shared by every unit of work of one test."""

    def __init__(self, log: list[str], fail_commit: bool = False) -> None:
        self.log = log
        self.fail_commit = fail_commit

    def __enter__(self) -> Self:
        self.log.append("begin")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.log.append("end")

    def commit(self) -> None:
        if self.fail_commit:
            self.log.append("commit failed")
            raise TransientConflict("deadlock found when trying to get lock")
        self.log.append("commit")

    def rollback(self) -> None:
        self.log.append("rollback")

    def for_reading(self) -> Self:
        self.log.append("reading")
        return self


class Factory:
    """A unit-of-work factory; the first ``failing_commits`` units of work fail to commit."""

    def __init__(self, failing_commits: int = 0) -> None:
        self.log: list[str] = []
        self.made = 0
        self.failing_commits = failing_commits

    def __call__(self) -> FakeUnitOfWork:
        self.made += 1
        return FakeUnitOfWork(self.log, fail_commit=self.made <= self.failing_commits)


def conflicting(times: int, error: Exception | None = None) -> Callable[[object], str]:
    """Work that raises ``error`` (default: TransientConflict) ``times`` times, then succeeds."""
    calls = {"n": 0}

    def work(uow: object) -> str:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error or TransientConflict("lock wait timeout exceeded")
        return f"done on attempt {calls['n']}"

    return work


@pytest.fixture
def sleeps() -> list[float]:
    return []


def test_work_that_succeeds_is_committed_once(sleeps: list[float]) -> None:
    factory = Factory()

    result = transactionally(factory, conflicting(0), sleep=sleeps.append)  # type: ignore[arg-type]

    assert result == "done on attempt 1"
    assert factory.log == ["begin", "commit", "end"]
    assert sleeps == []


def test_a_transient_conflict_is_retried_in_a_fresh_unit_of_work(sleeps: list[float]) -> None:
    factory = Factory()

    result = transactionally(factory, conflicting(2), sleep=sleeps.append)  # type: ignore[arg-type]

    assert result == "done on attempt 3"
    assert factory.made == 3
    assert factory.log == ["begin", "end", "begin", "end", "begin", "commit", "end"]
    assert len(sleeps) == 2
    assert all(0 <= delay <= 0.25 for delay in sleeps)


def test_a_conflict_at_commit_is_retried(sleeps: list[float]) -> None:
    factory = Factory(failing_commits=1)

    result = transactionally(factory, conflicting(0), sleep=sleeps.append)  # type: ignore[arg-type]

    assert result == "done on attempt 2"  # the work ran again, in the second unit of work
    assert factory.log == ["begin", "commit failed", "end", "begin", "commit", "end"]
    assert len(sleeps) == 1


def test_it_gives_up_after_the_given_attempts(sleeps: list[float]) -> None:
    factory = Factory()

    with pytest.raises(TransientConflict):
        transactionally(factory, conflicting(10), attempts=4, sleep=sleeps.append)  # type: ignore[arg-type]

    assert factory.made == 4
    assert "commit" not in factory.log
    assert len(sleeps) == 3  # no pause after the last attempt


def test_one_attempt_means_no_retry(sleeps: list[float]) -> None:
    factory = Factory()

    with pytest.raises(TransientConflict):
        transactionally(factory, conflicting(1), attempts=1, sleep=sleeps.append)  # type: ignore[arg-type]

    assert factory.made == 1
    assert sleeps == []


def test_by_default_it_tries_twelve_times(sleeps: list[float]) -> None:
    factory = Factory()

    with pytest.raises(TransientConflict):
        transactionally(factory, conflicting(100), sleep=sleeps.append)  # type: ignore[arg-type]
    assert factory.made == ATTEMPTS == 12

    factory = Factory()
    result = transactionally(factory, conflicting(11), sleep=sleeps.append)  # type: ignore[arg-type]
    assert result == "done on attempt 12"


@pytest.mark.parametrize(
    "error", [SessionFull("session is full"), RuntimeError("bug")], ids=["domain", "other"]
)
def test_other_errors_are_not_retried(sleeps: list[float], error: Exception) -> None:
    factory = Factory()

    with pytest.raises(type(error)):
        transactionally(factory, conflicting(1, error), sleep=sleeps.append)  # type: ignore[arg-type]

    assert factory.made == 1
    assert factory.log == ["begin", "end"]
    assert sleeps == []


def test_the_pause_grows_with_each_attempt_up_to_a_quarter_second(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transactions.random, "uniform", lambda low, high: high)

    with pytest.raises(TransientConflict):
        transactionally(Factory(), conflicting(100), attempts=9, sleep=sleeps.append)  # type: ignore[arg-type]

    assert sleeps == pytest.approx([0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.25, 0.25])


def test_read_only_work_is_never_committed_and_says_it_only_reads() -> None:
    factory = Factory()

    assert read_only(factory, conflicting(0)) == "done on attempt 1"  # type: ignore[arg-type]
    assert factory.log == ["reading", "begin", "end"]


def test_no_attempt_starts_once_the_time_budget_is_spent() -> None:
    """Each lock wait timeout costs seconds: the retries stop at the budget, well before
    gunicorn would kill the worker, and the caller gets the conflict (a 503 "busy")."""
    factory, now = Factory(), [0.0]

    def work(uow: object) -> str:
        now[0] += 5.0  # a lock wait timeout
        raise TransientConflict("Lock wait timeout exceeded")

    with pytest.raises(TransientConflict):
        transactionally(factory, work, budget=15.0, sleep=lambda s: None, clock=lambda: now[0])
    assert factory.made == 3  # 5, 10, 15 s: the third reached the budget
    assert factory.made < ATTEMPTS
