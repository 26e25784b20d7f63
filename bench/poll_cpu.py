"""The CPU one unchanged poll costs against the floor's request, for a loaded machine.

On a shared machine a cycle's wall time mostly measures the neighbours (bench/poll.py's rows moved by 30%
from run to run at load 6-10). This measures each poll's own thread CPU time instead, interleaved per
source with the floor (a bare ``requests`` GET + ``.json()``, decoding too) and the fetch alone
(``pollers.conditional.fetch``), and prints the 10th percentile and median of each against the floor's.
SQLite, concurrency 1, unchanged documents, the poll command's batched health writes (written by the
poll that finds the batch due: in the mean, not in the percentiles). Not a ``make bench`` row.
Environment: PARTS_SOURCES (500), PARTS_ROUNDS (5), PARTS_QUERY (the gzip answer of bench/poll.py).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from _setup import simulator
from poll import setup_environment

N = int(os.environ.get("PARTS_SOURCES", "500"))
QUERY = os.environ.get("PARTS_QUERY", "stats=1&fault=encoding&coding=gzip")


def main() -> None:
    setup_environment(tempfile.mkdtemp(prefix="bench-parts-"))
    with simulator(dict(os.environ)) as port:
        run(port)


def run(port: int) -> None:
    import django

    django.setup()
    import requests
    from django.core.management import call_command

    from accounts.models import default_team_id
    from devops_insights.collector import POLLER as POLLER_COLLECTOR
    from devops_insights.collector import settle as settle_collector
    from pollers import conditional
    from pollers.circuit import CircuitPolicy
    from pollers.engine import Poller
    from pollers.fetch import Fetcher
    from pollers.health_batch import HealthBatch
    from pollers.models import Source
    from pollers.workers import handing_back

    call_command("migrate", verbosity=0)
    team = default_team_id()
    base = f"http://127.0.0.1:{port}/status"
    Source.objects.bulk_create(
        Source(slug=f"region-{i:04d}", name=f"R{i}", url=f"{base}/region-{i:04d}?{QUERY}", team_id=team)
        for i in range(N)
    )
    sources = list(Source.objects.order_by("slug"))
    poller = Poller(fetcher=Fetcher(), circuit_policy=CircuitPolicy.from_settings(), health_batch=HealthBatch())
    settle_collector(POLLER_COLLECTOR)  # as the poll command does before its first poll
    for s in sources:
        poller.poll(s)
    poller.flush_health()
    session = requests.Session()

    def floor(s: Source) -> None:
        session.get(s.url, timeout=(3, 5)).json()

    def full(s: Source) -> None:
        with handing_back():  # as the poll command's workers do after each poll (pollers/workers.py)
            outcome = poller.poll(s)
        if not outcome.ok or outcome.record is None or outcome.record.changed:
            raise SystemExit(f"{s.slug}: not an unchanged poll ({outcome.error_kind or 'changed'})")

    def fetch(s: Source) -> None:
        conditional.fetch(poller.fetcher, lambda: poller.store, s, "x")

    parts = {"floor": floor, "poll": full, "fetch": fetch}
    samples: dict[str, list[float]] = {k: [] for k in parts}
    for _ in range(int(os.environ.get("PARTS_ROUNDS", "5"))):
        for s in sources:  # interleaved per source: every part sees the same neighbours
            for label, action in parts.items():
                started = time.thread_time()
                action(s)
                samples[label].append(time.thread_time() - started)
        poller.flush_health()

    def q(values: list[float], at: float) -> float:
        ordered = sorted(values)
        return ordered[int(len(ordered) * at)]

    f = {name: q(samples["floor"], name) for name in (0.1, 0.5)}
    for label, values in samples.items():
        p10, p50 = q(values, 0.1), q(values, 0.5)
        print(
            f"{label:6s} thread cpu p10 {p10 * 1e6:7.1f} us ({p10 / f[0.1]:.2f}x floor)"
            f"  median {p50 * 1e6:7.1f} us ({p50 / f[0.5]:.2f}x)  mean {statistics.fmean(values) * 1e6:7.1f} us"
        )


if __name__ == "__main__":
    main()
