"""Send one delivery through its channel: email, signed JSON webhook, or Slack-compatible webhook.

Nothing here touches the database. A failure raises ``SendError`` with a message safe to store
and log: never the URL (an incoming-webhook URL is a credential) and never the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail

from alerts.models import AlertEvent, Delivery, NotificationChannel
from alerts.urlguard import UnsafeURL, session, target_for

SIGNATURE_HEADER = "X-Insights-Signature"
DELIVERY_HEADER = "X-Insights-Delivery"
EVENT_HEADER = "X-Insights-Event"
USER_AGENT = "DevOps-Insights-Alerts/1"


class SendError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def sign(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header or "")


TEST_DELIVERY = "test"  # the delivery header's value, and the body's ``test`` flag, on a test notification


def send(delivery: Delivery, *, test: bool = False) -> int | None:
    """Send ``delivery``; return the HTTP status for webhooks. Raises SendError on failure.

    ``test``: a sample from "send a test notification", marked so a receiver can tell it from an alert.
    """
    channel = delivery.channel
    if channel.kind == NotificationChannel.Kind.EMAIL:
        _send_email(delivery, test=test)
        return None
    if channel.kind == NotificationChannel.Kind.WEBHOOK:
        body = webhook_body(delivery, test=test)
        headers = {
            SIGNATURE_HEADER: sign(channel.secret, body),
            DELIVERY_HEADER: TEST_DELIVERY if test else str(delivery.pk),
            EVENT_HEADER: delivery.reason,
        }
        return _post(channel.url, body, headers)
    if channel.kind == NotificationChannel.Kind.SLACK:
        return _post(channel.url, slack_body(delivery, test=test), {})
    raise SendError(f"unknown channel kind {channel.kind!r}")


def send_test(channel: NotificationChannel) -> int | None:
    """Send a sample notification through ``channel`` now, without storing an event or a delivery."""
    from django.utils import timezone

    from pollers.models import Source

    source = Source(slug="test-source", name="Test source")
    event = AlertEvent(
        rule_name="Test notification",
        source=source,
        kind=AlertEvent.Kind.FIRED,
        severity="warning",
        condition="cpu_load > 85",
        value={"metric": "cpu_load", "value": 91.5, "operator": ">", "threshold": 85, "test": True},
        message=f"Test notification from DevOps Insights to channel {channel.name}",
        occurred_at=timezone.now(),
    )
    return send(Delivery(event=event, channel=channel, reason=Delivery.Reason.FIRED), test=True)


def headline(delivery: Delivery, *, test: bool = False) -> str:
    event = delivery.event
    word = {"fired": "FIRING", "reminder": "STILL FIRING", "resolved": "RESOLVED"}.get(delivery.reason, delivery.reason)
    return f"{'[TEST] ' if test else ''}[{word}] {event.severity}: {event.rule_name} on {event.source.slug}"


def link(event: AlertEvent) -> str:
    """The source's page: absolute under ``SITE_URL``; without it, the path alone (documented)."""
    from django.urls import reverse

    path = reverse("source-detail", args=[event.source.slug])
    base = settings.SITE_URL or settings.ALERTS_PUBLIC_URL
    return f"{base.rstrip('/')}{path}" if base else path


def webhook_body(delivery: Delivery, *, test: bool = False) -> bytes:
    document: dict[str, Any] = {
        "version": 1,
        "delivery_id": delivery.pk,
        "reason": delivery.reason,
        "headline": headline(delivery, test=test),
        "event": delivery.event.as_dict(),
        "link": link(delivery.event),
        "test": test,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def slack_body(delivery: Delivery, *, test: bool = False) -> bytes:
    event = delivery.event
    icon = (
        ":large_green_circle:"
        if delivery.reason == "resolved"
        else (":red_circle:" if event.severity == "critical" else ":warning:")
    )
    lines = [f"{icon} *{headline(delivery, test=test)}*", f"`{event.condition}`", event.message]
    target = link(event)
    lines.append(f"<{target}|Open {event.source.slug}>" if target.startswith("http") else f"Open {target}")
    return json.dumps({"text": "\n".join(lines)}, separators=(",", ":")).encode()


def _send_email(delivery: Delivery, *, test: bool = False) -> None:
    event = delivery.event
    lines = [
        event.message,
        "",
        f"Rule:      {event.rule_name}",
        f"Source:    {event.source.slug}",
        f"Severity:  {event.severity}",
        f"Condition: {event.condition}",
        f"Values:    {json.dumps(event.value, sort_keys=True, default=str)}",
        f"When:      {event.occurred_at.isoformat()}",
    ]
    lines += ["", link(event)]
    try:
        send_mail(
            subject=headline(delivery, test=test),
            message="\n".join(lines),
            from_email=settings.ALERTS_EMAIL_FROM,
            recipient_list=delivery.channel.recipients(),
            fail_silently=False,
        )
    except Exception as exc:  # smtplib and socket errors; their text names hosts, not secrets
        raise SendError(f"email failed: {type(exc).__name__}") from None


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        target = target_for(url)
    except UnsafeURL as exc:
        raise SendError(f"refused: {exc}") from None
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
        "Host": target.host_header,
    }
    try:
        response = session().post(
            target.pinned_url(target.addresses[0]),
            data=body,
            headers=all_headers,
            timeout=(settings.ALERTS_WEBHOOK_CONNECT_TIMEOUT, settings.ALERTS_WEBHOOK_TIMEOUT),
            allow_redirects=False,  # a redirect could point anywhere, past the guard
        )
    except requests.Timeout:
        raise SendError("timed out") from None
    except requests.RequestException as exc:
        # The exception text contains the URL: keep only its type.
        raise SendError(f"request failed: {type(exc).__name__}") from None
    response.close()
    if 200 <= response.status_code < 300:
        return response.status_code
    raise SendError(f"HTTP {response.status_code}", response.status_code)
