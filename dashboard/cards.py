"""The overview's cards: what one source looks like at a glance, built from its latest snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from alerts.models import RuleState, Silence
from dashboard import status as st
from dashboard.payload_view import MAX_SERVICES, MAX_TEXT
from metrics.extraction import value_at
from metrics.stores.base import Snapshot
from metrics.units import KEY_METRICS, format_value, metric_format
from pollers.models import Source

UNGROUPED = {"region": "No region", "tag": "Untagged"}
MAX_CARD_NUMBERS = 7
FAILED_BUILD_WORDS = frozenset({"failed", "failure", "error", "broken"})


@dataclass(frozen=True)
class Number:
    key: str
    label: str
    value: str
    unit: str
    raw: float | None


@dataclass
class Card:
    source: Source
    verdict: st.Verdict
    snapshot: Snapshot | None
    numbers: list[Number]
    services: list[tuple[str, bool]]
    alerts: dict[str, int]
    build_status: str
    version: str
    last_seen: datetime | None
    tags: list[str] = field(default_factory=list)
    down_text: str = ""  # "down since 19:30 (8 min)" when the numbers are the last known ones
    hidden: bool = False  # filtered out: rendered anyway so live updates can bring it back
    firing_alerts: int = 0  # alert rules firing for this source (alerts/)
    # An active silence covers the source (its alerts notify nobody); build_cards reads it for the cards
    # with firing alerts only, the only ones that show it.
    silenced: bool = False

    @property
    def slug(self) -> str:
        return self.source.slug

    @property
    def services_up(self) -> int:
        return sum(1 for _, up in self.services if up)

    @property
    def alerts_total(self) -> int:
        return sum(self.alerts.values())

    @property
    def build_tone(self) -> str:
        """A failed build is bad news; success, pending or anything else is a plain fact (neutral)."""
        return "bad" if self.build_status.lower() in FAILED_BUILD_WORDS else "neutral"


@dataclass
class Group:
    name: str
    cards: list[Card]

    @property
    def all_hidden(self) -> bool:
        return all(card.hidden for card in self.cards)

    @property
    def ungrouped(self) -> bool:
        return self.name in UNGROUPED.values()

    @property
    def worst_severity(self) -> int:
        return min((card.verdict.severity for card in self.cards), default=len(st.SEVERITY))

    @property
    def size_label(self) -> str:
        """``1 source``, ``3 sources``: the count says what it counts (a bare number read as part of the name)."""
        n = len(self.cards)
        return f"{n} source{'s' if n != 1 else ''}"

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(st.STATUSES, 0)
        for card in self.cards:
            out[card.verdict.status] += 1
        return out


def key_numbers(metrics: Mapping[str, float], pinned: Iterable[str] = ()) -> list[Number]:
    """The source's pinned metrics, then its key numbers; a source of another shape shows its own metrics."""
    first = [name for name in dict.fromkeys(pinned) if name in metrics]
    names = [name for name in KEY_METRICS if name in metrics and name not in first]
    if not names:
        names = sorted(name for name in metrics if not name.startswith("service_") and name not in first)
    names = (first + names)[: max(MAX_CARD_NUMBERS, len(first))]
    out = []
    for name in names:
        value, unit = format_value(name, metrics[name])
        raw = metrics[name]
        out.append(Number(name, metric_format(name).label, value, unit, float(raw) if raw is not None else None))
    return out


