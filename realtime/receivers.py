"""Realtime listens: what the poller and the alert evaluator announce becomes a channel-layer event.

Connected in ``RealtimeConfig.ready``. The senders know nothing of realtime; each receiver hands its
signal's arguments to ``realtime.events``, whose sends never raise (a channel-layer outage is logged
there), so a poll or an alert evaluation never waits long on, or fails because of, a browser feed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from metrics.stores.base import RecordResult
from pollers.models import Source
from realtime import events


def on_change_stored(
    sender: Any, source: Source, record: RecordResult, fetched_at: datetime, poll_id: str, **kwargs: Any
) -> None:
    """``pollers.signals.change_stored``: tell every subscriber of the source (WebSocket ``update``)."""
    events.publish_update(source.slug, record, fetched_at, poll_id)


def on_health_changed(sender: Any, source: Source, status: str, detail: dict[str, Any], **kwargs: Any) -> None:
    """``pollers.signals.health_changed``: WebSocket ``source_status``."""
    events.publish_source_status(source.slug, status, detail)


def on_alert_event_recorded(sender: Any, slug: str, event: dict[str, Any], **kwargs: Any) -> None:
    """``alerts.signals.alert_event_recorded``: WebSocket ``alert``, unless ALERTS_PUBLISH_LIVE is off."""
    if settings.ALERTS_PUBLISH_LIVE:
        events.publish_alert(slug, event)


def on_source_changed(sender: Any, **kwargs: Any) -> None:
    """A source saved or deleted here: the in-memory slug-to-team map is read again on its next use."""
    from realtime.source_teams import SOURCE_TEAMS

    SOURCE_TEAMS.forget()


def on_access_changed(sender: Any, **kwargs: Any) -> None:
    """A token, user, membership, team or source saved or deleted: every process looks access up again.

    A user's save of ``last_login`` alone (every login) changes no access and moves nothing.
    """
    update_fields = kwargs.get("update_fields")
    if update_fields and set(update_fields) <= {"last_login"}:
        return
    from realtime import access

    access.bump()


def on_session_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A session deleted (a logout, an admin, ``clearsessions``): if it held a login, access is looked up again.

    An anonymous session deleted (the one a login replaces) changes no access and moves nothing.
    """
    from realtime import access
    from realtime.session_login import holds_login

    if holds_login(instance):
        access.bump()
