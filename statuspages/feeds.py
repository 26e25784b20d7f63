"""A status page's incidents and maintenance windows as feed entries, written as Atom 1.0 or JSON Feed 1.1.

One list of entries (``entries``) feeds both formats, so they never disagree. An entry holds only what
the page itself shows: titles, statuses, the incidents' update texts and the maintenance notes, the
names of *published* components, and times. Drafts are left out. Text is rendered as on the page
(Markdown to sanitised HTML) and also given as plain text.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape

from statuspages.feed_text import render_html, render_plain
from statuspages.models import Incident, IncidentStatus, MaintenanceWindow, StatusPage

MAX_ENTRIES = 50
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    url: str
    published: datetime
    updated: datetime
    html: str
    text: str
    tags: tuple[str, ...] = field(default_factory=tuple)


def entry_id(page: StatusPage, kind: str, pk: int) -> str:
    # Stable across host names and slug changes (the page's pk and creation time, not its address).
    return "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"status-page:{page.pk}:{int(page.created_at.timestamp())}:{kind}:{pk}")
    )


def escape_text(text: str) -> str:
    return str(escape(text))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def incident_entry(page: StatusPage, incident: Incident, page_url: str) -> Entry:
    updates = list(incident.updates.all())  # prefetched, newest first (the model's ordering)
    components = [c.name for c in incident.components.all() if c.published]
    html_parts, text_parts = [], []
    if components:
        html_parts.append(f"<p>Affected: {escape_text(', '.join(components))}</p>")
        text_parts.append(f"Affected: {', '.join(components)}")
    for update in updates:
        label = IncidentStatus(update.status).label
        html_parts.append(f"<p><strong>{label}</strong> ({_stamp(update.created_at)})</p>{render_html(update.body)}")
        text_parts.append(f"{label} ({_stamp(update.created_at)}): {render_plain(update.body)}")
    status = IncidentStatus(incident.status).label
    return Entry(
        id=entry_id(page, "incident", incident.pk),
        title=f"{incident.title} ({status})",
        url=f"{page_url}#incident-{incident.pk}",
        published=incident.started_at,
        updated=incident.last_changed_at(updates),
        html="".join(html_parts) or f"<p>{status}</p>",
        text="\n\n".join(text_parts) or status,
        tags=("incident", incident.status, incident.impact),
    )


def maintenance_entry(page: StatusPage, window: MaintenanceWindow, page_url: str, now: datetime) -> Entry:
    components = [c.name for c in window.components.all() if c.published]
    when = f"From {_stamp(window.starts_at)} to {_stamp(window.ends_at)}."
    html = f"<p>{when}</p>"
    text = when
    if components:
        html += f"<p>Affected: {escape_text(', '.join(components))}</p>"
        text += f"\n\nAffected: {', '.join(components)}"
    if window.body:
        html += render_html(window.body)
        text += "\n\n" + render_plain(window.body)
    return Entry(
        id=entry_id(page, "maintenance", window.pk),
        title=f"Scheduled maintenance: {window.title}",
        url=f"{page_url}#maintenance-{window.pk}",
        published=window.created_at,
        updated=max(window.updated_at, window.created_at),
        html=html,
        text=text,
        tags=("maintenance", window.phase(now)),
    )


def entries(page: StatusPage, page_url: str, now: datetime) -> list[Entry]:
    """The page's newest MAX_ENTRIES incidents and maintenance windows, most recently updated first."""
    incidents = (
        page.incidents.visible().prefetch_related("updates", "components").order_by("-started_at", "-pk")[:MAX_ENTRIES]
    )
    windows = page.maintenance_windows.prefetch_related("components").order_by("-starts_at", "-pk")[:MAX_ENTRIES]
    found = [incident_entry(page, i, page_url) for i in incidents]
    found += [maintenance_entry(page, w, page_url, now) for w in windows]
    found.sort(key=lambda e: (e.updated, e.id), reverse=True)
    return found[:MAX_ENTRIES]


class PageAtomFeed(Atom1Feed):
    """Atom1Feed whose ``updated`` without entries is the page's last change, not the time of the request,
    so an unchanged feed keeps its ETag."""

    quiet_since: datetime | None = None

    def latest_post_date(self) -> datetime:
        if not self.items and self.quiet_since is not None:
            return self.quiet_since
        return super().latest_post_date()


def atom(page: StatusPage, page_url: str, feed_url: str, found: list[Entry]) -> bytes:
    feed = PageAtomFeed(
        title=page.title,
        link=page_url,
        description=f"Incidents and maintenance of {page.title}",
        feed_url=feed_url,
        feed_guid=entry_id(page, "feed", 0),
        author_name=page.title,
        language="en",
    )
    feed.quiet_since = page.updated_at
    for entry in found:
        feed.add_item(
            title=entry.title,
            link=entry.url,
            description=entry.html,
            unique_id=entry.id,
            pubdate=entry.published,
            updateddate=entry.updated,
            categories=entry.tags,
        )
    return feed.writeString("utf-8").encode("utf-8")


def json_feed(page: StatusPage, page_url: str, feed_url: str, found: list[Entry]) -> bytes:
    document = {
        "version": JSON_FEED_VERSION,
        "title": page.title,
        "home_page_url": page_url,
        "feed_url": feed_url,
        "description": f"Incidents and maintenance of {page.title}",
        "language": "en",
        "authors": [{"name": page.title}],
        "items": [
            {
                "id": entry.id,
                "url": entry.url,
                "title": entry.title,
                "content_html": entry.html,
                "content_text": entry.text,
                "date_published": entry.published.isoformat(),
                "date_modified": entry.updated.isoformat(),
                "tags": list(entry.tags),
            }
            for entry in found
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
