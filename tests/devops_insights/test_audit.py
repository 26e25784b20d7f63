"""``make audit`` (devops_insights.dependency_audit): pip-audit over the locks, one exit status per outcome.

The vulnerability database is played by a loopback HTTPS proxy that terminates the tunnel itself with
a certificate from a CA made for the test (pip-audit trusts it through ``REQUESTS_CA_BUNDLE``) and
answers the per-release JSON the way the registry does: so the clean, vulnerable and unanswered paths
run the real pip-audit over real sockets without leaving the machine. The unreachable path points the
proxy variable at a closed loopback port. One test asks the real registry when it answers here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devops_insights import dependency_audit
from tests import services

ROOT = Path(__file__).resolve().parents[2]
BASE_LOCK = ROOT / "requirements" / "base.lock"
_RELEASE = re.compile(r"^/pypi/([^/]+)/([^/]+)/json$")


def locked_versions(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"(?m)^([a-z0-9][a-z0-9._-]*)==([^\s;\\]+)", lock.read_text(encoding="utf-8")))


def small_lock(tmp_path: Path, *names: str) -> Path:
    """A lock with only the named entries of base.lock, hashes and all."""
    text = BASE_LOCK.read_text(encoding="utf-8")
    blocks = {m.group(1): m.group(0) for m in re.finditer(r"(?ms)^([a-z0-9][a-z0-9._-]*)==.*?(?=^\S|\Z)", text)}
    assert set(names) <= set(blocks)
    lock = tmp_path / "small.lock"
    lock.write_text("".join(blocks[name] for name in names), encoding="utf-8")
    return lock


@dataclass
class LoopbackAuthority:
    """A CA made for one test session, and certificates it signs for whatever host a tunnel names."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    bundle: Path
    issued: dict[str, ssl.SSLContext] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, folder: Path) -> LoopbackAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devops-insights test CA")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        bundle = folder / "ca.pem"
        bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(key, cert, bundle)

    def context_for(self, host: str, folder: Path) -> ssl.SSLContext:
        with self.lock:
            if host not in self.issued:
                key = ec.generate_private_key(ec.SECP256R1())
                now = dt.datetime.now(dt.UTC)
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
                    .issuer_name(self.cert.subject)
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(hours=1))
                    .not_valid_after(now + dt.timedelta(days=1))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .add_extension(
                        x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
                    )
                    .sign(self.key, hashes.SHA256())
                )
                pem = folder / f"{host}.pem"
                pem.write_bytes(
                    cert.public_bytes(serialization.Encoding.PEM)
                    + key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    )
                )
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(pem)
                self.issued[host] = context
            return self.issued[host]


class _FeedHandler(BaseHTTPRequestHandler):
    """Requests inside a tunnel: the per-release JSON of the vulnerability feed."""

    protocol_version = "HTTP/1.1"
    server: FeedProxy

    def do_GET(self) -> None:
        match = _RELEASE.match(self.path)
        answer = self.server.answer(match.group(1), match.group(2)) if match else None
        body = json.dumps(answer if answer is not None else {"message": "Not Found"}).encode()
        self.send_response(200 if answer is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ProxyHandler(BaseHTTPRequestHandler):
    """CONNECT host:443 is answered here: the tunnel ends in this process, with TLS for that host."""

    server: FeedProxy

    def do_CONNECT(self) -> None:
        host = self.path.rsplit(":", 1)[0]
        self.send_response(200, "Connection established")
        self.end_headers()
        tls = self.server.authority.context_for(host, self.server.folder).wrap_socket(self.connection, server_side=True)
        _FeedHandler(tls, self.client_address, self.server)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FeedProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, authority: LoopbackAuthority, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.authority = authority
        self.folder = folder
        self.vulnerabilities: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.unanswered: set[str] = set()  # names answered 404, as a mirror without the per-release JSON
        self.answer_nothing = False
        self.asked: list[tuple[str, str]] = []

    def answer(self, name: str, version: str) -> dict[str, Any] | None:
        self.asked.append((name, version))
        if self.answer_nothing or name in self.unanswered:
            return None
        vulnerabilities = self.vulnerabilities.get((name, version), [])
        return {"info": {"name": name, "version": version}, "vulnerabilities": vulnerabilities}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedProxy]:
    folder = tmp_path_factory.mktemp("feed")
    proxy = FeedProxy(LoopbackAuthority.create(folder), folder)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def audit_env(proxy_url: str, ca_bundle: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in {"NO_PROXY", "HTTP_PROXY", "ALL_PROXY"}}
    env["HTTPS_PROXY"] = env["https_proxy"] = proxy_url
    if ca_bundle is not None:
        env["REQUESTS_CA_BUNDLE"] = str(ca_bundle)
    return env


