"""/metrics: Prometheus exposition that parses, moves when polls happen, and only for allowed scrapers."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from metrics.stores.base import RecordResult
from observability import exposition
from pollers.instrumentation import count_poll
from pollers.models import Source
from pollers.outcome import PollOutcome
from tests import services
from tests.factories import make_source
from tests.observability.support import samples, scrape, value
from tests.paths import ROOT
from tests.run_manage import assert_one_line_error, run_manage

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def send_poll(source: Source, **fields: Any) -> PollOutcome:
    outcome = PollOutcome(source=source.slug, poll_id="p-1", started_at=NOW, **fields)
    # As the engine does once at the end of every poll, with its final outcome.
    count_poll(outcome)
    return outcome


def changed_record() -> RecordResult:
    return RecordResult(changed=True, hash="a" * 40, metrics={"cpu_load": 0.5}, sequence=1, diff=[])


@pytest.fixture
def source(db: None) -> Source:
    return make_source("us-east")


def test_it_counts_polls_by_outcome_and_times_them(client: Client, source: Source) -> None:
    before = scrape(client)
    send_poll(source, ok=True, latency_ms=120.0, record=changed_record())
    send_poll(source, ok=True, latency_ms=80.0, record=RecordResult(False, "a" * 40, {}, 1, []))
    send_poll(source, ok=False, latency_ms=3000.0, error_kind="timeout", error_message="read timed out", attempts=3)
    send_poll(source, ok=False, skipped=True, error_kind="circuit_open")
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("devops_insights_polls_total", source="us-east", outcome="changed") == 1
    assert moved("devops_insights_polls_total", source="us-east", outcome="unchanged") == 1
    assert moved("devops_insights_polls_total", source="us-east", outcome="failed") == 1
    assert moved("devops_insights_polls_total", source="us-east", outcome="skipped") == 1
    assert moved("devops_insights_poll_errors_total", source="us-east", kind="timeout") == 1
    # A skipped poll made no request: it is neither an error nor a duration.
    assert moved("devops_insights_poll_errors_total", source="us-east", kind="circuit_open") == 0
    assert moved("devops_insights_poll_retries_total", source="us-east") == 2
    assert moved("devops_insights_poll_duration_seconds_count", source="us-east") == 3
    assert moved("devops_insights_poll_duration_seconds_sum", source="us-east") == pytest.approx(3.2)
    assert moved("devops_insights_poll_duration_seconds_bucket", source="us-east", le="0.1") == 1


def test_it_reports_source_health_from_the_database(client: Client, source: Source) -> None:
    Source.objects.filter(pk=source.pk).update(circuit_state=Source.Circuit.OPEN, consecutive_failures=7)
    parsed = scrape(client)
    assert value(parsed, "devops_insights_source_state_scrape_ok") == 1
    assert value(parsed, "devops_insights_source_circuit_state", source="us-east", state="open") == 1
    assert value(parsed, "devops_insights_source_circuit_state", source="us-east", state="closed") == 0
    assert value(parsed, "devops_insights_source_consecutive_failures", source="us-east") == 7
    assert value(parsed, "devops_insights_source_enabled", source="us-east") == 1
    assert value(parsed, "devops_insights_source_alert_state", source="us-east", state="ok") == 1


def test_it_counts_requests_by_status_and_route(client: Client, db: None) -> None:
    before = scrape(client)
    client.get("/api/v1/health")
    client.get("/no/such/page/anywhere")
    after = scrape(client)
    route_count = "devops_insights_http_request_duration_seconds_count"
    assert value(after, route_count, route="/api/v1/health") - value(before, route_count, route="/api/v1/health") == 1
    # An unmatched path is one label value, never the raw path.
    assert value(after, route_count, route="unmatched") - value(before, route_count, route="unmatched") >= 1
    assert not any("/no/such" in str(key) for key in after)


def test_it_serves_openmetrics_when_asked(client: Client, db: None) -> None:
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


class TestAccess:
    def test_it_refuses_a_scrape_without_the_token(self, client: Client, settings: Any, db: None) -> None:
        settings.METRICS_TOKEN = "scrape-secret-1"
        settings.METRICS_ALLOWED_IPS = []
        response = client.get("/metrics")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret-1").status_code == 401
        assert b"scrape-secret-1" not in response.content

    def test_it_serves_a_scrape_with_the_token_from_anywhere(self, client: Client, settings: Any, db: None) -> None:
        settings.METRICS_TOKEN = "scrape-secret-1"
        settings.METRICS_ALLOWED_IPS = []
        headers = {"HTTP_AUTHORIZATION": "Bearer scrape-secret-1", "REMOTE_ADDR": "203.0.113.9"}
        assert client.get("/metrics", **headers).status_code == 200

    def test_it_serves_an_allowlisted_network_without_a_token(self, client: Client, settings: Any, db: None) -> None:
        from ipaddress import ip_network

        settings.METRICS_TOKEN = ""
        settings.METRICS_ALLOWED_IPS = [ip_network("10.0.0.0/8")]
        assert client.get("/metrics", REMOTE_ADDR="10.4.5.6").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403

    def test_it_does_not_trust_an_address_a_proxy_reported(self, client: Client, settings: Any, db: None) -> None:
        from ipaddress import ip_network

        settings.METRICS_TOKEN = ""
        settings.METRICS_ALLOWED_IPS = [ip_network("10.0.0.0/8")]
        # daphne --proxy-headers puts the forwarded address in REMOTE_ADDR; the header itself stays.
        response = client.get("/metrics", REMOTE_ADDR="10.4.5.6", HTTP_X_FORWARDED_FOR="10.4.5.6")
        assert response.status_code == 403

    @pytest.mark.parametrize("value", ["10.0.0.0/33", "not-an-ip", "10.0.0.1,bad"])
    def test_it_rejects_a_bad_allowlist_in_one_line(self, tmp_path: Path, value: str) -> None:
        result = run_manage("check", env={"METRICS_ALLOWED_IPS": value}, tmp_path=tmp_path)
        assert_one_line_error(result, "METRICS_ALLOWED_IPS", "is not an IP address or CIDR network")

    def test_it_reads_the_token_from_a_file(self, tmp_path: Path) -> None:
        secret = tmp_path / "token"
        secret.write_text("from-a-file-token\n")
        result = run_manage(
            "shell", "-c", "from django.conf import settings; print(settings.METRICS_TOKEN)",
            env={"METRICS_TOKEN_FILE": str(secret)}, tmp_path=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "from-a-file-token"


@pytest.fixture
def poller_server(settings: Any) -> Iterator[int]:
    exposition.stop_poller_metrics_server()
    port = services.free_port()
    settings.POLLER_METRICS_PORT = port
    settings.POLLER_METRICS_ADDR = "127.0.0.1"
    yield port
    exposition.stop_poller_metrics_server()


def http_get(port: int, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


class TestPollerServer:
    def test_it_comes_up_when_the_poller_starts_it_and_serves_its_counters(
        self, poller_server: int, source: Source, settings: Any
    ) -> None:
        settings.METRICS_TOKEN = "poller-token-2"
        with pytest.raises(urllib.error.URLError, match="refused"):
            http_get(poller_server)  # not listening before the poll command starts it
        send_poll(source, ok=True, latency_ms=10.0, record=changed_record())
        with pytest.raises(urllib.error.URLError, match="refused"):
            http_get(poller_server)  # a poll alone starts nothing: only the poll command does (explicitly)
        exposition.start_poller_metrics_server()
        assert http_get(poller_server)[0] == 200  # loopback is on the default allowlist
        status, body = http_get(poller_server, token="poller-token-2")
        assert status == 200
        parsed = samples(body)
        assert value(parsed, "devops_insights_polls_total", source="us-east", outcome="changed") >= 1
        # The shared state is the web's to report; a poller scrape must not duplicate it.
        assert not any(name.startswith("devops_insights_source_") for name, _ in parsed)

    def test_it_refuses_a_scraper_off_the_allowlist_without_the_token(self, poller_server: int, settings: Any) -> None:
        settings.METRICS_TOKEN = "poller-token-2"
        settings.METRICS_ALLOWED_IPS = []
        exposition.start_poller_metrics_server()
        assert http_get(poller_server)[0] == 401
        assert http_get(poller_server, token="nope")[0] == 401
        assert http_get(poller_server, token="poller-token-2")[0] == 200

    def test_it_stays_off_without_a_port(self, settings: Any) -> None:
        exposition.stop_poller_metrics_server()
        settings.POLLER_METRICS_PORT = 0
        assert exposition.start_poller_metrics_server() is None

    def test_it_logs_and_carries_on_when_the_port_is_taken(self, poller_server: int, caplog: Any) -> None:
        import socket

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", poller_server))
            taken.listen()
            assert exposition.start_poller_metrics_server() is None
        assert "cannot listen" in caplog.text


# Runs a management command in a fresh process (argv after the script name) and reports on its
# last two lines whether the retention step ran and whether the poller metrics port listened. The
# looping command is stopped with SIGTERM once both are seen (or after a deadline), as in production.
COMMAND_PROBE = """
import os, signal, socket, sys, threading, time, django
port, argv = int(sys.argv[1]), sys.argv[2:]
sys.argv = ['manage.py', *argv]
django.setup()
from django.core.management import call_command
from devops_insights.shared_cache import shared_cache
from metrics.lifecycle import maintenance

