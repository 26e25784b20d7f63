"""The team's management pages for status pages (login required; accounts/teams.py decides the rest).

- the list shows the pages of every team the user may READ in, and offers "New page" when the user may
  MANAGE some team;
- everything else (a page's settings, its components, incidents with their updates, maintenance windows,
  drafts included) needs MANAGE in the page's team: a member who may only read gets 403, anyone else 404
  (a page's existence is not confirmed to outsiders).

A refused form is shown again with what was typed, inside a page that names the object as stored, and answers
400 as every refused form of the product does (``accounts.refused_forms``). A delete is
asked first: its GET says what goes with the object, and only the POST of that page deletes (the page itself
once its slug is typed, as a source's delete asks).

Every change is written to the audit trail (accounts/audit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import audit
from accounts.current_team import current_team
from accounts.refused_forms import form_status
from accounts.teams import Action, allows, restrict, teams_of
from devops_insights.working_copy import working_copy
from statuspages.forms import ComponentForm, IncidentForm, IncidentUpdateForm, MaintenanceForm, PageForm
from statuspages.models import (
    Component,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    MaintenanceWindow,
    StatusPage,
)


def _page_for_manage(request: HttpRequest, page_id: int) -> StatusPage:
    page = get_object_or_404(restrict(StatusPage.objects.select_related("team"), request.user, Action.READ), pk=page_id)
    if not allows(request.user, page.team_id, Action.MANAGE):
        raise PermissionDenied("changing a status page needs the admin role in its team")
    return page


def _user(request: HttpRequest) -> Any:
    """The signed-in user (every view here requires one)."""
    return request.user if request.user.is_authenticated else None


def _audit(request: HttpRequest, action: str, obj: Any) -> None:
    audit.record(f"statuspages.{action}", request=request, object_type=type(obj).__name__, object_id=str(obj.pk))


@login_required
def page_list(request: HttpRequest) -> HttpResponse:
    pages = restrict(StatusPage.objects.select_related("team"), request.user, Action.READ).order_by(
        "team__name", "title"
    )
    manageable = set(teams_of(request.user, Action.MANAGE).values_list("pk", flat=True))
    rows = [{"page": page, "can_manage": page.team_id in manageable} for page in pages]
    context = {"rows": rows, "can_create": bool(manageable), "nav": "status_pages"}
    return render(request, "statuspages/manage/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def page_create(request: HttpRequest) -> HttpResponse:
    teams = teams_of(request.user, Action.MANAGE)
    if not teams.exists():
        raise PermissionDenied("creating a status page needs the admin role in a team")
    # The team the user works in is chosen already (as a new source or rule belongs to it), when they manage it.
    working_in = current_team(request)
    initial = {"team": working_in.pk} if working_in is not None and teams.filter(pk=working_in.pk).exists() else {}
    form = PageForm(request.POST or None, teams=teams, initial=initial)
    if request.method == "POST" and form.is_valid():
        page = form.save()
        _audit(request, "page.created", page)
        messages.success(request, f"Status page {page.title} created. Add its components next.")
        return redirect("statuspages:manage_page", page_id=page.pk)
    context = {"form": form, "title": "New status page", "nav": "status_pages"}
    return render(request, "statuspages/manage/form.html", context, status=form_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def page_edit(request: HttpRequest, page_id: int) -> HttpResponse:
    page = _page_for_manage(request, page_id)
    # The form validates a working copy (devops_insights.working_copy): a refused save put its unsaved title and
    # slug on the page shown around it, so the heading said the new title and "View the page" led to the slug
    # typed (another page's, when taken).
    form = PageForm(request.POST or None, instance=working_copy(page), teams=teams_of(request.user, Action.MANAGE))
    if request.method == "POST" and form.is_valid():
        form.save()
        _audit(request, "page.changed", page)
        messages.success(request, "Saved.")
        return redirect("statuspages:manage_page", page_id=page.pk)
    context = {
        "page": page,
        "form": form,
        "components": page.components.prefetch_related("sources"),
        "incidents": page.incidents.prefetch_related("updates")[:50],
        "windows": page.maintenance_windows.all()[:50],
        "now": timezone.now(),
        "nav": "status_pages",
    }
    return render(request, "statuspages/manage/page.html", context, status=form_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def page_delete(request: HttpRequest, page_id: int) -> HttpResponse:
    """GET: what goes with the page, and its slug to type; POST with the slug typed: delete. The public address,
    its custom host, feeds and badges, and the page's incident history go at once: one click must not do it."""
    page = _page_for_manage(request, page_id)
    if request.method == "POST" and request.POST.get("confirm_slug", "").strip() == page.slug:
        title = page.title
        with transaction.atomic():  # the audit trail never records a deletion that did not happen
            _audit(request, "page.deleted", page)
            page.delete()
        messages.success(request, f"Deleted the status page {title} with its components, incidents and maintenance.")
        return redirect("statuspages:manage_list")
    refused = request.method == "POST"
    if refused:
        messages.error(request, f"Nothing was deleted: type {page.slug} to confirm the deletion.")
    context = {"page": page, "counts": page.deletion_counts(), "nav": "status_pages"}
    return render(request, "statuspages/manage/page_delete.html", context, status=400 if refused else 200)


