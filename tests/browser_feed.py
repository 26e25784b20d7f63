"""Runs inside the browser-test stack's environment (its own database and Redis prefix).

    python -m tests.browser_feed seed <simulator-port>
    python -m tests.browser_feed user

``seed`` creates the test account and the demo sources (``seed_demo``) polled every few seconds, and gives
the charts and sparklines an hour to draw by recording what the simulator served over the last hour; from
then on the real poller polls the real simulator. ``user`` creates the test account only: an empty dashboard.
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

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from metrics.defaults import REGIONS  # noqa: E402
from pollers.models import Source  # noqa: E402
from pollers.simulator.payload import generate  # noqa: E402
from tests.browser_stack import INTERVAL, PASSWORD, USERNAME  # noqa: E402
from tests.factories import make_user, record  # noqa: E402

HISTORY = timedelta(hours=1)
HISTORY_STEP = timedelta(seconds=60)


def user() -> None:
    make_user(USERNAME, superuser=True, email="browser@example.com", password=PASSWORD)


def seed(simulator_port: int) -> None:
    user()
    call_command("seed_demo", simulator_port=simulator_port, verbosity=0)
    Source.objects.update(interval_seconds=INTERVAL)
    now = timezone.now()
    for source in Source.objects.filter(slug__in=REGIONS):
        at = now - HISTORY
        while at < now - HISTORY_STEP:
            record(source, generate(source.slug, at.timestamp(), stats=True), at)
            at += HISTORY_STEP


if __name__ == "__main__":
    if sys.argv[1:] == ["user"]:
        user()
    elif sys.argv[1:2] == ["seed"] and len(sys.argv) == 3:
        seed(int(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m tests.browser_feed seed <simulator-port> | user")
