from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import Script
from django.http import HttpRequest
from django.utils import timezone

from accounts.team_admin import TeamScopedAdmin
from pollers import health as source_health
from pollers.forms import SourceAdminForm
from pollers.models import HEALTH_FIELDS, PollerProcess, PollFailure, Source

POLL_NOW_LIMIT = 20  # polls run inside the admin request: keep the wait bounded
TLS_OFF_SHORT = "⚠ verification off"
TLS_OFF_WARNING = (
    "TLS certificate verification is OFF for this source: anyone on the network path can impersonate "
    "the upstream. Prefer trusting its CA (trusted CA certificates) and switch verification back on."
)

HEALTH_WORDS = {
    source_health.PAUSED: "disabled",
    source_health.WAITING: "never polled",
    source_health.CIRCUIT_OPEN: "circuit open",
    source_health.FAILING: "failing",
    source_health.STALE: "stale",
    source_health.FRESH: "ok",
}


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("healthy", "Healthy"), ("failing", "Failing"), ("never", "Never polled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # The facts are pollers.health's; staleness needs each source's interval, so it is not a filter here.
        failing = source_health.failing_filter() | source_health.circuit_open_filter()
        if self.value() == "healthy":
            return queryset.exclude(failing).filter(last_success_at__isnull=False)
        if self.value() == "failing":
            return queryset.filter(failing)
        if self.value() == "never":
            return queryset.filter(source_health.waiting_filter())
        return queryset


@admin.register(Source)
class SourceAdmin(TeamScopedAdmin):
    form = SourceAdminForm
    list_display = [
        "slug",
        "name",
        "enabled",
        "region",
        "interval_seconds",
        "health",
        "circuit_state",
        "consecutive_failures",
        "latency",
        "last_success_at",
        "last_error_kind",
        "alert_state",
        "tls_warning",
    ]
    list_filter = ["team", "enabled", HealthFilter, "circuit_state", "alert_state", "region", "last_error_kind"]
    search_fields = ["slug", "name", "url", "region"]
    prepopulated_fields = {"slug": ("name",)}
    actions = ["enable_sources", "disable_sources", "poll_now"]
    readonly_fields = ["created_at", "updated_at", *HEALTH_FIELDS, "alert_state", "credentials_stored"]
    fieldsets = [
        (None, {"fields": ["team", "slug", "name", "url", "enabled", "region", "tags"]}),
        ("Polling", {"fields": ["interval_seconds", "timeout_seconds", "headers"]}),
        ("Metrics", {"fields": ["metric_paths", "pinned_metrics", "volatile_paths"], "classes": ["collapse"]}),
        (
            "Network and credentials (docs/polling.md)",
            {
                "fields": [
                    "proxy",
                    "tls_verify",
                    "insecure_credentials_acknowledged",
                    "tls_ca_pem",
                    "tls_client_cert_pem",
                    "tls_client_key",
                    "clear_tls_client_key",
                    "auth_scheme",
                    "auth_username",
                    "auth_secret",
                    "clear_auth_secret",
                    "credentials_stored",
                ],
                "classes": ["collapse"],
            },
        ),
        (
            "Health (kept up to date by the poller)",
            {
                "fields": [
                    "last_polled_at",
                    "last_success_at",
                    "last_latency_ms",
                    "last_status_code",
                    "consecutive_failures",
                    "circuit_state",
                    "circuit_opened_at",
                    "last_error_at",
                    "last_error_kind",
                    "last_error_message",
                    "upstream_etag",
                    "upstream_last_modified",
                    "alert_state",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    @admin.display(description="health", ordering="consecutive_failures")
    def health(self, source: Source) -> str:
        state = source_health.assess(source).state
        if state in (source_health.FAILING, source_health.CIRCUIT_OPEN):
            return f"{HEALTH_WORDS[state]} ({source.consecutive_failures})"
        return HEALTH_WORDS[state]

    @admin.display(description="latency", ordering="last_latency_ms")
    def latency(self, source: Source) -> str:
        return "-" if source.last_latency_ms is None else f"{source.last_latency_ms:.0f} ms"

    @admin.display(description="TLS", ordering="tls_verify")
    def tls_warning(self, source: Source) -> str:
        return "" if source.tls_verify else TLS_OFF_SHORT

    @admin.display(description="stored secrets")
    def credentials_stored(self, source: Source) -> str:
        """What is stored, never what it is: the secrets themselves are write-only."""
        stored = []
        if source.has_auth_secret:
            stored.append(f"{source.get_auth_scheme_display()} secret (encrypted)")
        if source.has_client_key:
            stored.append("client key (encrypted)")
        return ", ".join(stored) or "none"

    class Media:
        # Key/value rows that grow and shrink, tags as chips: the dashboard's form script (the fields
        # work without it: empty rows to fill, a comma-separated tags box).
        js = (Script("js/forms.js", defer=True),)  # deferred: it wires the fields already in the page

    def get_fieldsets(self, request: HttpRequest, obj: Source | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            # A source being added has no health yet: no rows of empty read-only fields.
            return [(name, options) for name, options in fieldsets if not str(name or "").startswith("Health")]
        return fieldsets

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> Any:
        if object_id and request.method == "GET":
            source = self.get_object(request, object_id)
            if source is not None and not source.tls_verify:
                self.message_user(request, TLS_OFF_WARNING, messages.WARNING)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            # A person adding a source here gets the defaults one added from the dashboard gets.
            obj.add()
        if not obj.tls_verify:
            self.message_user(request, f"{obj.slug}: {TLS_OFF_WARNING}", messages.WARNING)

    @admin.action(description="Enable selected sources")
    def enable_sources(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count = queryset.update(enabled=True, updated_at=timezone.now())
        self.message_user(request, f"Enabled {count} sources.", messages.SUCCESS)

    @admin.action(description="Disable selected sources")
    def disable_sources(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count = queryset.update(enabled=False, updated_at=timezone.now())
        self.message_user(request, f"Disabled {count} sources.", messages.SUCCESS)

    @admin.action(description="Poll selected sources now")
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        from pollers.engine import Poller
        from pollers.fetch import Fetcher
        from pollers.ratelimit import build_rate_limiter

        sources = list(queryset[: POLL_NOW_LIMIT + 1])
        if len(sources) > POLL_NOW_LIMIT:
            self.message_user(request, f"Select at most {POLL_NOW_LIMIT} sources to poll at once.", messages.ERROR)
            return
        poller = Poller(fetcher=Fetcher(rate_limiter=build_rate_limiter()))  # the hosts' limits apply here too
        try:
            with ThreadPoolExecutor(min(8, len(sources)) or 1, thread_name_prefix="poll-now") as executor:
                outcomes = list(executor.map(poller.poll, sources))
        finally:
            poller.fetcher.close()
        for outcome in outcomes:
            if outcome.ok:
                changed = "changed" if outcome.record and outcome.record.changed else "unchanged"
                self.message_user(
                    request,
                    f"Poll of {outcome.source}: ok in {outcome.latency_ms or 0:.0f} ms, {changed}.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    f"Poll of {outcome.source} failed: {outcome.error_kind}: {outcome.error_message}",
                    messages.ERROR,
                )


@admin.register(PollerProcess)
class PollerProcessAdmin(admin.ModelAdmin):
    list_display = [
        "process_id",
        "hostname",
        "pid",
        "running",
        "started_at",
        "last_heartbeat_at",
        "leases_held",
        "polls_done",
        "lease_backend",
        "stopped_at",
    ]
    list_filter = ["lease_backend", "hostname"]
    search_fields = ["process_id", "hostname"]

    @admin.display(boolean=True, description="running")
    def running(self, process: PollerProcess) -> bool:
        return process.stopped_at is None and process.last_heartbeat_at >= timezone.now() - timedelta(seconds=30)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PollFailure)
class PollFailureAdmin(TeamScopedAdmin):
    """The poller's bounded log of failed polls: read-only, the poller writes and trims it."""

    team_field = "source__team"

    list_display = ["occurred_at", "source", "kind", "status_code", "latency", "message", "poll_id"]
    list_filter = ["kind", "source"]
    list_select_related = ["source"]
    search_fields = ["source__slug", "kind", "message", "poll_id"]
    date_hierarchy = "occurred_at"

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, failure: PollFailure) -> str:
        return "-" if failure.latency_ms is None else f"{failure.latency_ms:.0f} ms"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
