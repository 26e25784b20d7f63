"""``/api/v1/boards``, ``/api/v1/compare`` and ``/api/v1/annotations``: boards, the region comparison and
deploy/change markers (boards/; docs/boards.md).

Every operation is a router of the one NinjaAPI, so credentials, rate limits, strict parameters and the
error shape are the API's own. Who may do what is accounts.teams' rule, as boards.models says: reading
needs a viewer of the board's (or source's) team; writing needs an operator or admin there (a token: of
that team, with the operator role or above). A board the caller may not read answers 404, as a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Schema
from ninja.responses import Status
from pydantic import ConfigDict, Field

from accounts.models import Team
from accounts.teams import Action
from api.access import OPERATE, principal_of, role_refused
from api.auth import Principal
from api.body import json_object
from api.conditional import etag_of, require_match
from api.errors import ApiError, field_errors
from api.params import BOTH_RANGES, TIMESTAMP_HELP, Between, Text, Timestamp
from api.router import ApiRouter
from api.schemas import READ_ERRORS, WRITE_ERRORS, documented
from boards import spec
from boards.compare import compare
from boards.data import RangeError, TimeRange, assemble
from boards.models import EDIT, Annotation, Board
from metrics.stores import get_store
from metrics.stores.base import StoreError
from pollers.models import Source

router = ApiRouter(tags=["boards"])
MAX_ANNOTATIONS = 500
# The document's outline; the whole schema (boards.spec.SCHEMA, its per-panel-type branches) is checked by
# the operation and described in docs/boards.md: generators and viewers of the OpenAPI document choke on it.
BOARD_OUTLINE = {
    "type": "object",
    "description": "A board document (docs/boards.md, 'The board document').",
    "required": ["format", "title", "panels"],
    "properties": {
        "format": {"const": spec.FORMAT},
        "title": {"type": "string", "minLength": 1, "maxLength": 120},
        "team": {"type": "string"},
        "time_range": {"enum": list(spec.TIME_RANGES)},
        "refresh": {"enum": list(spec.REFRESH_CHOICES)},
        "variables": {"type": "array", "items": {"type": "object"}},
        "panels": {"type": "array", "items": {"type": "object"}, "maxItems": spec.MAX_PANELS},
        "phone_order": {"type": "array", "items": {"type": "string"}, "maxItems": spec.MAX_PANELS},
    },
}
BOARD_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": BOARD_OUTLINE}}}}


# --- who may do what ------------------------------------------------------------------------


def board_or_404(request: HttpRequest, slug: str) -> Board:
    board = principal_of(request).restrict(Board.objects.select_related("team")).filter(slug=slug).first()
    if board is None:
        raise ApiError(404, "board_not_found", f"No board with slug {slug!r}.")
    return board


def board_representation(request: HttpRequest, board: Board) -> dict[str, Any]:
    """What ``GET /api/v1/boards/<slug>`` answers: the summary and the document."""
    return {**board_summary(board, principal_of(request)), "document": board.document()}


def locked_board_for_change(request: HttpRequest, slug: str) -> Board:
    """The board to change, its row locked until the transaction ends, refused with 412 when ``If-Match`` does not
    name the ETag a GET answers for it now (checked before the change, so a refusal changes nothing)."""
    from api.ninja_api import api  # at call time: ninja_api imports this module to build the API

    board = board_or_404(request, slug)
    require_edit(request, board.team)
    locked = Board.objects.select_for_update(of=("self",)).select_related("team").get(pk=board.pk)
    if request.headers.get("If-Match") is not None:
        rendered = api.renderer.render(request, board_representation(request, locked), response_status=200)
        require_match(request, etag_of(rendered))
    return locked


def require_edit(request: HttpRequest, team: Team | int) -> Any:
    """The caller's user, when it may change what ``team`` owns (a token: within its role); else the 403."""
    principal = principal_of(request)
    if not principal.allows(team, EDIT):
        raise role_refused(EDIT)
    return principal.user


def team_for_write(request: HttpRequest, slug: str | None) -> Team:
    """The team named (by slug), else the token's, else the session's only team where it may edit."""
    principal = principal_of(request)
    if slug:
        team = principal.teams(Action.READ).filter(slug=slug).first()
        if team is None:
            raise field_errors({"team": [f"no team {slug!r} among yours"]}, "The request body is invalid.")
        return team
    if principal.token is not None:
        return principal.token.team
    editable = list(principal.teams(EDIT)[:2])
    if not editable:
        raise role_refused(EDIT)
    if len(editable) > 1:
        raise field_errors(
            {"team": ["required: you may edit boards in several teams; name one by its slug"]},
            "The request body is invalid.",
        )
    return editable[0]


