"""Signals of the pollers app; realtime, alerting, observability and boards connect to them, the poller knows none
of them (nothing in ``pollers`` imports those apps: the arrows point down).

The four signals of polling (``health_changed`` to ``batch_flushed``) are sent with ``sender=Source`` and
``send_robust``: receivers must be quick and must not raise (a listener's outage, a channel layer down, is
theirs to absorb). A receiver's exception stops no other receiver, but it is a bug: for the three signals of
a poll, the poll ends as a failed poll of kind ``internal``, recorded on the source, in its poll-failure log
and in the poll counters, announced as a health change and logged once with the poll id, even though its
document is stored (``batch_flushed``, last of the four, belongs to no poll: there it is only logged).
They are sent in this order within one poll:

``health_changed``: sent when a poll changed the source's health in a way worth announcing, after
the health fields are written, with keyword arguments ``source`` (the ``Source`` instance, health
fields already updated), ``status`` (one of ``pollers.health.CHANGES``: "failing" for the first failed
poll after a success, "circuit_open" when the breaker has just opened, "recovered" for the first success
after either) and ``detail`` (a JSON-serializable dict: ``error_kind``, ``error_message``,
``consecutive_failures`` and ``poll_id`` for a failure, ``after_failures`` for a recovery). Once per
poll, or twice when the poll turned out failed (``internal``) after a first announcement; never on a dry run.

``change_stored``: sent after a poll stored a document that differs from the previous one, with keyword
arguments ``source`` (the ``Source``), ``record`` (the store's ``RecordResult``: ``hash``, ``sequence``,
``metrics`` and ``diff``), ``fetched_at`` (when the poll started, an aware datetime), ``poll_id``
(str) and ``batched`` (bool, below). An unchanged poll stores only a last-seen time and sends nothing.

``batched`` is True when the poller owns a health batch (``pollers.health_batch``: the poll command and
the loop) and so promises a ``batch_flushed`` after this change: within the batch's ``max_age`` (a second
by default; the change's own poll adds to the batch, which is written once that old), at the end of a poll
command's cycle and at the loop's shutdown. A receiver may then hold its own writes back for that signal
and write them all at once. It is False for a single poll (the admin's "poll now", the API, any poller
built without a batch): nothing follows, and a receiver must write at once.

``poll_completed``: sent after every poll of a source has been stored (or has failed), with
keyword arguments ``source`` (the ``Source`` instance, health fields already updated) and
``outcome`` (a ``PollOutcome``).

``batch_flushed``: belongs to no poll. Sent by a poller that owns a health batch each time
``Poller.flush_health`` writes it (when due, when full, at the end of a poll command's cycle, each quiet
second of the loop that finds it due, at the loop's shutdown), after the health rows and availability
samples were written, and also when one of those writes failed; with no keyword arguments. It may come on
any thread (a poll's, whose batch just became due, or the loop's main thread), at the same time as other
polls' signals, and it covers every ``change_stored`` with ``batched`` sent before it, possibly more: a
receiver takes everything it held back, whatever poll it came from. A receiver's exception here is logged
by the poller as a warning and goes no further: ``flush_health`` never raises, and no poll fails for it.

``poller_process_changed``: a plain ``Signal``, sent with ``sender=PollerProcess`` and the keyword argument
``process`` when a poller process starts (``PollerProcess.register``) or stops cleanly
(``PollerProcess.mark_stopped``): whether any poller runs may have changed (the dashboard's system banner).
Not per heartbeat. Sent with ``send_robust``: a receiver's exception is logged and stops no poller.

``source_added``: belongs to no poll. A plain ``Signal``, sent with ``sender=Source`` and the keyword argument
``source`` (the new ``Source``, saved, its team set) when a person or a tool adds a source: the dashboard's *Add
a source*, the Django admin's *Add source*, the API's create, and ``manage.py seed_demo`` for each source it
creates (never for one that already exists, so a rerun announces nothing). Its receivers give such a source the
defaults a person expects (alerting: the "unreachable" rule of ``ALERTS_DEFAULT_UNREACHABLE_RULE``). Sent only
by ``Source.add``, the one way those paths store a new source, right after the row is inserted and inside the
same transaction, with ``send``, not ``send_robust``: what a receiver writes commits or rolls back with the
source, and a receiver's exception undoes the insert and reaches the caller, so no source is stored without its
defaults. A receiver whose effect leaves the database (a message, a publish) defers it with
``transaction.on_commit``. Not sent for the sources configuration as code creates (``config apply``): its files
declare every rule they want, and applying them gives what they say and nothing else, the same on every run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from devops_insights.collector import detached

logger = logging.getLogger("pollers.signals")


class PollSignal(Signal):
    """A signal whose ``send_robust`` keeps a receiver's traceback at debug level, and only there.

    Django logs each receiver's exception with its traceback at error level; the poller logs the poll's
    one error line itself (with the poll id, the exception's type and message, the receiver), so a
    receiver failing on every poll does not repeat its traceback on every poll.

    The exceptions it returns are detached (``devops_insights.collector.detached``): Django's ``send_robust``
    keeps each in a list of its frame, and the traceback holds that frame, whose arguments are the poll's
    (its outcome with the document, the record): a cycle per failing poll, left to a collector the poller
    runs rarely.
    """

    def __init__(self, name: str) -> None:
        # Cached receivers: the sender is always ``Source``, and without the cache every send walks the
        # receiver list under a lock (connect and disconnect empty the cache). The cache is keyed by a weak
        # reference to the sender, so ``sender=None`` raises TypeError: send ``Source``, as the rules say.
        super().__init__(use_caching=True)
        self.name = name  # for the poll's log line: "change_stored receiver <name> raised ..."

    def _log_robust_failure(self, receiver: object, err: Exception) -> None:
        logger.debug("receiver %s raised", getattr(receiver, "__qualname__", receiver), exc_info=err)

    def send_robust(self, sender: Any, **named: Any) -> list[tuple[Callable[..., Any], Exception | Any]]:
        responses = super().send_robust(sender, **named)
        for _receiver, response in responses:
            if isinstance(response, BaseException):
                detached(response)  # its traceback was logged, at debug, by _log_robust_failure
        return responses


health_changed = PollSignal("health_changed")
change_stored = PollSignal("change_stored")
poll_completed = PollSignal("poll_completed")
batch_flushed = PollSignal("batch_flushed")
poller_process_changed = Signal()
source_added = Signal()
