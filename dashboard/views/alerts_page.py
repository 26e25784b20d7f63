"""The Alerts page: what fires and waits, recent events, silences; silence and acknowledge; rules and channels.

Reading needs a login; every change needs ``dashboard.access.can_operate`` and is a POST with the CSRF token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import evaluate
from alerts.defaults import first_becomes_default, notifies_no_one
from alerts.forms import CHANNEL_FIELDS, KIND_FIELDS, SCOPE_FIELDS, AlertRuleForm, NotificationChannelForm
from alerts.models import AlertEvent, AlertRule, NotificationChannel, RuleState, Silence
from dashboard.access import operator_required
from pollers.models import Source

RECENT_EVENTS = 30
SILENCE_PRESETS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4)}
MAX_SILENCE = timedelta(days=30)


@login_required
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    states = list(RuleState.objects.active().select_related("rule", "source").order_by("-firing_since", "source__slug"))
    silenced = Silence.objects.covered_slugs(now)
    context = {
        "nav": "alerts",
        "firing": [s for s in states if s.status == evaluate.FIRING],
        "pending": [s for s in states if s.status == evaluate.PENDING],
        "silenced": silenced,
        "events": AlertEvent.objects.select_related("source").order_by("-occurred_at", "-pk")[:RECENT_EVENTS],
        "silences": Silence.objects.active(now).select_related("source", "created_by"),
        "rules": AlertRule.objects.select_related("source").prefetch_related("channels"),
        "channels": NotificationChannel.objects.all(),
        "now": now,
    }
    return render(request, "dashboard/alerts.html", context)


def _person(request: HttpRequest) -> User | None:
    # operator_required has made sure of a signed-in user; an anonymous one is never recorded.
    return request.user if isinstance(request.user, User) else None


def _silence_end(request: HttpRequest, now: datetime) -> datetime | str:
    """The end the operator chose, or a sentence saying what is wrong with it."""
    preset = request.POST.get("duration", "")
    if preset in SILENCE_PRESETS:
        return now + SILENCE_PRESETS[preset]
    text = request.POST.get("until", "").strip()
    if not text:
        return "Choose 1 h, 4 h, or an end time."
    parsed = parse_datetime(text)
    if parsed is None:
        return f"{text[:40]!r} is not a date and time: use YYYY-MM-DD HH:MM (UTC)."
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    if parsed <= now:
        return "The end time is in the past."
    if parsed - now > MAX_SILENCE:
        return "A silence lasts at most 30 days."
    return parsed


@operator_required
@require_POST
def silence_source(request: HttpRequest, slug: str) -> HttpResponse:
    source = get_object_or_404(Source, slug=slug)
    now = timezone.now()
    end = _silence_end(request, now)
    if isinstance(end, str):
        messages.error(request, f"Not silenced: {end}")
        return HttpResponseRedirect(reverse("alerts"))
    reason = request.POST.get("reason", "").strip()[:300] or f"silenced from the Alerts page by {request.user}"
    Silence.objects.create(source=source, starts_at=now, ends_at=end, reason=reason, created_by=_person(request))
    messages.success(request, f"Silenced {source.name} until {end:%Y-%m-%d %H:%M} UTC.")
    return HttpResponseRedirect(reverse("alerts"))


@operator_required
@require_POST
def end_silence(request: HttpRequest, pk: int) -> HttpResponse:
    silence = get_object_or_404(Silence, pk=pk)
    now = timezone.now()
    Silence.objects.filter(pk=silence.pk, ends_at__gt=now).update(ends_at=max(now, silence.starts_at))
    messages.success(request, "Silence ended.")
    return HttpResponseRedirect(reverse("alerts"))


@operator_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    state = get_object_or_404(RuleState.objects.select_related("rule", "source"), pk=pk)
    RuleState.objects.filter(pk=state.pk).update(acknowledged_at=timezone.now(), acknowledged_by=_person(request))
    messages.success(request, f"Acknowledged “{state.rule.name}” on {state.source.slug}.")
    return HttpResponseRedirect(reverse("alerts"))


def _form_context(form: AlertRuleForm | NotificationChannelForm, what: str) -> dict[str, object]:
    shown = {"rule": {**KIND_FIELDS, **SCOPE_FIELDS}, "channel": CHANNEL_FIELDS}[what]
    owners: dict[str, list[str]] = {}
    for kind, names in shown.items():
        for name in names:
            owners.setdefault(name, []).append(str(kind))
    return {"form": form, "what": what, "owners": {k: " ".join(v) for k, v in owners.items()}, "nav": "alerts"}


@operator_required
@require_http_methods(["GET", "POST"])
def rule_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = get_object_or_404(AlertRule, pk=pk) if pk else None
    form = AlertRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        warning = notifies_no_one(saved)
        messages.success(request, f"Saved the rule “{saved.name}”.")
        if warning:
            messages.warning(request, f"“{saved.name}”: {warning}. Add a channel or choose one for the rule.")
        return HttpResponseRedirect(reverse("alerts") + "#rules")
    return render(request, "dashboard/alert_form.html", _form_context(form, "rule"), status=400 if form.errors else 200)


@operator_required
@require_http_methods(["GET", "POST"])
def channel_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    channel = get_object_or_404(NotificationChannel, pk=pk) if pk else None
    form = NotificationChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        unsaved = form.save(commit=False)
        first_becomes_default(unsaved)
        unsaved.save()
        form.save_m2m()
        note = " It is the default channel: rules that choose none notify it." if unsaved.is_default else ""
        messages.success(request, f"Saved the channel “{unsaved.name}”.{note}")
        return HttpResponseRedirect(reverse("alerts") + "#channels")
    context = _form_context(form, "channel")
    return render(request, "dashboard/alert_form.html", context, status=400 if form.errors else 200)


@operator_required
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    from alerts.models import Delivery
    from alerts.senders import send_test

    channel = get_object_or_404(NotificationChannel, pk=pk)
    delivery = send_test(channel)  # recorded as a test delivery, succeeded or failed with its error
    if delivery.status == Delivery.Status.FAILED:
        messages.error(request, f"{channel.name}: the test notification failed: {delivery.last_error}")
    else:
        messages.success(request, f"{channel.name}: test notification sent (marked as a test).")
    return HttpResponseRedirect(reverse("alerts") + "#channels")
