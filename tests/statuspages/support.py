"""Helpers of the status page tests (no fixtures: those are in conftest.py and tests/factories.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def parse_xml(text: str | bytes) -> ET.Element:
    # The documents parsed here are the application's own output (badges, feeds), checked for structure;
    # a parse error is exactly the failure these tests look for.
    return ET.fromstring(text)  # noqa: S314
