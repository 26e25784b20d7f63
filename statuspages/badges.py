"""SVG badges: a grey label and a coloured value, as wide as their text in the font they declare.

Width comes from the advance widths of DejaVu Sans (``badge_font``, generated from the font file by
``tools/badge_font_widths.py``); the SVG also sets ``textLength`` so a viewer that falls back to
another font still fits the text into the measured box instead of overflowing it. Characters the
font lacks are measured by their kind (wide East Asian: one em; combining and format marks: zero;
anything else: an average glyph), so any text gets a box that holds it.

Only text and a colour come in; what a badge may say (never a source URL, an error or an unpublished
metric) is decided by the caller.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import unicodedata
from dataclasses import dataclass

from statuspages.badge_font import FONT_FAMILY, RUNS, UNITS_PER_EM

FONT_SIZE_PX = 11
HEIGHT_PX = 20
PADDING_PX = 5  # each side of each half's text
MAX_TEXT_CHARS = 64  # bounds the work and the badge; longer text ends in an ellipsis

_STARTS = [run[0] for run in RUNS]
_AVERAGE_UNITS = 1303  # DejaVu Sans digits: a fair guess for a glyph the font lacks
_ELLIPSIS = "\u2026"

# Shields-like palette, by meaning.
GREEN = "#4c1"
YELLOW_GREEN = "#97ca00"
YELLOW = "#dfb317"
ORANGE = "#fe7d37"
RED = "#e05d44"
BLUE = "#007ec6"
GREY = "#9f9f9f"
LABEL_GREY = "#555"


def _units(char: str) -> int:
    code = ord(char)
    at = bisect.bisect_right(_STARTS, code) - 1
    if at >= 0 and RUNS[at][0] <= code <= RUNS[at][1]:
        return RUNS[at][2]
    if unicodedata.combining(char) or unicodedata.category(char) in {"Mn", "Me", "Cf"}:
        return 0
    if unicodedata.east_asian_width(char) in {"W", "F"}:
        return UNITS_PER_EM
    return _AVERAGE_UNITS


def clean_text(text: str) -> str:
    """One line of XML-safe characters, NFC, at most MAX_TEXT_CHARS."""
    text = unicodedata.normalize("NFC", str(text))
    kept = []
    for char in text:
        code = ord(char)
        if char in "\t\n\r":
            kept.append(" ")
        elif code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            continue  # not allowed in XML 1.0, or invisible controls
        else:
            kept.append(char)
    line = " ".join("".join(kept).split())
    if len(line) > MAX_TEXT_CHARS:
        line = line[: MAX_TEXT_CHARS - 1].rstrip() + _ELLIPSIS
    return line


def text_width(text: str, size_px: float = FONT_SIZE_PX) -> float:
    """Rendered width in pixels of ``text`` in DejaVu Sans at ``size_px`` (no kerning)."""
    return sum(_units(char) for char in text) * size_px / UNITS_PER_EM


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


@dataclass(frozen=True)
class Badge:
    label: str
    value: str
    colour: str

    def svg(self) -> str:
        label, value = clean_text(self.label), clean_text(self.value)
        label_text, value_text = text_width(label), text_width(value)
        # Whole pixels for the boxes (crisp edges); the text box keeps its measured width.
        label_box = math.ceil(label_text) + 2 * PADDING_PX
        value_box = math.ceil(value_text) + 2 * PADDING_PX
        total = label_box + value_box
        title = _escape(f"{label}: {value}")
        label_x = label_box / 2
        value_x = label_box + value_box / 2
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{HEIGHT_PX}" '
            f'viewBox="0 0 {total} {HEIGHT_PX}" role="img" aria-label="{title}">',
            f"<title>{title}</title>",
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
            '<stop offset="1" stop-opacity=".1"/></linearGradient>',
            f'<clipPath id="r"><rect width="{total}" height="{HEIGHT_PX}" rx="3" fill="#fff"/></clipPath>',
            '<g clip-path="url(#r)">',
            f'<rect width="{label_box}" height="{HEIGHT_PX}" fill="{LABEL_GREY}"/>',
            f'<rect x="{label_box}" width="{value_box}" height="{HEIGHT_PX}" fill="{_escape(self.colour)}"/>',
            f'<rect width="{total}" height="{HEIGHT_PX}" fill="url(#s)"/>',
            "</g>",
            f'<g fill="#fff" text-anchor="middle" font-family="{FONT_FAMILY},Verdana,Geneva,sans-serif" '
            f'font-size="{FONT_SIZE_PX}">',
        ]
        for x, text, width in ((label_x, label, label_text), (value_x, value, value_text)):
            if not text:
                continue
            length = f' textLength="{width:.1f}" lengthAdjust="spacingAndGlyphs"' if width else ""
            parts.append(
                f'<text x="{x:g}" y="15" fill="#010101" fill-opacity=".3" aria-hidden="true"{length}>'
                f"{_escape(text)}</text>"
            )
            parts.append(f'<text x="{x:g}" y="14"{length}>{_escape(text)}</text>')
        parts += ["</g>", "</svg>"]
        return "".join(parts)

    def etag(self) -> str:
        return '"' + hashlib.sha256(self.svg().encode()).hexdigest()[:32] + '"'


def uptime_colour(percent: float | None) -> str:
    if percent is None:
        return GREY
    if percent >= 99.9:
        return GREEN
    if percent >= 99.0:
        return YELLOW_GREEN
    if percent >= 95.0:
        return YELLOW
    if percent >= 90.0:
        return ORANGE
    return RED


def latency_colour(milliseconds: float | None) -> str:
    if milliseconds is None:
        return GREY
    if milliseconds <= 200:
        return GREEN
    if milliseconds <= 500:
        return YELLOW_GREEN
    if milliseconds <= 1000:
        return YELLOW
    if milliseconds <= 2000:
        return ORANGE
    return RED


def format_uptime(percent: float | None) -> str:
    if percent is None:
        return "no data"
    # Never round up to 100 %: 99.996 % is not "100%".
    floored = math.floor(percent * 100) / 100
    return "100%" if floored >= 100 else f"{floored:.2f}%"


def format_latency(milliseconds: float | None) -> str:
    if milliseconds is None:
        return "no data"
    if milliseconds >= 1000:
        return f"{milliseconds / 1000:.2f} s"
    return f"{milliseconds:.0f} ms"
