"""The upstream simulator: payload shape and behaviour over time, faults over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from metrics.defaults import REGIONS
from pollers.simulator import payload
from pollers.simulator.faults import Fault, FaultError
from tests.services import free_port, wait_for_port
from tests.simulator import RunningSimulator, control

WINDOW = payload.DEFAULT_WINDOW_SECONDS


def get(sim: RunningSimulator, path: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        try:
            body = response.read()
        except http.client.IncompleteRead as exc:
            body = exc.partial
        return response.status, dict(response.getheaders()), body
    finally:
        conn.close()


def healthy_window(region: str) -> int:
    return next(w for w in range(1000, 2000) if payload.failed_service(region, w) is None)


def degraded_window(region: str) -> int:
    return next(w for w in range(1000, 5000) if payload.failed_service(region, w) is not None)


def test_it_keeps_a_document_stable_inside_a_window_and_drifts_between_windows() -> None:
    start = 1000 * WINDOW
    first = payload.generate("us-east", start + 0.5)
    assert payload.generate("us-east", start + WINDOW - 0.5) == first
    following = [payload.generate("us-east", start + n * WINDOW) for n in range(1, 6)]
    assert all(doc != first for doc in following)
    loads = [doc["results"]["stats"]["server"]["cpu_load"] for doc in [first, *following]]
    assert len(set(loads)) > 1


def test_it_gives_each_region_its_own_character() -> None:
    characters = {region: payload.character(region) for region in REGIONS}
    assert characters["eu-west"] == payload.character("eu-west")
    assert len({(c.cpus, c.baseline_load, c.servers) for c in characters.values()}) == len(REGIONS)
    for region, char in characters.items():
        for window in range(2000, 2010):
            doc = payload.generate(region, window * WINDOW)
            assert doc["results"]["stats"]["server"]["cpus"] == char.cpus
            assert doc["results"]["stats"]["servers_count"] == char.servers


def test_it_degrades_about_one_window_in_ten() -> None:
    for region in REGIONS:
        down = sum(payload.failed_service(region, w) is not None for w in range(3000))
        assert 0.06 < down / 3000 < 0.14, region


def test_it_shapes_a_degraded_window_as_the_payload_document_says() -> None:
    window = degraded_window("sa-east")
    down = payload.failed_service("sa-east", window)
    healthy = payload.generate("sa-east", healthy_window("sa-east") * WINDOW)
    doc = payload.generate("sa-east", window * WINDOW)
    assert doc["status"] == "error"
    assert doc["results"]["services"][down] is False
    issue = json.loads(doc["server_issue"])
    assert set(issue) == {"type", "message", "code", "timestamp", "affectedServices"}
    assert doc["results"]["deployment"]["build_status"] == "failed"
    stats = doc["results"]["stats"]
    assert stats["server"]["wait_time"] >= 2000
    assert stats["online"] < healthy["results"]["stats"]["online"] / 5
    assert doc["results"]["alerts"]["critical_alerts"] > 0
    blocked = [w for _, w in stats["server"]["workers"] if f"{down}_connection_failed" in w["recently_blocked_keys"]]
    assert blocked, "workers that depend on the failed service show blocked keys"
    assert all(w["wait_time"] >= 3000 for w in blocked)


def test_it_shapes_a_healthy_window_with_workers_as_name_stats_pairs() -> None:
    doc = payload.generate("eu-central", healthy_window("eu-central") * WINDOW)
    assert doc["status"] == "ok"
    assert doc["server_issue"] is None
    assert doc["results"]["services"] == {"redis": True, "database": True}
    workers = doc["results"]["stats"]["server"]["workers"]
    assert workers
    for pair in workers:
        assert isinstance(pair, list)
        assert len(pair) == 2
        assert isinstance(pair[0], str)
        assert {"workers", "idle", "waiting", "wait_time", "time_to_return"} <= set(pair[1])
    assert json.loads(json.dumps(doc)) == doc  # plain JSON all the way down


def test_it_refuses_a_fault_it_cannot_act_on() -> None:
    with pytest.raises(FaultError, match="unknown fault"):
        Fault.parse({"fault": "explode"})
    with pytest.raises(FaultError, match="4xx or 5xx"):
        Fault.parse({"fault": "error", "status": "200"})
    with pytest.raises(FaultError, match="location"):
        Fault.parse({"fault": "redirect"})
    with pytest.raises(FaultError, match="bad fault parameter"):
        Fault.parse({"fault": "latency", "delay": "soon"})


def test_it_serves_each_region_over_http(simulator: RunningSimulator) -> None:
    for region in REGIONS:
        status, headers, body = get(simulator, f"/status/{region}?stats=1")
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        doc = json.loads(body)
        assert "stats" in doc["results"]
    status, _, body = get(simulator, "/status/us-east")
    assert status == 200
    assert "stats" not in json.loads(body)["results"]
    assert get(simulator, "/nothing/here")[0] == 404


def test_it_deploys_a_build_to_one_region_when_told(simulator: RunningSimulator) -> None:
    status, answer = control(simulator.base_url, "POST", "/_control/version/eu-west", {"version": "v2.6.15"})
    assert (status, answer) == (200, {"region": "eu-west", "version": "v2.6.15"})
    assert json.loads(get(simulator, "/status/eu-west")[2])["version"] == "v2.6.15"
    assert json.loads(get(simulator, "/status/us-east")[2])["version"] != "v2.6.15"
    assert control(simulator.base_url, "POST", "/_control/version/eu-west", {"version": 3})[0] == 400
    control(simulator.base_url, "POST", "/_control/reset", {})
    assert json.loads(get(simulator, "/status/eu-west")[2])["version"] == payload.character("eu-west").version


def test_it_adds_fields_to_one_region_s_documents_when_told(simulator: RunningSimulator) -> None:
    fields = {"counter": 1.8446744073709552e19, "total": 12345678901234567890}
    status, answer = control(simulator.base_url, "POST", "/_control/fields/eu-west", {"fields": fields})
    assert (status, answer) == (200, {"region": "eu-west", "fields": fields})
    body = get(simulator, "/status/eu-west")[2]
    assert b'"counter": 1.8446744073709552e+19' in body  # the number as Python writes a double
    assert json.loads(body)["total"] == 12345678901234567890
    assert "counter" not in json.loads(get(simulator, "/status/us-east")[2])
    assert control(simulator.base_url, "POST", "/_control/fields/eu-west", {"fields": [1]})[0] == 400
    simulator.set_fields("eu-west", {"other": True})
    assert "counter" not in json.loads(get(simulator, "/status/eu-west")[2])
    control(simulator.base_url, "POST", "/_control/reset", {})
    assert "other" not in json.loads(get(simulator, "/status/eu-west")[2])


def test_it_moves_to_the_next_window_when_told(simulator: RunningSimulator) -> None:
    before = get(simulator, "/status/us-west?stats=1")[2]
    offset = simulator.state.offset  # the test fixture starts the clock in the middle of a window
    status, answer = control(simulator.base_url, "POST", "/_control/advance", {"windows": 1})
    assert status == 200
    assert answer["offset"] == pytest.approx(offset + WINDOW)
    assert get(simulator, "/status/us-west?stats=1")[2] != before


def test_it_answers_with_each_fault_from_the_query_string(simulator: RunningSimulator) -> None:
    assert get(simulator, "/status/us-east?fault=error&status=502")[0] == 502
    status, headers, _ = get(simulator, "/status/us-east?fault=rate_limit&retry_after=7")
    assert (status, headers["Retry-After"]) == (429, "7")
    status, headers, body = get(simulator, "/status/us-east?fault=not_json")
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert isinstance(json.loads(get(simulator, "/status/us-east?fault=not_object")[2]), list)
    status, headers, body = get(simulator, "/status/us-east?stats=1&fault=truncated")
    assert int(headers["Content-Length"]) > len(body) > 0
    status, headers, body = get(simulator, "/status/us-east?fault=oversized&size=300000")
    assert (int(headers["Content-Length"]), len(body)) == (300000, 300000)
    status, headers, _ = get(simulator, "/status/us-east?fault=redirect&location=/status/eu-west")
    assert (status, headers["Location"]) == (302, "/status/eu-west")
    started = time.monotonic()
    assert get(simulator, "/status/us-east?fault=latency&delay=0.3")[0] == 200
    assert time.monotonic() - started >= 0.3
    assert get(simulator, "/status/us-east?fault=explode")[0] == 400


def test_it_drips_and_hangs_until_the_client_gives_up(simulator: RunningSimulator) -> None:
    conn = http.client.HTTPConnection(simulator.host, simulator.port, timeout=5)
    # The clock starts before the request: the server's sleeps between bytes all fall inside what is
    # measured (started after the headers, one sleep could overlap them and read as 0.19995 s).
    started = time.monotonic()
    conn.request("GET", "/status/us-east?fault=drip&interval=0.1")
    response = conn.getresponse()
    assert response.read(3) == b'{"s'
    assert time.monotonic() - started >= 0.2
    conn.close()

    with socket.create_connection((simulator.host, simulator.port), timeout=0.5) as sock:
        sock.sendall(b"GET /status/us-east?fault=hang HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_it_applies_a_standing_fault_for_the_next_requests_only(simulator: RunningSimulator) -> None:
    status, answer = control(simulator.base_url, "POST", "/_control/faults/eu-west", {"kind": "error", "times": 2})
    assert status == 200
    assert answer["fault"]["status"] == 503
    assert [get(simulator, "/status/eu-west")[0] for _ in range(3)] == [503, 503, 200]
    assert get(simulator, "/status/us-east")[0] == 200  # other regions untouched

    control(simulator.base_url, "POST", "/_control/faults/eu-west", {"kind": "error", "status": 500})
    assert get(simulator, "/status/eu-west")[0] == 500
    assert get(simulator, "/status/eu-west")[0] == 500
    assert control(simulator.base_url, "DELETE", "/_control/faults/eu-west")[0] == 200
    assert get(simulator, "/status/eu-west")[0] == 200


def test_it_refuses_bad_control_requests(simulator: RunningSimulator) -> None:
    assert control(simulator.base_url, "POST", "/_control/faults/eu-west", {"kind": "explode"})[0] == 400
    assert control(simulator.base_url, "POST", "/_control/advance", {"windows": "many"})[0] == 400
    assert control(simulator.base_url, "POST", "/_control/nothing", {})[0] == 404


def test_it_forces_a_region_down_or_up(simulator: RunningSimulator) -> None:
    simulator.set_fault("ap-southeast", kind="degraded")
    doc: dict[str, Any] = json.loads(get(simulator, "/status/ap-southeast?stats=1")[2])
    assert doc["status"] == "error"
    simulator.set_fault("ap-southeast", kind="healthy")
    assert json.loads(get(simulator, "/status/ap-southeast?stats=1")[2])["status"] == "ok"


def test_it_keeps_the_same_service_down_in_every_window_while_a_degraded_fault_stands(
    simulator: RunningSimulator,
) -> None:
    def services_over_windows(count: int) -> list[dict[str, bool]]:
        seen = []
        for _ in range(count):
            seen.append(json.loads(get(simulator, "/status/eu-central?stats=1")[2])["results"]["services"])
            simulator.advance(1)
        return seen

    assert control(simulator.base_url, "POST", "/_control/faults/eu-central", {"kind": "degraded"})[0] == 200
    assert services_over_windows(4) == [{"redis": False, "database": True}] * 4
    database = {"kind": "degraded", "service": "database"}
    assert control(simulator.base_url, "POST", "/_control/faults/eu-central", database)[0] == 200
    assert services_over_windows(4) == [{"redis": True, "database": False}] * 4
    status, _, body = get(simulator, "/status/eu-west?fault=degraded&service=database")
    assert status == 200
    assert json.loads(body)["results"]["services"] == {"redis": True, "database": False}
    refused = control(simulator.base_url, "POST", "/_control/faults/eu-central", {"kind": "degraded", "service": "dns"})
    assert refused == (400, {"error": "unknown service 'dns'; expected one of redis, database"})


def test_it_logs_requests_per_region(simulator: RunningSimulator) -> None:
    for _ in range(3):
        get(simulator, "/status/us-east?stats=1")
    get(simulator, "/status/eu-west?stats=1")
    status, log = control(simulator.base_url, "GET", "/_control/requests")
    assert status == 200
    assert (len(log["us-east"]), len(log["eu-west"])) == (3, 1)
    control(simulator.base_url, "POST", "/_control/reset", {})
    assert control(simulator.base_url, "GET", "/_control/requests")[1] == {}


def test_it_runs_as_a_management_command_and_stops_on_sigterm(tmp_path: Any) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_upstream", "--port", str(port), "--window", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "VAR_DIR": str(tmp_path)},
    )
    try:
        assert wait_for_port("127.0.0.1", port, proc=proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/status/us-east?stats=1")
        assert json.loads(conn.getresponse().read())["results"]["stats"]
        conn.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert b"stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