def _item_form(
    request: HttpRequest,
    page: StatusPage,
    form_class: Any,
    instance: Any,
    kind: str,
) -> tuple[Any, HttpResponse | None]:
    # A new item belongs to the page before validation, so the model's own checks see it whole. An edit validates
    # a working copy (devops_insights.working_copy): the page around a refused form names the item as stored.
    unsaved = working_copy(instance) if instance else form_class._meta.model(page=page)
    form = form_class(request.POST or None, instance=unsaved, page=page)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                item = form.save(commit=False)
                if hasattr(item, "created_by_id") and not item.pk:
                    item.created_by = _user(request)
                item.save_refusing_twins() if kind == "incident" else item.save()
                form.save_m2m()
                if kind == "incident" and form.cleaned_data.get("first_update"):
                    IncidentUpdate.objects.create(
                        incident=item,
                        status=item.status,
                        body=form.cleaned_data["first_update"],
                        created_by=_user(request),
                    )
        except ValidationError as exc:  # another admin reopened a twin since the form's check
            form.add_error(None, exc)
            return form, None
        _audit(request, f"{kind}.{'changed' if instance else 'created'}", item)
        messages.success(request, "Saved.")
        return form, redirect("statuspages:manage_page", page_id=page.pk)
    return form, None


def _edit_item(
    request: HttpRequest,
    page_id: int,
    item_id: int | None,
    form_class: Any,
    kind: str,
    title: Callable[[Any], str],
    extra: Callable[[Any], dict[str, Any]] | None = None,
) -> HttpResponse:
    """The create/edit page of one of a status page's items (``item_id`` None: a new one)."""
    page = _page_for_manage(request, page_id)
    item = get_object_or_404(form_class._meta.model, pk=item_id, page=page) if item_id else None
    form, done = _item_form(request, page, form_class, item, kind)
    if done:
        return done
    return _item_page(request, page, form, item, kind, title(item), extra(item) if extra else {}, form_status(form))


