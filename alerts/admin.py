from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.team_admin import TeamScopedAdmin
from alerts.defaults import first_becomes_default
from alerts.forms import CONDITION_FIELDS, AlertRuleForm, NotificationChannelForm
from alerts.models import AlertEvent, AlertRule, Delivery, NotificationChannel, RuleState, Silence


@admin.register(AlertRule)
class AlertRuleAdmin(TeamScopedAdmin):
    form = AlertRuleForm
    list_display = ["name", "enabled", "severity", "target", "condition", "fire_after", "resolve_after"]
    list_select_related = ["source", "objective"]  # the target and condition columns name them
    list_filter = ["team", "enabled", "severity", "kind", "scope"]
    search_fields = ["name", "description", "metric", "path", "tag", "source__slug"]
    autocomplete_fields = ["source"]
    filter_horizontal = ["channels"]
    actions = ["enable", "disable"]
    fieldsets = [
        (None, {"fields": ["team", "name", "description", "enabled", "severity"]}),
        (
            "Target",
            {
                "fields": ["scope", "source", "tag"],
                "description": (
                    "One source, sources with a tag, or all sources. A burn-rate rule takes none: it watches its "
                    "objective's sources, and is saved as a rule of all sources whatever these hold."
                ),
            },
        ),
        (
            "Condition",
            {
                # Every kind's fields (alerts.forms.CONDITION_FIELDS): the form clears those of other kinds.
                "fields": ["kind", *CONDITION_FIELDS],
                "description": (
                    "Metric threshold: metric, operator, threshold. Payload field: path, operator, value "
                    '(a JSON literal: false, 0, null, "ok"). Failed polls / unchanged payload: count. '
                    "No successful poll: duration. Error budget burn rate: objective, burn conditions (empty: "
                    "the standard pairs). Anomaly: metric, anomaly mode, sensitivity. Circuit open: nothing else. "
                    "The fields of other kinds are cleared on save."
                ),
            },
        ),
        (
            "Firing and resolving",
            {"fields": ["fire_after", "for_seconds", "resolve_after", "renotify_interval_seconds"]},
        ),
        ("Notifications", {"fields": ["channels"]}),
    ]

    @admin.display(description="target")
    def target(self, rule: AlertRule) -> str:
        return rule.target_display()

    @admin.display(description="condition")
    def condition(self, rule: AlertRule) -> str:
        return rule.summary()

    @admin.action(description="Enable selected rules")
    def enable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        for rule in queryset:
            rule.enabled = True
            rule.save(update_fields=["enabled", "updated_at"])

    @admin.action(description="Disable selected rules")
    def disable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        # One save per rule so the signal clears their states and recomputes the sources' state.
        for rule in queryset:
            rule.enabled = False
            rule.save(update_fields=["enabled", "updated_at"])


@admin.register(Silence)
class SilenceAdmin(TeamScopedAdmin):
    list_display = ["__str__", "source", "tag", "starts_at", "ends_at", "active", "reason", "created_by"]
    list_filter = ["team", "tag"]
    search_fields = ["reason", "tag", "source__slug"]
    autocomplete_fields = ["source"]
    readonly_fields = ["created_by", "created_at"]

    @admin.display(boolean=True, description="active now")
    def active(self, silence: Silence) -> bool:
        now = timezone.now()
        return silence.starts_at <= now < silence.ends_at

    def save_model(self, request: HttpRequest, obj: Silence, form: Any, change: bool) -> None:
        if not change and request.user.is_authenticated:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(TeamScopedAdmin):
    """Written by the evaluator and the senders only; the admin shows them (to admins of the source's team)."""

    team_field = "source__team"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RuleState)
class RuleStateAdmin(ReadOnlyAdmin):
    list_display = ["rule", "source", "status", "true_streak", "false_streak", "firing_since", "last_poll_at"]
    list_filter = ["status", "rule__severity"]
    search_fields = ["rule__name", "source__slug"]
    list_select_related = ["rule", "source"]


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "severity", "rule_name", "source", "message", "silenced"]
    list_filter = ["kind", "severity", "silenced"]
    search_fields = ["rule_name", "source__slug", "message"]
    list_select_related = ["source"]
    date_hierarchy = "occurred_at"


@admin.register(NotificationChannel)
class NotificationChannelAdmin(TeamScopedAdmin):
    form = NotificationChannelForm
    list_display = ["name", "kind", "enabled", "is_default", "target", "has_secret"]
    list_filter = ["team", "kind", "enabled", "is_default"]
    search_fields = ["name"]
    actions = ["send_test"]

    def save_model(self, request: HttpRequest, obj: NotificationChannel, form: Any, change: bool) -> None:
        first_becomes_default(obj)
        super().save_model(request, obj, form, change)

    @admin.action(description="Send a test notification now")
    def send_test(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        from alerts.senders import send_test

        for channel in queryset:
            delivery = send_test(channel)  # recorded as a test delivery, like any other outcome
            if delivery.status == Delivery.Status.SUCCEEDED:
                messages.success(request, f"{channel.name}: test notification sent.")
            else:
                messages.error(request, f"{channel.name}: {delivery.last_error}")

    @admin.display(description="target")
    def target(self, channel: NotificationChannel) -> str:
        return channel.target_display()

    @admin.display(boolean=True, description="secret set")
    def has_secret(self, channel: NotificationChannel) -> bool:
        return bool(channel.secret or channel.apprise_url_encrypted)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    team_field = "channel__team"
    list_display = [
        "created_at",
        "event",
        "channel",
        "reason",
        "is_test",
        "status",
        "attempts",
        "last_error",
        "finished_at",
    ]
    list_filter = ["status", "reason", "is_test", "channel"]
    list_select_related = ["event", "channel"]
    actions = ["retry_now"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Needed for the action; every field stays read-only.
        return self._manages(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Delivery._meta.fields]

    @admin.action(description="Retry selected deliveries now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        # Only queued: the sender (the poller's dispatcher or send_notifications) picks them up within
        # ALERTS_DELIVERY_POLL_INTERVAL; a web process never starts a sender thread.
        # A test delivery has no event to tell about: send another test instead.
        count = (
            queryset.exclude(status=Delivery.Status.SENDING)
            .exclude(is_test=True)
            .update(status=Delivery.Status.PENDING, next_attempt_at=timezone.now(), finished_at=None)
        )
        messages.info(request, f"{count} deliveries queued for another attempt.")
