"""API export: time and peak memory of streaming a long history, against the floor of paging the store.

The floor reads the same pages from the same store and encodes nothing; the export's overhead is the
ratio. Peak memory is measured (tracemalloc) for a range and for a range two and a half times longer: a constant
memory export keeps the two peaks about equal. Runs on a throwaway SQLite database.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = int(os.environ.get("BENCH_EXPORT_ENTRIES", "5000"))
PAGE = 500


def measure(fn: Callable[[], int]) -> tuple[float, int, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        produced = fn()
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return elapsed, peak, produced


def main() -> int:
    sys.path.insert(0, str(ROOT))
    work = tempfile.mkdtemp(prefix="bench-api-export-")
    os.environ.update(
        {
            "VAR_DIR": work,
            "DJANGO_SETTINGS_MODULE": "devops_insights.settings",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "RATELIMIT_ENABLE": "false",
            "API_EXPORT_PAGE_SIZE": str(PAGE),
            "LOG_LEVEL": "warning",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL", "MONGODB_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import ApiToken, Membership
    from metrics.stores import get_store
    from pollers.models import Source

    call_command("migrate", verbosity=0)
    source = Source.objects.create(slug="bench", name="Bench", url="http://127.0.0.1:9/status")
    store = get_store()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    for i in range(ENTRIES):
        body = {"status": "ok", "results": {"stats": {"online": i, "server": {"cpu_load": i % 100 + 0.5}}}}
        store.record(source.spec(), body, t0 + timedelta(seconds=10 * i))
    print(f"setup: {ENTRIES} history entries recorded in {time.perf_counter() - started:.1f} s")

    user = django.contrib.auth.get_user_model().objects.create_user("bench")
    Membership.objects.create(user=user, team=source.team, role="viewer")
    _token, raw = ApiToken.issue(user, "bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    # Two fifths: past the first pages, where the peak settles (one page being sent while the next is read).
    fifth = (t0 + timedelta(seconds=10 * (ENTRIES * 2 // 5))).isoformat().replace("+00:00", "Z")

    def floor() -> int:
        count, cursor = 0, None
        while True:
            page = store.history("bench", limit=PAGE, cursor=cursor)
            count += len(page.entries)
            if not page.next_cursor:
                return count
            cursor = page.next_cursor

    def export(query: str) -> Callable[[], int]:
        def run() -> int:
            response = client.get(f"/api/v1/export/bench?{query}")
            assert response.status_code == 200, response.status_code
            return sum(len(chunk) for chunk in response.streaming_content)

        return run

    export(f"format=ndjson&to={fifth}")()  # warm-up: imports and first-request caches are not the export's
    rows = [
        ("floor: page the store, encode nothing", measure(floor)),
        ("export ndjson, whole range", measure(export("format=ndjson"))),
        ("export csv, whole range", measure(export("format=csv"))),
        ("export ndjson, first two fifths", measure(export(f"format=ndjson&to={fifth}"))),
    ]
    floor_time, floor_peak, _ = rows[0][1]
    print(f"\n{'case':<42} {'seconds':>8} {'x floor':>8} {'peak MB':>8} {'x floor':>8} {'output':>12}")
    for name, (elapsed, peak, produced) in rows:
        print(
            f"{name:<42} {elapsed:8.2f} {elapsed / floor_time:8.2f} {peak / 1e6:8.2f} {peak / floor_peak:8.2f}"
            f" {produced:>12,}"
        )
    whole_peak, fifth_peak = rows[1][1][1], rows[3][1][1]
    print(f"\npeak whole range / peak two fifths of it: {whole_peak / fifth_peak:.2f} (about 1 = constant memory)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