def _item_page(
    request: HttpRequest,
    page: StatusPage,
    form: Any,
    item: Any,
    kind: str,
    title: str,
    extra: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """The form page of a page's item: ``item`` as stored (None: a new one) around ``form``."""
    context = {"page": page, "form": form, "title": title, "item": item, "kind": kind, "nav": "status_pages", **extra}
    return render(request, "statuspages/manage/form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def component_edit(request: HttpRequest, page_id: int, item_id: int | None = None) -> HttpResponse:
    return _edit_item(
        request, page_id, item_id, ComponentForm, "component", lambda c: f"Edit {c.name}" if c else "New component"
    )


def _incident_title(incident: Incident | None) -> str:
    return f"Incident: {incident.title}" if incident else "New incident"


def _incident_timeline(incident: Incident | None) -> dict[str, Any]:
    return {
        "update_form": IncidentUpdateForm(initial={"status": incident.status}) if incident else None,
        "updates": incident.updates.all() if incident else [],
    }


@login_required
@require_http_methods(["GET", "POST"])
def incident_edit(request: HttpRequest, page_id: int, item_id: int | None = None) -> HttpResponse:
    return _edit_item(
        request,
        page_id,
        item_id,
        IncidentForm,
        "incident",
        _incident_title,
        _incident_timeline,
    )


def _refused_update(
    request: HttpRequest, page: StatusPage, incident: Incident, form: IncidentUpdateForm
) -> HttpResponse:
    """The incident's page again, its timeline form holding the update as posted beside the reason it was
    refused: a redirect lost the text typed. The incident's own form posts to its own address, not this one's."""
    timeline = {
        "update_form": form,
        "updates": incident.updates.all(),
        "form_action": reverse("statuspages:manage_incident", args=[page.pk, incident.pk]),
    }
    edit = IncidentForm(instance=incident, page=page)
    return _item_page(request, page, edit, incident, "incident", _incident_title(incident), timeline, form_status(form))


@login_required
@require_POST
def incident_update_add(request: HttpRequest, page_id: int, item_id: int) -> HttpResponse:
    """Add an update to the timeline; the incident takes its status (and is resolved by a "resolved" one)."""
    page = _page_for_manage(request, page_id)
    incident = get_object_or_404(Incident, pk=item_id, page=page)
    form = IncidentUpdateForm(request.POST)
    if not form.is_valid():
        return _refused_update(request, page, incident, form)
    # Changed on a working copy (devops_insights.working_copy): a refused update leaves the incident shown as stored.
    changed = working_copy(incident)
    try:
        changed.check_open_twin(form.cleaned_data["status"])
        with transaction.atomic():
            update = IncidentUpdate.objects.create(
                incident=changed,
                status=form.cleaned_data["status"],
                body=form.cleaned_data["body"],
                created_by=_user(request),
            )
            changed.status = update.status
            if update.status == IncidentStatus.RESOLVED and changed.resolved_at is None:
                changed.resolved_at = update.created_at
            elif update.status != IncidentStatus.RESOLVED:
                changed.resolved_at = None
            changed.save_refusing_twins(update_fields=["status", "resolved_at", "updated_at"])
    except ValidationError as exc:  # a twin open already, or reopened by another admin since the check
        form.add_error(None, exc)
        return _refused_update(request, page, incident, form)
    _audit(request, "incident.updated", incident)
    messages.success(request, "Update posted.")
    return redirect("statuspages:manage_incident", page_id=page.pk, item_id=incident.pk)


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_edit(request: HttpRequest, page_id: int, item_id: int | None = None) -> HttpResponse:
    return _edit_item(
        request,
        page_id,
        item_id,
        MaintenanceForm,
        "maintenance",
        lambda w: f"Maintenance: {w.title}" if w else "New maintenance window",
    )


# The value the item delete page's button posts: a POST without it (a form of an older page, a crafted one)
# is asked again instead of deleting.
CONFIRM_DELETE = "delete"
ITEM_NOUNS = {"component": "component", "incident": "incident", "maintenance": "maintenance window"}


def _delete(request: HttpRequest, page_id: int, model: Any, item_id: int, kind: str) -> HttpResponse:
    """GET: what goes with the item (an incident's timeline, a window's silences, a component's badges); POST
    from that page: delete."""
    page = _page_for_manage(request, page_id)
    item = model.objects.filter(pk=item_id, page=page).first()
    if item is None:
        raise Http404(f"No such {kind}.")
    noun = ITEM_NOUNS[kind]
    if request.method == "POST" and request.POST.get("confirm") == CONFIRM_DELETE:
        with transaction.atomic():
            _audit(request, f"{kind}.deleted", item)
            item.delete()
        messages.success(request, f"Deleted the {noun} {item}.")
        return redirect("statuspages:manage_page", page_id=page.pk)
    refused = request.method == "POST"
    if refused:
        messages.error(request, f"Nothing was deleted: confirm the deletion of the {noun} below.")
    context = {"page": page, "item": item, "kind": kind, "noun": noun, "confirm": CONFIRM_DELETE, "nav": "status_pages"}
    return render(request, "statuspages/manage/item_delete.html", context, status=400 if refused else 200)


@login_required
@require_http_methods(["GET", "POST"])
def component_delete(request: HttpRequest, page_id: int, item_id: int) -> HttpResponse:
    return _delete(request, page_id, Component, item_id, "component")


@login_required
@require_http_methods(["GET", "POST"])
def incident_delete(request: HttpRequest, page_id: int, item_id: int) -> HttpResponse:
    return _delete(request, page_id, Incident, item_id, "incident")


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_delete(request: HttpRequest, page_id: int, item_id: int) -> HttpResponse:
    return _delete(request, page_id, MaintenanceWindow, item_id, "maintenance")
