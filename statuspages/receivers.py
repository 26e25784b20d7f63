"""What status pages listen to: their own models (cache generations, maintenance silences), the poller's
health changes and deleted sources, and alerting's events (states, optional draft incidents). Connected in
apps.ready()."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from alerts.models import AlertEvent
from alerts.signals import alert_event_recorded
from pollers.models import Source
from pollers.signals import health_changed
from statuspages import generations
from statuspages.auto_incidents import open_drafts_for
from statuspages.maintenance import drop_silences, sync_silences
from statuspages.models import Component, Incident, IncidentUpdate, MaintenanceWindow, StatusPage

log = logging.getLogger("statuspages")


def _bump_page(page_id: int | None) -> None:
    if page_id is not None:
        transaction.on_commit(lambda: generations.bump(generations.page_scope(page_id)))


@receiver([post_save, post_delete], sender=StatusPage)
def page_changed(sender: Any, instance: StatusPage, **kwargs: Any) -> None:
    page_id = instance.pk
    transaction.on_commit(lambda: generations.bump(generations.PAGES, generations.page_scope(page_id)))


@receiver([post_save, post_delete], sender=Component)
@receiver([post_save, post_delete], sender=Incident)
@receiver([post_save, post_delete], sender=MaintenanceWindow)
def part_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    _bump_page(instance.page_id)


@receiver([post_save, post_delete], sender=IncidentUpdate)
def update_changed(sender: Any, instance: IncidentUpdate, **kwargs: Any) -> None:
    page_id = Incident.objects.filter(pk=instance.incident_id).values_list("page_id", flat=True).first()
    _bump_page(page_id)


@receiver(m2m_changed, sender=Incident.components.through)
@receiver(m2m_changed, sender=Component.sources.through)
def links_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, Component | Incident):
        _bump_page(instance.page_id)
    if isinstance(instance, Component):
        # The component's sources changed: its maintenance windows silence other sources now.
        for window in instance.maintenance_windows.filter(ends_at__gt=timezone.now()):
            sync_silences(window)


@receiver(m2m_changed, sender=MaintenanceWindow.components.through)
def window_components_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_") and isinstance(instance, MaintenanceWindow):
        _bump_page(instance.page_id)
        sync_silences(instance)


@receiver(post_save, sender=MaintenanceWindow)
def window_saved(sender: Any, instance: MaintenanceWindow, **kwargs: Any) -> None:
    sync_silences(instance)


@receiver(pre_delete, sender=MaintenanceWindow)
def window_deleted(sender: Any, instance: MaintenanceWindow, **kwargs: Any) -> None:
    drop_silences(instance)


@receiver(pre_delete, sender=Component)
def component_deleted(sender: Any, instance: Component, **kwargs: Any) -> None:
    windows = list(instance.maintenance_windows.filter(ends_at__gt=timezone.now()))
    page_id = instance.page_id

    def resync() -> None:
        for window in MaintenanceWindow.objects.filter(pk__in=[w.pk for w in windows]):
            sync_silences(window)
        generations.bump(generations.page_scope(page_id))

    transaction.on_commit(resync)


@receiver(pre_delete, sender=Source)
def source_deleted(sender: Any, instance: Source, **kwargs: Any) -> None:
    # The source's component links are deleted with it without an m2m_changed, and the pages showing it
    # would keep its state until their cache expired: they are found now, while the links still name them.
    page_ids = list(Component.objects.filter(sources=instance).values_list("page_id", flat=True).distinct())
    if page_ids:
        transaction.on_commit(lambda: generations.bump(*(generations.page_scope(page_id) for page_id in page_ids)))


@receiver(post_save, sender=Source)
def source_saved(
    sender: Any, instance: Source, created: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    # A source moved to another team leaves the pages of its old team (Component.shown_sources): they show it
    # no more at once, not after their cache expired. Only a save that may change the team looks.
    if created or (update_fields is not None and not {"team", "team_id"} & set(update_fields)):
        return
    page_ids = list(Component.objects.filter(sources=instance).values_list("page_id", flat=True).distinct())
    if page_ids:
        transaction.on_commit(lambda: generations.bump(*(generations.page_scope(page_id) for page_id in page_ids)))


@receiver(health_changed, sender=Source)
def source_health_changed(sender: Any, **kwargs: Any) -> None:
    generations.bump(generations.HEALTH)


@receiver(alert_event_recorded, sender=AlertEvent)
def alert_event(sender: Any, slug: str, event: dict[str, Any], **kwargs: Any) -> None:
    generations.bump(generations.HEALTH)  # Source.alert_state may have changed
    opened = open_drafts_for(event)
    if opened:
        log.info("alert event %s opened draft incidents %s", event.get("id"), [i.pk for i in opened])
