"""``/api/v1/objectives`` (service level objectives with their attainment, budget and burn rates) and
``/api/v1/anomalies`` (what anomaly rules detected, as chart markers).

Access (accounts.teams, the one rule): reads list what the caller may READ (objectives of their teams,
anomalies of their teams' sources); creating an objective needs MANAGE in its team (a token: its role, capped by
its owner's). Errors keep the one shape of ``api.errors``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Schema
from ninja.responses import Status
from pydantic import ConfigDict, Field

from accounts.teams import Action, default_team
from alerts.markers import anomaly_markers
from api.access import MANAGE, principal_of, role_refused
from api.errors import ApiError, field_errors
from api.params import TIMESTAMP_HELP, Slug, Text, Timestamp, reversed_range
from api.router import ApiRouter
from api.schemas import READ_ERRORS, WRITE_ERRORS, Strict, documented
from metrics.stores import get_store
from objectives.attainment import budget_series, measure
from objectives.models import Objective
from pollers.models import Source

logger = logging.getLogger("api")

router = ApiRouter(tags=["objectives"])
anomalies_router = ApiRouter(tags=["anomalies"])
MAX_OBJECTIVES = 200
MAX_ANOMALY_RANGE = timedelta(days=92)


class Attainment(Strict):
    at: str
    period: dict[str, str]
    target_percent: float
    good: int
    total: int
    attainment_percent: float | None
    remaining_budget_percent: float | None
    met: bool | None
    burn_rates: dict[str, float | None] = Field(description="Burn rate over 1h, 6h, 1d and 3d (null: no events).")


class ObjectiveOut(Strict):
    id: int
    name: str
    description: str
    team: str
    kind: Literal["availability", "metric"]
    sources: list[str]
    tag: str
    metric: str
    operator: str
    bound: float | None
    target: float
    window_days: int
    window_kind: Literal["rolling", "calendar"]
    attainment: Attainment
    budget: list[dict[str, Any]] = Field(default_factory=list, description="Remaining budget through the period.")


class ObjectiveList(Strict):
    objectives: list[ObjectiveOut]


class ObjectiveCreate(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[Text, Field(min_length=1, max_length=120)]
    description: Annotated[Text, Field(max_length=2000)] = ""
    team: Annotated[Text, Field(max_length=64, description="The owning team's slug (default: the default team).")] = ""
    kind: Literal["availability", "metric"] = "availability"
    sources: Annotated[list[Slug], Field(max_length=1000)] = Field(default_factory=list)
    tag: Annotated[Text, Field(max_length=64)] = ""
    metric: Annotated[Text, Field(max_length=120)] = ""
    operator: Literal["", ">", ">=", "<", "<="] = ""
    bound: float | None = None
    target: float | str = Field(99.9, description="Percent of good events, strictly between 0 and 100.")
    window_days: Literal[7, 28, 30] = 30
    window_kind: Literal["rolling", "calendar"] = "rolling"


def objective_data(objective: Objective, now: datetime, *, with_budget: bool = False) -> dict[str, Any]:
    store = get_store()
    data = {
        "id": objective.pk,
        "name": objective.name,
        "description": objective.description,
        "team": objective.team.slug,
        "kind": objective.kind,
        "sources": [source.slug for source in objective.covered_sources()],
        "tag": objective.tag,
        "metric": objective.metric,
        "operator": objective.operator,
        "bound": objective.bound,
        "target": float(objective.target),
        "window_days": objective.window_days,
        "window_kind": objective.window_kind,
        "attainment": measure(objective, store, now).as_dict(),
    }
    if with_budget:
        data["budget"] = budget_series(objective, store, now)
    return data


def visible(request: HttpRequest) -> Any:
    return principal_of(request).restrict(Objective.objects.with_sources(), Action.READ)


@router.get("", response=documented({200: ObjectiveList}, *READ_ERRORS), operation_id="listObjectives")
def objectives(request: HttpRequest) -> dict[str, Any]:
    """Every objective the caller may read, with attainment, remaining budget and burn rates."""
    now = timezone.now()
    # Every objective's covered sources in one read: its "sources" and its attainment both use them.
    return {"objectives": [objective_data(o, now) for o in visible(request)[:MAX_OBJECTIVES].with_coverage()]}


@router.get("/{objective_id}", response=documented({200: ObjectiveOut}, *READ_ERRORS), operation_id="getObjective")
def objective_detail(request: HttpRequest, objective_id: int) -> dict[str, Any]:
    """One objective, with the remaining budget through its period so far."""
    objective = next(iter(visible(request).filter(pk=objective_id).with_coverage()), None)
    if objective is None:
        raise ApiError(404, "objective_not_found", f"No objective {objective_id} you may read.")
    return objective_data(objective, timezone.now(), with_budget=True)


@router.post(
    "",
    auth=MANAGE,  # and the objective's team decides below: its admin (a token: of its own team)
    response=documented({201: ObjectiveOut}, *WRITE_ERRORS),
    operation_id="createObjective",
)
def create_objective(request: HttpRequest, response: HttpResponse, body: ObjectiveCreate) -> Status:
    """Create an objective in a team the caller administers (a token: its own team, by default)."""
    principal = principal_of(request)
    data = body.model_dump()
    if body.team:
        team = principal.teams(Action.READ).filter(slug=data.pop("team")).first()
    else:
        team = principal.token.team if principal.token is not None else default_team()
    if team is None:
        raise field_errors({"team": ["no such team"]}, "The objective is invalid.")
    if not principal.allows(team, Action.MANAGE):
        raise role_refused(Action.MANAGE)
    data.pop("team", None)
    slugs = data.pop("sources")
    errors: dict[str, list[str]] = {}
    sources = list(Source.objects.filter(slug__in=slugs, team=team))
    missing = sorted(set(slugs) - {source.slug for source in sources})
    if missing:
        errors["sources"] = [f"no source {', '.join(missing)} in team {team.slug}"]
    covered = Objective(team=team, tag=data["tag"]).tag_covers_any()
    if (coverage := Objective.coverage_problem(bool(slugs), data["tag"], covered)) is not None:
        errors["tag" if data["tag"] and not slugs else "sources"] = [coverage]
    try:
        data["target"] = Decimal(str(data["target"]))
    except InvalidOperation:
        errors["target"] = ["must be a number"]
        data["target"] = Decimal(0)
    objective = Objective(team=team, **data)
    try:
        objective.full_clean(exclude=list(errors))
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault("name" if name == "__all__" else name, []).extend(str(m) for m in messages)
    if errors:
        raise field_errors(errors, "The objective is invalid.")
    with transaction.atomic():
        objective.save()
        objective.sources.set(sources)
    logger.info("objective %s created through the API by %s", objective.pk, principal.user)
    response["Location"] = f"/api/v1/objectives/{objective.pk}"
    return Status(201, objective_data(objective, timezone.now(), with_budget=True))


# --- anomalies ------------------------------------------------------------------------------------


class Marker(Strict):
    id: int
    source: str
    rule: str
    metric: str | None
    hour: str | None = Field(description="The anomalous hour's start (UTC).")
    occurred_at: str
    resolved_at: str | None
    value: float | None
    z: dict[str, float | None]


class MarkerList(Strict):
    anomalies: list[Marker]


class AnomalyQuery(Schema):
    source: Slug | None = Field(None, description="Only this source.")
    start: Timestamp | None = Field(None, alias="from", description=f"At or after this time. {TIMESTAMP_HELP}")
    end: Timestamp | None = Field(None, alias="to", description=f"Before this time. {TIMESTAMP_HELP}")


@anomalies_router.get("", response=documented({200: MarkerList}, *READ_ERRORS), operation_id="listAnomalies")
def anomalies(request: HttpRequest, query: Query[AnomalyQuery]) -> dict[str, Any]:
    """Anomalies detected by anomaly rules (their fired events), oldest first: markers for charts.

    The range defaults to the last 7 days and may span at most 92 days.
    """
    end = query.end or timezone.now()
    start = query.start or end - timedelta(days=7)
    problems = reversed_range(start, end)
    if not problems and end - start > MAX_ANOMALY_RANGE:
        problems = {"from": [f"the range may span at most {MAX_ANOMALY_RANGE.days} days"]}
    if problems:
        raise field_errors(problems, "Some query parameters are invalid.")
    sources = principal_of(request).restrict(Source.objects.all(), Action.READ)
    if query.source is not None:
        sources = sources.filter(slug=query.source)
        if not sources.exists():
            raise field_errors({"source": ["no such source"]}, "Some query parameters are invalid.")
    return {"anomalies": anomaly_markers(sources, start, end)}