def listening():
    try:
        socket.create_connection(('127.0.0.1', port), 1).close()
        return True
    except OSError:
        return False

def retention_ran():
    return shared_cache().get(maintenance.LAST_PRUNE_KEY) is not None

def stop_when_both_seen():
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (listening() and retention_ran()):
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)

call_command('migrate', verbosity=0)
if '--loop' in argv:
    threading.Thread(target=stop_when_both_seen, daemon=True).start()
call_command(*argv, verbosity=0)
print('retention', retention_ran())
print('listening' if listening() else 'closed')
"""


@pytest.mark.parametrize(
    ("argv", "listening", "retention"),
    [(["poll", "--loop"], True, True), (["poll"], True, False), (["check"], False, False)],
)
def test_the_poll_command_serves_its_metrics_from_startup(
    tmp_path: Path, argv: list[str], listening: bool, retention: bool
) -> None:
    """And the looping poller takes on the retention step (metrics.lifecycle.maintenance), called by its loop."""
    import os
    import subprocess
    import sys

    port = services.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "devops_insights.settings", "VAR_DIR": str(tmp_path)})
    env.update({"POLLER_METRICS_PORT": str(port)})
    result = subprocess.run(
        [sys.executable, "-c", COMMAND_PROBE, str(port), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == ("listening" if listening else "closed")
    assert lines[-2] == f"retention {retention}"
