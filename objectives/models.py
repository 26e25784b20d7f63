"""Service level objectives (docs/objectives.md) and the monthly report subscriptions.

An objective names which sources it covers (chosen ones, or every source of its team with a tag), what a
good event is (an answered poll, or a minute whose metric meets a bound), the target share of good events
and the period the target is judged over. The arithmetic lives in ``metrics.slo``; the reads in
``objectives.attainment``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import prefetch_related_objects

from accounts.models import TeamOwned, default_team_id
from metrics import slo
from pollers.models import Source

OPERATORS = (">", ">=", "<", "<=")
WINDOW_CHOICE_MESSAGE = "Choose 7, 28 or 30 days."


class ObjectiveQuerySet(models.QuerySet["Objective"]):
    def with_sources(self) -> ObjectiveQuerySet:
        return self.select_related("team").prefetch_related("sources")

    def with_coverage(self) -> list[Objective]:
        """The objectives, each knowing its covered sources (``Objective.covered_sources``), read for all of them
        at once: a page of objectives measures each on its sources and flags those covering none
        (``Objective.uncovered``), which read them again, one objective at a time, otherwise."""
        objectives = list(self)
        # The chosen sources in one read, or none when the queryset prefetched them already (with_sources).
        prefetch_related_objects([objective for objective in objectives if not objective.tag], "sources")
        for objective, covered in zip(objectives, Objective.covered_sources_of(objectives), strict=True):
            objective.known_covered_sources = covered
        return objectives


class Objective(TeamOwned):
    class Kind(models.TextChoices):
        AVAILABILITY = "availability", "Availability (answered polls)"
        METRIC = "metric", "Metric (good minutes)"

    class WindowKind(models.TextChoices):
        ROLLING = "rolling", "Rolling"
        CALENDAR = "calendar", "Calendar (week or month)"

    WINDOW_DAYS = ((7, "7 days"), (28, "28 days"), (30, "30 days"))

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="objectives", blank=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    sources: models.ManyToManyField[Source, Any] = models.ManyToManyField(
        Source, blank=True, related_name="objectives", help_text="The sources covered (or name a tag)."
    )
    tag = models.CharField(max_length=64, blank=True, help_text="Or: every source of the team with this tag.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.AVAILABILITY)
    metric = models.CharField(max_length=120, blank=True, help_text="For a metric objective: the metric name.")
    operator = models.CharField(max_length=2, blank=True, help_text="A minute is good when metric <op> bound.")
    bound = models.FloatField(null=True, blank=True)
    target = models.DecimalField(
        max_digits=7, decimal_places=4, default=Decimal("99.9"), help_text="Percent of good events, e.g. 99.9."
    )
    window_days = models.PositiveSmallIntegerField(choices=WINDOW_DAYS, default=30)
    window_kind = models.CharField(max_length=10, choices=WindowKind.choices, default=WindowKind.ROLLING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ObjectiveQuerySet.as_manager()

    # The covered sources as read for a whole page (``ObjectiveQuerySet.with_coverage``); None: not read yet.
    known_covered_sources: list[Source] | None = None

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_objective_name_per_team")]

    def __str__(self) -> str:
        return self.name

    # --- what it covers ------------------------------------------------------------------------

    def covered_sources(self) -> list[Source]:
        """The sources the objective is judged on, by slug (``covered_sources_of``): those read with the others of
        a page (``ObjectiveQuerySet.with_coverage``), else read now."""
        if self.known_covered_sources is not None:
            return self.known_covered_sources
        return Objective.covered_sources_of([self])[0]

    @staticmethod
    def covered_sources_of(objectives: Sequence[Objective]) -> list[list[Source]]:
        """The sources each objective is judged on, by slug (the team's tagged ones, or the chosen ones), in the
        order given: one read of the tagged objectives' teams' sources for all of them.

        Only the team's own: a chosen source moved to another team since (the admin, configuration as code)
        is still linked, and its name and numbers must not reach this team's pages, reports and budget.
        """
        team_ids = [objective.owner_team_id() for objective in objectives]
        tagged_teams = {team_id for objective, team_id in zip(objectives, team_ids, strict=True) if objective.tag}
        of_team: dict[int, list[Source]] = {team_id: [] for team_id in tagged_teams}
        if tagged_teams:
            for source in Source.objects.filter(team_id__in=tagged_teams).order_by("slug"):
                of_team[source.team_id].append(source)
        covered: list[list[Source]] = []
        for objective, team_id in zip(objectives, team_ids, strict=True):
            if objective.tag:
                covered.append([source for source in of_team[team_id] if objective.tag in (source.tags or [])])
            else:
                # Filtered in Python: the chosen sources often come prefetched (with_sources, the rule snapshot).
                chosen = (source for source in objective.sources.all() if source.team_id == team_id)
                covered.append(sorted(chosen, key=lambda source: source.slug))
        return covered

    def covers(self, source: Source) -> bool:
        """Without a query once ``source_ids`` is cached on the instance (the alert rule cache keeps it)."""
        if source.team_id != self.owner_team_id():
            return False
        if self.tag:
            return self.tag in (source.tags or [])
        return source.pk in self.source_ids()

    @staticmethod
    def coverage_problem(has_sources: bool, tag: str, covered: bool = True) -> str | None:
        """Why an objective naming these would judge other sources than it says, or None: it covers chosen
        sources or a tag's (``covered_sources``), so with both the chosen ones are ignored, and with neither it
        judges nothing; nor does a tag no source of the team carries (``covered`` False: a typo, or sources not
        tagged yet). The admin, the API and configuration as code refuse it with this message."""
        if has_sources and tag.strip():
            return "name either sources or a tag, not both (with a tag, the chosen sources are not judged)"
        if not has_sources and not tag.strip():
            return "name the sources covered or a tag (an objective of no source judges nothing)"
        if not covered:
            return f"{Objective.uncovered_reason(tag)} (an objective of no source judges nothing)"
        return None

    @staticmethod
    def uncovered_reason(tag: str) -> str:
        """Why an objective of ``tag`` (or of chosen sources, without one) covers no source: said one way by the
        admin, the API, the files, the burn-rate rule forms and the objective's page."""
        if tag.strip():
            return f"no source of its team has the tag {tag!r}"
        return "none of its chosen sources is of its team"

    def uncovered(self) -> str | None:
        """Why the objective covers no source now (``uncovered_reason``), or None while it covers one. Refused when
        it is saved, an objective can still come to cover none: its sources re-tagged, moved team or deleted
        since. The one home of that flag, for the objectives list and the objective's page."""
        return None if self.covered_sources() else Objective.uncovered_reason(self.tag)

    @staticmethod
    def rule_problem(name: str, tag: str) -> str:
        """Why an enabled burn-rate rule on an objective covering no source is refused: it watches the objective's
        sources one by one (``AlertRule.applies_to``), so with none it could never fire, silently."""
        return (
            f"the objective {name!r} covers no source ({Objective.uncovered_reason(tag)}): an enabled burn-rate "
            "rule on it could never fire"
        )

    def tag_covers_any(self) -> bool:
        """Whether a source of the objective's team carries its tag (True without a tag): ``covered_sources``'s
        rule, for a form checking an objective before it is saved."""
        return not self.tag or bool(self.covered_sources())

    def owner_team_id(self) -> int:
        """The team, or the default one an objective saved without naming one lands in."""
        return self.team_id if self.team_id is not None else default_team_id()

    def source_ids(self) -> frozenset[int]:
        cached: frozenset[int] | None = getattr(self, "_source_ids", None)
        if cached is None:
            cached = frozenset(source.pk for source in self.sources.all())
            self._source_ids = cached
        return cached

    # --- the arithmetic's view -----------------------------------------------------------------

    def slo(self) -> slo.Objective:
        return slo.Objective.of(self.target)

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        """[start, end) of the period the target is judged over, as of ``now`` (UTC).

        Rolling: the last ``window_days`` days. Calendar: the current ISO week for 7 days, the current
        month for 28 and 30 (its budget is the month's, whatever its length).
        """
        if self.window_kind == self.WindowKind.ROLLING:
            return now - timedelta(days=self.window_days), now
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.window_days == 7:
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=7)
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return start, end

    def describe_period(self) -> str:
        """The period as ``period`` judges it: a calendar objective of 28 or 30 days is the month, whatever its
        length, and one of 7 days the ISO week, so "30 days (calendar)" would misstate both."""
        if self.window_kind == self.WindowKind.ROLLING:
            return f"the last {self.window_days} days"
        return "the calendar week (Monday to Sunday, UTC)" if self.window_days == 7 else "the calendar month (UTC)"

    def describe_good(self) -> str:
        if self.kind == self.Kind.METRIC:
            return f"minutes with {self.metric} {self.operator} {self.bound:g}" if self.bound is not None else ""
        return "answered polls"

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # The window's choices are checked here, by the field, once: a second check in clean() gave one
        # problem two messages ("Choose 7, 28 or 30 days." and "Value 14 is not a valid choice.").
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            if "window_days" in exc.error_dict:
                exc.error_dict["window_days"] = [ValidationError(WINDOW_CHOICE_MESSAGE, code="invalid_choice")]
            raise

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            slo.Objective.of(self.target if self.target is not None else 0)
        except slo.SloError as exc:
            errors["target"] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
        if self.kind == self.Kind.METRIC:
            if not self.metric.strip():
                errors["metric"] = "Name the metric whose minutes are judged, e.g. wait_time."
            if self.operator not in OPERATORS:
                errors["operator"] = f"Choose how the metric meets the bound: {' '.join(OPERATORS)}."
            if self.bound is None:
                errors["bound"] = "A metric objective needs a bound, e.g. 100."
        elif self.kind == self.Kind.AVAILABILITY:
            if self.metric or self.operator or self.bound is not None:
                errors["metric"] = "An availability objective has no metric, operator or bound."
        else:
            errors["kind"] = f"Unknown objective kind {self.kind!r}."
        if errors:
            raise ValidationError(errors)