def visible_sources(request: HttpRequest) -> list[Source]:
    """The sources the caller may read (a token: its team's), by slug: what panels may show."""
    return list(principal_of(request).restrict(Source.objects.all()).order_by("slug"))


def board_document(request: HttpRequest) -> dict[str, Any]:
    body = json_object(request)
    try:
        return spec.validate(body)
    except spec.SpecError as exc:
        raise field_errors(exc.problems, "The board document is invalid.") from None


def board_summary(board: Board, principal: Principal) -> dict[str, Any]:
    """A board's summary; ``can_edit`` is what the caller may do with this credential (a token: within its role,
    as the writes check), not what its owner could do signed in."""
    return {
        "slug": board.slug,
        "title": board.title,
        "team": board.team.slug,
        "version": board.version,
        "time_range": board.time_range,
        "refresh": board.refresh,
        "updated_at": board.updated_at.isoformat(),
        "can_edit": principal.allows(board.team_id, EDIT),
        "url": f"/boards/{board.slug}/",
    }


# --- boards ---------------------------------------------------------------------------------


@router.get("/boards", response=documented({200: dict[str, Any]}, *READ_ERRORS), operation_id="listBoards")
def list_boards(request: HttpRequest) -> dict[str, Any]:
    """The boards of every team the caller may read."""
    principal = principal_of(request)
    boards = principal.restrict(Board.objects.select_related("team"))
    return {"boards": [board_summary(b, principal) for b in boards]}


@router.post(
    "/boards",
    response=documented({201: dict[str, Any]}, *WRITE_ERRORS),
    operation_id="createBoard",
    auth=OPERATE,
    openapi_extra=BOARD_BODY,
)
def create_board(request: HttpRequest, response: HttpResponse) -> Status:
    """Create a board from a board document (import). ``team`` names the owner when the caller has several."""
    document = board_document(request)
    team = team_for_write(request, document.get("team"))
    user = require_edit(request, team)
    board = Board.create_from(document, team, user)
    response["Location"] = f"/api/v1/boards/{board.slug}"
    return Status(201, board_representation(request, board))


@router.get("/boards/{slug}", response=documented({200: dict[str, Any]}, *READ_ERRORS), operation_id="getBoard")
def get_board(request: HttpRequest, slug: str) -> dict[str, Any]:
    """A board: its summary and its document (the export format)."""
    return board_representation(request, board_or_404(request, slug))


@router.put(
    "/boards/{slug}",
    response=documented({200: dict[str, Any]}, *WRITE_ERRORS),
    operation_id="saveBoard",
    auth=OPERATE,
    openapi_extra=BOARD_BODY,
)
def save_board(request: HttpRequest, slug: str) -> dict[str, Any]:
    """Save a new version of a board from a document; the board's slug and team stay. With ``If-Match``, only if the
    board still has that ETag."""
    with transaction.atomic():
        board = locked_board_for_change(request, slug)
        user = principal_of(request).user
        document = board_document(request)
        version = board.save_document({**document, "slug": board.slug, "team": board.team.slug}, user)
    return {**board_representation(request, board), "saved_version": version.number}


@router.delete(
    "/boards/{slug}",
    response=documented({204: None}, 400, 401, 403, 404, 429, 500),
    operation_id="deleteBoard",
    auth=OPERATE,
)
def delete_board(request: HttpRequest, slug: str) -> Status:
    """Delete a board and its versions; with ``If-Match``, only if the board still has that ETag."""
    with transaction.atomic():
        locked_board_for_change(request, slug).delete()
    return Status(204, None)


@router.get(
    "/boards/{slug}/versions",
    response=documented({200: dict[str, Any]}, *READ_ERRORS),
    operation_id="listBoardVersions",
)
def board_versions(request: HttpRequest, slug: str) -> dict[str, Any]:
    """Every saved version of a board, newest first."""
    board = board_or_404(request, slug)
    return {
        "versions": [
            {
                "number": v.number,
                "created_at": v.created_at.isoformat(),
                "author": v.author.get_username() if v.author else None,
                "note": v.note,
                "panels": len(v.document.get("panels", [])),
            }
            for v in board.versions.select_related("author")
        ]
    }


