"""The product's source form: tags as chips, headers and metric paths as key/value rows, paths checked.

A malformed metric path is an error; a path that matches nothing in the last test fetch is a warning the
page shows (``warnings``), since the upstream may simply not report that field yet.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.utils.text import capfirst

from pollers.formfields import KeyValueField, KeyValueWidget, TagsField
from pollers.forms import SourceFormBase, cleaned_metric_paths
from pollers.models import MASK, SECRET_HEADER_PATTERN, Source

RESERVED_SLUGS = frozenset({"new"})  # /sources/new/ is the form that adds a source


class SourceForm(SourceFormBase):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        label="URL",
        help_text="The JSON status document to poll (http or https).",
    )
    tags = TagsField(help_text="Comma-separated, e.g. prod, payments.")
    headers = KeyValueField(
        required=False,
        widget=KeyValueWidget("Header", "Value"),
        help_text=f"Credential header values show as {MASK}: leave the mask to keep the stored value.",
    )
    metric_paths = KeyValueField(
        required=False,
        label="Metric paths",
        widget=KeyValueWidget("Metric name", "Dotted path"),
        help_text="A metric name and where its number is in the document, e.g. cpu_load = results.stats.cpu_load. "
        "A * segment sums every element.",
    )

    class Meta:
        model = Source
        fields = [
            "name",
            "slug",
            "url",
            "region",
            "tags",
            "metric_paths",
            "headers",
            "interval_seconds",
            "timeout_seconds",
            "enabled",
        ]
        labels = {"interval_seconds": "Poll every (seconds)", "timeout_seconds": "Timeout (seconds)"}
        help_texts = {"slug": "The source's id in URLs and the API: letters, digits, - and _."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            stored = dict(self.instance.headers or {})
            self.initial["headers"] = {
                k: (MASK if SECRET_HEADER_PATTERN.search(k) and v else v) for k, v in stored.items()
            }
            self.initial["metric_paths"] = dict(self.instance.metric_paths or {})
        if self.instance.pk:
            self.fields["slug"].disabled = True  # history, metrics and links are keyed by it

    def add_error(self, field: str | None, error: Any) -> None:
        # The model's own checks (Source.clean, one home) also judge fields this form does not show: pinned
        # metrics, authentication, proxy and TLS, set in the admin or as code. Django refuses an error for a
        # field a form lacks with a ValueError (a 500 when, say, a pinned metric's path was removed here); such
        # an error is shown above the form instead, naming the field it is about.
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            shown: dict[str, list[ValidationError]] = {}
            for name, errors in error.error_dict.items():
                if name == NON_FIELD_ERRORS or name in self.fields:
                    shown.setdefault(name, []).extend(errors)
                else:
                    label = self._label_of(name)
                    for message in ValidationError(errors).messages:
                        shown.setdefault(NON_FIELD_ERRORS, []).append(
                            ValidationError(f"{label} (not on this form): {message}")
                        )
            error = ValidationError(shown)
        super().add_error(field, error)

    @staticmethod
    def _label_of(name: str) -> str:
        try:
            field = Source._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        return str(capfirst(str(getattr(field, "verbose_name", name))))

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"{slug!r} is reserved for a page of the dashboard: choose another.")
        return slug

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        # The password, token and client key are not edited here: kept, they refuse a move to another origin.
        self.refuse_secrets_for_new_origin(replaced=set())
        return cleaned

    def clean_metric_paths(self) -> dict[str, str]:
        return cleaned_metric_paths(self.cleaned_data.get("metric_paths") or {})
