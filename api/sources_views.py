"""``/api/v1/sources``: source definitions with poll health; staff write tokens may change them."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404

from api.body import json_object
from api.conditional import conditional_json
from api.decorators import Access, api_view
from api.errors import ApiError
from api.params import QueryParams
from api.representations import source_data
from api.source_input import apply_source_input
from metrics.stores import get_store
from pollers.models import Source

logger = logging.getLogger("api")


def source_or_404(slug: str) -> Source:
    source = Source.objects.filter(slug=slug).first()
    if source is None:
        raise ApiError(404, "source_not_found", f"No source with slug {slug!r}.")
    return source


@api_view(GET=Access.READ, POST=Access.STAFF_WRITE)
def sources(request: HttpRequest) -> HttpResponseBase:
    if request.method == "POST":
        return create_source(request)
    params = QueryParams(request, ("region", "tag", "enabled"))
    region = params.string("region")
    tag = params.string("tag")
    enabled = params.choice("enabled", ("true", "false"), default="")
    params.raise_if_invalid()
    found = Source.objects.all()
    if region:
        found = found.filter(region=region)
    if enabled:
        found = found.filter(enabled=enabled == "true")
    rows = [source_data(source) for source in found if not tag or tag in (source.tags or [])]
    return conditional_json(request, {"sources": rows})


def create_source(request: HttpRequest) -> HttpResponseBase:
    data = json_object(request)
    source = Source()
    apply_source_input(source, data, creating=True)
    source.save()
    logger.info("source %s created through the API by %s", source.slug, request.principal.user)  # type: ignore[attr-defined]
    response = conditional_json(request, source_data(source), status=201)
    response["Location"] = f"/api/v1/sources/{source.slug}"
    return response


@api_view(GET=Access.READ, PATCH=Access.STAFF_WRITE, DELETE=Access.STAFF_WRITE)
def source_detail(request: HttpRequest, slug: str) -> HttpResponseBase:
    source = source_or_404(slug)
    if request.method == "PATCH":
        data = json_object(request)
        apply_source_input(source, data, creating=False)
        source.save()
        logger.info("source %s changed through the API (%s)", slug, ", ".join(sorted(data)))
        return conditional_json(request, source_data(source))
    if request.method == "DELETE":
        # The store first: if it is down nothing is deleted and the client can retry.
        get_store().delete_source(slug)
        with transaction.atomic():
            get_object_or_404(Source, pk=source.pk).delete()
        logger.info("source %s deleted through the API", slug)
        return HttpResponse(status=204)
    QueryParams(request, ()).raise_if_invalid()
    return conditional_json(request, source_data(source), last_modified=source.updated_at)
