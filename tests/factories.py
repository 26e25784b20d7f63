"""The one place tests make what they need: sources, users, logged-in clients, API tokens, pollers, and the
snapshots recorded through the real metric store.

Defaults are plain and documented; a test that depends on a value passes it explicitly.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import ApiToken, Membership, Role, Team, default_team_id
from metrics.stores import get_store
from metrics.stores.base import MetricStore, PollSample, RecordResult
from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import Source
from statuspages.models import Component, StatusPage

PASSWORD = "a-long-test-password-9"  # every factory user's, for tests that log in through a form

# --- sources ------------------------------------------------------------------------------------


def make_source(slug: str = "us-east", **fields: Any) -> Source:
    """A saved source named after its slug, in the region of its slug.

    The default URL is the discard port on loopback, where nothing answers: a test that polls passes
    ``url=simulator.url(slug)``.
    """
    values: dict[str, Any] = {
        "name": slug.replace("-", " ").title(),
        "url": f"http://127.0.0.1:9/status/{slug}?stats=1",
        "region": slug,
    }
    values.update(fields)
    return Source.objects.create(slug=slug, **values)


# The credential header value of make_source_sending_credentials_unverified: a page or answer must never show it.
UNVERIFIED_API_KEY = "k-unverified-4711"


def make_source_sending_credentials_unverified(slug: str, host: str, **fields: Any) -> Source:
    """A source stored as it could be before such a save was refused (``Source.credentials_sent_unverified``):
    a credential header over plain http to ``host`` (the ``lan_host`` fixture's: not loopback) with verification
    off, so the rule names both ``url`` and ``tls_verify``; ``fields`` add to or override that."""
    values: dict[str, Any] = {
        "url": f"http://{host}:9/status/{slug}",
        "tls_verify": False,
        "headers": {"X-Api-Key": UNVERIFIED_API_KEY},
    }
    values.update(fields)
    return make_source(slug, **values)


def rule_form(**fields: Any) -> dict[str, Any]:
    """The POST fields of a rule form (the dashboard's and the admin's) for the metric rule "cpu" (cpu_load > 80);
    ``fields`` add to or override them."""
    return {
        "name": "cpu",
        "enabled": "on",
        "severity": "warning",
        "scope": "all",
        "kind": "metric",
        "metric": "cpu_load",
        "operator": ">",
        "threshold": "80",
        "fire_after": "3",
        "for_seconds": "0",
        "resolve_after": "2",
        "renotify_interval_seconds": "3600",
        **fields,
    }


def make_rule(name: str = "cpu high", **fields: Any) -> Any:
    """A saved, validated alert rule: a metric threshold on every source (cpu_load > 90) unless told."""
    from alerts.models import AlertRule

    values: dict[str, Any] = {"metric": "cpu_load", "operator": ">", "threshold": 90.0}
    values.update(fields)
    channels = values.pop("channels", [])
    rule = AlertRule(name=name, **values)
    rule.full_clean()
    rule.save()
    rule.channels.set(channels)
    return rule


def make_channel(name: str = "ops-mail", **fields: Any) -> Any:
    """A saved channel: email to ops@example.com unless told."""
    from alerts.models import NotificationChannel

    values: dict[str, Any] = {"kind": "email"}
    values.update(fields)
    if values["kind"] == "email":
        values.setdefault("email_to", "ops@example.com")
    return NotificationChannel.objects.create(name=name, **values)


# --- users, clients and tokens ------------------------------------------------------------------


def make_user(username: str = "reader", *, staff: bool = False, superuser: bool = False, **fields: Any) -> Any:
    """A saved user with ``PASSWORD`` unless ``password`` is given; a superuser is staff too."""
    fields.setdefault("password", PASSWORD)
    return get_user_model().objects.create_user(
        username=username, is_staff=staff or superuser, is_superuser=superuser, **fields
    )


def make_team(slug: str = "blue", **fields: Any) -> Team:
    """A saved team named after its slug."""
    fields.setdefault("name", slug.replace("-", " ").title())
    return Team.objects.create(slug=slug, **fields)


def add_member(user: Any, team: Team, role: str = Role.VIEWER) -> Membership:
    """``user`` joins ``team`` with ``role`` (viewer unless given)."""
    return Membership.objects.create(user=user, team=team, role=role)


def member(
    client: Client, team: Team | None = None, role: str = Role.VIEWER, username: str = "grace", **user_fields: Any
) -> Client:
    """``client`` with a session for a new user who has ``role`` in ``team`` (the default team unless given).

    The default team owns what ``make_source`` and the alert factories make without naming a team.
    """
    user = make_user(username, **user_fields)
    add_member(user, team or default_team(), role)
    client.force_login(user)
    return client


def logged_in(
    client: Client, username: str = "grace", *, staff: bool = False, role: str | None = None, team: Team | None = None
) -> Client:
    """``client`` with a session for a new user (staff or not); with ``role``, a member of ``team`` (default team)."""
    user = make_user(username, staff=staff)
    if role is not None:
        add_member(user, team or default_team(), role)
    client.force_login(user)
    return client


def default_team() -> Team:
    """The team ``make_source`` and every model's default put things in."""
    return Team.objects.get(pk=default_team_id())


def make_member(username: str, role: str = Role.VIEWER, team: Team | None = None, **fields: Any) -> Any:
    """A saved user who is a member of ``team`` (the default team unless given) with ``role``."""
    user = make_user(username, **fields)
    add_member(user, team or default_team(), role)
    return user


def make_token(
    username: str = "reader",
    *,
    role: str = Role.VIEWER,
    team: Team | None = None,
    owner_role: str | None = None,
    staff: bool = False,
) -> str:
    """A raw API token for ``username`` (made if missing) acting in ``team`` (the default team) with ``role``.

    The owner becomes a member of the team with ``owner_role`` (``role`` unless given) when not one already,
    so a token works as its role says; pass a lower ``owner_role`` to see the cap.
    """
    user = get_user_model().objects.filter(username=username).first() or make_user(username, staff=staff)
    team = team or default_team()
    if not Membership.objects.filter(user=user, team=team).exists():
        add_member(user, team, owner_role or role)
    _token, raw = ApiToken.issue(user, f"{username}-{role}-{ApiToken.objects.count()}", role=role, team=team)
    return raw


def bearer(raw: str) -> dict[str, str]:
    """Test-client keyword arguments that send ``raw`` as a bearer token."""
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --- pollers ------------------------------------------------------------------------------------


def make_poller(
    *, failure_threshold: int = 2, cooldown: float = 1.0, store: MetricStore | None = None, **policy: Any
) -> Poller:
    """A poller allowed to reach loopback (the simulator), without retries, with a short circuit cooldown;
    on the process-wide store unless given another."""
    values: dict[str, Any] = {
        "allowed_private_hosts": ("127.0.0.1",),
        "retries": 0,
        "backoff_base": 0.01,
        "max_body_bytes": 256 * 1024,
    }
    values.update(policy)
    return Poller(
        fetcher=Fetcher(FetchPolicy(**values)),
        circuit_policy=CircuitPolicy(failure_threshold=failure_threshold, cooldown=timedelta(seconds=cooldown)),
        store=store,
    )


# --- snapshots ----------------------------------------------------------------------------------

KNOWN_PAYLOAD: dict[str, Any] = {
    "status": "ok",
    "server_issue": None,
    "strict": True,
    "version": "v2.4.1",
    "roles": ["api", "worker", "cache"],
    "results": {
        "services": {"redis": True, "database": True},
        "stats": {
            "online": 57,
            "servers_count": 3,
            "session": 412,
            "server": {
                "cpus": 4,
                "cpu_load": 41.7,
                "active_connections": 9876,
                "wait_time": 63,
                "timers": 12,
                "workers": [
                    [
                        "api-handler-1",
                        {
                            "workers": 6,
                            "idle": 2,
                            "waiting": 1,
                            "wait_time": 120,
                            "time_to_return": 340,
                            "recently_blocked_keys": ["key_ab12cd"],
                            "top_keys": [["top_x1y2", 44]],
                        },
                    ],
                    ["cache-sync-2", {"workers": 2, "idle": 2, "waiting": 0, "wait_time": 8, "time_to_return": 15}],
                ],
                "worker_count": 4,
                "avg_worker_load": 38,
                "overloaded_workers": 0,
                "active_workers": 3,
                "total_worker_memory": 2210,
            },
        },
        "performance": {
            "response_times": {"p50": 120, "p95": 410, "p99": 880},
            "error_rate": 0.8,
            "requests_per_second": 1320,
            "uptime_percent": 99.2,
        },
        "deployment": {
            "last_deployment": "2026-11-28T09:00:00+00:00",
            "build_status": "success",
            "version_number": "v1.12.3",
            "rollback_ready": True,
            "failed_deployments_last_week": 1,
            "deployment_duration_minutes": 14,
            "last_rollback": None,
        },
        "memory": {"usage_percent": 61.0, "available_mb": 2890, "total_mb": 8192, "swap_usage_percent": 4.2},
        "storage": {
            "disk_usage_percent": 58.3,
            "io_wait_percent": 3.1,
            "read_ops_per_sec": 340,
            "write_ops_per_sec": 120,
        },
        "network": {"bytes_in_per_sec": 150000, "bytes_out_per_sec": 72000, "packets_dropped": 2, "latency_ms": 11},
        "alerts": {"critical_alerts": 0, "warning_alerts": 2, "info_alerts": 5},
        "security": {
            "threat_level": "low",
            "vulnerability_score": 2.1,
            "failed_auth_attempts": 14,
            "firewall_blocks": 220,
        },
    },
}


def payload(**changes: Any) -> dict[str, Any]:
    """The known payload with dotted-path overrides: payload(**{"results.services.redis": False})."""
    doc = copy.deepcopy(KNOWN_PAYLOAD)
    for path, value in changes.items():
        node = doc
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return doc


def record(source: Source, doc: dict[str, Any], at: datetime) -> RecordResult:
    """Store one payload through the process-wide store, as the poller does."""
    return get_store().record(source.spec(), doc, at, {"poll_id": "test"})


def record_history(source: Source, points: list[tuple[datetime, dict[str, Any]]]) -> None:
    """Store each (fetched_at, payload) through the process-wide store, as the poller does."""
    store = get_store()
    for fetched_at, body in points:
        store.record(source.spec(), body, fetched_at)


# --- objectives ---------------------------------------------------------------------------------


def make_objective(name: str = "api availability", *, sources: list[Source] | None = None, **fields: Any) -> Any:
    """A validated, saved objective (99.9 % availability over a rolling 30 days unless told)."""
    from objectives.models import Objective

    objective = Objective(name=name, **fields)
    objective.full_clean()
    objective.save()
    if sources:
        objective.sources.set(sources)
    return objective


def record_outcomes(source: Source, at: datetime, *, up: int = 0, down: int = 0, error_kind: str = "timeout") -> None:
    """``up`` answered and ``down`` failed polls of ``source`` counted at ``at`` (availability buckets)."""
    # One batched write (the poller's path), not a round trip per poll: tests count thousands of polls.
    samples = [PollSample(at, True, 50.0)] * up + [PollSample(at, False, None, error_kind)] * down
    get_store().record_poll_outcomes([(source.slug, sample) for sample in samples])


# --- status pages -------------------------------------------------------------------------------


def make_status_page(slug: str = "acme", team: Team | None = None, **fields: Any) -> StatusPage:
    """A saved, published, public status page of ``team`` (the default team, as ``make_source``'s, unless given:
    a page shows only its own team's sources)."""
    if team is None:
        team = default_team()
    password = fields.pop("password", "")
    fields.setdefault("title", slug.replace("-", " ").title() + " status")
    fields.setdefault("published", True)
    page = StatusPage(slug=slug, team=team, **fields)
    page.set_password(password)
    page.save()
    return page


def make_component(
    page: Any, name: str = "API", sources: list[Source] | tuple[Source, ...] = (), **fields: Any
) -> Component:
    """A saved, published component of ``page`` over ``sources``."""
    component = Component.objects.create(page=page, name=name, **fields)
    if sources:
        component.sources.set(sources)
    return component


# --- status page incidents and maintenance (feeds, v2 JSON) -------------------------------------


def make_incident(
    page: Any,
    title: str = "Elevated errors",
    updates: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (("investigating", "We are looking into it."),),
    components: list[Any] | tuple[Any, ...] = (),
    **fields: Any,
) -> Any:
    """A saved incident of ``page`` with ``updates`` as (status, Markdown body), oldest first, a minute apart;
    its status is the last update's."""
    from datetime import timedelta

    from django.utils import timezone

    from statuspages.models import Incident, IncidentUpdate

    started = fields.pop("started_at", timezone.now() - timedelta(hours=1))
    status = updates[-1][0] if updates else fields.pop("status", "investigating")
    fields.setdefault("impact", "minor")
    incident = Incident.objects.create(page=page, title=title, status=status, started_at=started, **fields)
    for index, (update_status, body) in enumerate(updates):
        IncidentUpdate.objects.create(
            incident=incident, status=update_status, body=body, created_at=started + timedelta(minutes=index)
        )
    if components:
        incident.components.set(components)
    return incident


def make_maintenance(
    page: Any,
    title: str = "Database upgrade",
    starts_in: float = 1.0,
    hours: float = 2.0,
    components: list[Any] | tuple[Any, ...] = (),
    **fields: Any,
) -> Any:
    """A saved maintenance window of ``page`` starting ``starts_in`` hours from now (negative: already begun)."""
    from datetime import timedelta

    from django.utils import timezone

    from statuspages.models import MaintenanceWindow

    starts = timezone.now() + timedelta(hours=starts_in)
    window = MaintenanceWindow.objects.create(
        page=page, title=title, starts_at=starts, ends_at=starts + timedelta(hours=hours), **fields
    )
    if components:
        window.components.set(components)
    return window


# --- boards -------------------------------------------------------------------------------------


def board_document(title: str = "Wait times", **fields: Any) -> dict[str, Any]:
    """A valid board document (boards/spec.py): one time-series panel of every source's cpu_load."""
    from boards.spec import FORMAT

    document: dict[str, Any] = {
        "format": FORMAT,
        "title": title,
        "time_range": "24h",
        "refresh": 0,
        "variables": [],
        "panels": [
            {
                "id": "cpu",
                "type": "timeseries",
                "title": "CPU",
                "x": 0,
                "y": 0,
                "w": 6,
                "h": 4,
                "sources": ["*"],
                "metrics": ["cpu_load"],
            },
        ],
    }
    document.update(fields)
    return document


def make_board(title: str = "Wait times", *, team: Team | None = None, author: Any = None, **fields: Any) -> Any:
    """A saved board (version 1) of ``team`` (the default team unless given)."""
    from accounts.teams import default_team
    from boards.models import Board

    return Board.create_from(board_document(title, **fields), team or default_team(), author)


def initial_flag(name: str) -> Any:
    """The feature flag ``name`` as migration ``provisioning.0002_initial_flags`` made it: made again when a
    transactional test's flush (which empties every table) took the migration's row before this test ran."""
    import importlib

    from provisioning.models import Flag

    initial = importlib.import_module("provisioning.migrations.0002_initial_flags").INITIAL
    flag, _ = Flag.objects.get_or_create(name=name, defaults=initial[name])
    return flag