class ReportSubscriptionQuerySet(models.QuerySet["ReportSubscription"]):
    def current(self) -> ReportSubscriptionQuerySet:
        """Those that still count: a team's, and a source's while the source is of the subscription's team.

        ``clean`` checks the team on save only; a source moved to another team since stays linked, and its
        report (the new team's objectives and numbers) must not go to the old team's recipients.
        """
        return self.filter(models.Q(source__isnull=True) | models.Q(source__team_id=models.F("team_id")))


class ReportSubscription(models.Model):
    """Who receives the monthly report of a team (or of one of its sources) by e-mail (``send_reports``)."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="report_subscriptions")
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: the whole team's report."
    )
    recipients = models.CharField(max_length=1000, help_text="Comma-separated addresses.")
    enabled = models.BooleanField(default=True)
    last_sent_month = models.CharField(max_length=7, blank=True, editable=False)  # "2026-11": never twice a month
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReportSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["team__name", "pk"]

    def __str__(self) -> str:
        return f"{self.team} {self.source.slug if self.source_id and self.source else 'team'} report"

    def addresses(self) -> list[str]:
        return [address.strip() for address in self.recipients.split(",") if address.strip()]

    def clean(self) -> None:
        addresses = self.addresses()
        if not addresses:
            raise ValidationError({"recipients": "List at least one address."})
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError({"recipients": f"{address!r} is not an email address."}) from None
        if self.source_id and self.source and self.source.team_id != self.team_id:
            raise ValidationError({"source": "The source belongs to another team."})