@router.post(
    "/boards/{slug}/versions/{number}/restore",
    response=documented({200: dict[str, Any]}, 400, 401, 403, 404, 429, 500),
    operation_id="restoreBoardVersion",
    auth=OPERATE,
)
def restore_version(request: HttpRequest, slug: str, number: int) -> dict[str, Any]:
    """Restore an earlier version: saved as a new version copying it (history only grows)."""
    board = board_or_404(request, slug)
    user = require_edit(request, board.team)
    if not board.versions.filter(number=number).exists():
        raise ApiError(404, "version_not_found", f"Board {slug!r} has no version {number}.")
    version = board.restore(number, user)
    return {**board_representation(request, board), "saved_version": version.number}


@router.post(
    "/boards/{slug}/duplicate",
    response=documented({201: dict[str, Any]}, 400, 401, 403, 404, 429, 500),
    operation_id="duplicateBoard",
    auth=OPERATE,
)
def duplicate_board(request: HttpRequest, response: HttpResponse, slug: str) -> Status:
    """A copy of a board in the same team, with a new slug and a history of its own."""
    board = board_or_404(request, slug)
    user = require_edit(request, board.team)
    copy = board.duplicate(user)
    response["Location"] = f"/api/v1/boards/{copy.slug}"
    return Status(201, board_summary(copy, principal_of(request)))


class DataQuery(Schema):
    range: Annotated[Text | None, Field(None, description=f"A preset: {', '.join(spec.TIME_RANGES)}.")] = None
    start: Annotated[
        Timestamp | None, Field(None, alias="from", description=f"With `to`, a zoom: {TIMESTAMP_HELP}")
    ] = None
    end: Annotated[Timestamp | None, Field(None, alias="to", description=TIMESTAMP_HELP)] = None
    vars: Annotated[
        Text | None, Field(None, max_length=1000, description="Variable values: `region=eu-west,tag=prod`.")
    ] = None


