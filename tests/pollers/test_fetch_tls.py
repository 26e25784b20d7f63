"""HTTPS through the pinned connection: the TLS name is the URL's host, not the address connected to."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pollers.fetch import Fetcher, FetchPolicy
from tests.simulator import RunningSimulator


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA and a server certificate for upstream.test, made with the openssl CLI."""
    where = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Test CA", cwd=where)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=upstream.test", cwd=where)  # fmt: skip
    (where / "ext.cnf").write_text("subjectAltName=DNS:upstream.test\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=where)  # fmt: skip
    return where


@pytest.fixture
def tls_simulator(pki: Path) -> Iterator[RunningSimulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    running = RunningSimulator("127.0.0.1", 0, ssl_context=context).start()
    yield running
    running.stop()


def fetcher_for(pki: Path, name: str) -> Fetcher:
    def resolve(host: str, port: int) -> list[str]:
        assert host == name
        return ["127.0.0.1"]

    policy = FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0, ca_bundle=str(pki / "ca.pem"))
    return Fetcher(policy, resolver=resolve)


def test_it_verifies_the_certificate_against_the_host_name(tls_simulator: RunningSimulator, pki: Path) -> None:
    fetcher = fetcher_for(pki, "upstream.test")
    result = fetcher.fetch(f"https://upstream.test:{tls_simulator.port}/status/us-east?stats=1", timeout=5)
    assert result.ok, result.error_message
    assert result.payload is not None
    assert "stats" in result.payload["results"]


def test_it_refuses_a_certificate_for_another_name(tls_simulator: RunningSimulator, pki: Path) -> None:
    fetcher = fetcher_for(pki, "impostor.test")
    result = fetcher.fetch(f"https://impostor.test:{tls_simulator.port}/status/us-east", timeout=5)
    assert (result.ok, result.error_kind) == (False, "tls")


def test_it_refuses_an_unknown_certificate_authority(tls_simulator: RunningSimulator) -> None:
    fetcher = Fetcher(
        FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0), resolver=lambda host, port: ["127.0.0.1"]
    )
    result = fetcher.fetch(f"https://upstream.test:{tls_simulator.port}/status/us-east", timeout=5)
    assert (result.ok, result.error_kind) == (False, "tls")


def test_it_drops_credentials_when_a_redirect_goes_from_https_to_plain_http_on_the_same_host(
    tls_simulator: RunningSimulator, simulator: RunningSimulator, pki: Path
) -> None:
    # Same host name, plain http on another port: anyone on the path would read what follows the redirect.
    fetcher = fetcher_for(pki, "upstream.test")
    headers = {"Authorization": "Bearer secret", "X-Api-Key": "k", "X-Trace": "t1"}
    plain = f"http://upstream.test:{simulator.port}/echo/headers"
    start = f"https://upstream.test:{tls_simulator.port}/status/us-east?fault=redirect&location={plain}"
    result = fetcher.fetch(start, headers=headers, timeout=5)
    assert result.ok, result.error_message
    assert result.payload is not None
    assert ("Authorization" in result.payload, "X-Api-Key" in result.payload) == (False, False)
    assert result.payload["X-Trace"] == "t1"
