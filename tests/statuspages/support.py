"""Helpers of the status page tests (no fixtures: those are in conftest.py and tests/factories.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

from django.conf import settings

from statuspages.feed_urls import page_routes
from statuspages.feed_views import BADGE_KINDS

# Every feed, v2 JSON and page badge route of a page that takes no parameter, read from the URLconf, and
# every badge kind: a route or kind added later is walked by each test that uses these.
FEED_ROUTES: tuple[str, ...] = tuple(str(route.pattern) for route in page_routes if "<" not in str(route.pattern))
KINDS: tuple[str, ...] = BADGE_KINDS


def parse_xml(text: str | bytes) -> ET.Element:
    # The documents parsed here are the application's own output (badges, feeds), checked for structure;
    # a parse error is exactly the failure these tests look for.
    return ET.fromstring(text)  # noqa: S314


def html_tags(html: str) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    """Every start tag of ``html`` with its attributes, as a browser's tokenizer would see them."""
    found: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, tuple(sorted(attrs))))

    collector = Collector()
    collector.feed(html)
    collector.close()
    return found


# Without Redis the page cache's generations are in the shared cache's table (statuspages/generations.py):
# a warm answer reads it, at most once for the page lookup and once for the page, and nothing else.
WARM_SHARED_CACHE_READS = 2


def beyond_the_shared_cache(queries: list[dict[str, Any]]) -> list[str]:
    """The SQL of ``queries`` (CaptureQueriesContext's) that is not about the shared cache's table: neither a
    statement on it nor the BEGIN and COMMIT of the transaction Django's database cache writes it in (a
    generation seeded on a cold page; captured on PostgreSQL)."""
    table = settings.CACHES.get(settings.SHARED_CACHE_ALIAS, {}).get("LOCATION", "")
    sqls = [q["sql"] for q in queries]

    def on_table(index: int) -> bool:
        return 0 <= index < len(sqls) and bool(table) and f'"{table}"' in sqls[index]

    kept = []
    for index, sql in enumerate(sqls):
        if on_table(index) or (sql == "BEGIN" and on_table(index + 1)) or (sql == "COMMIT" and on_table(index - 1)):
            continue
        kept.append(sql[:80])
    return kept
