"""Which models the audit trail records (accounts/audit_trail.py), by label, with their secret fields.

One list for every app: a new audited model (invitations, boards) is one more line here. Labels,
not imports: accounts sits below pollers, alerts and the rest, and must not import them. A test checks that
every label and field named here exists.
"""

from __future__ import annotations

from django.apps import apps

from accounts.audit_trail import register


def _runtime_fields(label: str) -> tuple[str, ...]:
    """The fields a model declares as runtime state (``RUNTIME_FIELDS``): written by the poller or the
    alerts on every poll, state rather than configuration, so not audited. Read from the model
    itself, through the app registry, so the list has one home beside the fields it names."""
    return tuple(getattr(apps.get_model(label), "RUNTIME_FIELDS", ()))


def register_all() -> None:
    register(
        "pollers.Source",
        secrets=("headers", "auth_secret_encrypted", "tls_client_key_encrypted"),
        urls=("url", "proxy"),
        ignore=_runtime_fields("pollers.Source"),
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
