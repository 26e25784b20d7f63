"""The project's URLs plus one API view that fails, to test what a 500 shows."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from api.decorators import Access, api_view
from devops_insights.urls import urlpatterns as project_urlpatterns

CRASH_SECRET = "do-not-show-this-internal-value"


@api_view(GET=Access.READ)
def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"internal failure involving {CRASH_SECRET}")


urlpatterns = [path("api/v1/crash", crash), *project_urlpatterns]
