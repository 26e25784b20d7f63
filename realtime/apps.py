from __future__ import annotations

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Real-time updates"

    def ready(self) -> None:
        from alerts.signals import alert_event_recorded
        from pollers.signals import change_stored, health_changed
        from realtime import receivers

        change_stored.connect(receivers.on_change_stored, dispatch_uid="realtime.change_stored")
        health_changed.connect(receivers.on_health_changed, dispatch_uid="realtime.health_changed")
        alert_event_recorded.connect(receivers.on_alert_event_recorded, dispatch_uid="realtime.alert_event")

        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from accounts.models import ApiToken, Membership, Team
        from pollers.models import Source

        # A source saved or deleted in this process: its team may have changed, read the map again.
        post_save.connect(receivers.on_source_changed, sender=Source, dispatch_uid="realtime.source_saved")
        post_delete.connect(receivers.on_source_changed, sender=Source, dispatch_uid="realtime.source_deleted")
        # What a connection may read (realtime/access.py): any change moves the shared generation.
        # (A team's save changes no access; its delete takes its memberships and tokens with it.)
        for model in (ApiToken, Membership, get_user_model(), Source):
            name = model.__name__
            post_save.connect(receivers.on_access_changed, sender=model, dispatch_uid=f"realtime.access.save.{name}")
            post_delete.connect(receivers.on_access_changed, sender=model, dispatch_uid=f"realtime.access.del.{name}")
        post_delete.connect(receivers.on_access_changed, sender=Team, dispatch_uid="realtime.access.del.Team")
        # A logout deletes its session: a session's kept access (realtime/access.py) must not outlive it.
        from django.contrib.sessions.models import Session

        post_delete.connect(receivers.on_session_deleted, sender=Session, dispatch_uid="realtime.access.del.Session")
