"""What one edit does to a source's write-only secrets (the password or token, the client key) and the rules it
must keep: their one home, for the admin's form (``pollers.forms``), the API (``api.source_input``) and configuration
as code (``provisioning.sections.sources``).

A value given replaces what is stored, encrypted (``devops_insights.crypto``); a clear removes it; neither keeps
it. A source left without an authentication scheme, or without a client certificate, loses the secret that went
with it. A password or token that cannot be sent with its scheme (a line break, a letter beyond Latin-1 in a Bearer
token, more than ``pollers.validation.MAX_SECRET_BYTES``) is refused here, where it is typed, rather than failing
every poll. Nothing here ever puts a secret into a message, a ``repr`` or an error report. Whether a source may send
its credentials over plain http or with TLS verification off is the model's rule
(``Source.credentials_sent_unverified``), which judges the headers too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

from devops_insights import crypto
from pollers.models import AUTH_SECRET, CLIENT_KEY, Source
from pollers.transport import TransportError, check_client_pair
from pollers.validation import basic_credential_problem, header_value_problem, secret_length_problem

NO_ENCRYPTION_KEY = "Set FIELD_ENCRYPTION_KEY (see docs/polling.md) before storing credentials."


@dataclass(frozen=True)
class SecretsEdit:
    auth_secret: str = field(default="", repr=False)  # a new password or token; "" gives none
    clear_auth_secret: bool = False
    tls_client_key: str = field(default="", repr=False)  # a new PEM private key; "" gives none
    clear_tls_client_key: bool = False

    @property
    def client_key(self) -> str:
        return self.tls_client_key.strip()

    @sensitive_variables()
    def errors(self, stored: Source, scheme: str, cert: str) -> dict[str, list[str]]:
        """Each field's problems with this edit of ``stored`` (the source as saved, for its stored secrets), which
        the edit leaves with the authentication ``scheme`` and client certificate ``cert``."""
        errors: dict[str, list[str]] = {}
        keeps_secret = bool(stored.pk and stored.auth_secret_encrypted) and not self.clear_auth_secret
        keeps_key = bool(stored.pk and stored.tls_client_key_encrypted) and not self.clear_tls_client_key
        if (self.auth_secret or self.client_key) and not crypto.keys_configured():
            errors.setdefault(AUTH_SECRET if self.auth_secret else CLIENT_KEY, []).append(NO_ENCRYPTION_KEY)
        if scheme:
            if not self.auth_secret and not keeps_secret:
                errors.setdefault(AUTH_SECRET, []).append("Type the password or token for this authentication scheme.")
            problem = self._unsendable(stored, scheme, keeps_secret)
            if problem is not None:
                errors.setdefault(AUTH_SECRET, []).append(problem)
        elif self.auth_secret:
            errors.setdefault("auth_scheme", []).append("Choose Basic or Bearer for the password or token.")
        cert = cert.strip()
        if self.client_key and not cert:
            errors.setdefault("tls_client_cert_pem", []).append("A client key needs its client certificate.")
        elif cert:
            if self.client_key:
                try:
                    check_client_pair(cert, self.client_key)
                except TransportError as exc:
                    errors.setdefault(CLIENT_KEY, []).append(exc.message)
            elif not keeps_key:
                errors.setdefault(CLIENT_KEY, []).append("Paste the private key of the client certificate.")
        return errors

    @sensitive_variables()
    def _unsendable(self, stored: Source, scheme: str, keeps_secret: bool) -> str | None:
        """Why the password or token the edit leaves cannot be sent with ``scheme`` (every poll would fail), or None.

        A stored one is read only when the edit moves it to another scheme: a Basic password may hold any letter,
        base64-encoded, but as a Bearer token it goes into the header as it is."""
        secret = self.auth_secret
        if not secret and keeps_secret and stored.auth_scheme != scheme:
            try:
                secret = crypto.decrypt(stored.auth_secret_encrypted)
            except crypto.SecretUnavailable:
                return None  # the poll says so; nothing to judge here
        if not secret:
            return None
        given = "The password or token" if self.auth_secret else "The stored password or token"
        too_long = secret_length_problem(secret)
        if too_long is not None:
            return f"{given} {too_long}."
        if scheme == Source.AuthScheme.BEARER:
            problem = header_value_problem(secret)
            return None if problem is None else f"{given} {problem}: a Bearer token is sent in an HTTP header as it is."
        problem = basic_credential_problem(secret)
        return None if problem is None else f"{given} {problem}: HTTP Basic allows no control character (RFC 7617)."

    def replaced(self, scheme: str, cert: str) -> set[str]:
        """The stored secrets this edit replaces or removes, for ``Source.secrets_kept_for_new_origin``: a value
        given, a clear, or no scheme (no certificate) left for the secret (the key)."""
        replaced: set[str] = set()
        if self.auth_secret or self.clear_auth_secret or not scheme:
            replaced.add(AUTH_SECRET)
        if self.client_key or self.clear_tls_client_key or not cert.strip():
            replaced.add(CLIENT_KEY)
        return replaced

    @sensitive_variables()
    def apply(self, source: Source) -> None:
        """Store the edit on ``source``, which already holds the scheme and certificate the edit leaves it with.

        Only once ``errors`` found nothing: a FIELD_ENCRYPTION_KEY is then configured if there is anything to encrypt.
        """
        if not source.auth_scheme or self.clear_auth_secret:
            source.set_auth_secret("")
        if self.auth_secret:
            source.set_auth_secret(self.auth_secret)
        if not (source.tls_client_cert_pem or "").strip() or self.clear_tls_client_key:
            source.set_client_key("")
        if self.client_key:
            source.set_client_key(stored_client_key(self.client_key))


def stored_client_key(pem: str) -> str:
    """A client key as it is stored: the PEM without the blank space around it, one newline at its end ("" for none).

    Configuration as code compares a file's key with the stored one in this form, so a key file saved with or
    without its last newline is the same key."""
    pem = pem.strip()
    return pem + "\n" if pem else ""
