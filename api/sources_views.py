"""``/api/v1/sources``: source definitions with poll health, of the caller's teams; team admins change them.

Another team's source answers 404 exactly like a missing one; a visible source the caller may not change 403.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query
from ninja.responses import Status

from accounts.models import Team
from accounts.teams import Action
from api import schemas
from api.access import MANAGE, principal_of, role_refused
from api.conditional import etag_of, require_match, set_last_modified
from api.errors import ApiError, field_errors
from api.params import Slug, Text, TrueFalse
from api.representations import source_data
from api.router import ApiRouter
from api.schemas import READ_ERRORS, WRITE_ERRORS, SourceCreate, SourceList, SourceUpdate, documented
from api.source_input import apply_source_input
from metrics.stores import get_store
from pollers.models import Source

logger = logging.getLogger("api")

router = ApiRouter(tags=["sources"])
BODY_INVALID = "The request body is invalid."


def visible_sources(request: HttpRequest) -> QuerySet[Source]:
    """The sources the caller may read (a token: its team's; a session: its teams')."""
    return principal_of(request).restrict(Source.objects.select_related("team"))


def source_or_404(request: HttpRequest, slug: str, action: Action = Action.READ) -> Source:
    """The caller's source ``slug``: 404 when missing or another team's (the same answer), 403 when visible but
    ``action`` needs a role the caller lacks in its team."""
    source = visible_sources(request).filter(slug=slug).first()
    if source is None:
        raise ApiError(404, "source_not_found", f"No source with slug {slug!r}.")
    if action is not Action.READ and not principal_of(request).allows(source.team_id, action):
        raise role_refused(action)
    return source


def current_etag(request: HttpRequest, source: Source) -> str:
    """The ETag ``GET /api/v1/sources/<slug>`` answers for ``source`` now: its body, rendered as the API renders
    it (validated by the same schema, serialised by the same renderer), hashed as ``api.conditional`` does."""
    from api.ninja_api import api  # at call time: ninja_api imports this module to build the API

    body = schemas.Source.model_validate(source_data(source)).model_dump()
    return etag_of(api.renderer.render(request, body, response_status=200))


def locked_source_or_404(request: HttpRequest, slug: str) -> Source:
    """``source_or_404`` for a change (MANAGE), its row locked until the transaction ends and ``If-Match``
    checked against it: two writers holding the same ETag cannot both pass the check."""
    source = source_or_404(request, slug, Action.MANAGE)
    locked = Source.objects.select_for_update(of=("self",)).select_related("team").get(pk=source.pk)
    require_match(request, current_etag(request, locked))
    return locked


def team_for_create(request: HttpRequest, slug: str | None) -> Team:
    """The team a new object goes to: the token's; for a session the named one, or its only team it manages."""
    principal = principal_of(request)
    if slug is None:
        if principal.token is not None:
            return principal.token.team
        manageable = list(principal.teams(Action.MANAGE)[:2])
        if len(manageable) == 1:
            return manageable[0]
        if not manageable:
            raise role_refused(Action.MANAGE)
        raise field_errors({"team": ["required: you manage several teams; name one by its slug"]}, BODY_INVALID)
    team = principal.teams(Action.READ).filter(slug=slug).first()
    if team is None:
        raise field_errors({"team": [f"no team {slug!r} among yours"]}, BODY_INVALID)
    if not principal.allows(team, Action.MANAGE):
        raise role_refused(Action.MANAGE)
    return team


@router.get("", response=documented({200: SourceList}, *READ_ERRORS, not_modified=True), operation_id="listSources")
def sources(
    request: HttpRequest,
    region: Query[Text | None] = None,
    tag: Query[Text | None] = None,
    enabled: Query[TrueFalse | None] = None,
) -> dict[str, Any]:
    """Every source of the caller's teams: definition, poll health and alert state; filtered by region, tag or
    enabled."""
    found = visible_sources(request)
    if region:
        found = found.filter(region=region)
    if enabled:
        found = found.filter(enabled=enabled == "true")
    return {"sources": [source_data(source) for source in found if not tag or tag in (source.tags or [])]}


@router.post(
    "",
    auth=MANAGE,
    response=documented({201: schemas.Source}, *WRITE_ERRORS),
    operation_id="createSource",
    openapi_extra={"responses": {201: {"headers": {"Location": {"schema": {"type": "string"}}}}}},
)
def create_source(request: HttpRequest, response: HttpResponse, body: SourceCreate) -> Status:
    """Create a source (team admin). Validated like the admin.

    It belongs to the token's team; a session names ``team`` (a slug) when it manages several.
    """
    data = body.model_dump(exclude_unset=True)
    team = team_for_create(request, data.pop("team", None))
    source = Source(team=team)
    apply_source_input(source, data)
    source.add()  # with the defaults of a source a person adds, as from the dashboard (pollers.signals.source_added)
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
    source = source_or_404(request, slug)
    set_last_modified(response, source.updated_at)
    return source_data(source)


@router.patch(
    "/{slug:slug}",
    auth=MANAGE,
    response=documented({200: schemas.Source}, *WRITE_ERRORS),
    operation_id="updateSource",
)
def update_source(request: HttpRequest, slug: Slug, body: SourceUpdate) -> dict[str, Any]:
    """Change some fields of a source (team admin); with ``If-Match``, only if it still has that ETag."""
    data = body.model_dump(exclude_unset=True)
    with transaction.atomic():
        source = locked_source_or_404(request, slug)
        apply_source_input(source, data)
        source.save()
    logger.info("source %s changed through the API (%s)", slug, ", ".join(sorted(data)))
    return source_data(source)


@router.delete(
    "/{slug:slug}",
    auth=MANAGE,
    response=documented({204: None}, *(code for code in WRITE_ERRORS if code not in (413, 415))),
    operation_id="deleteSource",
)
def delete_source(request: HttpRequest, slug: Slug) -> Status:
    """Delete a source and its stored metrics (team admin); with ``If-Match``, only if it still has that ETag."""
    with transaction.atomic():
        # The row stays locked from the If-Match check to its delete, and the check comes before the store's
        # history is touched.
        source = locked_source_or_404(request, slug)
        # The store first: if it is down nothing is deleted (the row's delete rolls back) and the client can retry.
        get_store().delete_source(slug)
        get_object_or_404(Source, pk=source.pk).delete()
    logger.info("source %s deleted through the API", slug)
    return Status(204, None)
