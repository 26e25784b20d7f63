"""The project's URLs plus the status page benchmark's floor: a constant Django view (bench/status_page.py)."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path

from devops_insights.urls import urlpatterns as project_urlpatterns

# As many bytes as the status page it is compared with, so both move the same amount over the wire.
CONSTANT = b"x" * int(os.environ.get("BENCH_CONSTANT_BYTES", "2048"))


def constant(request: HttpRequest) -> HttpResponse:
    return HttpResponse(CONSTANT, content_type="text/html; charset=utf-8")


urlpatterns = [path("bench/constant/", constant), *project_urlpatterns]
