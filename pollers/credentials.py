"""A source's request as the poller sends it: its headers plus credentials, and its transport.

Credentials are decrypted here, for one request, and go only into the ``Authorization`` header
(which the fetcher drops when a redirect leaves the host or goes down to plain http) or the TLS context; they
never reach a log line, an error message or a ``repr``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

from devops_insights import crypto
from pollers.models import Source
from pollers.transport import Transport


class CredentialError(Exception):
    """A stored credential cannot be used; ``kind`` is the poll's error kind."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.kind = "credentials"
        self.message = message


@dataclass(frozen=True)
class SourceRequest:
    url: str
    headers: dict[str, str] = field(repr=False)
    timeout: float
    transport: Transport


@sensitive_variables("secret", "token")
def authorization(source: Source) -> dict[str, str]:
    """The Authorization header for the source's auth scheme, or nothing."""
    if not source.auth_scheme:
        return {}
    if not source.auth_secret_encrypted:
        raise CredentialError(f"{source.get_auth_scheme_display()} is set but no secret is stored")
    try:
        secret = crypto.decrypt(source.auth_secret_encrypted)
    except crypto.SecretUnavailable as exc:
        raise CredentialError(str(exc)) from None
    if source.auth_scheme == Source.AuthScheme.BASIC:
        token = base64.b64encode(f"{source.auth_username}:{secret}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {"Authorization": f"Bearer {secret}"}


@sensitive_variables("key")
def transport_for(source: Source) -> Transport:
    key = ""
    if source.tls_client_key_encrypted:
        try:
            key = crypto.decrypt(source.tls_client_key_encrypted)
        except crypto.SecretUnavailable as exc:
            raise CredentialError(str(exc)) from None
    return Transport(
        proxy=(source.proxy or "").strip(),
        ca_pem=source.tls_ca_pem or "",
        client_cert_pem=source.tls_client_cert_pem or "",
        client_key_pem=key,
        verify=source.tls_verify,
    )


def request_for(source: Source, extra_headers: dict[str, str] | None = None) -> SourceRequest:
    headers = {**(source.headers or {}), **authorization(source), **(extra_headers or {})}
    return SourceRequest(source.url, headers, float(source.timeout_seconds), transport_for(source))
