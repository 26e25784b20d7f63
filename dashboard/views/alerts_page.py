"""The Alerts page: what fires and waits, recent events, silences; silence and acknowledge; rules and channels.

The page lists the current team's alerts, rules, channels and silences. Silencing, ending a silence and
acknowledging need the operator role in the object's team; rules and channels need admin
(``dashboard.access``). Every change is a POST with the CSRF token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.current_team import current_team
from accounts.edits import DeletedMeanwhile
from accounts.refused_forms import form_status
from accounts.teams import Action
from alerts import evaluate
from alerts.defaults import enabled_defaults, first_becomes_default, notifies_no_one
from alerts.forms import (
    CHANNEL_FIELDS,
    KIND_FIELDS,
    SCOPE_FIELDS,
    TARGET_FIELDS,
    UNSCOPED_KINDS,
    AlertRuleForm,
    NotificationChannelForm,
)
from alerts.models import AlertEvent, AlertRule, NotificationChannel, RuleState, Silence
from alerts.silences import ReasonTaken, add_silence
from dashboard.access import in_current_team, object_for, team_for_new
from dashboard.kind_fields import KindFields, value_owners
from dashboard.saving import save_in_team
from devops_insights.working_copy import working_copy
from objectives.models import Objective
from pollers.models import Source

RECENT_EVENTS = 30
SILENCE_PRESETS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4)}
MAX_SILENCE = timedelta(days=30)


@login_required
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    states = list(
        in_current_team(request, RuleState.objects.active(), "source__team")
        .select_related("rule", "source")
        .order_by("-firing_since", "source__slug")
    )
    # The states listed are the current team's sources', which only that team's silences cover: read those.
    team = current_team(request)
    silenced = Silence.objects.covered_slugs(now, teams=[team.pk]) if team is not None else set()
    context = {
        "nav": "alerts",
        "firing": [s for s in states if s.status == evaluate.FIRING],
        "pending": [s for s in states if s.status == evaluate.PENDING],
        "silenced": silenced,
        "events": in_current_team(request, AlertEvent.objects.all(), "source__team")
        .select_related("source")
        .order_by("-occurred_at", "-pk")[:RECENT_EVENTS],
        "silences": in_current_team(request, Silence.objects.active(now)).select_related("source", "created_by"),
        # The source and the objective: a rule's target and condition name them.
        "rules": in_current_team(
            request, AlertRule.objects.select_related("source", "objective").prefetch_related("channels")
        ),
        "channels": in_current_team(request, NotificationChannel.objects.all()),
        # Where a rule that selects no channel sends: named beside it, or "notifies no one" when nowhere.
        "default_channels": list(enabled_defaults(team.pk).values_list("name", flat=True)) if team is not None else [],
        "now": now,
    }
    return render(request, "dashboard/alerts.html", context)


def _person(request: HttpRequest) -> User | None:
    # login_required has made sure of a signed-in user; an anonymous one is never recorded.
    return request.user if isinstance(request.user, User) else None


def _silence_end(request: HttpRequest, now: datetime) -> datetime | str:
    """The end the operator chose, or a sentence saying what is wrong with it."""
    preset = request.POST.get("duration", "")
    if preset in SILENCE_PRESETS:
        return now + SILENCE_PRESETS[preset]
    text = request.POST.get("until", "").strip()
    if not text:
        return "Choose 1 h, 4 h, or an end time."
    try:
        parsed = parse_datetime(text)
    except ValueError:  # well formed, yet no such moment: 2027-02-30, 25:00
        parsed = None
    if parsed is None:
        return f"{text[:40]!r} is not a date and time: use YYYY-MM-DD HH:MM (UTC)."
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    if parsed <= now:
        return "The end time is in the past."
    if parsed - now > MAX_SILENCE:
        return "A silence lasts at most 30 days."
    return parsed


@login_required
@require_POST
def silence_source(request: HttpRequest, slug: str) -> HttpResponse:
    source = object_for(request, Source.objects.all(), Action.OPERATE, slug=slug)
    now = timezone.now()
    end = _silence_end(request, now)
    if isinstance(end, str):
        messages.error(request, f"Not silenced: {end}")
        return HttpResponseRedirect(reverse("alerts"))
    # The buttons send no reason: the one made up says who and when. A typed one is kept, and either is no
    # other silence's of the team ("deploy (2)", alerts/silences.py): configuration as code knows a silence by
    # team and reason.
    wanted = request.POST.get("reason", "").strip()[:300]
    reason = wanted or f"{source.slug} silenced on the Alerts page by {request.user}, {now:%Y-%m-%d %H:%M} UTC"
    try:
        add_silence(source.team_id, reason, source=source, starts_at=now, ends_at=end, created_by=_person(request))
    except ReasonTaken as exc:
        messages.error(request, f"Not silenced: {exc}.")
        return HttpResponseRedirect(reverse("alerts"))
    except IntegrityError:
        if Source.objects.filter(pk=source.pk).exists():
            raise  # not the source deleted under it: not ours to explain
        # Deleted after it was read (a configuration apply's --prune, another person): the silence went with it.
        messages.error(
            request, f"Not silenced: {source.name} was deleted meanwhile (by a configuration apply or another person)."
        )
        return HttpResponseRedirect(reverse("alerts"))
    messages.success(request, f"Silenced {source.name} until {end:%Y-%m-%d %H:%M} UTC.")
    return HttpResponseRedirect(reverse("alerts"))


@login_required
@require_POST
def end_silence(request: HttpRequest, pk: int) -> HttpResponse:
    silence = object_for(request, Silence.objects.all(), Action.OPERATE, pk=pk)
    now = timezone.now()
    Silence.objects.filter(pk=silence.pk, ends_at__gt=now).update(ends_at=max(now, silence.starts_at))
    messages.success(request, "Silence ended.")
    return HttpResponseRedirect(reverse("alerts"))


@login_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    states = RuleState.objects.select_related("rule", "source")
    state = object_for(request, states, Action.OPERATE, "source__team", pk=pk)
    RuleState.objects.filter(pk=state.pk).update(acknowledged_at=timezone.now(), acknowledged_by=_person(request))
    messages.success(request, f"Acknowledged “{state.rule.name}” on {state.source.slug}.")
    return HttpResponseRedirect(reverse("alerts"))


# The fields each form's page shows for the kind (and scope) chosen; static/js/forms.js applies the same rule as
# the selects change (tests/dashboard/test_browser_selfserve.py holds the two to agreement).
RULE_KIND_FIELDS = KindFields(
    ("kind", "scope"),
    value_owners({**KIND_FIELDS, **SCOPE_FIELDS}),
    dict.fromkeys(TARGET_FIELDS, " ".join(UNSCOPED_KINDS)),
)
CHANNEL_KIND_FIELDS = KindFields(("kind",), value_owners(CHANNEL_FIELDS), {})


def _form_context(
    form: AlertRuleForm | NotificationChannelForm, what: str, stored: AlertRule | NotificationChannel | None
) -> dict[str, object]:
    """The form page's context; ``stored`` (None for a new one) is the object as stored, which the page names
    around a refused edit while the form shows what was typed. ``hidden``: the fields that do not apply to the
    kind (and scope) chosen, hidden on the page as sent (``dashboard.kind_fields``)."""
    fields = RULE_KIND_FIELDS if what == "rule" else CHANNEL_KIND_FIELDS
    return {
        "form": form,
        "what": what,
        "stored": stored,
        "owners": fields.owners,
        "unless": fields.unless,
        "hidden_fields": fields.hidden(form),
        "nav": "alerts",
    }


def _gone(request: HttpRequest, what: str) -> HttpResponse:
    """The fresh page, saying that the object edited was deleted meanwhile (dashboard/saving.py)."""
    messages.error(
        request, f"Not saved: the {what} was deleted while you edited it (by a configuration apply or another person)."
    )
    return HttpResponseRedirect(reverse("alerts") + f"#{what}s")


@login_required
@require_http_methods(["GET", "POST"])
def rule_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = object_for(request, AlertRule.objects.all(), Action.MANAGE, pk=pk) if pk else None
    team_id = rule.team_id if rule is not None else team_for_new(request).pk
    # The page names the rule as stored around a refused edit; the form keeps what was typed (working_copy).
    form = AlertRuleForm(request.POST or None, instance=working_copy(rule) if rule else None)
    # The rule's own validation compares its objective's team with its own: known before it validates.
    form.instance.team_id = team_id
    # Only the team's sources, channels and objectives may be chosen: another team's are not even listed.
    form.fields["source"].queryset = Source.objects.filter(team_id=team_id)  # type: ignore[attr-defined]
    form.fields["channels"].queryset = NotificationChannel.objects.filter(team_id=team_id)  # type: ignore[attr-defined]
    form.fields["objective"].queryset = Objective.objects.filter(team_id=team_id)  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        try:
            # None: another writer took the name or removed a choice since the checks; the form says which.
            saved = save_in_team(form, team_id)
        except DeletedMeanwhile:
            return _gone(request, "rule")
        if saved is not None:
            warning = notifies_no_one(saved)
            messages.success(request, f"Saved the rule “{saved.name}”.")
            if warning:
                messages.warning(request, f"“{saved.name}”: {warning}. Add a channel or choose one for the rule.")
            return HttpResponseRedirect(reverse("alerts") + "#rules")
    context = _form_context(form, "rule", rule)
    return render(request, "dashboard/alert_form.html", context, status=form_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def channel_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    channel = object_for(request, NotificationChannel.objects.all(), Action.MANAGE, pk=pk) if pk else None
    team_id = channel.team_id if channel is not None else team_for_new(request).pk
    # The page names the channel as stored around a refused edit; the form keeps what was typed (working_copy).
    form = NotificationChannelForm(request.POST or None, instance=working_copy(channel) if channel else None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = save_in_team(form, team_id, prepare=first_becomes_default)
        except DeletedMeanwhile:
            return _gone(request, "channel")
        if saved is not None:
            note = " It is the default channel: rules that choose none notify it." if saved.is_default else ""
            messages.success(request, f"Saved the channel “{saved.name}”.{note}")
            return HttpResponseRedirect(reverse("alerts") + "#channels")
    context = _form_context(form, "channel", channel)
    return render(request, "dashboard/alert_form.html", context, status=form_status(form))


@login_required
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    from alerts.models import Delivery
    from alerts.senders import send_test

    channel = object_for(request, NotificationChannel.objects.all(), Action.MANAGE, pk=pk)
    delivery = send_test(channel)  # recorded as a test delivery, succeeded or failed with its error
    if delivery.status == Delivery.Status.FAILED:
        messages.error(request, f"{channel.name}: the test notification failed: {delivery.last_error}")
    else:
        messages.success(request, f"{channel.name}: test notification sent (marked as a test).")
    return HttpResponseRedirect(reverse("alerts") + "#channels")
