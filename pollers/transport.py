"""How the poller reaches one source on an enterprise network: proxy, trusted CAs, client certificate.

A ``Transport`` is per source; the empty one means the global settings (``POLLER_PROXY``,
``POLLER_CA_BUNDLE``, the environment's proxies only with ``POLLER_TRUST_ENV_PROXY``).

* Proxies: the SSRF guard still judges the *target* (its addresses are checked and pinned, the
  proxy is asked for the checked address). The proxy itself is usually a private address, so it
  is only used when someone allowed it explicitly: ``POLLER_PROXY`` and the environment's proxies
  are the operator's choice; a per-source proxy must be listed in ``POLLER_ALLOWED_PROXIES``.
* TLS: a per-source CA (PEM) replaces the trusted CAs for that source; a client certificate and
  key (mTLS) are loaded into an ``ssl.SSLContext`` once, the key never stays on disk.
  Verification off is an explicit per-source switch, shown as a warning in the admin.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_environ_proxies
from urllib3.util.ssl_ import create_urllib3_context

DIRECT = "direct"  # a per-source proxy value: no proxy for this source, whatever POLLER_PROXY says


class TransportError(ValueError):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Transport:
    proxy: str = ""  # "" the global choice, "direct", or a proxy URL from POLLER_ALLOWED_PROXIES
    ca_pem: str = ""  # trust only these CAs for this source (empty: POLLER_CA_BUNDLE or the system's)
    client_cert_pem: str = ""
    client_key_pem: str = field(default="", repr=False)  # decrypted for the request, never logged
    verify: bool = True

    @property
    def custom_tls(self) -> bool:
        return bool(self.ca_pem or self.client_cert_pem or not self.verify)

    def tls_key(self) -> str:
        """Identifies the TLS profile (sessions and contexts are cached per profile), without the key in clear."""
        digest = hashlib.sha256()
        for part in (self.ca_pem, self.client_cert_pem, self.client_key_pem, str(self.verify)):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()


DEFAULT_TRANSPORT = Transport()


def proxy_key(url: str) -> str:
    """``scheme://host:port`` of a proxy URL (http when no scheme), for comparing against the allowlist."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise TransportError("bad_proxy", "the proxy URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise TransportError("bad_proxy", "a proxy must be an http:// or https:// URL with a host")
    return f"{scheme}://{parts.hostname.lower()}:{port or (443 if scheme == 'https' else 80)}"


def proxy_label(url: str) -> str:
    """host:port of a proxy, for messages: never its credentials."""
    try:
        return proxy_key(url).split("://", 1)[1]
    except TransportError:
        return "(malformed proxy URL)"


def check_source_proxy(url: str, allowed: Iterable[str], global_proxy: str = "") -> str:
    """Validate a per-source proxy value; return it stripped. Raise TransportError when not allowed."""
    value = url.strip()
    if value in ("", DIRECT):
        return value
    key = proxy_key(value)
    if urlsplit(value if "://" in value else f"http://{value}").username is not None:
        raise TransportError("bad_proxy", "proxy credentials belong in POLLER_PROXY, not in a source")
    permitted = set()
    for entry in [*allowed, global_proxy]:
        if entry:
            try:
                permitted.add(proxy_key(entry))
            except TransportError:
                continue
    if key not in permitted:
        raise TransportError("proxy_forbidden", f"the proxy {proxy_label(value)} is not in POLLER_ALLOWED_PROXIES")
    return value


def proxies_for(
    url: str,
    transport: Transport,
    *,
    global_proxy: str,
    allowed: Iterable[str],
    trust_env: bool,
) -> dict[str, str]:
    """The ``proxies`` for requests: the source's proxy, else POLLER_PROXY, else (if trusted) the environment's."""
    if transport.proxy == DIRECT:
        return {}
    if transport.proxy:
        chosen = check_source_proxy(transport.proxy, allowed, global_proxy)
        return {"http": chosen, "https": chosen}
    if global_proxy:
        return {"http": global_proxy, "https": global_proxy}
    if trust_env:
        # HTTP(S)_PROXY/ALL_PROXY from the environment, NO_PROXY matched against the source's real host name.
        found = get_environ_proxies(url)
        return {scheme: value for scheme, value in found.items() if scheme in ("http", "https", "all")}
    return {}


def ssl_context(transport: Transport, default_ca_file: str = "") -> ssl.SSLContext:
    """The SSLContext for a custom TLS profile; raise TransportError when a PEM cannot be loaded."""
    context = create_urllib3_context()
    try:
        if not transport.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif transport.ca_pem:
            context.load_verify_locations(cadata=transport.ca_pem)
        else:
            context.load_verify_locations(cafile=default_ca_file or DEFAULT_CA_BUNDLE_PATH)
    except (ssl.SSLError, ValueError, OSError):
        raise TransportError("tls_config", "the trusted CA certificates cannot be loaded") from None
    if transport.client_cert_pem:
        _load_client_certificate(context, transport.client_cert_pem, transport.client_key_pem)
    return context


def _load_client_certificate(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """ssl only loads a certificate chain from files: write them to a private temporary folder,
    load them, delete them at once. Afterwards the key lives only in the context's memory."""
    with tempfile.TemporaryDirectory(prefix="di-mtls-") as folder:
        os.chmod(folder, 0o700)
        cert_path = os.path.join(folder, "cert.pem")
        key_path = os.path.join(folder, "key.pem")
        for path, text in ((cert_path, cert_pem), (key_path, key_pem or "")):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii", errors="replace") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_path, key_path if key_pem else None)
        except (ssl.SSLError, ValueError, OSError):
            raise TransportError(
                "tls_config", "the client certificate and key cannot be loaded (do they belong together?)"
            ) from None


# --- validating what an admin pastes (PEM text) -----------------------------------------------------
def check_ca_pem(text: str) -> int:
    """How many CA certificates ``text`` holds; TransportError when it is not PEM certificates."""
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise TransportError("tls_config", "not PEM certificates (-----BEGIN CERTIFICATE----- ...)") from None
    return len(certificates)


def check_client_pair(cert_pem: str, key_pem: str) -> None:
    """The certificate parses, the key parses (unencrypted), and they belong together."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise TransportError("tls_config", "the client certificate is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    except TypeError:
        raise TransportError("tls_config", "the private key is encrypted: paste it without a passphrase") from None
    except (ValueError, UnicodeEncodeError):
        raise TransportError("tls_config", "the private key is not a PEM private key") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if certificate.public_key().public_bytes(encoding, public) != key.public_key().public_bytes(encoding, public):
        raise TransportError("tls_config", "the private key does not belong to the client certificate")
