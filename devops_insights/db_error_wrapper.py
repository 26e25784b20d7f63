"""Django's translation of a driver's error into ``django.db``'s, without the reference cycle it leaves (both backends).

Django's ``DatabaseErrorWrapper.__exit__`` keeps the exception it raises in a local (``dj_exc_value``) of the very
frame the exception's traceback then holds: every database error is a reference cycle. And as a frame holds its
caller's (``f_back``), that cycle keeps every frame that was running when the error came, with their locals, until
the cyclic collector's next pass, rare in these processes (devops_insights/collector.py): a poll's document and the
statement's parameters for each write that failed in an outage, a request's objects for each page.

Here the exception is raised again from this frame with the traceback it had below Django's, which lets Django's
frame go: the same exception, its cause and what a log shows, less that one frame.

The driver's exception, kept as the cause, keeps no traceback of its own: the translated exception carries that
very traceback, so a log shows the same frames once instead of twice. And a driver may keep its exception in a
local of a frame that traceback holds, a cycle of the same kind: psycopg's pipeline does (``_fetch_gen`` keeps the
first error of the results it fetched in ``exception``), for a read such as ``fetchone`` whose statement failed in
a change's pipeline (metrics/stores/sql.py).
"""

from __future__ import annotations

from types import TracebackType

from django.db import Error, utils


class DatabaseErrorWrapper(utils.DatabaseErrorWrapper):
    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            super().__exit__(exc_type, exc_value, traceback)
        except Error as translated:
            if exc_value is not None:
                exc_value.__traceback__ = None
            raise translated.with_traceback(traceback) from exc_value
