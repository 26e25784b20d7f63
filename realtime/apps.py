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

        from django.db.models.signals import post_delete, post_save

        from pollers.models import Source

        # A source saved or deleted in this process: its team may have changed, read the map again.
        post_save.connect(receivers.on_source_changed, sender=Source, dispatch_uid="realtime.source_saved")
        post_delete.connect(receivers.on_source_changed, sender=Source, dispatch_uid="realtime.source_deleted")
