"""The user's API token page (list, create: the raw token is shown once, revoke) and the password page."""

from __future__ import annotations

import logging
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import audit
from accounts.forms import TokenForm
from accounts.models import ApiToken, TokenRefused
from accounts.refused_forms import RefusedFormStatus, form_status

logger = logging.getLogger("accounts")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    created_raw = None
    if request.method == "POST":
        form = TokenForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                token, created_raw = ApiToken.issue(
                    request.user,
                    form.cleaned_data["name"],
                    form.cleaned_data["role"],
                    form.expires_at(),
                    team=form.cleaned_data["team"],
                )
            except TokenRefused as refused:  # another request took the last slot or the name since the form's check
                form.add_error(refused.field, refused.message)
            else:
                logger.info("API token %s (%s in %s) created by %s", token.prefix, token.role, token.team, request.user)
                form = TokenForm(user=request.user)
    else:
        form = TokenForm(user=request.user)
    context = {
        "form": form,
        "tokens": ApiToken.objects.filter(user=cast(Any, request.user)).select_related("team"),
        # Rendered in this response only, never stored: the page is no-store so no cache keeps it.
        "created_raw": created_raw,
        "nav": "tokens",
    }
    return render(request, "accounts/tokens.html", context, status=form_status(form))


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    logger.info("API token %s revoked by %s", token.prefix, request.user)
    messages.success(request, f"Token “{token.name}” revoked. Clients using it now get 401.")
    return redirect("api-tokens")


class PasswordChangeView(RefusedFormStatus, auth_views.PasswordChangeView):
    """The product's own password page (/accounts/password/), audited like allauth's /accounts/password/change/;
    a refused change (a wrong old password, a new one too weak) answers 400, as every refused form."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit.record("password_changed", request=self.request, user=self.request.user)
        return response
