"""Incident and maintenance text for feeds and the v2 JSON: sanitised HTML and plain text.

Until the page's Markdown renderer is merged this escapes the text (safe, unformatted); the feeds then
use the page's renderer so a feed reader sees what the page shows.
"""

from __future__ import annotations

from django.utils.html import escape, linebreaks


def render_html(markdown: str) -> str:
    return str(linebreaks(escape(markdown)))


def render_plain(markdown: str) -> str:
    return markdown.strip()