def parse_vars(raw: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise field_errors(
                {"vars": ["write name=value pairs separated by commas"]}, "Some query parameters are invalid."
            )
        values[name.strip()] = value.strip()
    return values


def time_range_of(name: str | None, start: datetime | None, end: datetime | None) -> TimeRange:
    """The range of a panel read: ``from`` and ``to`` as every API time is written (api.params), or a preset."""
    if name is not None and (start is not None or end is not None):
        raise field_errors({"range": [BOTH_RANGES]}, "Some query parameters are invalid.")
    try:
        return TimeRange.parse(
            name,
            None if start is None else str(start.timestamp()),
            None if end is None else str(end.timestamp()),
            timezone.now(),
        )
    except RangeError as exc:
        raise field_errors({"range": [str(exc)]}, "Some query parameters are invalid.") from None


@router.get("/boards/{slug}/data", response=documented({200: dict[str, Any]}, *READ_ERRORS), operation_id="boardData")
def board_data(request: HttpRequest, slug: str, query: Query[DataQuery]) -> dict[str, Any]:
    """Every panel's data for a range and variable values (what the board page draws)."""
    board = board_or_404(request, slug)
    return assemble(
        board.document(),
        visible_sources(request),
        parse_vars(query.vars),
        time_range_of(query.range, query.start, query.end),
        get_store(),
        timezone.now(),
    )


@router.post(
    "/boards/{slug}/preview",
    response=documented({200: dict[str, Any]}, 400, 401, 403, 404, 413, 415, 429, 500),
    operation_id="previewBoard",
    openapi_extra=BOARD_BODY,
)
def preview_board(request: HttpRequest, slug: str, query: Query[DataQuery]) -> dict[str, Any]:
    """Panel data for a board's document as edited, not saved yet (the editor's unsaved panels); saves nothing."""
    board_or_404(request, slug)
    document = board_document(request)
    return assemble(
        document,
        visible_sources(request),
        parse_vars(query.vars),
        time_range_of(query.range, query.start, query.end),
        get_store(),
        timezone.now(),
    )


class CompareQuery(Schema):
    metric: Annotated[
        Text, Field(min_length=1, max_length=100, pattern=spec.METRIC, description="The metric to compare.")
    ]
    range: Annotated[Text | None, Field(None, description=f"A preset: {', '.join(spec.TIME_RANGES)}.")] = None
    start: Annotated[Timestamp | None, Field(None, alias="from", description=f"With `to`: {TIMESTAMP_HELP}")] = None
    end: Annotated[Timestamp | None, Field(None, alias="to", description=TIMESTAMP_HELP)] = None


@router.get("/compare", response=documented({200: dict[str, Any]}, *READ_ERRORS), operation_id="compareRegions")
def compare_regions(request: HttpRequest, query: Query[CompareQuery]) -> dict[str, Any]:
    """One metric, every region: overlaid series, each region's deviation from the median of the others, a ranking."""
    window = time_range_of(query.range, query.start, query.end)
    try:
        return compare(query.metric, visible_sources(request), window, get_store())
    except StoreError:
        raise ApiError(503, "store_unavailable", "The metric store did not answer; retry shortly.") from None


# --- annotations ----------------------------------------------------------------------------


class AnnotationQuery(Schema):
    source: Annotated[Text | None, Field(None, max_length=64, description="Only this source's (and team-wide) ones.")]
    since: Annotated[Timestamp | None, Field(None, description=f"At or after this time. {TIMESTAMP_HELP}")] = None
    until: Annotated[Timestamp | None, Field(None, description=f"Before this time. {TIMESTAMP_HELP}")] = None
    kind: Annotated[Text | None, Field(None, pattern="^(auto|manual)$", description="auto or manual.")] = None
    limit: Annotated[int, Between(1, MAX_ANNOTATIONS)] = Field(100, description="At most this many, newest first.")


@router.get("/annotations", response=documented({200: dict[str, Any]}, *READ_ERRORS), operation_id="listAnnotations")
def list_annotations(request: HttpRequest, query: Query[AnnotationQuery]) -> dict[str, Any]:
    """Deploy and change markers of the teams the caller may read, newest first."""
    # Only those that still count (AnnotationQuerySet.current): not another team's source's, moved since.
    found = principal_of(request).restrict(Annotation.objects.current().select_related("team", "source", "created_by"))
    if query.source is not None:
        source = principal_of(request).restrict(Source.objects.all()).filter(slug=query.source).first()
        if source is None:
            raise field_errors({"source": ["no such source"]}, "Some query parameters are invalid.")
        found = found.filter(Q(source=source) | Q(source__isnull=True, team_id=source.team_id))
    if query.since is not None:
        found = found.filter(at__gte=query.since)
    if query.until is not None:
        found = found.filter(at__lt=query.until)
    if query.kind:
        found = found.filter(kind=query.kind)
    return {"annotations": [a.as_dict() for a in found.order_by("-at", "-pk")[: query.limit]]}


class AnnotationCreate(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: Annotated[Text, Field(min_length=1, max_length=500)]
    at: Annotated[Timestamp | None, Field(None, description=f"When (default: now). {TIMESTAMP_HELP}")] = None
    source: Annotated[
        Text | None, Field(None, max_length=64, description="The source; none: every source of the team.")
    ] = None
    team: Annotated[Text | None, Field(None, max_length=50, description="The team, when there is no source.")] = None
    tags: Annotated[list[Annotated[Text, Field(min_length=1, max_length=40)]], Field(max_length=10)] = Field(
        default_factory=list
    )


@router.post(
    "/annotations",
    response=documented({201: dict[str, Any]}, *WRITE_ERRORS),
    operation_id="createAnnotation",
    auth=OPERATE,
)
def create_annotation(request: HttpRequest, response: HttpResponse, body: AnnotationCreate) -> Status:
    """Mark a moment (a release from CI, a maintenance): on every chart covering its source and time."""
    source = None
    if body.source is not None:
        source = principal_of(request).restrict(Source.objects.select_related("team")).filter(slug=body.source).first()
        if source is None:
            raise field_errors({"source": ["no such source"]}, "The request body is invalid.")
        team: Team = source.team
    else:
        team = team_for_write(request, body.team)
    author = require_edit(request, team)
    annotation = Annotation.objects.create(
        team=team,
        source=source,
        at=body.at or timezone.now(),
        text=body.text,
        tags=list(dict.fromkeys(body.tags)),
        kind=Annotation.Kind.MANUAL,
        created_by=author,
    )
    response["Location"] = f"/api/v1/annotations?source={source.slug}" if source else "/api/v1/annotations"
    return Status(201, annotation.as_dict())
