"""Django's translation of a driver's error into ``django.db``'s, without the reference cycle it leaves (both backends).

Django's ``DatabaseErrorWrapper.__exit__`` keeps the exception it raises in a local (``dj_exc_value``) of the very
frame the exception's traceback then holds: every database error is a reference cycle. And as a frame holds its
caller's (``f_back``), that cycle keeps every frame that was running when the error came, with their locals, until
the cyclic collector's next pass, rare in these processes (devops_insights/collector.py): a poll's document and the
statement's parameters for each write that failed in an outage, a request's objects for each page.

Here the exception is raised again from this frame with the traceback it had below Django's, which lets Django's
frame go: the same exception, its cause and what a log shows, less that one frame.
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
            raise translated.with_traceback(traceback) from exc_value
