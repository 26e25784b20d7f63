"""The forms of alerting, shared by the admin and the dashboard's Alerts page.

The channel form keeps the URL (a credential for incoming webhooks) and the secret write-only: the stored
values never reach a page; blank keeps them; after a validation error the page gives back what was typed
in the same post (the person's own input) so nothing has to be typed again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.scoped_forms import ScopedUniqueModelForm
from alerts.conditions import OPERATORS
from alerts.models import AlertRule, NotificationChannel
from objectives.models import Objective

# Which condition fields each kind of rule uses: the forms show only those (others are cleared on save).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    AlertRule.Kind.METRIC: ("metric", "operator", "threshold"),
    AlertRule.Kind.FIELD: ("path", "operator", "value"),
    AlertRule.Kind.POLL_FAILURES: ("count",),
    AlertRule.Kind.STALE_HASH: ("count",),
    AlertRule.Kind.NO_SUCCESS: ("duration_seconds",),
    AlertRule.Kind.CIRCUIT_OPEN: (),
    AlertRule.Kind.BURN_RATE: ("objective", "burn_conditions"),
    AlertRule.Kind.ANOMALY: ("metric", "anomaly_mode", "sensitivity"),
}
CONDITION_FIELDS = (
    "metric",
    "path",
    "operator",
    "threshold",
    "value",
    "count",
    "duration_seconds",
    "objective",
    "burn_conditions",
    "anomaly_mode",
    "sensitivity",
)
# What a hidden field of another kind is cleared to.
CLEARED: dict[str, Any] = {
    "threshold": None,
    "count": None,
    "duration_seconds": None,
    "objective": None,
    "sensitivity": None,
    "burn_conditions": [],
}
SCOPE_FIELDS: dict[str, tuple[str, ...]] = {
    AlertRule.Scope.SOURCE: ("source",),
    AlertRule.Scope.TAG: ("tag",),
    AlertRule.Scope.ALL: (),
}
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    NotificationChannel.Kind.EMAIL: ("email_to",),
    NotificationChannel.Kind.WEBHOOK: ("url", "secret"),
    NotificationChannel.Kind.SLACK: ("url",),
    NotificationChannel.Kind.APPRISE: ("apprise_url",),
}


class WriteOnlyInput(forms.PasswordInput):
    """Renders only a value submitted in this request (``initial`` is always blank on these forms)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, render_value=True)


class AlertRuleForm(ScopedUniqueModelForm):
    # A rule's name is unique within its team, which the dashboard sets on the instance, not in the form.

    operator = forms.ChoiceField(choices=[("", "---------")] + [(op, op) for op in OPERATORS], required=False)

    def clean_burn_conditions(self) -> Any:
        # An empty box means the standard pairs (an empty list), not JSON null.
        return self.cleaned_data.get("burn_conditions") or []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Fields of other kinds and scopes are hidden, possibly holding stale values: they do not count.
        kind, scope = data.get("kind"), data.get("scope")
        if kind in KIND_FIELDS:
            for name in CONDITION_FIELDS:
                if name not in KIND_FIELDS[kind] and name in data:
                    data[name] = CLEARED.get(name, "")
        if scope in SCOPE_FIELDS:
            if "source" not in SCOPE_FIELDS[scope]:
                data["source"] = None
            if "tag" not in SCOPE_FIELDS[scope]:
                data["tag"] = ""
        objective = data.get("objective")
        # Refused here, not in the model: the files check the rule against the sources they describe
        # (provisioning.sections.alert_rules), which the stored ones may not be yet. A disabled rule is kept:
        # switching a rule off must always be possible.
        enabled_burn = kind == AlertRule.Kind.BURN_RATE and data.get("enabled")
        if enabled_burn and isinstance(objective, Objective) and not objective.covered_sources():
            problem = Objective.rule_problem(objective.name, objective.tag)
            self.add_error("objective", f"{problem[:1].upper()}{problem[1:]}: cover a source, or disable the rule.")
        return data

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "description",
            "enabled",
            "severity",
            "scope",
            "source",
            "tag",
            "kind",
            *CONDITION_FIELDS,
            "fire_after",
            "for_seconds",
            "resolve_after",
            "renotify_interval_seconds",
            "channels",
        ]


class NotificationChannelForm(forms.ModelForm):
    """The URL (a credential for incoming webhooks) and the secret are write-only: blank keeps them."""

    url = forms.CharField(
        required=False,
        max_length=2000,
        label="URL",  # Django's label from the name read "Url"
        widget=WriteOnlyInput(attrs={"autocomplete": "off", "size": 80}),
        help_text="Webhook and Slack: the URL to POST to. Leave blank to keep the current one.",
    )
    secret = forms.CharField(
        required=False,
        max_length=200,
        widget=WriteOnlyInput(attrs={"autocomplete": "off"}),
        help_text="Webhook: HMAC-SHA256 signing key (16+ characters). Leave blank to keep the current one.",
    )
    apprise_url = forms.CharField(
        required=False,
        max_length=2000,
        label="Apprise URL",
        widget=WriteOnlyInput(attrs={"autocomplete": "off", "size": 80}),
        help_text=(
            "Apprise: the service's URL, e.g. slack://T…/B…/X… or ntfys://ntfy.example.com/topic. Stored "
            "encrypted, shown as scheme and host only. Leave blank to keep the current one."
        ),
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "enabled", "is_default", "email_to", "url", "secret", "apprise_url"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Write-only: a page never shows the stored URL or secret, only what this very post typed.
        self.initial["url"] = ""
        self.initial["secret"] = ""
        if self.instance.pk is None:
            self.fields["url"].help_text = "Webhook and Slack: the URL to POST to."
            self.fields["secret"].help_text = "Webhook: HMAC-SHA256 signing key (16+ characters)."

    def clean_apprise_url(self) -> str:
        value = (self.cleaned_data.get("apprise_url") or "").strip()
        if value:
            try:
                self.instance.set_apprise_url(value)  # validated and encrypted onto the instance
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["apprise_url"]) from None
        return ""  # the clear URL goes no further than this form

    def clean_url(self) -> str:
        value = (self.cleaned_data.get("url") or "").strip()
        return value or (self.instance.url if self.instance.pk else "")

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret") or ""
        return value or (self.instance.secret if self.instance.pk else "")
