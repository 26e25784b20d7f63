"""The admin form of a source: no raw JSON, request headers with credential values masked, write-only secrets.

Tags are chips (comma-separated without JavaScript), headers and metric paths are rows of a name and
a value, volatile paths and pinned metrics one per line (``pollers.formfields``, shared with the
dashboard's form); each says what is wrong in words: a bad tag, a half-filled row, a metric path
that cannot match (``pollers.probe``); a pinned metric that is not one of the metric paths, or one too many,
in the model's words (``Source.clean``), as the API and configuration files say it.

Passwords, tokens and client keys are write-only: the inputs are always empty, a blank input
keeps what is stored, a value replaces it (encrypted, ``devops_insights.crypto``), and a
"remove" box deletes it. Nothing stored is ever rendered back into the page. Their rules and their storing
are ``pollers.source_secrets``', which the API uses too.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxValueValidator, MinValueValidator
from django.views.decorators.debug import sensitive_variables

from pollers.formfields import KeyValueField, KeyValueWidget, LinesField, TagsField
from pollers.models import (
    MASK,
    MAX_PINNED_METRICS,
    SECRET_HEADER_PATTERN,
    Source,
    kept_secrets_errors,
)
from pollers.probe import metric_name_error, path_error
from pollers.source_secrets import SecretsEdit
from pollers.validation import header_problem

KEEP = "Write-only: never shown again. Leave blank to keep what is stored; type a new value to replace it."


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: a pasted private key does not come back in the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class MaskedHeadersField(KeyValueField):
    """Shows credential header values as a mask; the mask submitted back means "keep what is stored"."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            value = {k: (MASK if SECRET_HEADER_PATTERN.search(k) and v else v) for k, v in value.items()}
        return value


def model_bounds(form: forms.ModelForm) -> None:
    """Give each number input the tightest bounds of its model field's validators.

    A ``PositiveIntegerField`` makes a form field with ``min`` 0, so the browser let "Poll every 0 seconds"
    through to a refusal ("at least 5"): the model's validators are the one home of the limits.
    """
    for name, field in form.fields.items():
        if not isinstance(field.widget, forms.NumberInput):
            continue
        try:
            validators = form._meta.model._meta.get_field(name).validators
        except FieldDoesNotExist:
            continue
        lows = [v.limit_value for v in validators if isinstance(v, MinValueValidator)]
        highs = [v.limit_value for v in validators if isinstance(v, MaxValueValidator)]
        if lows:
            field.widget.attrs["min"] = max(lows)
        if highs:
            field.widget.attrs["max"] = min(highs)


