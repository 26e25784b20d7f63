"""The project's URLs plus one API operation that fails, to test what a 500 shows."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import path

from api.ninja_api import build_api
from api.router import ApiRouter
from devops_insights.urls import urlpatterns as project_urlpatterns

CRASH_SECRET = "do-not-show-this-internal-value"

router = ApiRouter()


@router.get("/crash")
def crash(request: HttpRequest) -> None:
    raise RuntimeError(f"internal failure involving {CRASH_SECRET}")


# Its own NinjaAPI with the project's conventions (auth, error handling), ahead of the project's own.
urlpatterns = [path("api/v1/", build_api("crash-test", ("", router)).urls), *project_urlpatterns]
