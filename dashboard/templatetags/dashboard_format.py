"""Template filters for numbers, units and ages as the dashboards show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from metrics.units import format_number as _format_number
from metrics.units import format_value

register = template.Library()


@register.filter
def ago(value: datetime | None) -> str:
    """ "12 s ago", "4 min ago", "3 h ago", "2 d ago" (the browser keeps it ticking)."""
    if value is None:
        return "never"
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@register.filter
def iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


@register.filter
def number(value: Any, decimals: int = 0) -> str:
    return _format_number(value, int(decimals))


@register.filter
def metric_value(value: Any, name: str) -> str:
    number_text, unit = format_value(name, value)
    return f"{number_text} {unit}".strip()


@register.filter
def jsonish(value: Any) -> str:
    """A diff value, short: strings quoted, containers abbreviated (bounded work whatever their size or depth)."""
    import json

    from dashboard.raw_json import short

    if isinstance(value, str):
        text = json.dumps(value[:121])
        return text if len(text) <= 120 else text[:117] + "…"
    return short(value, 120)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        return None


@register.filter
def display_url(value: str) -> str:
    """A source URL safe to show: no user info, no query string (either may carry credentials)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    shown = f"{parts.scheme}://{host}{parts.path}"
    return shown + ("?…" if parts.query else "")


@register.filter
def diff_view(diff: Any) -> Any:
    """A change's fields, important ones first, split into those listed and those behind "and N more"."""
    from dashboard.changes import diff_view as view

    return view(list(diff or []))


@register.filter
def diff_rows(changes: Any) -> Any:
    """A change's field rows as HTML (dashboard/diff_html.py)."""
    from dashboard.diff_html import field_rows

    return field_rows(changes or [])
