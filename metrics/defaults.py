"""Defaults for the provider status payload (docs/upstream-payload.md)."""

from __future__ import annotations

REGIONS = ("us-east", "eu-west", "eu-central", "us-west", "sa-east", "ap-southeast")

# metric name -> dotted path. A ``*`` segment walks every list element and the numbers found are summed;
# booleans are stored as 1/0 so service up/down can be charted and alerted on like any number.
DEFAULT_METRIC_PATHS: dict[str, str] = {
    "cpu_load": "results.stats.server.cpu_load",
    "active_connections": "results.stats.server.active_connections",
    "wait_time": "results.stats.server.wait_time",
    "timers": "results.stats.server.timers",
    "online": "results.stats.online",
    "session": "results.stats.session",
    "servers_count": "results.stats.servers_count",
    "workers_busy": "results.stats.server.active_workers",
    "workers_idle": "results.stats.server.workers.*.1.idle",
    "response_time_p95": "results.performance.response_times.p95",
    "error_rate": "results.performance.error_rate",
    "requests_per_second": "results.performance.requests_per_second",
    "memory_usage_percent": "results.memory.usage_percent",
    "disk_usage_percent": "results.storage.disk_usage_percent",
    "network_latency_ms": "results.network.latency_ms",
    "critical_alerts": "results.alerts.critical_alerts",
    "service_redis_up": "results.services.redis",
    "service_database_up": "results.services.database",
}


def default_metric_paths() -> dict[str, str]:
    return dict(DEFAULT_METRIC_PATHS)
