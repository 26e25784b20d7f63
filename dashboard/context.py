"""Template context every page gets: whether the signed-in user may change things (``dashboard.access``)."""

from __future__ import annotations

from django.http import HttpRequest

from dashboard.access import can_operate


def operator(request: HttpRequest) -> dict[str, bool]:
    return {"can_operate": can_operate(request.user)}
