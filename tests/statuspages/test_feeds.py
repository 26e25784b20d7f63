"""Atom and JSON Feed of a page's incidents and maintenance: structure, ids, order, sanitised text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from tests.factories import make_component, make_incident, make_maintenance, make_source, make_status_page
from tests.statuspages.support import html_tags, parse_xml

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def page() -> Any:
    page = make_status_page("acme", title="Acme & Co status")
    api = make_component(page, "API", [make_source("eu-west")])
    make_incident(page, "Elevated errors", [("investigating", "Looking."), ("monitoring", "A **fix** is out.")], [api])
    make_maintenance(page, "Database upgrade", starts_in=2, components=[api], body="Expect *short* pauses.")
    return page


def atom(client: Client, path: str = "/status/acme/feed.atom", **extra: Any) -> Any:
    response = client.get(path, **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return parse_xml(response.content)


def rfc3339(text: str | None) -> datetime:
    assert text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None
    return parsed


def test_it_writes_a_valid_atom_feed(client: Client, page: Any) -> None:
    root = atom(client)
    assert root.tag == f"{ATOM}feed"
    # RFC 4287 4.1.1: a feed has exactly one id, title and updated, and an author (here at feed level).
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.findtext(f"{ATOM}title") == "Acme & Co status"
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    self_links = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert [link.get("href") for link in self_links] == ["http://testserver/status/acme/feed.atom"]
    feed_updated = rfc3339(root.findtext(f"{ATOM}updated"))
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert (entry.findtext(f"{ATOM}id") or "").startswith("urn:uuid:")
        assert rfc3339(entry.findtext(f"{ATOM}updated")) <= feed_updated
        assert entry.find(f"{ATOM}link").get("href", "").startswith("http://testserver/status/acme/#")  # type: ignore[union-attr]
        assert entry.find(f"{ATOM}summary").get("type") == "html"  # type: ignore[union-attr]
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(set(ids)) == len(ids)


def test_it_puts_the_most_recently_updated_entry_first(client: Client, page: Any) -> None:
    entries = atom(client).findall(f"{ATOM}entry")
    updated = [rfc3339(e.findtext(f"{ATOM}updated")) for e in entries]
    assert updated == sorted(updated, reverse=True)
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert set(titles) == {"Elevated errors (Monitoring)", "Scheduled maintenance: Database upgrade"}


def test_it_keeps_entry_ids_across_host_names(client: Client, page: Any) -> None:
    first = [e.findtext(f"{ATOM}id") for e in atom(client).findall(f"{ATOM}entry")]
    other = atom(client, HTTP_HOST="localhost").findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in other] == first


def test_it_renders_update_text_through_the_page_markdown(client: Client, page: Any) -> None:
    entry = next(e for e in atom(client).findall(f"{ATOM}entry") if "Elevated" in (e.findtext(f"{ATOM}title") or ""))
    html = entry.findtext(f"{ATOM}summary") or ""
    assert "<strong>fix</strong>" in html
    assert "Affected: API" in html
    assert html.index("Monitoring") < html.index("Investigating")  # newest update first


def test_it_cannot_be_made_to_carry_script(client: Client) -> None:
    page = make_status_page("evil")
    body = "<script>alert(2)</script> [x](javascript:alert(3)) <img src=x onerror=alert(4)> [ok](https://example.com)"
    make_incident(page, "<script>alert(1)</script>", [("investigating", body)])
    entry = atom(client, "/status/evil/feed.atom").find(f"{ATOM}entry")
    assert entry is not None
    htmls = [entry.findtext(f"{ATOM}summary") or ""]
    htmls += [item["content_html"] for item in client.get("/status/evil/feed.json").json()["items"]]
    for html in htmls:
        tags = html_tags(html)
        assert ("a", (("href", "https://example.com"), ("rel", "nofollow noopener noreferrer"))) in tags
        for tag, attributes in tags:
            assert tag not in {"script", "img", "iframe", "object"}
            for name, value in attributes:
                assert not name.startswith("on")
                assert not (value or "").strip().lower().startswith("javascript:")
    assert entry.findtext(f"{ATOM}title") == "<script>alert(1)</script> (Investigating)"  # text, escaped by XML


def test_it_leaves_drafts_out(client: Client, page: Any) -> None:
    make_incident(page, "Draft about a secret", is_draft=True)
    assert b"Draft about a secret" not in client.get("/status/acme/feed.atom").content
    assert b"Draft about a secret" not in client.get("/status/acme/feed.json").content


def test_it_writes_a_json_feed_with_the_required_fields(client: Client, page: Any) -> None:
    response = client.get("/status/acme/feed.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/feed+json")
    feed = response.json()
    # JSON Feed 1.1: version and title and items are required; each item an id (a string) and content.
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Acme & Co status"
    assert feed["home_page_url"] == "http://testserver/status/acme/"
    assert feed["feed_url"] == "http://testserver/status/acme/feed.json"
    assert len(feed["items"]) == 2
    for item in feed["items"]:
        assert isinstance(item["id"], str)
        assert item["id"]
        assert item.get("content_html") or item.get("content_text")
        assert rfc3339(item["date_published"]) <= rfc3339(item["date_modified"]) or "maintenance" in item["tags"]
        assert item["url"].startswith("http://testserver/status/acme/#")
    atom_ids = {e.findtext(f"{ATOM}id") for e in atom(client).findall(f"{ATOM}entry")}
    assert {item["id"] for item in feed["items"]} == atom_ids  # one list of entries behind both formats
    maintenance = next(item for item in feed["items"] if "maintenance" in item["tags"])
    assert "Expect short pauses." in maintenance["content_text"]
    assert "<em>short</em>" in maintenance["content_html"]


def test_it_answers_an_empty_page_with_an_empty_but_valid_feed(client: Client) -> None:
    make_status_page("empty")
    root = atom(client, "/status/empty/feed.atom")
    assert root.findall(f"{ATOM}entry") == []
    assert rfc3339(root.findtext(f"{ATOM}updated"))
    assert client.get("/status/empty/feed.json").json()["items"] == []


def test_it_serves_the_feeds_and_json_on_the_page_custom_host(client: Client, page: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "status.example.com"]
    page.custom_host = "status.example.com"
    page.save()
    feed = client.get("/feed.json", HTTP_HOST="status.example.com").json()
    assert feed["home_page_url"] == "http://status.example.com/"
    assert feed["items"][0]["url"].startswith("http://status.example.com/#")
    summary = client.get("/api/v2/summary.json", HTTP_HOST="status.example.com").json()
    assert summary["page"]["url"] == "http://status.example.com/"
    component = page.components.get()
    assert client.get(f"/badges/{component.pk}/status.svg", HTTP_HOST="status.example.com").status_code == 200