def run_audit(
    env: dict[str, str], tmp_path: Path, *locks: Path, ignore: str | None = None
) -> subprocess.CompletedProcess[str]:
    """What make audit runs, on the given locks, with an empty cache (make itself turns any failure into 2)."""
    options = ["--cache-dir", str(tmp_path / "cache"), "--timeout", "10"]
    if ignore:
        options += ["--ignore-vuln", ignore]
    return subprocess.run(
        [sys.executable, "-m", "devops_insights.dependency_audit", *options, *map(str, locks)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_make_audit(env: dict[str, str], tmp_path: Path, *locks: Path) -> subprocess.CompletedProcess[str]:
    """The Makefile's own recipe (make -o install audit: this venv, already installed)."""
    variables = [
        f"BIN={Path(sys.executable).parent}",
        f"AUDIT_LOCKS={' '.join(map(str, locks))}",
        f"AUDIT_ARGS=--cache-dir {tmp_path / 'cache'} --timeout 10",
    ]
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "-o", "install", "audit", *variables],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_it_passes_when_every_locked_package_was_checked_and_none_is_vulnerable(
    feed: FeedProxy, tmp_path: Path
) -> None:
    result = run_make_audit(audit_env(feed.url, feed.authority.bundle), tmp_path, BASE_LOCK)

    assert result.returncode == dependency_audit.CLEAN, result.stdout + result.stderr
    locked = locked_versions(BASE_LOCK)
    assert f"no known vulnerabilities in {len(locked)} locked packages" in result.stdout
    assert {(name.lower(), version) for name, version in feed.asked} == set(locked.items())


def test_it_fails_with_status_1_and_names_a_known_vulnerability(feed: FeedProxy, tmp_path: Path) -> None:
    django = locked_versions(BASE_LOCK)["django"]
    feed.vulnerabilities[("django", django)] = [
        {"id": "PYSEC-TEST-1", "aliases": ["CVE-TEST-1"], "fixed_in": ["99.0.1"], "summary": "made up for this test"}
    ]

    result = run_audit(audit_env(feed.url, feed.authority.bundle), tmp_path, BASE_LOCK)

    assert result.returncode == dependency_audit.VULNERABLE, result.stdout + result.stderr
    assert f"django {django}: PYSEC-TEST-1 (fixed in 99.0.1)" in result.stderr
    assert "1 known vulnerabilities in 1 locked packages" in result.stderr


def test_it_passes_a_vulnerability_accepted_by_its_id_or_alias(feed: FeedProxy, tmp_path: Path) -> None:
    django = locked_versions(BASE_LOCK)["django"]
    feed.vulnerabilities[("django", django)] = [{"id": "PYSEC-TEST-2", "aliases": ["CVE-TEST-2"], "fixed_in": []}]
    lock = small_lock(tmp_path, "django", "sqlparse")

    result = run_audit(audit_env(feed.url, feed.authority.bundle), tmp_path, lock, ignore="CVE-TEST-2")
    assert result.returncode == dependency_audit.CLEAN, result.stdout + result.stderr

    result = run_audit(audit_env(feed.url, feed.authority.bundle), tmp_path / "other", lock, ignore="CVE-TEST-3")
    assert result.returncode == dependency_audit.VULNERABLE, result.stdout + result.stderr


def test_it_says_so_with_status_3_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    closed = services.free_port()  # bound and released: nothing listens there
    lock = small_lock(tmp_path, "django", "sqlparse", "asgiref")

    result = run_audit(audit_env(f"http://scraper:hunter2@127.0.0.1:{closed}"), tmp_path, lock)

    assert result.returncode == dependency_audit.UNREACHABLE, result.stdout + result.stderr
    assert "the vulnerability database could not be reached" in result.stderr
    assert "Nothing was checked: not a pass." in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_it_says_so_with_status_3_when_the_database_answers_for_no_package(feed: FeedProxy, tmp_path: Path) -> None:
    feed.answer_nothing = True  # what a registry mirror without the per-release JSON does
    lock = small_lock(tmp_path, "django", "sqlparse", "asgiref")

    result = run_audit(audit_env(feed.url, feed.authority.bundle), tmp_path, lock)

    assert result.returncode == dependency_audit.UNREACHABLE, result.stdout + result.stderr
    assert "did not answer for 3 of 3 locked packages (asgiref, django, sqlparse)" in result.stderr
    assert "unchecked, not a pass" in result.stderr


def test_it_counts_one_unanswered_package_as_unchecked_and_still_reports_a_vulnerability(
    feed: FeedProxy, tmp_path: Path
) -> None:
    lock = small_lock(tmp_path, "django", "sqlparse", "asgiref")
    feed.unanswered.add("sqlparse")
    result = run_audit(audit_env(feed.url, feed.authority.bundle), tmp_path, lock)
    assert result.returncode == dependency_audit.UNREACHABLE, result.stdout + result.stderr
    assert "did not answer for 1 of 3 locked packages (sqlparse)" in result.stderr

    django = locked_versions(BASE_LOCK)["django"]
    feed.vulnerabilities[("django", django)] = [{"id": "GHSA-test", "aliases": [], "fixed_in": []}]
    result = run_audit(audit_env(feed.url, feed.authority.bundle), tmp_path / "again", lock)
    assert result.returncode == dependency_audit.VULNERABLE, result.stdout + result.stderr
    assert f"django {django}: GHSA-test (fixed in no fixed version yet)" in result.stderr
    assert "did not answer for 1 of 3" in result.stderr


def test_make_audit_fails_with_the_message_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    closed = services.free_port()
    result = run_make_audit(audit_env(f"http://127.0.0.1:{closed}"), tmp_path, small_lock(tmp_path, "django"))

    assert result.returncode != 0
    assert "the vulnerability database could not be reached" in result.stderr


def test_make_audit_checks_the_development_lock_which_holds_the_runtime_one() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "install", "audit"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"python -m devops_insights\.dependency_audit +requirements/dev\.lock$", result.stdout.strip())
    dev = locked_versions(ROOT / "requirements" / "dev.lock")
    assert locked_versions(BASE_LOCK).items() <= dev.items()


