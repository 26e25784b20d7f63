"""A change's field rows (``<li>`` per field: its path, old and new values) as HTML.

Built here rather than by a template include per field: a history page lists 25 changes of up to dozens
of fields each, and an include per field cost more than everything else on the page (docs/operations.md,
"Pages under load"). Every value goes through ``format_html``, so it is escaped as the template's
autoescape did.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from dashboard.templatetags.dashboard_format import jsonish
from metrics.stores.base import FieldChange

# Each row opens with the field's kind (its CSS class), its path twice (data attribute and text), then values.
_OPEN = '<li class="diff-{}" data-path="{}"><code class="diff-path">{}</code> '
_ADDED = _OPEN + '<span class="diff-new">{}</span> <span class="muted">added</span></li>'
_REMOVED = _OPEN + '<span class="diff-old">{}</span> <span class="muted">removed</span></li>'
_CHANGED = (
    _OPEN + '<span class="diff-old">{}</span> <span aria-label="changed to">→</span> '
    '<span class="diff-new">{}</span></li>'
)


def field_row(change: FieldChange) -> SafeString:
    if change.kind == "added":
        return format_html(_ADDED, "added", change.path, change.path, jsonish(change.new))
    if change.kind == "removed":
        return format_html(_REMOVED, "removed", change.path, change.path, jsonish(change.old))
    return format_html(_CHANGED, change.kind, change.path, change.path, jsonish(change.old), jsonish(change.new))


def field_rows(changes: Iterable[FieldChange]) -> SafeString:
    """The rows of ``changes``, one ``<li>`` each, in the order given."""
    return mark_safe("\n".join(field_row(change) for change in changes))  # noqa: S308 - each row is format_html's
