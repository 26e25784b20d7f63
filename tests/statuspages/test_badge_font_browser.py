"""The badge font table against a real renderer: Chromium measures our texts in DejaVu Sans 11 px as we do."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest

from statuspages.badges import FONT_SIZE_PX, text_width
from tests.browser_stack import chromium

pytestmark = [pytest.mark.browser]

TEXTS = (
    "operational",
    "uptime 30d",
    "99.95%",
    "partial outage",
    "WWWWMMMM iiiill",
    "état opérationnel",
    "Привет, мир",
    "Ωμέγα λ",
    "p50 ≤ 200 ms → ok",
    "<&\"'>",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_it_measures_text_as_chromium_lays_it_out(browser: Any) -> None:
    items = "".join(f'<text x="0" y="{20 * (i + 1)}">{html.escape(text)}</text>' for i, text in enumerate(TEXTS))
    # No kerning: the table holds advance widths, and badges are short enough that kerning is noise.
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="400" font-family="DejaVu Sans" '
        f'font-size="{FONT_SIZE_PX}" style="font-kerning: none; text-rendering: geometricPrecision">{items}</svg>'
    )
    page = browser.new_page()
    try:
        page.set_content(f"<!doctype html><body style='margin:0'>{svg}</body>")
        measured = page.evaluate("Array.from(document.querySelectorAll('text')).map(t => t.getComputedTextLength())")
    finally:
        page.close()
    for text, width in zip(TEXTS, measured, strict=True):
        assert width == pytest.approx(text_width(text), abs=0.5), text
