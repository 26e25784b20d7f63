"""Send one delivery through its channel: email, signed JSON webhook, Slack-compatible webhook or Apprise.

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


TEST_DELIVERY = "test"  # the delivery header's value, and the body's ``test`` flag, on a test notification


class SendError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def event_of(delivery: Delivery) -> AlertEvent:
    """The event a delivery tells about (a test delivery is sent with one built in memory)."""
    event = delivery.event
    if event is None:
        raise SendError("this delivery has no alert event")
    return event


def sign(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header or "")


def send(delivery: Delivery) -> int | None:
    """Send ``delivery``; return the HTTP status for webhooks. Raises SendError on failure."""
    channel = delivery.channel
    if channel.kind == NotificationChannel.Kind.EMAIL:
        _send_email(delivery)
        return None
    if channel.kind == NotificationChannel.Kind.WEBHOOK:
        body = webhook_body(delivery)
        headers = {
            SIGNATURE_HEADER: sign(channel.secret, body),
            DELIVERY_HEADER: TEST_DELIVERY if delivery.is_test else str(delivery.pk),
            EVENT_HEADER: delivery.reason,
        }
        return _post(channel.url, body, headers)
    if channel.kind == NotificationChannel.Kind.SLACK:
        return _post(channel.url, slack_body(delivery), {})
    if channel.kind == NotificationChannel.Kind.APPRISE:
        _send_apprise(delivery)
        return None
    raise SendError(f"unknown channel kind {channel.kind!r}")


def send_test(channel: NotificationChannel) -> Delivery:
    """Send a sample notification through ``channel`` now, recorded as a test delivery (no alert event).

    Returns the stored delivery, succeeded or failed with its error, like any other.
    """
    from django.utils import timezone

    from pollers.models import Source

    now = timezone.now()
    stored = Delivery.objects.create(
        channel=channel, event=None, is_test=True, reason=Delivery.Reason.FIRED, status=Delivery.Status.SENDING
    )
    code: int | None = None
    error = ""

    source = Source(slug="test-source", name="Test source")
    event = AlertEvent(
        rule_name="Test notification",
        source=source,
        kind=AlertEvent.Kind.FIRED,
        severity="warning",
        condition="cpu_load > 85",
        value={"metric": "cpu_load", "value": 91.5, "operator": ">", "threshold": 85, "test": True},
        message=f"Test notification from DevOps Insights to channel {channel.name}",
        occurred_at=now,
    )
    try:
        code = send(Delivery(pk=stored.pk, event=event, channel=channel, reason=Delivery.Reason.FIRED, is_test=True))
    except SendError as exc:
        error, code = str(exc), exc.status_code
    except Exception as exc:
        error = f"unexpected error: {type(exc).__name__}"  # its text could carry a URL or a secret
    Delivery.objects.filter(pk=stored.pk).update(
        status=Delivery.Status.FAILED if error else Delivery.Status.SUCCEEDED,
        attempts=1,
        response_code=code,
        last_error=error[:500],
        finished_at=timezone.now(),
    )
    stored.refresh_from_db()
    return stored


def headline(delivery: Delivery) -> str:
    """A test delivery says so first, so nobody mistakes "send a test notification" for an alert."""
    event = event_of(delivery)
    word = {"fired": "FIRING", "reminder": "STILL FIRING", "resolved": "RESOLVED"}.get(delivery.reason, delivery.reason)
    test = "[TEST] " if delivery.is_test else ""
    return f"{test}[{word}] {event.severity}: {event.rule_name} on {event.source.slug}"


def link(event: AlertEvent) -> str:
    """The source's page: absolute under ``SITE_URL``; without it, the path alone (documented)."""
    from django.urls import reverse

    path = reverse("source-detail", args=[event.source.slug])
    base = settings.SITE_URL or settings.ALERTS_PUBLIC_URL
    return f"{base.rstrip('/')}{path}" if base else path


def webhook_body(delivery: Delivery) -> bytes:
    document: dict[str, Any] = {
        "version": 1,
        "delivery_id": delivery.pk,
        "reason": delivery.reason,
        "headline": headline(delivery),
        "event": event_of(delivery).as_dict(),
        "link": link(event_of(delivery)),
        "test": delivery.is_test,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def slack_body(delivery: Delivery) -> bytes:
    event = event_of(delivery)
    icon = (
        ":large_green_circle:"
        if delivery.reason == "resolved"
        else (":red_circle:" if event.severity == "critical" else ":warning:")
    )
    lines = [f"{icon} *{headline(delivery)}*", f"`{event.condition}`", event.message]
    target = link(event)
    lines.append(f"<{target}|Open {event.source.slug}>" if target.startswith("http") else f"Open {target}")
    return json.dumps({"text": "\n".join(lines)}, separators=(",", ":")).encode()


def _send_email(delivery: Delivery) -> None:
    event = event_of(delivery)
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
            subject=headline(delivery),
            message="\n".join(lines),
            from_email=settings.ALERTS_EMAIL_FROM,
            recipient_list=delivery.channel.recipients(),
            fail_silently=False,
        )
    except Exception as exc:  # smtplib and socket errors; their text names hosts, not secrets
        raise SendError(f"email failed: {type(exc).__name__}") from None


# Apprise's notification types by what happened: resolved is good news, critical a failure.
def apprise_type(delivery: Delivery) -> str:
    import apprise

    if delivery.reason == Delivery.Reason.RESOLVED:
        return str(apprise.NotifyType.SUCCESS.value)
    if event_of(delivery).severity == "critical":
        return str(apprise.NotifyType.FAILURE.value)
    return str(apprise.NotifyType.WARNING.value)


def apprise_text(delivery: Delivery) -> str:
    """The message body: the event's message, condition, values and time, and the link when set."""
    event = event_of(delivery)
    lines = [
        event.message,
        f"Condition: {event.condition}",
        f"Values: {json.dumps(event.value, sort_keys=True, default=str)}",
        f"Source: {event.source.slug} · Rule: {event.rule_name} · {event.occurred_at.isoformat()}",
    ]
    lines.append(link(event))
    return "\n".join(lines)


def _send_apprise(delivery: Delivery) -> None:
    from alerts import apprise_channel
    from devops_insights import crypto

    try:
        url = delivery.channel.apprise_url()
    except crypto.SecretUnavailable as exc:
        raise SendError(str(exc)) from None
    try:
        apprise_channel.send(url, headline(delivery), apprise_text(delivery), apprise_type(delivery))
    except apprise_channel.AppriseURLError as exc:
        raise SendError(f"refused: {exc}") from None
    except apprise_channel.AppriseSendError as exc:
        raise SendError(str(exc)) from None


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
