"""The poller against real servers no one here wrote: nginx (gzip, ETag, TLS, mTLS) and tinyproxy.

Each test starts the servers as child processes on loopback (tests/pollers/support.py);
without the Debian packages the tests skip with the reason, under CI=true they fail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from metrics.stores import get_store
from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import PollFailure, Source
from pollers.simulator import payload
from pollers.transport import DIRECT, Transport
from tests.pollers.support import SERVER_NAME, Nginx, Pki, Proxy, make_pki, running_nginx, running_tinyproxy

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Nginx]:
    with running_nginx(tmp_path_factory.mktemp("nginx"), pki) as server:
        # A 4 KB status document, as in the issue: what a real team serves as a static file.
        document = payload.generate("us-east", 1_700_000_000.0, stats=True)
        text = json.dumps(document, indent=2)
        while len(text) < 4096:
            document.setdefault("padding", []).append("status " * 8)
            text = json.dumps(document, indent=2)
        (server.www / "status.json").write_text(text)
        yield server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with running_tinyproxy(tmp_path_factory.mktemp("tinyproxy")) as running:
        yield running


@pytest.fixture
def field_key(settings: Any) -> str:
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


def resolve_upstream(host: str, port: int) -> list[str]:
    # upstream.test is the name on the server certificate; it lives on loopback.
    assert host in (SERVER_NAME, "127.0.0.1")
    return ["127.0.0.1"]


def make_fetcher(**overrides: Any) -> Fetcher:
    values: dict[str, Any] = {"allowed_private_hosts": ("127.0.0.1", SERVER_NAME), "retries": 0}
    values.update(overrides)
    return Fetcher(FetchPolicy(**values), resolver=resolve_upstream)


def make_poller(**overrides: Any) -> Poller:
    return Poller(
        fetcher=make_fetcher(**overrides),
        circuit_policy=CircuitPolicy(failure_threshold=100, cooldown=timedelta(seconds=60)),
    )


def served_document(nginx: Nginx) -> Any:
    return json.loads((nginx.www / "status.json").read_text())


# --- nginx: gzip and ETag -------------------------------------------------------------------------------
def test_it_polls_a_stock_nginx_with_gzip_on_three_times_out_of_three(nginx: Nginx) -> None:
    fetcher = make_fetcher()
    before = len(nginx.log_lines())
    results = [fetcher.fetch(nginx.url("status.json"), timeout=5) for _ in range(3)]
    fetcher.close()
    assert [(r.ok, r.error_kind) for r in results] == [(True, "")] * 3
    assert all(r.payload == served_document(nginx) for r in results)
    lines = nginx.log_lines()[before:]
    assert len(lines) == 3
    assert all(line.endswith("enc=gzip") for line in lines), lines  # nginx really compressed each answer
    assert all(int(line.split()[-2]) < 4096 for line in lines)  # fewer bytes sent than the document has


def test_it_polls_nginx_conditionally_and_takes_304_as_unchanged(nginx: Nginx) -> None:
    poller = make_poller()
    (nginx.www / "conditional.json").write_text(json.dumps({"status": "ok", "build": 1}))
    source = Source.objects.create(slug="nginx-etag", name="nginx ETag", url=nginx.url("conditional.json"))
    try:
        assert poller.poll(source).status_code == 200
        source.refresh_from_db()
        assert source.upstream_etag.startswith('W/"')  # nginx weakens the ETag of a gzipped answer
        assert source.upstream_last_modified

        second = poller.poll(source)
        assert (second.ok, second.status_code) == (True, 304)
        assert nginx.log_lines()[-1].startswith("GET /conditional.json HTTP/1.1 304")
        assert len(get_store().history("nginx-etag", limit=10).entries) == 1

        # A new file: another ETag (size and mtime), a full answer, a change in history.
        path = nginx.www / "conditional.json"
        path.write_text(json.dumps({"status": "degraded", "build": 22}))
        stamp = path.stat().st_mtime + 5
        os.utime(path, (stamp, stamp))
        third = poller.poll(source)
        assert (third.ok, third.status_code) == (True, 200)
        assert third.record is not None
        assert third.record.changed
        assert third.payload == {"status": "degraded", "build": 22}
    finally:
        poller.fetcher.close()


# --- nginx: TLS with a private CA, mTLS, verification off -------------------------------------------------
def https_source(nginx: Nginx, slug: str, scheme: str = "https", **fields: Any) -> Source:
    return Source.objects.create(
        slug=slug, name=slug, url=nginx.url("status.json", scheme=scheme, host=SERVER_NAME), **fields
    )


def test_it_trusts_a_private_ca_given_per_source(nginx: Nginx, pki: Pki) -> None:
    poller = make_poller()
    trusting = https_source(nginx, "tls-own-ca", tls_ca_pem=pki.ca_pem)
    stranger = https_source(nginx, "tls-system-cas")
    try:
        good = poller.poll(trusting)
        assert good.ok, good.error_message
        assert good.payload == served_document(nginx)
        bad = poller.poll(stranger)
        assert (bad.ok, bad.error_kind) == (False, "tls")  # the system CAs do not know the test CA
    finally:
        poller.fetcher.close()


def test_it_trusts_a_global_ca_bundle(nginx: Nginx, pki: Pki) -> None:
    fetcher = make_fetcher(ca_bundle=str(pki.ca_file))
    result = fetcher.fetch(nginx.url("status.json", scheme="https", host=SERVER_NAME), timeout=5)
    assert result.ok, result.error_message
    # A source's own CA replaces the global bundle rather than adding to it.
    other = make_pki(pki.folder.parent / "other-pki")
    refused = fetcher.fetch(
        nginx.url("status.json", scheme="https", host=SERVER_NAME), timeout=5, transport=Transport(ca_pem=other.ca_pem)
    )
    assert (refused.ok, refused.error_kind) == (False, "tls")
    fetcher.close()


def test_it_presents_a_client_certificate_for_mtls(nginx: Nginx, pki: Pki, field_key: str) -> None:
    poller = make_poller()
    with_cert = https_source(
        nginx, "mtls", scheme="mtls", tls_ca_pem=pki.ca_pem, tls_client_cert_pem=pki.client_cert_pem
    )
    with_cert.set_client_key(pki.client_key_pem)
    with_cert.save()
    without = https_source(nginx, "mtls-none", scheme="mtls", tls_ca_pem=pki.ca_pem)
    stranger = https_source(
        nginx, "mtls-stranger", scheme="mtls", tls_ca_pem=pki.ca_pem, tls_client_cert_pem=pki.other_client_cert_pem
    )
    stranger.set_client_key(pki.other_client_key_pem)
    stranger.save()
    try:
        good = poller.poll(with_cert)
        assert good.ok, good.error_message
        assert good.payload == served_document(nginx)
        # nginx answers 400 ("No required SSL certificate was sent" / "certificate error") to the others.
        assert (poller.poll(without).error_kind, poller.poll(stranger).error_kind) == ("http_400", "http_400")
    finally:
        poller.fetcher.close()
    assert pki.client_key_pem.split("\n")[1] not in with_cert.tls_client_key_encrypted  # stored encrypted


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_it_skips_verification_only_when_the_source_says_so(nginx: Nginx) -> None:
    poller = make_poller()
    unverified = https_source(nginx, "tls-unverified", tls_verify=False)
    try:
        outcome = poller.poll(unverified)
        assert outcome.ok, outcome.error_message
        unverified.tls_verify = True
        unverified.save()
        assert poller.poll(unverified).error_kind == "tls"
    finally:
        poller.fetcher.close()


# --- tinyproxy: global, per source, environment --------------------------------------------------------
def test_it_goes_through_the_global_proxy_for_http_and_https(nginx: Nginx, proxy: Proxy, pki: Pki) -> None:
    fetcher = make_fetcher(proxy=proxy.url, ca_bundle=str(pki.ca_file))
    plain = fetcher.fetch(nginx.url("status.json"), timeout=5)
    secure = fetcher.fetch(nginx.url("status.json", scheme="https", host=SERVER_NAME), timeout=5)
    fetcher.close()
    assert plain.ok, plain.error_message
    assert secure.ok, secure.error_message
    seen = proxy.requests_seen()
    # The proxy was asked for the address the SSRF guard checked (pinned), not to resolve the name itself.
    assert f"GET http://127.0.0.1:{nginx.plain_port}/status.json" in seen
    assert f"CONNECT 127.0.0.1:{nginx.tls_port}" in seen


def test_it_uses_a_per_source_proxy_only_when_allowed(nginx: Nginx, proxy: Proxy) -> None:
    before = proxy.requests_seen().count("status.json?")
    refused = make_fetcher().fetch(
        nginx.url("status.json?via=refused"), timeout=5, transport=Transport(proxy=proxy.url)
    )
    assert (refused.ok, refused.error_kind) == (False, "proxy_forbidden")
    assert "POLLER_ALLOWED_PROXIES" in refused.error_message
    allowed = make_fetcher(allowed_proxies=(proxy.url,)).fetch(
        nginx.url("status.json?via=allowed"), timeout=5, transport=Transport(proxy=proxy.url)
    )
    assert allowed.ok, allowed.error_message
    seen = proxy.requests_seen()
    assert "via=refused" not in seen
    assert "via=allowed" in seen
    assert seen.count("status.json?") == before + 1


def test_it_bypasses_the_global_proxy_for_a_direct_source(nginx: Nginx, proxy: Proxy) -> None:
    fetcher = make_fetcher(proxy=proxy.url)
    result = fetcher.fetch(nginx.url("status.json?via=direct"), timeout=5, transport=Transport(proxy=DIRECT))
    fetcher.close()
    assert result.ok
    assert "via=direct" not in proxy.requests_seen()


def test_it_reads_proxies_from_the_environment_only_when_trusted(
    nginx: Nginx, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert make_fetcher().fetch(nginx.url("status.json?env=ignored"), timeout=5).ok
    assert make_fetcher(trust_env_proxy=True).fetch(nginx.url("status.json?env=trusted"), timeout=5).ok
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert make_fetcher(trust_env_proxy=True).fetch(nginx.url("status.json?env=bypassed"), timeout=5).ok
    seen = proxy.requests_seen()
    assert "env=ignored" not in seen
    assert "env=trusted" in seen
    assert "env=bypassed" not in seen


def test_it_still_judges_the_target_when_a_proxy_is_set(proxy: Proxy) -> None:
    fetcher = Fetcher(FetchPolicy(retries=0, proxy=proxy.url))  # loopback is not allowed here
    before = proxy.requests_seen()
    for url in ("http://127.0.0.1:9/status", "http://169.254.169.254/latest/meta-data/"):
        result = fetcher.fetch(url, timeout=3)
        assert (result.ok, result.error_kind) == (False, "forbidden_address")
    assert proxy.requests_seen() == before  # the proxy was never asked


def test_it_reports_an_unreachable_proxy_without_its_credentials(nginx: Nginx) -> None:
    from tests.services import free_port

    dead = f"http://user:proxy-pass-secret@127.0.0.1:{free_port()}"
    result = make_fetcher(proxy=dead, retries=0).fetch(nginx.url("status.json"), timeout=3)
    assert (result.ok, result.error_kind) == (False, "proxy")
    assert "proxy-pass-secret" not in result.error_message
    assert "127.0.0.1" in result.error_message


def test_it_records_a_failure_through_the_proxy_on_the_source(nginx: Nginx, proxy: Proxy) -> None:
    poller = make_poller(proxy=proxy.url)
    source = Source.objects.create(slug="proxied-404", name="proxied", url=nginx.url("missing.json"))
    outcome = poller.poll(source)
    poller.fetcher.close()
    assert (outcome.ok, outcome.error_kind) == (False, "http_404")
    assert PollFailure.objects.get(source=source).kind == "http_404"
