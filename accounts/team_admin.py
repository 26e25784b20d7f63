"""The Django admin through the one access rule: staff who are team admins manage their teams' objects only.

``TeamScopedAdmin`` is the base of every admin of a team-owned model. For a non-superuser it lists only
rows of teams where the user is admin (``accounts.teams.restrict`` with ``MANAGE``), offers only those
teams and their objects in foreign-key and many-to-many choices, and grants view, add, change and delete
by that role instead of Django's model permissions. The staff flag still decides who enters the admin
at all; a staff user who is admin of no team sees none of these models. Superusers see everything.
The list filters on a relation (a source, a channel, the team) offer only what the rows listed name: Django's
own filter lists every row of the related table, every team's source and channel names included.

A save the database refuses because another writer got there between the form's checks and the save (two
admins adding a silence of one reason for one team at once) answers the form's own error, not a server error.
An edit of an object another writer deleted after the form read it saves nothing and says so (Django's save
would insert it again under its old id when its UPDATE found no row). A refused change leaves the object's
name as stored in the breadcrumb and title: the form works on a working copy
(``devops_insights.working_copy.WorkingCopyAdmin``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.edits import DeletedMeanwhile, save_edit
from accounts.models import Invitation, LastAdminError, Membership, Team
from accounts.scoped_forms import ScopedUniqueModelForm
from accounts.teams import Action, allows, restrict, teams_of
from devops_insights.working_copy import WorkingCopyAdmin


def _team_id_of(obj: models.Model, team_field: str) -> int | None:
    node: Any = obj
    *parents, last = team_field.split("__")
    for name in parents:
        node = getattr(node, name, None)
        if node is None:
            return None
    value = getattr(node, f"{last}_id", None) if last != "pk" else node.pk
    return int(value) if value is not None else None


def _scoped_choices(model: type[models.Model], request: HttpRequest) -> models.QuerySet[Any] | None:
    """The choices a non-superuser may pick for a relation to ``model``, or None when it is not team-owned."""
    if model is Team:
        return teams_of(request.user, Action.MANAGE)
    if any(f.name == "team" for f in model._meta.get_fields()):
        return restrict(model._default_manager.all(), request.user, Action.MANAGE)
    return None


def _listed_only(model: type[models.Model], entry: Any) -> Any:
    """A list filter named by a relation's path, as one offering only the related rows the listed rows name
    (``RelatedOnlyFieldListFilter`` reads the admin's own, team-restricted, queryset); other filters unchanged."""
    if isinstance(entry, str) and get_fields_from_path(model, entry)[-1].is_relation:
        return (entry, admin.RelatedOnlyFieldListFilter)
    return entry


class TeamScopedAdmin(WorkingCopyAdmin):
    #: The path from the model to its owning team, as in a queryset filter ("team", "source__team", "pk").
    team_field = "team"
    # A name unique within its team is checked against the default team when a superuser leaves the team
    # blank (where the object is saved), not only against a team chosen.
    form: type[forms.ModelForm] = ScopedUniqueModelForm

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DeletedMeanwhile:
            # The view's transaction has undone the whole edit, its inlines included.
            opts = self.model._meta
            self.message_user(
                request,
                f"This {opts.verbose_name} was deleted by someone else while you edited it: nothing was saved.",
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        except IntegrityError:
            if request.method != "POST":
                raise
        # Another writer took what the form checked as free (a silence's reason, a rule's name in the team) or
        # removed what it chose, after the check and before this save, and the database refused the save: the
        # view's transaction has undone the whole change. The other's write is committed now, so the form's own
        # checks, run once more, say what is wrong, with what was typed kept. A refusal they cannot explain
        # comes back from this second run: not hidden.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        save_edit(obj, change)

    def _bypass(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request)
        if self._bypass(request):
            return queryset
        return restrict(queryset, request.user, Action.MANAGE, field=self.team_field)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not self._bypass(request):
            choices = _scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
            if db_field.related_model is Team:
                # Left blank, save would file the object under the default team, which may not be theirs.
                kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not self._bypass(request):
            choices = _scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if self._bypass(request):
            return filters
        return [_listed_only(self.model, entry) for entry in filters]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The owner is chosen on every form of a team-owned model (admins without fieldsets list form fields).
        fields = list(super().get_fields(request, obj))
        if self.team_field == "team" and "team" not in fields:
            fields.insert(0, "team")
        return fields

    def _manages_some_team(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and teams_of(user, Action.MANAGE).exists())

    def _manages(self, request: HttpRequest, obj: Any) -> bool:
        if self._bypass(request):
            return True
        if obj is None:
            return self._manages_some_team(request)
        return bool(request.user.is_staff) and allows(request.user, _team_id_of(obj, self.team_field), Action.MANAGE)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._bypass(request) or self._manages_some_team(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._manages(request, None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request, obj)


@admin.register(Team)
class TeamAdmin(TeamScopedAdmin):
    """Team admins may rename their teams; only superusers create and delete teams."""

    team_field = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._bypass(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._bypass(request)


@admin.register(Membership)
class MembershipAdmin(TeamScopedAdmin):
    """Memberships; the last admin of a team stays (``accounts.models.LastAdminError``), and the page says so."""

    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Every account on offer told a team's admin who uses the product in every other team, and let them put
        # anyone in their team unasked. New people join by an invitation (the team page); here, the people of
        # the teams the user manages (moved between them, given a role).
        if db_field.name == "user" and not self._bypass(request):
            people = Membership.objects.filter(team__in=teams_of(request.user, Action.MANAGE)).values("user_id")
            kwargs["queryset"] = get_user_model().objects.filter(pk__in=people).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        try:
            super().save_model(request, obj, form, change)
        except LastAdminError as exc:
            messages.error(request, f"Not changed: {exc}")

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        try:
            super().delete_model(request, obj)
        except LastAdminError as exc:
            messages.error(request, f"Not removed: {exc}")

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        try:
            super().delete_queryset(request, queryset)
        except LastAdminError as exc:
            messages.error(request, f"Nothing removed: {exc}")


@admin.register(Invitation)
class InvitationAdmin(TeamScopedAdmin):
    """Open and used invitations; new ones are made on the team page, which shows the link once."""

    list_display = ["team", "role", "created_by", "created_at", "expires_at", "used_at", "used_by"]
    list_filter = ["role", "team"]
    readonly_fields = ["team", "role", "created_by", "created_at", "expires_at", "used_at", "used_by"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False
