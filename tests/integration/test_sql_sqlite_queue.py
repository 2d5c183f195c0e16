"""SQLite in one process (issue 13): writers queue on a lock of the process, in turn, instead of
sleeping in SQLite's busy handler; readers never wait for a writer (their transactions begin
DEFERRED, and WAL lets them read beside it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.engine import writers_queue
from medbook.adapters.sql.migrate import upgrade
from medbook.domain import Hospital


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    upgrade(made)
    yield made
    made.dispose()


def test_writers_take_turns_and_none_fails(engine: Engine) -> None:
    inside, most, errors = [0], [0], []
    guard = threading.Lock()

    def write(n: int) -> None:
        try:
            with SqlUnitOfWork(engine) as uow:
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                uow.hospitals.add(Hospital(f"Hospital {n}"))
                time.sleep(0.01)
                with guard:
                    inside[0] -= 1
                uow.commit()
        except Exception as error:  # noqa: BLE001 - any failure is the test's finding
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert most[0] == 1
    with SqlUnitOfWork(engine) as uow:
        assert len(uow.hospitals.list()) == 12


def test_a_second_writer_waits_on_the_queue_not_inside_sqlite(engine: Engine) -> None:
    """While one writer is in its transaction, the next has not even taken a connection: it
    waits on the process's queue, where it is woken at the first one's commit, rather than in
    SQLite's busy handler, which polls with sleeps of up to 100 ms."""
    writing, done, second_done = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with SqlUnitOfWork(engine) as uow:
            writing.set()
            done.wait(10)
            uow.commit()

    def second() -> None:
        with SqlUnitOfWork(engine) as uow:
            uow.commit()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert writing.wait(10)
    threads[1].start()
    try:
        time.sleep(0.2)
        assert not second_done.is_set()
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    finally:
        done.set()
        for thread in threads:
            thread.join(10)
    assert second_done.is_set()


def test_a_reader_does_not_wait_for_a_writer_in_its_transaction(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.hospitals.add(Hospital("Ruijin Hospital"))
        uow.commit()
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with SqlUnitOfWork(engine) as uow:
            uow.hospitals.add(Hospital("Huashan Hospital"))
            writing.set()
            done.wait(10)
            uow.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        with SqlUnitOfWork(engine).for_reading() as uow:  # while the writer holds the lock
            names = [h.name for h in uow.hospitals.list()]
        assert names == ["Ruijin Hospital"]  # what was committed, not the writer's row
    finally:
        done.set()
        thread.join(10)


def test_the_queue_is_free_again_after_a_failed_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), SqlUnitOfWork(engine):
        raise RuntimeError("the work failed")

    queue = writers_queue(engine)
    assert queue is not None and not queue.locked()
    with SqlUnitOfWork(engine) as uow:
        uow.commit()
