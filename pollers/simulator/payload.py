"""Status documents in the upstream payload shape (docs/upstream-payload.md), as pure functions of time.

A document depends only on the region name and the time window it falls in: stable inside a
window (so change detection sees one change per window, not one per poll) and drifting from one
window to the next. Each region has its own character derived from its name, and about one
window in ten it degrades: a dependency goes down and everything that depends on it suffers.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_WINDOW_SECONDS = 30.0
DEGRADED_PROBABILITY = 0.1
SERVICES = ("redis", "database")
# What the `degraded` fault takes down unless told which: one service for as long as the fault stands, so a
# rule watching it (the example's "Redis down") holds on every poll. It was SERVICES[window % 2], which
# alternated with each window: polled once per window, such a rule never held for two polls in a row.
FORCED_SERVICE = "redis"

# Worker pools and the dependency each one waits on when it is down. Every region runs at least
# the first two, so an outage of either service always shows in some worker.
WORKER_POOLS: tuple[tuple[str, str], ...] = (
    ("api-handler", "database"),
    ("cache-sync", "redis"),
    ("db-writer", "database"),
    ("queue-consumer", "redis"),
)


@dataclass(frozen=True)
class RegionCharacter:
    """What stays true of a region whatever the window: its size and its usual load."""

    cpus: int
    servers: int
    baseline_load: float  # percent
    baseline_online: int
    baseline_connections: int
    worker_pools: int
    version: str
    phase: float  # where the region is in its daily-ish load wave


def _seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def character(region: str) -> RegionCharacter:
    rng = random.Random(_seed("character", region))  # noqa: S311 - simulation, not security
    cpus = rng.choice((2, 4, 8, 16))
    servers = rng.randint(2, 8)
    return RegionCharacter(
        cpus=cpus,
        servers=servers,
        baseline_load=round(rng.uniform(20, 60), 1),
        baseline_online=rng.randint(40, 400) * servers,
        baseline_connections=rng.randint(1500, 4000) * cpus,
        worker_pools=rng.randint(2, len(WORKER_POOLS)),
        version=f"v2.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
        phase=rng.uniform(0, 2 * math.pi),
    )


def window_index(now: float, window_seconds: float = DEFAULT_WINDOW_SECONDS) -> int:
    return int(now // window_seconds)


def failed_service(region: str, window: int) -> str | None:
    """The dependency that is down in this window, or None when the region is healthy."""
    rng = random.Random(_seed("degraded", region, window))  # noqa: S311
    if rng.random() >= DEGRADED_PROBABILITY:
        return None
    return rng.choice(SERVICES)


def generate(
    region: str,
    now: float,
    *,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    stats: bool = True,
    degraded: bool | None = None,
    service: str = FORCED_SERVICE,
) -> dict[str, Any]:
    """The document ``region`` serves at unix time ``now``.

    ``degraded`` forces the region down (True: ``service`` is the dependency down, whatever chance picked for
    the window) or up (False); None lets chance decide.
    """
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    window = window_index(now, window_seconds)
    char = character(region)
    rng = random.Random(_seed("window", region, window))  # noqa: S311
    down = failed_service(region, window)
    if degraded is True:
        down = service
    elif degraded is False:
        down = None
    window_start = datetime.fromtimestamp(window * window_seconds, tz=UTC)

    # A slow wave plus per-window noise: neighbouring windows are close but never identical.
    wave = math.sin(char.phase + window / 20.0)
    load = _clamp(char.baseline_load * (1 + 0.25 * wave) + rng.uniform(-6, 6), 1, 99)
    health = 0.05 if down else 1.0  # connections and users fall towards zero while a dependency is down
    online = int(char.baseline_online * (1 + 0.2 * wave) * rng.uniform(0.9, 1.1) * health)
    connections = int(char.baseline_connections * (load / 50) * rng.uniform(0.9, 1.1) * health)
    wait_time = rng.randint(2000, 9000) if down else int(20 + load * rng.uniform(0.8, 1.6))

    workers = _workers(region, char, rng, down)
    busy = sum(1 for _, w in workers if w["workers"] - w["idle"] > 0)
    services = {name: name != down for name in SERVICES}

    document: dict[str, Any] = {
        "status": "error" if down else "ok",
        "server_issue": _server_issue(down, window_start, rng) if down else None,
        "strict": bool(_seed("strict", region) % 2),
        "version": char.version,
        "roles": ["api", "worker", "cache"],
        "results": {
            "services": services,
            "performance": {
                "response_times": _response_times(load, rng, down),
                "error_rate": round(rng.uniform(15, 60) if down else rng.uniform(0.1, 1.5), 2),
                "requests_per_second": int(connections / 7 * rng.uniform(0.9, 1.1)),
                "uptime_percent": round(rng.uniform(90, 97) if down else rng.uniform(99.0, 99.99), 2),
            },
            "deployment": _deployment(char, window, window_start, window_seconds, rng, down),
            "memory": _memory(rng, load),
            "storage": {
                "disk_usage_percent": round(_clamp(40 + 20 * wave + rng.uniform(-3, 3), 1, 99), 1),
                "io_wait_percent": round(rng.uniform(15, 40) if down else rng.uniform(0.5, 5), 1),
                "read_ops_per_sec": int(rng.uniform(200, 500) * health),
                "write_ops_per_sec": int(rng.uniform(80, 200) * health),
            },
            "network": {
                "bytes_in_per_sec": int(connections * rng.uniform(12, 18)),
                "bytes_out_per_sec": int(connections * rng.uniform(6, 9)),
                "packets_dropped": rng.randint(50, 500) if down else rng.randint(0, 5),
                "latency_ms": rng.randint(200, 1500) if down else rng.randint(5, 40),
            },
            "alerts": {
                "critical_alerts": rng.randint(2, 6) if down else 0,
                "warning_alerts": rng.randint(5, 15) if down else rng.randint(0, 3),
                "info_alerts": rng.randint(0, 10),
            },
            "security": {
                "threat_level": rng.choice(("medium", "high")) if down else "low",
                "vulnerability_score": round(rng.uniform(0.5, 4.0), 1),
                "failed_auth_attempts": rng.randint(0, 40),
                "firewall_blocks": rng.randint(100, 400),
            },
        },
    }
    if stats:
        document["results"]["stats"] = {
            "online": online,
            "servers_count": char.servers,
            "session": int(online * rng.uniform(5, 9)),
            "server": {
                "cpus": char.cpus,
                "cpu_load": round(load, 1),
                "active_connections": connections,
                "wait_time": wait_time,
                "timers": rng.randint(5, 30),
                "workers": [[name, w] for name, w in workers],
                "worker_count": len(workers),
                "avg_worker_load": int(_clamp(load * rng.uniform(0.8, 1.2), 0, 100)),
                "overloaded_workers": sum(1 for _, w in workers if w["idle"] == 0),
                "active_workers": busy,
                "total_worker_memory": int(sum(w["workers"] for _, w in workers) * rng.uniform(80, 120)),
            },
        }
    return document


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _workers(
    region: str, char: RegionCharacter, rng: random.Random, down: str | None
) -> list[tuple[str, dict[str, Any]]]:
    workers = []
    for index, (pool, dependency) in enumerate(WORKER_POOLS[: char.worker_pools], start=1):
        size = rng.randint(2, 8)
        blocked = dependency == down
        idle = 0 if blocked else rng.randint(0, size - 1)
        stats: dict[str, Any] = {
            "workers": size,
            "idle": idle,
            "waiting": rng.randint(20, 80) if blocked else rng.randint(0, 3),
            "wait_time": rng.randint(3000, 12000) if blocked else rng.randint(10, 200),
            "time_to_return": rng.randint(5000, 20000) if blocked else rng.randint(50, 500),
            "recently_blocked_keys": (
                [f"{dependency}_connection_failed", f"key_{rng.getrandbits(24):06x}"] if blocked else []
            ),
            "top_keys": [[f"top_{rng.getrandbits(16):04x}", rng.randint(1, 100)] for _ in range(2)],
        }
        workers.append((f"{pool}-{index}", stats))
    return workers


def _server_issue(down: str, window_start: datetime, rng: random.Random) -> str:
    # The provider sends the error object JSON-encoded inside a string, not as an object.
    issue = {
        "type": f"{down}_unavailable",
        "message": f"{down} is not answering: connection refused",
        "code": 503 if down == "database" else 502,
        "timestamp": window_start.isoformat(),
        "affectedServices": [pool for pool, dep in WORKER_POOLS if dep == down],
    }
    return json.dumps(issue)


def _response_times(load: float, rng: random.Random, down: str | None) -> dict[str, int]:
    p50 = int((40 + load * 2) * rng.uniform(0.9, 1.1))
    if down:
        p50 *= 10
    return {"p50": p50, "p95": int(p50 * rng.uniform(2.5, 3.5)), "p99": int(p50 * rng.uniform(5, 8))}


def _deployment(
    char: RegionCharacter,
    window: int,
    window_start: datetime,
    window_seconds: float,
    rng: random.Random,
    down: str | None,
) -> dict[str, Any]:
    # A deployment every 100 windows: its time is stable across the windows in between.
    last_deploy = datetime.fromtimestamp((window // 100) * 100 * window_seconds, tz=UTC)
    return {
        "last_deployment": last_deploy.isoformat(),
        "build_status": "failed" if down else rng.choice(("success", "success", "success", "pending")),
        "version_number": f"v1.{(window // 100) % 50}.{rng.randint(0, 3)}",
        "rollback_ready": not down,
        "failed_deployments_last_week": rng.randint(2, 6) if down else rng.randint(0, 2),
        "deployment_duration_minutes": rng.randint(5, 30),
        "last_rollback": (window_start - timedelta(hours=rng.randint(1, 48))).isoformat() if down else None,
    }


def _memory(rng: random.Random, load: float) -> dict[str, Any]:
    total = rng.choice((4096, 8192, 16384))
    usage = _clamp(load + rng.uniform(5, 25), 1, 99)
    return {
        "usage_percent": round(usage, 1),
        "available_mb": int(total * (100 - usage) / 100),
        "total_mb": total,
        "swap_usage_percent": round(rng.uniform(0, 10), 1),
    }
