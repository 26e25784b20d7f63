"""Which models the audit trail records (accounts/audit_trail.py), by label, with their secret fields.

One list for every app: a new audited model (invitations, boards) is one more line here. Labels,
not imports: accounts sits below pollers, alerts and the rest, and must not import them. A test checks that
every label and field named here exists.
"""

from __future__ import annotations

from accounts.audit_trail import register

# Poll health and circuit state, written by the poller on every poll, are state, not configuration.
SOURCE_RUNTIME = (
    "updated_at",
    "last_polled_at",
    "last_success_at",
    "last_error_at",
    "last_error_kind",
    "last_error_message",
    "consecutive_failures",
    "circuit_state",
    "circuit_opened_at",
    "last_latency_ms",
    "last_status_code",
    "upstream_etag",
    "upstream_last_modified",
    "alert_state",
)


def register_all() -> None:
    register(
        "pollers.Source",
        secrets=("headers", "auth_secret_encrypted", "tls_client_key_encrypted"),
        urls=("url", "proxy"),
        ignore=SOURCE_RUNTIME,
    )
    register("alerts.AlertRule", ignore=("updated_at",), relations=("channels",))
    register(
        "alerts.NotificationChannel",
        # An incoming-webhook URL is itself the credential, and an Apprise URL carries one.
        secrets=("url", "secret", "apprise_url_encrypted"),
        ignore=("updated_at",),
    )
    register("alerts.Silence")
    register("accounts.ApiToken", secrets=("token_hash",), ignore=("last_used_at",))
    register("accounts.Membership")
    register("accounts.Team", team="pk")
    register("metrics.RetentionPolicy", team="source.team_id", ignore=("updated_at",))
    register("statuspages.StatusPage", secrets=("password_hash",), ignore=("updated_at",))
    for label in ("statuspages.Component", "statuspages.Incident", "statuspages.MaintenanceWindow"):
        register(label, team="page.team_id", ignore=("updated_at",))
    register("objectives.Objective", ignore=("updated_at",), relations=("sources",))
    register("objectives.ReportSubscription", ignore=("last_sent_month",))
