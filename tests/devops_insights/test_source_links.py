"""Every link to a source is reviewed for the team rule (docs/architecture.md, "a link to a source counts only while
the source is of the linking object's team").

A source may move to another team; what the old team linked to it (rules, silences, objectives, annotations,
components, subscriptions) stays linked but must stop counting, or the old team's objects reach the new team's
source and its numbers reach the old team. Each home of that rule is named below. A new model linking to a source
(a foreign key, a many-to-many, or a slug kept in a field named for it) fails here until it is reviewed.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models

from pollers.models import Source

# (model, field) -> where the team rule is applied to it, or why it has no team of its own to apply.
REVIEWED: dict[tuple[str, str], str] = {
    ("alerts.AlertRule", "source"): "AlertRule.applies_to: a rule covers its own team's sources only",
    ("alerts.Silence", "source"): "SilenceQuerySet.covered_slugs and Silence covering: while of the silence's team",
    ("alerts.RuleState", "source"): "RuleStateQuerySet.current: while the rule is of the source's team",
    ("alerts.AlertEvent", "source"): "no team of its own: the source's history, shown to the source's team",
    ("objectives.Objective", "sources"): "Objective.covered_sources / covers: the objective's team's sources only",
    ("objectives.ReportSubscription", "source"): "ReportSubscriptionQuerySet.current: while of its team",
    ("boards.Annotation", "source"): "AnnotationQuerySet.current: while the source is of the annotation's team",
    ("statuspages.Component", "sources"): "Component.shown_sources, StatusPage.may_group: the page's team's only",
    ("pollers.PollFailure", "source"): "no team of its own: the source's poll failures, moved with it",
    ("metrics.RetentionPolicy", "source"): "no team of its own: the source's retention, moved with it",
    # The metric store's rows, by slug: the source's own data, read through its team's access checks.
    ("metrics.LatestSnapshot", "source"): "no team of its own: the source's data, by slug",
    ("metrics.HistoryEntryRow", "source"): "no team of its own: the source's data, by slug",
    ("metrics.MetricSample", "source"): "no team of its own: the source's data, by slug",
    ("metrics.MetricRollup", "source"): "no team of its own: the source's data, by slug",
    ("metrics.AvailabilityCount", "source"): "no team of its own: the source's data, by slug",
}


def is_slug_field(field: models.Field) -> bool:
    """A text field named for a source: the metric store's tables keep the source's slug, not a key."""
    return isinstance(field, models.CharField) and (field.name == "source" or field.name.endswith("_source"))


def source_links() -> set[tuple[str, str]]:
    """(model, field) of every concrete link to ``pollers.Source`` in the model registry, and of every slug field."""
    found = set()
    for model in apps.get_models():  # auto-created through tables are left out: their many-to-many is listed
        if model is Source:
            continue
        for field in model._meta.get_fields():
            links = field.is_relation and field.related_model is Source and field.concrete
            if links or (not field.is_relation and is_slug_field(field)):  # type: ignore[arg-type]
                found.add((model._meta.label, field.name))
    return found


def test_it_has_reviewed_every_link_to_a_source_for_the_team_rule() -> None:
    found = source_links()
    new = sorted(found - REVIEWED.keys())
    assert not new, (
        f"New links to pollers.Source: {new}. A link to a source counts only while the source is of the linking "
        "object's team (docs/architecture.md): a source may move to another team and keeps its links, so read "
        "this link through a filter that drops it once the teams differ (as AnnotationQuerySet.current, "
        "RuleStateQuerySet.current, Objective.covered_sources do), or say why it has no team of its own, and add "
        "it to REVIEWED with where that rule is applied."
    )
    assert not REVIEWED.keys() - found, f"Links gone, to take off REVIEWED: {sorted(REVIEWED.keys() - found)}"
