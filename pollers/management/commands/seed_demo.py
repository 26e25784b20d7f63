"""``manage.py seed_demo``: the six demo sources, pointing at the local upstream simulator."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.defaults import REGIONS, default_metric_paths
from pollers.models import Source

DISPLAY_NAMES = {
    "us-east": "US East",
    "eu-west": "EU West",
    "eu-central": "EU Central",
    "us-west": "US West",
    "sa-east": "South America East",
    "ap-southeast": "Asia Pacific Southeast",
}


class Command(BaseCommand):
    help = (
        "Create (or repoint) the six demo sources at http://<host>:<port>/status/<region>?stats=1; each one created "
        "gets the defaults of a source added by hand (the unreachable alert rule, ALERTS_DEFAULT_UNREACHABLE_RULE)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--simulator-host",
            default="127.0.0.1",
            help="Host name of the upstream simulator (default 127.0.0.1; e.g. 'simulator' under docker compose).",
        )
        parser.add_argument(
            "--simulator-port",
            type=int,
            default=None,
            help=f"Port of the upstream simulator (default SIMULATOR_PORT={settings.SIMULATOR_PORT}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["simulator_port"] or settings.SIMULATOR_PORT
        host = options["simulator_host"]
        if not host or any(c in host for c in "/?#@ "):
            raise CommandError("--simulator-host must be a bare host name or address")
        if not 1 <= port <= 65535:
            raise CommandError("--simulator-port must be between 1 and 65535")
        created = updated = 0
        for region in REGIONS:
            url = f"http://{host}:{port}/status/{region}?stats=1"
            source = Source.objects.filter(slug=region).first()
            if source is None:
                # Added as a person adds one (Source.add), so it gets the same defaults: a demo region that
                # goes down raises an alert. Saved without the SSRF check on purpose: the demo points at
                # loopback, which the poller lets through only when POLLER_ALLOWED_PRIVATE_HOSTS allows it
                # (runstack does).
                Source(
                    slug=region,
                    name=DISPLAY_NAMES.get(region, region),
                    url=url,
                    region=region,
                    tags=["demo"],
                    metric_paths=default_metric_paths(),
                ).add()
                created += 1
            elif source.url != url:
                source.url = url
                source.save(update_fields=["url", "updated_at"])
                updated += 1
        self.stdout.write(
            f"demo sources: {created} created, {updated} repointed, {len(REGIONS) - created - updated} unchanged "
            f"(simulator {host}:{port})"
        )
