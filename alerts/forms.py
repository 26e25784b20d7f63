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
# Kinds that take no target: a burn-rate rule watches its objective's sources whatever its scope says
# (``AlertRule.applies_to``). The forms neither show nor keep its scope, source and tag: it is kept as a rule
# of all sources, as a moved source leaves one (alerts.source_moves), which ``AlertRule.clean`` accepts.
UNSCOPED_KINDS: tuple[str, ...] = (AlertRule.Kind.BURN_RATE,)
TARGET_FIELDS: tuple[str, ...] = ("scope", "source", "tag")
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Not for every kind (UNSCOPED_KINDS): clean() asks for it where it applies.
        if "scope" in self.fields:
            self.fields["scope"].required = False

    def _ignore(self, data: dict[str, Any], name: str, cleared: Any) -> None:
        """A field that does not apply (hidden on the page) is cleared, whatever it held: neither kept nor
        refused, so the page never refuses the form over a field it does not show."""
        if name in self.fields:
            self.errors.pop(name, None)
            data[name] = cleared

    def clean_burn_conditions(self) -> Any:
        # An empty box means the standard pairs (an empty list), not JSON null.
        return self.cleaned_data.get("burn_conditions") or []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Fields of other kinds and scopes are hidden, possibly holding stale values: they do not count; nor do
        # the target fields of a kind that takes none.
        kind, scope = data.get("kind"), data.get("scope")
        if kind in KIND_FIELDS:
            for name in CONDITION_FIELDS:
                if name not in KIND_FIELDS[kind]:
                    self._ignore(data, name, CLEARED.get(name, ""))
        if kind in UNSCOPED_KINDS:
            self._ignore(data, "scope", AlertRule.Scope.ALL)
            scope = AlertRule.Scope.ALL
        elif not scope and "scope" not in self.errors:
            self.add_error("scope", "Choose what the rule watches: one source, sources with a tag, or all sources.")
        if scope in SCOPE_FIELDS:
            if "source" not in SCOPE_FIELDS[scope]:
                self._ignore(data, "source", None)
            if "tag" not in SCOPE_FIELDS[scope]:
                self._ignore(data, "tag", "")
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
