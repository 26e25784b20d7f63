"""Incident and maintenance text for feeds and the v2 JSON, rendered by the page's own Markdown rule
(statuspages/markdown.py), so a feed reader sees what the page shows."""

from __future__ import annotations

from statuspages import markdown

# Plain text in feeds and v2 bodies is the whole update, not a teaser.
PLAIN_LIMIT = markdown.MAX_SOURCE_CHARS


def render_html(text: str) -> str:
    return str(markdown.render(text))


def render_plain(text: str) -> str:
    return markdown.plain(text, limit=PLAIN_LIMIT)