def test_it_refuses_a_missing_lock_with_status_2(tmp_path: Path) -> None:
    result = run_audit(dict(os.environ), tmp_path, tmp_path / "nowhere.lock")

    assert result.returncode == dependency_audit.FAILED
    assert f"lock file not found: {tmp_path / 'nowhere.lock'} (run make lock)" in result.stderr


def test_it_audits_the_real_lock_against_the_real_database_when_it_answers(tmp_path: Path) -> None:
    from packaging.version import Version
    from pip_audit._service import PyPIService, ResolvedDependency, SkippedDependency

    django = locked_versions(BASE_LOCK)["django"]
    try:
        probe, _ = PyPIService(cache_dir=tmp_path / "probe", timeout=10).query(
            ResolvedDependency(name="django", version=Version(django))
        )
    except Exception as exc:
        pytest.skip(f"the registry's vulnerability database is not reachable from here: {exc!r}")
    if isinstance(probe, SkippedDependency):
        pytest.skip(f"the registry does not serve per-release vulnerability data here: {probe.skip_reason}")

    result = run_audit(dict(os.environ), tmp_path, BASE_LOCK)

    # A newly published advisory may make the real lock vulnerable; either way every package was checked.
    assert result.returncode in {dependency_audit.CLEAN, dependency_audit.VULNERABLE}, result.stdout + result.stderr
    assert "did not answer" not in result.stderr
