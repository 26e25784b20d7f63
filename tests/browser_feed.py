"""Runs inside the browser-test stack's environment (its own database and Redis prefix) to seed it and
to record and publish changes the way the poller does. Used until tests drive the real poller.

    python tests/browser_feed.py seed
    python tests/browser_feed.py change <slug> <cpu_load>
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_insights.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from metrics.defaults import REGIONS  # noqa: E402
from pollers.models import Source  # noqa: E402
from realtime.publish import publish_update  # noqa: E402
from tests.browser_stack import PASSWORD, USERNAME  # noqa: E402
from tests.dashboard_data import payload, record  # noqa: E402

INTERVAL = 300  # long enough that seeded data stays fresh while the tests run


def seed() -> None:
    get_user_model().objects.create_superuser(USERNAME, "browser@example.com", PASSWORD)
    now = timezone.now()
    for i, region in enumerate(REGIONS):
        source = Source.objects.create(
            slug=region,
            name=region,
            url=f"http://127.0.0.1:9/status/{region}?stats=1",
            region=region,
            tags=["demo", "primary" if i < 3 else "secondary"],
            interval_seconds=INTERVAL,
            last_polled_at=now,
            last_success_at=now,
            last_latency_ms=10.0 + i,
            last_status_code=200,
        )
        for minute in range(60, -1, -2):
            load = 20.0 + i * 5 + (minute % 10)
            doc = payload(**{"results.stats.server.cpu_load": load, "results.stats.online": 100 + i * 10 + minute})
            record(source, doc, now - timedelta(minutes=minute))


def change(slug: str, cpu_load: float) -> None:
    source = Source.objects.get(slug=slug)
    now = timezone.now()
    doc = payload(**{"results.stats.server.cpu_load": cpu_load, "results.services.redis": False, "status": "error"})
    result = record(source, doc, now)
    Source.objects.filter(pk=source.pk).update(last_polled_at=now, last_success_at=now)
    publish_update(slug, result, now, "browser-test")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "seed":
        seed()
    elif command == "change":
        change(sys.argv[2], float(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command!r}")
