"""A URLconf for test_busy.py: a page and an API route whose views raise the database error the test gives them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

RAISES: list[Exception] = []


def fail(request: HttpRequest) -> HttpResponse:
    raise RAISES[0]


urlpatterns = [path("busy/", fail), path("api/v1/busy", fail)]
