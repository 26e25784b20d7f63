"""Two writers at once, in a fixed order: another writer (a request, a poll) in a thread waits at a statement
while this test's transaction holds what it needs.

The test writes inside ``waiting_at``'s block (its transaction, not committed yet). At the block's end the
other writer starts in a thread; once it begins the statement named (by then it has made every check it makes
before writing), this transaction commits and the other goes on against what it left. What the other returned
(or the exception it raised: for a request, a server error) is ``Race.answer`` after the block.

A race of checks made before a write is PostgreSQL's: SQLite serialises writers, so the other would wait for
the commit before it checked anything (``needs_two_writers``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection, connections, transaction

# A deadline, not a wait: each wait below ends as soon as its condition holds.
DEADLINE = 30


def needs_two_writers() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once are PostgreSQL's; SQLite serialises them (run with DATABASE_URL set)")


@dataclass
class Race:
    answers: list[Any] = field(default_factory=list)

    @property
    def answer(self) -> Any:
        """What the other writer returned; the test fails with its exception when it raised one."""
        [answer] = self.answers
        assert not isinstance(answer, Exception), answer
        return answer


def on_statement(prefix: str | tuple[str, ...], reached: threading.Event) -> Callable[..., Any]:
    """An execute wrapper that sets ``reached`` as this connection starts a statement beginning ``prefix`` (or
    one of them)."""

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith(prefix):
            reached.set()
        return execute(sql, params, many, context)

    return wrapper


@contextmanager
def waiting_at(statement: str | tuple[str, ...], other: Callable[[], Any]) -> Iterator[Race]:
    """Run the block in a transaction, then ``other`` (a request, a poll) in a thread until it starts
    ``statement`` (an SQL prefix, or several: 'INSERT INTO "alerts_silence" '); then commit and let it finish."""
    race = Race()
    reached = threading.Event()

    def other_writer() -> None:
        try:
            with connection.execute_wrapper(on_statement(statement, reached)):
                race.answers.append(other())
        except Exception as exc:  # the thread's failure, for Race.answer
            race.answers.append(exc)
        finally:
            reached.set()
            connection.close()

    thread = threading.Thread(target=other_writer)
    with transaction.atomic():
        yield race
        thread.start()
        assert reached.wait(DEADLINE), f"the other writer never came to {statement!r}"
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the other writer did not finish"


def at_once(work: Callable[[], Any], threads: int, *, deadline: float = DEADLINE) -> list[Any]:
    """``work`` in ``threads`` threads let go together (a barrier), each with its own database connections,
    closed when it ends; what each returned, in the order they finished. The first exception one raised is
    raised here, after all have ended, so a failure in a thread fails the test rather than a silent count."""
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=deadline)
            results.append(work())
        except BaseException as exc:  # raised in the test's thread below
            errors.append(exc)
        finally:
            connections.close_all()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=deadline * 4)
    assert not any(thread.is_alive() for thread in started), "a thread of at_once did not end"
    if errors:
        raise errors[0]
    return results
