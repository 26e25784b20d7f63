from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Instrumentation only: instruments, exposition, tracing, log context and request ids.

    Imports no other app of the project; the apps register their collectors and update their
    instruments themselves (see observability.exposition). The poller's own duties (its metrics
    server, the retention step) are started by ``manage.py poll``, not from here.
    """

    name = "observability"
    verbose_name = "Operations"

    def ready(self) -> None:
        from observability import receivers, tracing  # noqa: F401 - connects the request id receivers

        tracing.configure_from_settings()
