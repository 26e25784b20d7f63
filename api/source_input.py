"""Applying a validated body (``api.schemas.SourceCreate`` / ``SourceUpdate``) to a Source with the admin's
validation: the model's ``full_clean``, which also runs the SSRF guard and the uniqueness checks, and the rules of
the write-only secrets (``pollers.source_secrets``), which are stored, encrypted, only when nothing is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables
from pydantic import SecretStr

from accounts.audit import masked_url
from api.errors import field_errors
from pollers.models import (
    AUTH_SECRET,
    CLIENT_KEY,
    MASK,
    SECRET_HEADER_PATTERN,
    Source,
    kept_secrets_errors,
    same_origin,
)
from pollers.source_secrets import SecretsEdit

ALLOWED_SCHEMES = ("http", "https")
# How the API tells a client to give a stored password or client key again, or remove it, when the URL moves to
# another origin (``pollers.models.kept_secrets_errors``): in the same request, with its own fields.
API_REMEDIES: Mapping[str, str] = {
    AUTH_SECRET: 'Send auth_secret again in the same request, or remove it (auth_secret null and auth_scheme "")',
    CLIENT_KEY: "Send tls_client_key again in the same request, or remove it (tls_client_key null and "
    'tls_client_cert_pem "")',
}


def apply_source_input(source: Source, data: dict[str, Any]) -> None:
    """Set the given fields on ``source`` and validate it; raise a 400 naming every bad field."""
    values = dict(data)
    edit = secrets_edit(values)
    typed: set[str] = set()  # headers given a value, not sent back masked: the client's to send anywhere
    if "headers" in values:
        typed = {name for name, value in values["headers"].items() if value != MASK}
        values["headers"] = restored_headers(values["headers"], source.headers or {})
    if "url" in values and source.url:
        values["url"] = unmasked_url(str(values["url"]), str(source.url))
    scheme = str(values.get("auth_scheme", source.auth_scheme) or "")
    cert = str(values.get("tls_client_cert_pem", source.tls_client_cert_pem) or "")
    # Both read the source as stored (its URL, headers and secrets): before the new values are set.
    secrets_errors = edit.errors(source, scheme, cert)
    kept = source.secrets_kept_for_new_origin(
        str(values.get("url", source.url)),
        values.get("headers", source.headers or {}),
        typed | edit.replaced(scheme, cert),
    )
    for name, value in values.items():
        setattr(source, name, value)
    errors: dict[str, list[str]] = {}
    try:
        url_scheme = urlsplit(str(source.url)).scheme.lower()
    except ValueError:
        # urlsplit raises on a bracket left open or stray ("http://[::1/"): a 400 here, not a 500.
        errors["url"] = ["Enter a valid URL: its host is not a valid name or [IPv6] address."]
    else:
        if url_scheme not in ALLOWED_SCHEMES:
            errors["url"] = ["Enter a valid URL: the poller speaks http and https only."]
    try:
        # A URL already refused above is left out, so the model's own URL checks do not run on it.
        source.full_clean(exclude=list(errors))
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(str(m) for m in messages)
    for field, message in kept_secrets_errors(kept, API_REMEDIES).items():
        errors.setdefault(field, []).append(message)
    for field, messages in secrets_errors.items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise field_errors(errors, "The source is invalid.")
    edit.apply(source)


@sensitive_variables()
def secrets_edit(values: dict[str, Any]) -> SecretsEdit:
    """Takes the write-only fields out of ``values``: a value replaces the stored secret, null removes it, and left
    out or sent back masked (as the API shows a stored one) it is kept."""
    given: dict[str, Any] = {}
    for name in (AUTH_SECRET, CLIENT_KEY):
        if name not in values:
            continue
        sent: SecretStr | None = values.pop(name)
        if sent is None:
            given[f"clear_{name}"] = True
        elif sent.get_secret_value() != MASK:
            given[name] = sent.get_secret_value()
    return SecretsEdit(**given)


def restored_headers(sent: dict[str, str], stored: dict[str, str]) -> dict[str, str]:
    """A client that read the source back sends the masked values: keep the stored secret."""
    return {k: (stored[k] if v == MASK and k in stored else v) for k, v in sent.items()}


def shown_url(url: str) -> str:
    """The URL as the API shows it (``api.representations.source_data``): credential query values masked."""
    return masked_url(url, mask=MASK, secret_name=SECRET_HEADER_PATTERN)


def unmasked_url(sent: str, stored: str) -> str:
    """``sent`` with each credential query value sent back masked (as the API shows it) replaced by the stored
    value of that parameter, so a client that writes back the URL it read keeps the secret instead of storing
    the mask. Only for the same origin (``pollers.models.same_origin``): a stored secret is never sent on to
    another server."""
    if sent == shown_url(stored):
        return stored  # written back as read: exactly the stored URL, its encoding included
    if not same_origin(sent, stored):
        return sent
    new, old = urlsplit(sent), urlsplit(stored)  # both readable: same_origin read them
    kept: dict[str, list[str]] = {}
    for key, value in parse_qsl(old.query, keep_blank_values=True):
        kept.setdefault(key, []).append(value)
    pairs, restored = [], False
    for key, value in parse_qsl(new.query, keep_blank_values=True):
        if value == MASK and SECRET_HEADER_PATTERN.search(key) and kept.get(key):
            value, restored = kept[key].pop(0), True
        pairs.append((key, value))
    if not restored:
        return sent
    return urlunsplit((new.scheme, new.netloc, new.path, urlencode(pairs), new.fragment))
