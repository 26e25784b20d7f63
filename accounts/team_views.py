"""Team pages: your teams, switching, members and roles, leaving, invitations by one-time link.

Who may do what is the one access rule (``accounts.teams``): members read their team's page; admins
change roles, remove members and invite; anyone may leave; superusers create teams and administer all.
Another team's page is a 404, like a missing one. The last admin of a team cannot leave, be removed or be
demoted: the model refuses (``accounts.models.LastAdminError``) and the page says why. A refused role change
(a role that is none of the three, or the last admin's) answers 400 with the team page and the error on
that member's row; an invitation refused answers so too (``accounts.refused_forms``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.current_team import switch_team
from accounts.models import Invitation, InvitationError, LastAdminError, Membership, Role, Team
from accounts.refused_forms import form_status
from accounts.team_forms import InvitationForm, RoleForm, TeamForm
from accounts.teams import Action, allows, restrict, role_in, teams_of


def _team(request: HttpRequest, slug: str, action: Action = Action.READ) -> Team:
    """The team ``slug`` if the user may read it (else 404) and ``action`` there (else 403)."""
    team = restrict(Team.objects.all(), request.user, Action.READ, field="pk").filter(slug=slug).first()
    if team is None:
        raise Http404("no such team")
    if action != Action.READ and not allows(request.user, team, action):
        raise PermissionDenied("this needs the admin role in the team")
    return team


def _user(request: HttpRequest) -> User:
    """The signed-in user (every view here is behind login_required)."""
    if not isinstance(request.user, User):
        raise PermissionDenied("sign in first")
    return request.user


def _back(team: Team) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("team-detail", args=[team.slug]))


@login_required
@require_http_methods(["GET", "POST"])
def team_list(request: HttpRequest) -> HttpResponse:
    """The teams the user may read; superusers also create teams here (and become the new team's admin)."""
    form = TeamForm(request.POST or None) if request.user.is_superuser else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("only superusers create teams")
        if form.is_valid():
            with transaction.atomic():
                team = form.save()
                Membership.objects.create(team=team, user=_user(request), role=Role.ADMIN)
            switch_team(request, team.pk)
            messages.success(request, f"Created the team {team.name}; you are its admin.")
            return _back(team)
    roles = dict(Membership.objects.filter(user=_user(request)).values_list("team_id", "role"))
    teams = [(team, roles.get(team.pk)) for team in teams_of(request.user, Action.READ)]
    context = {"nav": "team", "teams": teams, "form": form}
    return render(request, "accounts/team_list.html", context, status=form_status(form))


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    """Make another team current; back to the page the switcher was on (same site only)."""
    try:
        team = switch_team(request, int(request.POST.get("team", "")))
    except ValueError:
        team = None
    if team is None:
        raise Http404("no such team")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("overview")
    return HttpResponseRedirect(target)


def _detail(request: HttpRequest, team: Team, **extra: Any) -> HttpResponse:
    role = role_in(request.user, team)
    is_admin = role == Role.ADMIN
    context: dict[str, Any] = {
        "nav": "team",
        "team": team,
        "role": role,
        "is_admin": is_admin,
        "is_member": Membership.objects.filter(team=team, user=_user(request)).exists(),
        "members": Membership.objects.filter(team=team).select_related("user").order_by("user__username"),
        "roles": Role.choices,
        "invitations": (
            Invitation.objects.filter(team=team, used_at__isnull=True, expires_at__gt=timezone.now())
            if is_admin
            else []
        ),
        "invite_form": InvitationForm() if is_admin else None,
    }
    context.update(extra)
    return render(request, "accounts/team_detail.html", context, status=extra.pop("status", 200))


@login_required
@require_http_methods(["GET"])
def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _detail(request, _team(request, slug))


def _membership(team: Team, pk: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(team=team, pk=pk).first()
    if membership is None:
        raise Http404("no such member")
    return membership


@login_required
@require_POST
def member_role(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team(request, slug, Action.MANAGE)
    membership = _membership(team, pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        membership.role = form.cleaned_data["role"]
        try:
            membership.save(update_fields=["role"])
        except LastAdminError as exc:
            form.add_error("role", f"Not changed: {exc}")
        else:
            messages.success(request, f"{membership.user} is now {membership.get_role_display().lower()} of {team}.")
            return _back(team)
    # Refused, as every form (accounts.refused_forms): the team page again, the error on that member's row.
    return _detail(request, team, role_form=form, role_member=membership.pk, status=form_status(form))


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team(request, slug, Action.MANAGE)
    membership = _membership(team, pk)
    try:
        membership.delete()
    except LastAdminError as exc:
        messages.error(request, f"Not removed: {exc}")
        return _back(team)
    messages.success(request, f"Removed {membership.user} from {team}.")
    return _back(team)


@login_required
@require_POST
def team_leave(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team(request, slug)
    membership = Membership.objects.filter(team=team, user=_user(request)).first()
    if membership is None:
        raise Http404("you are not a member of this team")
    try:
        membership.delete()
    except LastAdminError as exc:
        messages.error(request, f"You are still a member: {exc}")
        return _back(team)
    messages.success(request, f"You left {team}.")
    return HttpResponseRedirect(reverse("team-list"))


@login_required
@require_POST
def invitation_new(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team(request, slug, Action.MANAGE)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        return _detail(request, team, invite_form=form, status=form_status(form))
    invitation, raw = Invitation.issue(team, form.cleaned_data["role"], request.user, form.lifetime_delta())
    # Shown on this response only (never through messages, which may live in a cookie): only a hash is stored.
    link = request.build_absolute_uri(reverse("invitation-accept", args=[raw]))
    return _detail(request, team, created_link=link, created_invitation=invitation)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team(request, slug, Action.MANAGE)
    deleted, _ = Invitation.objects.filter(team=team, pk=pk, used_at__isnull=True).delete()
    if not deleted:
        raise Http404("no such open invitation")
    messages.success(request, "Invitation revoked: its link no longer works.")
    return _back(team)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what the link offers; POST joins. A used, expired or unknown link answers 410 and says which."""
    try:
        if request.method == "GET":
            invitation = Invitation.find(token)
            return render(request, "accounts/team_invitation.html", {"invitation": invitation})
        membership = Invitation.accept(token, request.user)
    except InvitationError as exc:
        return render(request, "accounts/team_invitation.html", {"problem": str(exc)}, status=exc.status)
    switch_team(request, membership.team_id)
    messages.success(request, f"You joined {membership.team} as {membership.get_role_display().lower()}.")
    return _back(membership.team)
