from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerting"

    def ready(self) -> None:
        # alerts may import observability (the ground floor); observability never imports alerts.
        from alerts import receivers
        from alerts.collectors import DeliveryQueueCollector
        from alerts.models import AlertRule, NotificationChannel, Silence
        from devops_insights.crypto import register_encrypted_fields
        from observability.exposition import register_shared_state
        from pollers.signals import poll_completed, source_added

        poll_completed.connect(receivers.on_poll_completed, dispatch_uid="alerts.evaluate")
        source_added.connect(receivers.on_source_added, dispatch_uid="alerts.safe_defaults")
        post_save.connect(receivers.on_rule_saved, sender=AlertRule, dispatch_uid="alerts.rule_saved")
        pre_delete.connect(receivers.on_rule_deleting, sender=AlertRule, dispatch_uid="alerts.rule_deleting")
        from objectives.models import Objective

        register_shared_state(DeliveryQueueCollector())
        # Apprise URLs carry the service's tokens: rotated by manage.py reencrypt_secrets with the rest.
        register_encrypted_fields(NotificationChannel, "apprise_url_encrypted", name_field="name")
        # A burn-rate rule covers its objective's sources: a changed objective changes what rules apply to.
        for signal in (post_save, post_delete):
            signal.connect(receivers.on_rules_changed, sender=Objective, dispatch_uid="alerts.rule_cache.Objective")
        m2m_changed.connect(
            receivers.on_rules_changed,
            sender=Objective.sources.through,
            dispatch_uid="alerts.rule_cache.ObjectiveSources",
        )
        # A rule's states for sources it no longer targets are dropped (receivers.drop_stale_states) when the
        # rule, the source or the objective changes; otherwise a firing alert would never resolve.
        from pollers.models import Source

        post_save.connect(receivers.on_source_saved, sender=Source, dispatch_uid="alerts.stale_states.Source")
        post_save.connect(
            receivers.on_objective_changed, sender=Objective, dispatch_uid="alerts.stale_states.Objective"
        )
        m2m_changed.connect(
            receivers.on_objective_changed,
            sender=Objective.sources.through,
            dispatch_uid="alerts.stale_states.ObjectiveSources",
        )
        for model in (AlertRule, Silence):
            for signal in (post_save, post_delete):
                signal.connect(
                    receivers.on_rules_changed, sender=model, dispatch_uid=f"alerts.rule_cache.{model.__name__}"
                )
