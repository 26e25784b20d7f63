"""Sources run from the dashboard: add, edit, test, pause and resume, poll now, force a circuit trial, delete.

Adding, editing and deleting need the admin role in the source's team (adding: the current team); pausing,
resuming, polling now and forcing a trial need operator (``dashboard.access``). Each write is a POST with the
CSRF token. "Test" fetches the
URL once through the poller's fetcher and extraction (``pollers.probe``) and stores nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.refused_forms import form_status
from accounts.teams import Action
from alerts.models import AlertRule
from dashboard.access import object_for, role_required, team_for_new
from dashboard.inline_fetches import BUSY_MESSAGE, inline_fetch
from dashboard.source_forms import SourceForm
from devops_insights.working_copy import working_copy
from pollers.circuit import force_trial
from pollers.credentials import CredentialError, request_for
from pollers.engine import Poller
from pollers.models import Source
from pollers.probe import ProbeResult, probe

TEST_ACTION = "test"


def _test_fetch(form: SourceForm) -> ProbeResult:
    """Fetch the source as a poll would once the form is saved: the form's URL, headers and timeout with the
    source's credentials, proxy and TLS settings, which the admin sets and this form does not show (a Test
    without them answered 401 or a certificate error for a source whose polls succeed). Only a valid form gets here,
    so the rules of a save hold for the Test too: credentials over plain http or unverified TLS are refused
    (``Source.credentials_sent_unverified``) before anything is sent."""
    try:
        request = request_for(form.instance)  # the valid form has put its values on the instance
    except CredentialError as exc:
        return ProbeResult(ok=False, error_kind=exc.kind, error_message=exc.message)
    return probe(
        request.url, request.headers, request.timeout, form.cleaned_data["metric_paths"], transport=request.transport
    )


def _form_page(request: HttpRequest, form: SourceForm, source: Source | None, status: int = 200) -> HttpResponse:
    probed: ProbeResult | None = None
    if request.method == "POST" and request.POST.get("action") == TEST_ACTION and form.is_valid():
        with inline_fetch() as admitted:
            if admitted:
                probed = _test_fetch(form)
            else:
                probed = ProbeResult(ok=False, error_kind="busy", error_message=BUSY_MESSAGE)
    context = {"form": form, "source": source, "probe": probed, "nav": "sources"}
    return render(request, "dashboard/source_form.html", context, status=status)


@role_required(Action.MANAGE)
@require_http_methods(["GET", "POST"])
def source_new(request: HttpRequest) -> HttpResponse:
    team = team_for_new(request)
    if request.method == "GET":
        return _form_page(request, SourceForm(), None)
    form = SourceForm(request.POST)
    if request.POST.get("action") == TEST_ACTION or not form.is_valid():
        return _form_page(request, form, None, status=form_status(form))
    source = form.save(commit=False)
    source.team = team
    source.add()  # with the defaults of a source a person adds (pollers.signals.source_added)
    # A new source's own rules are those its defaults added (with ALERTS_DEFAULT_UNREACHABLE_RULE, one).
    names = AlertRule.objects.filter(source=source).order_by("pk").values_list("name", flat=True)
    added = [f"“{name}”" for name in names]
    note = f" with the {'rule' if len(added) == 1 else 'rules'} {', '.join(added)}" if added else ""
    # The message says what was done, not how the source stands: a message outlives its moment (a live update
    # never replaces it), while the page's head says "waiting for first poll" until the first poll, and is
    # re-rendered live (dashboard/status.py is the one home of that wording).
    messages.success(request, f"Added {source.name}{note}.")
    return HttpResponseRedirect(reverse("source-detail", args=[source.slug]))


@login_required
@require_http_methods(["GET", "POST"])
def source_edit(request: HttpRequest, slug: str) -> HttpResponse:
    source = object_for(request, Source.objects.all(), Action.MANAGE, slug=slug)
    if request.method == "GET":
        return _form_page(request, SourceForm(instance=source), source)
    # The page around a refused edit names the source as stored, the form what was typed (working_copy).
    form = SourceForm(request.POST, instance=working_copy(source))
    if request.POST.get("action") == TEST_ACTION or not form.is_valid():
        return _form_page(request, form, source, status=form_status(form))
    # Only the fields the form owns: the poller may be writing health fields at the same moment.
    Source.objects.filter(pk=source.pk).update(
        updated_at=timezone.now(), **{name: form.cleaned_data[name] for name in form.Meta.fields if name != "slug"}
    )
    messages.success(request, f"Saved {form.instance.name}.")
    return HttpResponseRedirect(reverse("source-detail", args=[source.slug]))


@login_required
@require_http_methods(["GET", "POST"])
def source_delete(request: HttpRequest, slug: str) -> HttpResponse:
    source = object_for(request, Source.objects.all(), Action.MANAGE, slug=slug)
    if request.method == "GET":
        return render(request, "dashboard/source_delete.html", {"source": source})
    if request.POST.get("confirm_slug", "").strip() != source.slug:
        messages.error(request, f"Type {source.slug} to confirm the deletion.")
        return render(request, "dashboard/source_delete.html", {"source": source}, status=400)
    name = source.name
    source.delete()
    messages.success(request, f"Deleted {name} and its stored snapshots, history and metrics.")
    return HttpResponseRedirect(reverse("overview"))


@login_required
@require_POST
def source_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    source = object_for(request, Source.objects.all(), Action.OPERATE, slug=slug)
    if action in ("pause", "resume"):
        Source.objects.filter(pk=source.pk).update(enabled=action == "resume", updated_at=timezone.now())
        messages.success(request, f"{'Resumed' if action == 'resume' else 'Paused'} {source.name}.")
    elif action in ("poll", "trial"):
        with inline_fetch() as admitted:
            if not admitted:
                messages.error(request, f"Not polled: {BUSY_MESSAGE}")
                return HttpResponseRedirect(reverse("source-detail", args=[source.slug]))
            if action == "trial":
                if not force_trial(source):
                    messages.error(request, f"The circuit of {source.name} is not open: there is nothing to try.")
                    return HttpResponseRedirect(reverse("source-detail", args=[source.slug]))
                source.refresh_from_db()
            outcome = Poller().poll(source)
        if outcome.ok:
            messages.success(request, f"Polled {source.name}: HTTP {outcome.status_code}, stored.")
        else:
            messages.error(request, f"Polled {source.name}: {outcome.error_kind}: {outcome.error_message}")
    else:
        return HttpResponse(f"unknown action {action[:40]!r}", status=404, content_type="text/plain")
    return HttpResponseRedirect(reverse("source-detail", args=[source.slug]))
