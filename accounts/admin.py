from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin, messages
from django.http import HttpRequest

from accounts.models import ApiToken, AuditEvent, generate_raw_token


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "team", "role", "prefix", "created_at", "expires_at", "last_used_at"]
    list_filter = ["role", "team"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "team", "role", "expires_at", "prefix", "created_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = generate_raw_token()
        obj.set_raw(raw)
        super().save_model(request, obj, form, change)
        # Shown once: only the hash is stored.
        messages.warning(request, f"Token created. Copy it now, it will not be shown again: {raw}")


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
