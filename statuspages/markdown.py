"""Markdown written by a team (page descriptions, incident updates, maintenance notes) as safe HTML.

Two locks, so one failing is not enough: markdown-it-py renders CommonMark with raw HTML disabled (a
``<script>`` typed in is shown as text), and nh3 then keeps only the tags, attributes and URL schemes
below. No images: a status page loads nothing from elsewhere (the CSP says so too), and a picture in an
update would be a tracking pixel. Links open nothing of ours: ``rel="nofollow noopener noreferrer"``.
"""

from __future__ import annotations

import html as html_lib
from functools import cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

MAX_SOURCE_CHARS = 20_000  # a longer text is cut before rendering: bounded work per request

TAGS = frozenset(
    {"p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
    | {"h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
)
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@cache
def _parser() -> MarkdownIt:
    # "commonmark" with html off; tables and strikethrough on; linkify stays off (no extra dependency).
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def render(text: str) -> SafeString:
    """``text`` (Markdown) as sanitised HTML, safe to put in a template as is."""
    html = _parser().render((text or "")[:MAX_SOURCE_CHARS])
    # Headings h1/h2 belong to the page itself: demote them rather than drop their text.
    html = html.replace("<h1>", "<h3>").replace("</h1>", "</h3>").replace("<h2>", "<h3>").replace("</h2>", "</h3>")
    clean = nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 with the allow-list above


def plain(text: str, limit: int = 300) -> str:
    """The text of ``text``'s rendering without any tag, unescaped (the caller escapes it for its format),
    cut to ``limit`` characters (feeds, titles)."""
    stripped = " ".join(html_lib.unescape(nh3.clean(str(render(text)), tags=set())).split())
    return stripped if len(stripped) <= limit else stripped[: limit - 1].rstrip() + "…"
