"""``/api/v1/config/``: the configuration files' JSON Schema, and plan / apply for CI pipelines.

The body is the files, as a JSON object ``{"name.yaml": "text", ...}`` or as one YAML text
(``Content-Type: application/yaml``). Who may: a superuser, or an admin (``accounts.teams`` MANAGE) of every
team the files and the plan touch; objects of no team (feature flags, the global retention policy) need a
superuser's session. A session acts with its user's roles, a token in its one team with its role (apply
needs an admin token). Behind the ``config_api`` feature flag
(docs/feature-flags.md). Problems are a 400 ``config_invalid`` listing each with file, line and path; an
apply the database refuses (another writer changed what the files describe meanwhile) a 409 ``config_conflict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Schema
from pydantic import Field

from accounts.models import Team
from accounts.teams import Action
from api.access import MANAGE, READ, principal_of
from api.auth import Principal
from api.body import bounded_body, budget_error, unsupported_media_type
from api.errors import ApiError
from api.router import ApiRouter
from api.schemas import Strict, documented
from metrics import jsonlimits
from provisioning.apply import Conflict, apply_files
from provisioning.flags import CONFIG_API, flag_active
from provisioning.plan import Plan, claimed_teams, make_plan
from provisioning.problems import ConfigInvalid
from provisioning.schema import config_schema

router = ApiRouter(tags=["config"])

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain"})
MAX_FILES = 200
MAX_NAME = 200


class ConfigQuery(Schema):
    prune: bool = Field(False, description="Also delete stored objects (in the files' teams) the files omit.")


class PlanAnswer(Strict):
    changes: bool = Field(description="Whether applying would change anything.")
    counts: dict[str, int]
    summary: dict[str, Any] = Field(description="Each change, field by field; secrets redacted.")
    text: str = Field(description="The plan as `manage.py config plan` prints it.")


class ApplyAnswer(PlanAnswer):
    applied: bool


@router.get("/schema.json", auth=None, response=documented({200: dict[str, Any]}, 400), operation_id="configSchema")
def schema(request: HttpRequest) -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of the configuration files, for editors."""
    return config_schema()


@router.post(
    "/plan",
    auth=READ,  # a plan writes nothing: a read-only token (a pull request's check) may ask for one
    response=documented({200: PlanAnswer}, 400, 401, 403, 413, 415, 429, 500),
    operation_id="configPlan",
)
def plan(request: HttpRequest, query: Query[ConfigQuery]) -> dict[str, Any]:
    """What applying the files would create, change and delete (nothing is written)."""
    principal = _admitted(request)
    files = _files(request)
    try:
        _check_teams(principal, claimed_teams(files))
        made = make_plan(files, prune=query.prune)
    except ConfigInvalid as exc:
        raise _invalid(exc) from None
    _check_teams(principal, made.teams())
    return _answer(made)


@router.post(
    "/apply",
    auth=MANAGE,
    response=documented({200: ApplyAnswer}, 400, 401, 403, 409, 413, 415, 429, 500),
    operation_id="configApply",
)
def apply(request: HttpRequest, query: Query[ConfigQuery]) -> dict[str, Any]:
    """Apply the files in one transaction (all or nothing), recorded in the audit trail."""
    principal = _admitted(request)
    files = _files(request)
    try:
        _check_teams(principal, claimed_teams(files))
        made = apply_files(
            files,
            prune=query.prune,
            user=principal.user,
            request=request,
            admit=lambda p: _check_teams(principal, p.teams()),
        )
    except ConfigInvalid as exc:
        raise _invalid(exc) from None
    except Conflict as exc:
        raise ApiError(409, "config_conflict", str(exc)) from None
    return {**_answer(made), "applied": made.has_changes}


def _admitted(request: HttpRequest) -> Principal:
    principal = principal_of(request)
    # A token request has no session user: the flag is asked about the token's owner, who acts here.
    request.user = principal.user
    if not flag_active(request, CONFIG_API):
        raise ApiError(
            403, "feature_not_enabled", "Configuration over the API is not enabled for you (flag config_api)."
        )
    return principal


def _check_teams(principal: Principal, touched: set[str | None]) -> None:
    """403 unless the caller may manage every team in ``touched`` (None: objects of no team).

    Asked first of the teams the files name (before anything stored is read, so a refusal reveals nothing),
    then of every team the plan touches (a source moved out of another team, say). A session acts with its
    user's roles (a superuser's: every team), a token in its one team with its role; objects of no team
    (flags, the global retention policy) need a superuser's session.
    """
    slugs = {slug for slug in touched if slug is not None}
    teams = {team.slug: team for team in Team.objects.filter(slug__in=slugs)}
    superuser_session = principal.token is None and principal.user.is_superuser
    refused = sorted(
        slug
        for slug in slugs
        if not superuser_session and (slug not in teams or not principal.allows(teams[slug], Action.MANAGE))
    )
    if None in touched and not superuser_session:
        refused.insert(0, "(objects of no team: feature flags, the global retention policy)")
    if refused:
        raise ApiError(
            403, "team_admin_required", "You must be an admin of every team the files touch.", {"teams": refused}
        )


def _invalid(exc: ConfigInvalid) -> ApiError:
    return ApiError(
        400,
        "config_invalid",
        f"{len(exc.problems)} problem(s) in the files; nothing was changed.",
        {"problems": [problem.as_dict() for problem in exc.problems]},
    )


def _answer(plan: Plan) -> dict[str, Any]:
    summary = plan.summary()
    return {"changes": plan.has_changes, "counts": summary["counts"], "summary": summary, "text": plan.render()}


def _files(request: HttpRequest) -> Mapping[str, str]:
    """The body as {file name: YAML text}: a JSON object of them, or one YAML text."""
    # The media type first: a form post (curl's default) is a 415 saying what to send, not a 400 about its bytes.
    if request.content_type not in YAML_TYPES and request.content_type != "application/json":
        raise unsupported_media_type(request, "application/json or application/yaml")
    limit = settings.CONFIG_API_MAX_BODY_BYTES
    raw = bounded_body(request, limit)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_body", "The body is not UTF-8 text.") from None
    if request.content_type in YAML_TYPES:
        return {"body.yaml": text}
    budget = jsonlimits.JsonBudget(
        limit, settings.JSON_MAX_DEPTH, settings.JSON_MAX_ITEMS, "the body", "CONFIG_API_MAX_BODY_BYTES"
    )
    try:
        data = jsonlimits.loads(text, budget)
    except jsonlimits.JsonBudgetError as exc:
        raise budget_error(exc) from None
    except ValueError as exc:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.", {"reason": str(exc)[:200]}) from None
    if not isinstance(data, dict) or not data or len(data) > MAX_FILES:
        raise ApiError(400, "invalid_body", f'Send a JSON object of 1 to {MAX_FILES} files: {{"name.yaml": "text"}}.')
    bad = sorted(
        str(name)[:MAX_NAME]
        for name, value in data.items()
        if not isinstance(value, str) or len(name) > MAX_NAME or not name
    )
    if bad:
        raise ApiError(400, "invalid_body", "Each file is a name and its YAML text.", {"files": bad})
    return data
