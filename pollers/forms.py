"""The admin form of a source: request headers with credential values masked."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from pollers.models import MASK, SECRET_HEADER_PATTERN, Source
from pollers.validation import header_problem


class MaskedHeadersField(forms.JSONField):
    """Shows credential header values as a mask; the mask submitted back means "keep what is stored"."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            value = {k: (MASK if SECRET_HEADER_PATTERN.search(k) and v else v) for k, v in value.items()}
        return super().prepare_value(value)


class SourceAdminForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        help_text="http or https; checked against private and metadata addresses (POLLER_ALLOWED_PRIVATE_HOSTS).",
    )
    headers = MaskedHeadersField(
        required=False,
        help_text=(
            'A JSON object of header names to values, e.g. {"Authorization": "Bearer ..."}. '
            f"Values of credential headers (authorization, token, secret, password, api key, cookie) show as "
            f"{MASK}; leave the mask to keep the stored value, type a new value to replace it."
        ),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )

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
            "volatile_paths",
        ]

    def clean_headers(self) -> dict[str, str]:
        value = self.cleaned_data.get("headers") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Headers must be a JSON object.")
        stored: dict[str, str] = dict(self.instance.headers or {}) if self.instance.pk else {}
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
