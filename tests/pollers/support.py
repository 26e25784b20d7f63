"""Real servers no one here wrote, started by the tests on loopback: nginx, tinyproxy, redis-server.

Each runs as a child process with its own configuration, pid and logs under the test's tmp_path,
listening on free ports, and is stopped by the test. A missing binary skips the test with the
reason (fails under CI=true, see tests/services.py). Also a throwaway PKI made with
``cryptography``: a CA, a server certificate for ``upstream.test`` and 127.0.0.1, a client CA and
a client certificate for mTLS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.services import free_port, unavailable, wait_for_port

NGINX = "/usr/sbin/nginx"
TINYPROXY = "/usr/bin/tinyproxy"
SERVER_NAME = "upstream.test"


# --- a throwaway PKI ------------------------------------------------------------------------------
def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(common_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(ca[1], hashes.SHA256()), key


@dataclass(frozen=True)
class Pki:
    folder: Path
    ca_pem: str  # the CA the server certificate chains to
    server_cert: Path
    server_key: Path
    client_ca: Path  # what nginx trusts for client certificates
    client_cert_pem: str
    client_key_pem: str
    other_client_cert_pem: str  # from a CA the server does not trust
    other_client_key_pem: str

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca("Test Server CA")
    server = _leaf(SERVER_NAME, ca, server=True)
    client_ca = _ca("Test Client CA")
    client = _leaf("poller", client_ca, server=False)
    stranger_ca = _ca("Stranger CA")
    stranger = _leaf("stranger", stranger_ca, server=False)
    (folder / "ca.pem").write_text(_pem_cert(ca[0]))
    (folder / "server.pem").write_text(_pem_cert(server[0]))
    (folder / "server.key").write_text(_pem_key(server[1]))
    (folder / "client-ca.pem").write_text(_pem_cert(client_ca[0]))
    return Pki(
        folder=folder,
        ca_pem=_pem_cert(ca[0]),
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_ca=folder / "client-ca.pem",
        client_cert_pem=_pem_cert(client[0]),
        client_key_pem=_pem_key(client[1]),
        other_client_cert_pem=_pem_cert(stranger[0]),
        other_client_key_pem=_pem_key(stranger[1]),
    )


# --- child processes --------------------------------------------------------------------------------
def require(binary: str, package: str) -> None:
    if not Path(binary).is_file() and shutil.which(Path(binary).name) is None:
        unavailable(f"{binary} is not installed (Debian package {package}; .ci/run installs it)")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start(command: list[str], port: int, log: Path, what: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    if not wait_for_port("127.0.0.1", port, proc=process):
        stop(process)
        raise RuntimeError(f"{what} did not start on port {port}: {log.read_text(errors='replace')[-2000:]}")
    return process


@dataclass(frozen=True)
class Nginx:
    plain_port: int  # HTTP, gzip on, ETag
    tls_port: int  # HTTPS with the test CA's certificate
    mtls_port: int  # HTTPS that demands a client certificate from the client CA
    www: Path
    access_log: Path

    def log_lines(self) -> list[str]:
        return self.access_log.read_text(errors="replace").splitlines() if self.access_log.exists() else []

    def url(self, path: str, *, scheme: str = "http", host: str = "127.0.0.1") -> str:
        port = {"http": self.plain_port, "https": self.tls_port, "mtls": self.mtls_port}[scheme]
        return f"{'http' if scheme == 'http' else 'https'}://{host}:{port}/{path.lstrip('/')}"


NGINX_CONF = """
daemon off;
master_process off;
pid {root}/nginx.pid;
lock_file {root}/nginx.lock;
error_log {root}/error.log info;
events {{ worker_connections 128; }}
http {{
    log_format coded '$request $status $body_bytes_sent enc=$sent_http_content_encoding';
    access_log {root}/access.log coded;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    types {{ application/json json; }}
    default_type application/json;
    charset_types application/json;
    etag on;
    gzip on;
    gzip_types application/json;
    gzip_min_length 0;
    gzip_proxied any;
    server {{
        listen 127.0.0.1:{plain};
        root {root}/www;
    }}
    server {{
        listen 127.0.0.1:{tls} ssl;
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root}/www;
    }}
    server {{
        listen 127.0.0.1:{mtls} ssl;
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {client_ca};
        ssl_verify_client on;
        root {root}/www;
    }}
}}
"""


@contextmanager
def running_nginx(root: Path, pki: Pki) -> Iterator[Nginx]:
    """nginx (Debian nginx-light) as a foreground child: one process, serving ``root/www``."""
    require(NGINX, "nginx-light")
    for folder in ("www", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    plain, tls, mtls = free_port(), free_port(), free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            root=root,
            plain=plain,
            tls=tls,
            mtls=mtls,
            name=SERVER_NAME,
            cert=pki.server_cert,
            key=pki.server_key,
            client_ca=pki.client_ca,
        )
    )
    process = start(
        [NGINX, "-p", f"{root}/", "-c", str(conf), "-e", str(root / "error.log")], plain, root / "stdout.log", "nginx"
    )
    try:
        for port in (tls, mtls):
            if not wait_for_port("127.0.0.1", port, proc=process):
                raise RuntimeError(f"nginx did not listen on {port}")
        yield Nginx(plain, tls, mtls, root / "www", root / "access.log")
    finally:
        stop(process, signal.SIGQUIT)  # nginx's graceful stop


@dataclass(frozen=True)
class Proxy:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_seen(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def running_tinyproxy(root: Path) -> Iterator[Proxy]:
    """tinyproxy (Debian) as a foreground child on a free port: a forward proxy for HTTP and CONNECT."""
    require(TINYPROXY, "tinyproxy")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = root / "tinyproxy.log"
    conf = root / "tinyproxy.conf"
    conf.write_text(
        "\n".join(
            [
                f"Port {port}",
                "Listen 127.0.0.1",
                "Timeout 30",
                f'LogFile "{log}"',
                f'PidFile "{root}/tinyproxy.pid"',
                "LogLevel Connect",
                "MaxClients 50",
                "Allow 127.0.0.1",
                "DisableViaHeader Yes",
                "",
            ]
        )
    )
    process = start([TINYPROXY, "-d", "-c", str(conf)], port, root / "stdout.log", "tinyproxy")
    try:
        yield Proxy(port, log)
    finally:
        stop(process)


class RedisServer:
    """A test-owned redis-server on a free port that the test may stop and start again (same port)."""

    def __init__(self, root: Path) -> None:
        require("/usr/bin/redis-server", "redis-server")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.root),
        ]
        deadline = time.monotonic() + 15
        while True:  # the port may linger a moment after a stop
            try:
                self.process = start(command, self.port, self.root / "redis.log", "redis-server")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def sql_alias(kind: str) -> str:
    """The database alias of ``kind`` (sqlite or postgres) in this run (see tests/conftest.py pytest_configure)."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if (kind == "sqlite" and engine.endswith("sqlite3")) or (kind == "postgres" and engine.endswith("postgresql")):
        return "default"
    return f"contract_{kind}"


def form_rows(name: str, pairs: dict[str, str] | list[tuple[str, str]]) -> dict[str, list[str]]:
    """A key/value field (``pollers.formfields``) as a browser posts it: ``<name>_key`` and ``<name>_value`` lists."""
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    return {f"{name}_key": [k for k, _ in items], f"{name}_value": [v for _, v in items]}
