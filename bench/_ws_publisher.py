"""Publisher side of bench/ws_fanout.py: one update per interval, as the poller would send it.

``--mode django`` goes through ``realtime.events.publish_update`` (the poller's path: channel layer,
one long-lived loop). ``--mode redis`` publishes the same message with a bare Redis PUBLISH, for the
floor server. Prints the number of updates published.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def payload(sequence: int) -> dict[str, Any]:
    """An upstream-shaped status document whose numbers move with ``sequence``."""
    return {
        "status": "ok",
        "server_issue": None,
        "version": "v2.4.1",
        "roles": ["api", "worker", "cache"],
        "results": {
            "services": {"redis": True, "database": True},
            "stats": {
                "online": 50 + sequence % 10,
                "servers_count": 3,
                "session": 400 + sequence,
                "server": {
                    "cpus": 4,
                    "cpu_load": 40.0 + sequence % 7,
                    "active_connections": 9800 + sequence,
                    "wait_time": 60 + sequence % 5,
                    "timers": 12,
                    "workers": [["api-handler-1", {"workers": 6, "idle": 2, "waiting": 1, "wait_time": 120}]],
                },
            },
            "performance": {"response_times": {"p50": 120, "p95": 410, "p99": 880}, "error_rate": 0.8},
            "memory": {"usage_percent": 61.0, "available_mb": 2890, "total_mb": 8192},
            "network": {"bytes_in_per_sec": 150000, "bytes_out_per_sec": 72000, "latency_ms": 11},
        },
    }


def metrics(sequence: int) -> dict[str, float]:
    server = payload(sequence)["results"]["stats"]["server"]
    return {"cpu_load": server["cpu_load"], "active_connections": server["active_connections"], "online": 50.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("django", "redis"), required=True)
    parser.add_argument("--slug", default="bench")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--channel", default="bench-floor")
    args = parser.parse_args()

    if args.mode == "django":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_insights.settings")
        import django

        django.setup()
        from metrics.stores.base import FieldChange, RecordResult
        from realtime.events import publish_update

        def send(sequence: int) -> None:
            result = RecordResult(
                changed=True,
                hash=f"{sequence:040x}",
                metrics=metrics(sequence),
                sequence=sequence,
                diff=[FieldChange("results.stats.session", 400 + sequence - 1, 400 + sequence, "changed")],
            )
            if not publish_update(args.slug, result, datetime.now(UTC), f"bench-{sequence}", payload=payload(sequence)):
                print(f"publish {sequence} failed", file=sys.stderr)

    else:
        import redis

        client = redis.Redis.from_url(args.redis_url)

        def send(sequence: int) -> None:
            message = {
                "type": "update",
                "source": args.slug,
                "hash": f"{sequence:040x}",
                "sequence": sequence,
                "fetched_at": datetime.now(UTC).isoformat(),
                "metrics": metrics(sequence),
                "diff": [{"path": "results.stats.session", "old": 399 + sequence, "new": 400 + sequence}],
                "payload": payload(sequence),
                "published_at": datetime.now(UTC).isoformat(),
            }
            client.publish(args.channel, json.dumps(message, separators=(",", ":")))

    count = int(args.seconds / args.interval)
    start = time.monotonic()
    for sequence in range(1, count + 1):
        # Scheduled against the start, so a slow send does not stretch the run.
        time.sleep(max(0.0, start + (sequence - 1) * args.interval - time.monotonic()))
        send(sequence)
    print(count, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
