"""``{% system_banner %}``: the page-wide banner when no poller runs or the metric store is down."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from dashboard import system_state

register = template.Library()


@register.inclusion_tag("dashboard/_system_banner.html", takes_context=True)
def system_banner(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"show": False}
    state = system_state.current()
    return {
        "show": True,
        "state": state,
        "state_url": reverse("system-state"),
        "check_every": system_state.CHECK_EVERY_SECONDS,
    }
