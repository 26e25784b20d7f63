"""``/api/v1/docs``: Swagger UI for the generated document, from files this server serves itself.

Ninja's own page would load Swagger UI from a CDN unless ninja were an installed app; this one uses the
vendored copy (``static/vendor/swagger-ui``) and a static start-up script, so the CSP (``script-src 'self'``,
no inline code) holds and the page works offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

SETTINGS: dict[str, Any] = {
    "layout": "BaseLayout",
    "deepLinking": True,
    # No online validator badge: it would fetch an image from swagger.io, which the CSP refuses.
    "validatorUrl": None,
}


class LocalSwaggerUI(DocsBase):
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**SETTINGS, "url": self.get_openapi_url(api, kwargs)}
        return render(request, "api/docs.html", {"title": api.title, "swagger_settings": settings})
