"""A known status payload and helpers to record it, shared by the dashboard tests."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from metrics.stores import get_store
from metrics.stores.base import RecordResult
from pollers.models import Source

KNOWN_PAYLOAD: dict[str, Any] = {
    "status": "ok",
    "server_issue": None,
    "strict": True,
    "version": "v2.4.1",
    "roles": ["api", "worker", "cache"],
    "results": {
        "services": {"redis": True, "database": True},
        "stats": {
            "online": 57,
            "servers_count": 3,
            "session": 412,
            "server": {
                "cpus": 4,
                "cpu_load": 41.7,
                "active_connections": 9876,
                "wait_time": 63,
                "timers": 12,
                "workers": [
                    [
                        "api-handler-1",
                        {
                            "workers": 6,
                            "idle": 2,
                            "waiting": 1,
                            "wait_time": 120,
                            "time_to_return": 340,
                            "recently_blocked_keys": ["key_ab12cd"],
                            "top_keys": [["top_x1y2", 44]],
                        },
                    ],
                    ["cache-sync-2", {"workers": 2, "idle": 2, "waiting": 0, "wait_time": 8, "time_to_return": 15}],
                ],
                "worker_count": 4,
                "avg_worker_load": 38,
                "overloaded_workers": 0,
                "active_workers": 3,
                "total_worker_memory": 2210,
            },
        },
        "performance": {
            "response_times": {"p50": 120, "p95": 410, "p99": 880},
            "error_rate": 0.8,
            "requests_per_second": 1320,
            "uptime_percent": 99.2,
        },
        "deployment": {
            "last_deployment": "2026-11-28T09:00:00+00:00",
            "build_status": "success",
            "version_number": "v1.12.3",
            "rollback_ready": True,
            "failed_deployments_last_week": 1,
            "deployment_duration_minutes": 14,
            "last_rollback": None,
        },
        "memory": {"usage_percent": 61.0, "available_mb": 2890, "total_mb": 8192, "swap_usage_percent": 4.2},
        "storage": {
            "disk_usage_percent": 58.3,
            "io_wait_percent": 3.1,
            "read_ops_per_sec": 340,
            "write_ops_per_sec": 120,
        },
        "network": {"bytes_in_per_sec": 150000, "bytes_out_per_sec": 72000, "packets_dropped": 2, "latency_ms": 11},
        "alerts": {"critical_alerts": 0, "warning_alerts": 2, "info_alerts": 5},
        "security": {
            "threat_level": "low",
            "vulnerability_score": 2.1,
            "failed_auth_attempts": 14,
            "firewall_blocks": 220,
        },
    },
}


def payload(**changes: Any) -> dict[str, Any]:
    """The known payload with dotted-path overrides: payload(**{"results.services.redis": False})."""
    doc = copy.deepcopy(KNOWN_PAYLOAD)
    for path, value in changes.items():
        node = doc
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return doc


def make_source(slug: str, **fields: Any) -> Source:
    defaults: dict[str, Any] = {
        "name": slug.replace("-", " ").title(),
        "url": f"http://127.0.0.1:9/status/{slug}?stats=1",
        "region": slug,
        "interval_seconds": 30,
    }
    defaults.update(fields)
    return Source.objects.create(slug=slug, **defaults)


def record(source: Source, doc: dict[str, Any], at: datetime) -> RecordResult:
    return get_store().record(source.spec(), doc, at, {"poll_id": "test"})
