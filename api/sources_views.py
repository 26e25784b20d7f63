"""``/api/v1/sources``: source definitions with poll health; staff write tokens may change them."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query
from ninja.responses import Status

from alerts.defaults import add_unreachable_rule
from api import schemas
from api.access import STAFF_WRITE, principal_of
from api.conditional import set_last_modified
from api.errors import ApiError
from api.params import Slug, Text, TrueFalse
from api.representations import source_data
from api.router import ApiRouter
from api.schemas import READ_ERRORS, WRITE_ERRORS, SourceCreate, SourceList, SourceUpdate, documented
from api.source_input import apply_source_input
from metrics.stores import get_store
from pollers.models import Source

logger = logging.getLogger("api")

router = ApiRouter(tags=["sources"])


def source_or_404(slug: str) -> Source:
    source = Source.objects.filter(slug=slug).first()
    if source is None:
        raise ApiError(404, "source_not_found", f"No source with slug {slug!r}.")
    return source


@router.get("", response=documented({200: SourceList}, *READ_ERRORS, not_modified=True), operation_id="listSources")
def sources(
    request: HttpRequest,
    region: Query[Text | None] = None,
    tag: Query[Text | None] = None,
    enabled: Query[TrueFalse | None] = None,
) -> dict[str, Any]:
    """Every source: definition, poll health and alert state; filtered by region, tag or enabled."""
    found = Source.objects.all()
    if region:
        found = found.filter(region=region)
    if enabled:
        found = found.filter(enabled=enabled == "true")
    return {"sources": [source_data(source) for source in found if not tag or tag in (source.tags or [])]}


@router.post(
    "",
    auth=STAFF_WRITE,
    response=documented({201: schemas.Source}, *WRITE_ERRORS),
    operation_id="createSource",
    openapi_extra={"responses": {201: {"headers": {"Location": {"schema": {"type": "string"}}}}}},
)
def create_source(request: HttpRequest, response: HttpResponse, body: SourceCreate) -> Status:
    """Create a source (staff user, write-scoped token). Validated like the admin."""
    source = Source()
    apply_source_input(source, body.model_dump(exclude_unset=True))
    with transaction.atomic():
        source.save()
        add_unreachable_rule(source)  # ALERTS_DEFAULT_UNREACHABLE_RULE, as from the dashboard
    logger.info("source %s created through the API by %s", source.slug, principal_of(request).user)
    response["Location"] = f"/api/v1/sources/{source.slug}"
    return Status(201, source_data(source))


@router.get(
    "/{slug:slug}",
    response=documented({200: schemas.Source}, *READ_ERRORS, not_modified=True),
    operation_id="getSource",
)
def source_detail(request: HttpRequest, response: HttpResponse, slug: Slug) -> dict[str, Any]:
    """One source: definition, poll health and alert state."""
    source = source_or_404(slug)
    set_last_modified(response, source.updated_at)
    return source_data(source)


@router.patch(
    "/{slug:slug}",
    auth=STAFF_WRITE,
    response=documented({200: schemas.Source}, *WRITE_ERRORS),
    operation_id="updateSource",
)
def update_source(request: HttpRequest, slug: Slug, body: SourceUpdate) -> dict[str, Any]:
    """Change some fields of a source (staff user, write-scoped token)."""
    source = source_or_404(slug)
    data = body.model_dump(exclude_unset=True)
    apply_source_input(source, data)
    source.save()
    logger.info("source %s changed through the API (%s)", slug, ", ".join(sorted(data)))
    return source_data(source)


@router.delete(
    "/{slug:slug}",
    auth=STAFF_WRITE,
    response=documented({204: None}, *(code for code in WRITE_ERRORS if code not in (413, 415))),
    operation_id="deleteSource",
)
def delete_source(request: HttpRequest, slug: Slug) -> Status:
    """Delete a source and its stored metrics (staff user, write-scoped token)."""
    source = source_or_404(slug)
    # The store first: if it is down nothing is deleted and the client can retry.
    get_store().delete_source(slug)
    with transaction.atomic():
        get_object_or_404(Source, pk=source.pk).delete()
    logger.info("source %s deleted through the API", slug)
    return Status(204, None)
