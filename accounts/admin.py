from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.forms import refuse_without_room
from accounts.models import ApiToken, AuditEvent, TokenRefused, generate_raw_token
from accounts.scoped_forms import ScopedUniqueModelForm
from accounts.team_admin import TeamScopedAdmin


class ApiTokenAdminForm(ScopedUniqueModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user = cleaned.get("user")
        if self.instance.pk is None and user is not None:  # a new token: its owner's room for it, as everywhere
            refuse_without_room(self, user.pk, cleaned.get("name"))
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(TeamScopedAdmin):
    form = ApiTokenAdminForm
    list_display = ["name", "user", "team", "role", "prefix", "created_at", "expires_at", "last_used_at"]
    list_filter = ["role", "team"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "team", "role", "expires_at", "prefix", "created_at", "last_used_at"]

    # A token acts as its user: a team admin who could pick the user would act as any account (a superuser's
    # included) with the audit trail naming that account. Only a superuser issues tokens for others; nobody
    # moves an existing token to another user (its holder would act as that user).
    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user" and not self._bypass(request):
            kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk or 0)
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "user"] if obj is not None else readonly

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if not self._bypass(request) and obj.user_id != request.user.pk and not change:
            raise PermissionDenied("only a superuser issues tokens for other users")
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = generate_raw_token()
        obj.set_raw(raw)
        obj.save_new()  # the form said the cap already; this holds it against another request at once
        # Shown once: only the hash is stored.
        messages.warning(request, f"Token created. Copy it now, it will not be shown again: {raw}")

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # save_new's refusal (another request took the last room since the form's check) has undone the whole
        # change (the view's transaction): say why on the same page instead of a server error.
        try:
            return super().changeform_view(request, *args, **kwargs)
        except TokenRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# The admin's own login form is replaced by allauth's flow (second factor, lockout, SSO, audit): /admin/login/
# sends anonymous visitors to /accounts/login/?next=... and refuses signed-in non-staff.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: audit events are append-only."""

    list_display = ["created_at", "action", "actor_label", "ip", "object_type", "object_id", "request_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "ip", "request_id", "object_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
