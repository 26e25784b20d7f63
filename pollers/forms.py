"""The admin form of a source: request headers with credential values masked, write-only secrets.

Passwords, tokens and client keys are write-only: the inputs are always empty, a blank input
keeps what is stored, a value replaces it (encrypted, ``devops_insights.crypto``), and a
"remove" box deletes it. Nothing stored is ever rendered back into the page.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.views.decorators.debug import sensitive_variables

from devops_insights import crypto
from pollers.models import MASK, SECRET_HEADER_PATTERN, Source
from pollers.transport import TransportError, check_client_pair
from pollers.validation import header_problem

KEEP = "Write-only: never shown again. Leave blank to keep what is stored; type a new value to replace it."


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: a pasted private key does not come back in the page."""

    def format_value(self, value: Any) -> str | None:
        return None


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
            "proxy",
            "tls_verify",
            "tls_ca_pem",
            "tls_client_cert_pem",
            "auth_scheme",
            "auth_username",
        ]
        widgets = {
            "tls_ca_pem": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "tls_client_cert_pem": forms.Textarea(attrs={"rows": 4, "cols": 80}),
        }

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

    @sensitive_variables("secret", "key")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        scheme = cleaned.get("auth_scheme") or ""
        secret = cleaned.get("auth_secret") or ""
        key = (cleaned.get("tls_client_key") or "").strip()
        cert = (cleaned.get("tls_client_cert_pem") or "").strip()
        stored_secret = bool(self.instance.pk and self.instance.auth_secret_encrypted)
        stored_key = bool(self.instance.pk and self.instance.tls_client_key_encrypted)
        if (secret or key) and not crypto.keys_configured():
            field = "auth_secret" if secret else "tls_client_key"
            self.add_error(field, "Set FIELD_ENCRYPTION_KEY (see docs/polling.md) before storing credentials.")
        if scheme:
            keeps_secret = stored_secret and not cleaned.get("clear_auth_secret")
            if not secret and not keeps_secret:
                self.add_error("auth_secret", "Type the password or token for this authentication scheme.")
        elif secret:
            self.add_error("auth_scheme", "Choose Basic or Bearer for the password or token.")
        if key and not cert:
            self.add_error("tls_client_cert_pem", "A client key needs its client certificate.")
        elif cert:
            keeps_key = stored_key and not cleaned.get("clear_tls_client_key")
            if key:
                try:
                    check_client_pair(cert, key)
                except TransportError as exc:
                    self.add_error("tls_client_key", exc.message)
            elif not keeps_key:
                self.add_error("tls_client_key", "Paste the private key of the client certificate.")
        return cleaned

    @sensitive_variables("secret", "key")
    def save(self, commit: bool = True) -> Source:
        # clean() made sure a key is configured when there is something to encrypt.
        source: Source = super().save(commit=False)
        secret = self.cleaned_data.get("auth_secret") or ""
        key = (self.cleaned_data.get("tls_client_key") or "").strip()
        if not self.cleaned_data.get("auth_scheme") or self.cleaned_data.get("clear_auth_secret"):
            source.set_auth_secret("")
        if secret:
            source.set_auth_secret(secret)
        if not self.cleaned_data.get("tls_client_cert_pem") or self.cleaned_data.get("clear_tls_client_key"):
            source.set_client_key("")
        if key:
            source.set_client_key(key + "\n")
        if commit:
            source.save()
            self.save_m2m()
        return source
