"""Runs inside the browser-test stack's environment (its own database and Redis prefix).

    python -m tests.browser_feed seed <simulator-port>
    python -m tests.browser_feed user
    python -m tests.browser_feed statuspage
    python -m tests.browser_feed statuspage-update

``statuspage`` adds a published status page "demo" over the seeded sources, with 90 days of availability
(backfilled, some days worse than others), an incident with a timeline, a resolved one, a maintenance
window in progress and one scheduled. ``statuspage-update`` posts one more update to the open incident.

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


def statuspage() -> None:
    from metrics.stores import get_store
    from metrics.stores.base import PollSample
    from statuspages.models import Impact, Incident, IncidentStatus, IncidentUpdate, MaintenanceWindow
    from tests.factories import make_component, make_status_page

    now = timezone.now()
    team = Source.objects.get(slug=REGIONS[0]).team
    page = make_status_page(
        "demo",
        team=team,
        title="Acme Cloud status",
        description="Live status of the **Acme Cloud** regions. Times are UTC.",
    )
    names = {
        "us-east": "US East API",
        "eu-west": "EU West API",
        "eu-central": "EU Central API",
        "us-west": "US West API",
        "sa-east": "South America API",
        "ap-southeast": "Asia Pacific API",
    }
    components = {}
    store = get_store()
    since = (now - timedelta(days=89)).replace(hour=0, minute=0, second=0, microsecond=0)
    for order, region in enumerate(REGIONS):
        source = Source.objects.get(slug=region)
        components[region] = make_component(page, names[region], [source], order=order)
        # Polls every 10 minutes; a few worse days per region, at fixed places so the screenshots stay alike.
        bad_days = {(order * 7 + 11) % 89: 1, (order * 13 + 40) % 89: 5, (order * 5 + 70) % 89: 20}
        samples = []
        for day in range(89):
            start = since + timedelta(days=day)
            for slot in range(144):
                up = slot >= bad_days.get(day, 0)
                at = start + timedelta(minutes=10 * slot)
                samples.append(PollSample(at, up, 80.0 if up else None, "" if up else "timeout"))
        store.replace_backfilled_availability(region, since, samples)
    incident = Incident.objects.create(
        page=page,
        title="Elevated error rates in EU West",
        impact=Impact.MAJOR,
        status=IncidentStatus.MONITORING,
        started_at=now - timedelta(hours=2),
    )
    incident.components.add(components["eu-west"])
    for minutes, status, body in (
        (115, IncidentStatus.INVESTIGATING, "We are investigating **elevated error rates** on the EU West API."),
        (80, IncidentStatus.IDENTIFIED, "A faulty load balancer node was identified and taken out of rotation."),
        (30, IncidentStatus.MONITORING, "Error rates are back to normal. We are monitoring the results."),
    ):
        IncidentUpdate.objects.create(
            incident=incident, status=status, body=body, created_at=now - timedelta(minutes=minutes)
        )
    past = Incident.objects.create(
        page=page,
        title="Slow responses in Asia Pacific",
        impact=Impact.MINOR,
        status=IncidentStatus.RESOLVED,
        started_at=now - timedelta(days=3, hours=4),
        resolved_at=now - timedelta(days=3, hours=3),
    )
    past.components.add(components["ap-southeast"])
    IncidentUpdate.objects.create(
        incident=past,
        status=IncidentStatus.RESOLVED,
        body="A cache node was replaced; response times are normal again.",
        created_at=now - timedelta(days=3, hours=3),
    )
    active = MaintenanceWindow.objects.create(
        page=page,
        title="Database upgrade in South America",
        body="Writes may be *slower* during the upgrade.",
        starts_at=now - timedelta(minutes=20),
        ends_at=now + timedelta(hours=2),
    )
    active.components.add(components["sa-east"])
    scheduled = MaintenanceWindow.objects.create(
        page=page,
        title="Network maintenance in US West",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
    )
    scheduled.components.add(components["us-west"])


def statuspage_update() -> None:
    from statuspages.models import Incident, IncidentStatus, IncidentUpdate

    incident = Incident.objects.get(page__slug="demo", status=IncidentStatus.MONITORING)
    IncidentUpdate.objects.create(incident=incident, status=IncidentStatus.RESOLVED, body="Fix deployed everywhere.")
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = timezone.now()
    incident.save()


if __name__ == "__main__":
    if sys.argv[1:] == ["user"]:
        user()
    elif sys.argv[1:] == ["statuspage"]:
        statuspage()
    elif sys.argv[1:] == ["statuspage-update"]:
        statuspage_update()
    elif sys.argv[1:2] == ["seed"] and len(sys.argv) == 3:
        seed(int(sys.argv[2]))
    else:
        raise SystemExit(
            "usage: python -m tests.browser_feed seed <simulator-port> | user | statuspage | statuspage-update"
        )