class SourceFormBase(forms.ModelForm):
    """What the admin's and the dashboard's source forms share: masked headers, bounds of the model's numbers,
    and stored secrets that stay with their origin (``Source.secrets_kept_for_new_origin``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_bounds(self)

    def clean_headers(self) -> dict[str, str]:
        sent = self.cleaned_data.get("headers") or {}
        # A header typed again is the user's to send anywhere; one left masked is the stored secret.
        self.typed_headers = {str(name).strip() for name, value in sent.items() if value != MASK}
        return cleaned_headers(sent, self.instance)

    def refuse_secrets_for_new_origin(self, replaced: set[str]) -> None:
        """Errors on the secret fields when the URL moves to another origin with a stored secret kept.

        Before ``_post_clean``: ``self.instance`` still holds what is stored. A field this form does not edit
        takes its error on the URL. Skipped while the URL or the headers have their own error.
        """
        url, headers = self.cleaned_data.get("url"), self.cleaned_data.get("headers")
        if url is None or headers is None:
            return
        kept = self.instance.secrets_kept_for_new_origin(url, headers, replaced | self.typed_headers)
        for field, message in kept_secrets_errors(kept).items():
            self.add_error(field if field in self.fields else "url", message)


class SourceAdminForm(SourceFormBase):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        help_text="http or https; checked against private and metadata addresses (POLLER_ALLOWED_PRIVATE_HOSTS).",
    )
    tags = TagsField(help_text="Comma-separated, e.g. prod, payments.")
    headers = MaskedHeadersField(
        required=False,
        help_text=(
            "Extra request headers, one per row, e.g. Accept-Language = en. Values of credential headers "
            f"(authorization, token, secret, password, api key, cookie) show as {MASK}; leave the mask to keep "
            "the stored value, type a new value to replace it. Submit to get more empty rows."
        ),
        widget=KeyValueWidget("Header", "Value"),
    )
    metric_paths = KeyValueField(
        required=False,
        label="metric paths",
        widget=KeyValueWidget("Metric name", "Dotted path"),
        help_text="A metric name and where its number is in the document, e.g. cpu_load = results.stats.cpu_load. "
        "A * segment sums every element. A new source starts with the default paths (docs/upstream-payload.md).",
    )
    volatile_paths = LinesField(
        label="volatile paths",
        help_text="Dotted paths left out of change detection, one per line (e.g. results.stats.session).",
    )
    # How many and which names: the model's rule (validate_pinned_metrics, Source.clean), which the form's model
    # validation runs, so the admin says what the API and configuration files say.
    pinned_metrics = LinesField(
        label="pinned metrics",
        help_text=f"Metric names (of the metric paths) shown first on the card, one per line, at most "
        f"{MAX_PINNED_METRICS}.",
    )
    auth_secret = forms.CharField(
        label="password or token",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=f"The Basic password or the Bearer token, stored encrypted. {KEEP}",
    )
    clear_auth_secret = forms.BooleanField(label="remove the stored password or token", required=False)
    tls_client_key = forms.CharField(
        label="client private key (PEM)",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "cols": 80, "autocomplete": "off"}),
        help_text=f"Unencrypted PEM key of the client certificate, stored encrypted. {KEEP}",
    )
    clear_tls_client_key = forms.BooleanField(label="remove the stored client key", required=False)
    secrets_edit: SecretsEdit  # what clean() found the form does to the stored secrets, for save()

    class Meta:
        model = Source
        fields = [
            "slug",
            "name",
            "url",
            "enabled",
            "region",
            "tags",
            "interval_seconds",
            "timeout_seconds",
            "headers",
            "metric_paths",
            "pinned_metrics",
            "volatile_paths",
            "proxy",
            "tls_verify",
            "insecure_credentials_acknowledged",
            "tls_ca_pem",
            "tls_client_cert_pem",
            "auth_scheme",
            "auth_username",
        ]
        widgets = {
            "tls_ca_pem": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "tls_client_cert_pem": forms.Textarea(attrs={"rows": 4, "cols": 80}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.pk is None:
            # A new instance gives a ModelForm no initial data: show the model's defaults as rows.
            self.initial.setdefault("metric_paths", dict(self.instance.metric_paths or {}))

    def clean_metric_paths(self) -> dict[str, str]:
        return cleaned_metric_paths(self.cleaned_data.get("metric_paths") or {})

    @sensitive_variables("cleaned")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if "metric_paths" in self.errors:
            # The model judges the pins against the paths it holds, the stored ones while the typed ones are
            # wrong: it judges them with the paths once those are right.
            cleaned.pop("pinned_metrics", None)
        scheme = cleaned.get("auth_scheme") or ""
        cert = cleaned.get("tls_client_cert_pem") or ""
        # Read before any add_error below, which takes the field it names out of cleaned_data.
        self.secrets_edit = SecretsEdit(
            auth_secret=cleaned.get("auth_secret") or "",
            clear_auth_secret=bool(cleaned.get("clear_auth_secret")),
            tls_client_key=cleaned.get("tls_client_key") or "",
            clear_tls_client_key=bool(cleaned.get("clear_tls_client_key")),
        )
        for field, messages in self.secrets_edit.errors(self.instance, scheme, cert).items():
            for message in messages:
                self.add_error(field, message)
        self.refuse_secrets_for_new_origin(self.secrets_edit.replaced(scheme, cert))
        return cleaned

    def save(self, commit: bool = True) -> Source:
        source: Source = super().save(commit=False)
        self.secrets_edit.apply(source)  # clean() found nothing wrong, or there would be no save
        if commit:
            source.save()
            self.save_m2m()
        return source


def cleaned_metric_paths(value: dict[str, str]) -> dict[str, str]:
    """A form's metric paths, or every bad name and path at once as a ValidationError."""
    problems = [
        f"{name}: {problem}"
        for name, path in value.items()
        for problem in (metric_name_error(name), path_error(path))
        if problem
    ]
    if problems:
        raise forms.ValidationError(problems)
    return value


def cleaned_headers(value: dict[str, Any], instance: Source) -> dict[str, str]:
    """A form's headers: a masked value keeps the stored one; a header that could not be sent is refused.

    Shared by the admin's and the dashboard's source forms, so both accept exactly the headers a poll can send.
    """
    stored: dict[str, str] = dict(instance.headers or {}) if instance.pk else {}
    headers: dict[str, str] = {}
    for name, header_value in value.items():
        if not isinstance(name, str) or not isinstance(header_value, str):
            raise forms.ValidationError("Header names and values must be strings.")
        if header_value == MASK:
            if name not in stored:
                raise forms.ValidationError(f"Header {json.dumps(name)} has no stored value: type the value.")
            header_value = stored[name]
        # CR/LF or another control character would fail every poll (or smuggle a second header).
        problem = header_problem(name.strip(), header_value)
        if problem is not None:
            raise forms.ValidationError(f"Header {json.dumps(name)} has an invalid name or value: {problem}.")
        headers[name.strip()] = header_value
    return headers