def build_card(source: Source, snapshot: Snapshot | None, now: datetime) -> Card:
    payload: Mapping[str, Any] = snapshot.payload if snapshot is not None else {}
    services_node = value_at(payload, ("results", "services"))
    services = (
        # Capped like the drill-down's (dashboard/payload_view.py): an upstream cannot grow the overview.
        sorted((str(k)[:MAX_TEXT], bool(v)) for k, v in services_node.items() if isinstance(v, bool))[:MAX_SERVICES]
        if isinstance(services_node, Mapping)
        else []
    )
    alerts_node = value_at(payload, ("results", "alerts"))
    alerts: dict[str, int] = {}
    if isinstance(alerts_node, Mapping):
        for level in ("critical", "warning", "info"):
            value = alerts_node.get(f"{level}_alerts")
            if isinstance(value, int) and not isinstance(value, bool):
                alerts[level] = value
    build = value_at(payload, ("results", "deployment", "build_status"))
    version = payload.get("version") if isinstance(payload, Mapping) else None
    verdict = st.derive_status(source, snapshot, now)
    pinned = source.pinned_metrics if isinstance(source.pinned_metrics, list) else []
    return Card(
        source=source,
        verdict=verdict,
        snapshot=snapshot,
        numbers=key_numbers(snapshot.metrics, pinned) if snapshot is not None else [],
        services=services,
        alerts=alerts,
        build_status=str(build) if isinstance(build, str) else "",
        version=str(version) if isinstance(version, str) else "",
        last_seen=st.last_seen(source, snapshot),
        tags=[str(t) for t in (source.tags or []) if str(t).strip()],
        down_text=st.down_since_text(verdict.down_since, now) if verdict.down_since is not None else "",
    )


def build_cards(
    sources: Sequence[Source],
    snapshots: Mapping[str, Snapshot],
    now: datetime,
    firing: Mapping[int, int] | None = None,
) -> list[Card]:
    firing = firing or {}
    # A card shows "silenced" beside its firing alerts only, so silences are read only when some fire:
    # the usual overview, with nothing firing, skips the statement.
    alerting = [source for source in sources if firing.get(source.pk)]
    silenced = Silence.objects.covered_slugs(now, teams={source.team_id for source in alerting}) if alerting else set()
    cards = []
    for source in sources:
        card = build_card(source, snapshots.get(source.slug), now)
        card.firing_alerts = firing.get(source.pk, 0)
        card.silenced = source.slug in silenced
        cards.append(card)
    return cards


def with_firing_alert_counts(sources: QuerySet[Source]) -> QuerySet[Source]:
    """``sources`` each annotated with ``firing_alert_count``, the alert rules firing for it, read in the
    same statement as the sources (a page's cards cost one statement, not one more for their alerts)."""
    firing = (
        RuleState.objects.firing()
        .filter(source=OuterRef("pk"))
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
        .values("n")
    )
    return sources.annotate(firing_alert_count=Coalesce(Subquery(firing), 0))


def firing_alert_counts(sources: Sequence[Source]) -> dict[int, int]:
    """Source pk -> alert rules firing for it, from sources read through ``with_firing_alert_counts``."""
    return {source.pk: source.firing_alert_count for source in sources}  # type: ignore[attr-defined]


def sort_cards(cards: list[Card], by: str) -> list[Card]:
    if by == "status":
        return sorted(cards, key=lambda c: (c.verdict.severity, c.source.name.lower(), c.slug))
    return sorted(cards, key=lambda c: (c.source.name.lower(), c.slug))


def group_cards(cards: list[Card], by: str, sort_by: str = "name") -> list[Group]:
    """Cards grouped by region or by tag (a source with several tags shows under each of them).

    Cards keep the order they come in. Sorted by status, groups go worst first (by their worst card), so
    the ERROR card of a one-card group is not left below five OK ones; else by name.
    """
    groups: dict[str, list[Card]] = {}
    for card in cards:
        keys = [card.source.region] if by == "region" else card.tags
        keys = [k for k in keys if k] or [UNGROUPED[by]]
        for key in keys:
            groups.setdefault(key, []).append(card)
    ordered = sorted(groups, key=lambda k: (k in UNGROUPED.values(), k.lower()))
    out = [Group(name, groups[name]) for name in ordered]
    if sort_by == "status":
        out.sort(key=lambda g: g.worst_severity)  # stable: equal groups stay in name order
    return out


def apply_filters(cards: list[Card], statuses: set[str], tag: str) -> None:
    """Hide the cards that do not match; the browser applies the same rule after live updates."""
    for card in cards:
        card.hidden = bool((statuses and card.verdict.status not in statuses) or (tag and tag not in card.tags))
