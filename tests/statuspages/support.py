"""Helpers of the status page tests (no fixtures: those are in conftest.py and tests/factories.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser


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
