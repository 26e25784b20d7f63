"""Alert rules, silences, per (rule, source) state (``RuleState``), events, notification channels and deliveries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models
from django.utils import timezone

from accounts.models import TeamOwned, default_team_id
from alerts import evaluate
from alerts.conditions import (
    OPERATORS,
    ORDERING_OPERATORS,
    ConditionError,
    is_number,
    parse_literal,
    parse_path,
)
from metrics.anomaly import DEFAULT_SENSITIVITY, AnomalyError, check_sensitivity
from metrics.slo import STANDARD_CONDITIONS, BurnRateCondition, SloError, exact
from metrics.slo_windows import SLO_WINDOWS
from pollers.models import Source

MAX_BURN_CONDITIONS = 6


def parse_burn_condition(item: Any) -> BurnRateCondition:
    """``[long, short, threshold, severity]`` (severity optional, "page" by default) as a condition."""
    if not isinstance(item, list | tuple) or len(item) not in (3, 4):
        raise ConditionError(f"each pair is [long, short, threshold, page|ticket], got {item!r}")
    long_window, short_window, threshold = item[0], item[1], item[2]
    severity = item[3] if len(item) == 4 else "page"
    for window in (long_window, short_window):
        if window not in SLO_WINDOWS:
            raise ConditionError(f"unknown window {window!r}: use {', '.join(SLO_WINDOWS)}")
    if SLO_WINDOWS[short_window].length >= SLO_WINDOWS[long_window].length:
        raise ConditionError(f"the short window {short_window} must be shorter than the long one {long_window}")
    try:
        rate = exact(threshold, "threshold")
    except SloError as exc:
        raise ConditionError(str(exc)) from None
    if rate <= 0 or rate > 10_000:
        raise ConditionError(f"the threshold must be a burn rate above 0 (at most 10000), got {threshold!r}")
    if severity not in ("page", "ticket"):
        raise ConditionError(f"the severity of a pair is page or ticket, got {severity!r}")
    return BurnRateCondition(str(long_window), str(short_window), rate, str(severity))


def default_renotify_interval() -> int:
    return int(settings.ALERTS_RENOTIFY_INTERVAL)


class Severity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertRuleQuerySet(models.QuerySet):
    def enabled(self) -> AlertRuleQuerySet:
        return self.filter(enabled=True)


class AlertRule(TeamOwned):
    class Scope(models.TextChoices):
        SOURCE = "source", "One source"
        TAG = "tag", "Sources with a tag"
        ALL = "all", "All sources"

    class Kind(models.TextChoices):
        METRIC = evaluate.METRIC, "Metric threshold"
        FIELD = evaluate.FIELD, "Payload field"
        POLL_FAILURES = evaluate.POLL_FAILURES, "Consecutive failed polls"
        CIRCUIT_OPEN = evaluate.CIRCUIT_OPEN, "Circuit open"
        STALE_HASH = evaluate.STALE_HASH, "Payload unchanged (frozen upstream)"
        NO_SUCCESS = evaluate.NO_SUCCESS, "No successful poll for a duration"
        BURN_RATE = evaluate.BURN_RATE, "Error budget burn rate (objective)"
        ANOMALY = evaluate.ANOMALY, "Anomaly (seasonal or peers)"

    class AnomalyMode(models.TextChoices):
        SEASONAL = "seasonal", "Seasonal (same hour of the week)"
        PEER = "peer", "Peers (the other sources the rule covers)"
        BOTH = "both", "Seasonal or peers"

    # The owner; a rule of scope "all" or "tag" covers only its team's sources.
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="alert_rules", blank=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)

    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.ALL)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules")
    tag = models.CharField(max_length=64, blank=True)

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.METRIC)
    metric = models.CharField(max_length=120, blank=True, help_text="Metric name, for a metric threshold.")
    path = models.CharField(
        max_length=500, blank=True, help_text="Dotted payload path, for a payload field: results.services.redis"
    )
    # No model choices: clean() explains a bad operator better than "not a valid choice".
    operator = models.CharField(max_length=2, blank=True, help_text=" ".join(OPERATORS))
    threshold = models.FloatField(null=True, blank=True, help_text="Number compared with the metric.")
    value = models.CharField(
        max_length=500, blank=True, help_text='JSON literal compared with the field: false, 0, null, "ok"'
    )
    count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Failed polls, or unchanged successful polls, that make the condition hold."
    )
    duration_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="For 'no successful poll': how long without one."
    )

    objective = models.ForeignKey(
        "objectives.Objective",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
        help_text="For a burn-rate rule: the objective whose error budget is watched, on each of its sources.",
    )
    burn_conditions = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "For a burn-rate rule: [[long, short, threshold, page|ticket], ...]; empty: the standard pairs "
            "14.4x over 1h and 5m, 6x over 6h and 30m, 1x over 3d and 6h."
        ),
    )
    anomaly_mode = models.CharField(max_length=10, choices=AnomalyMode.choices, blank=True)
    sensitivity = models.FloatField(
        null=True, blank=True, help_text="For an anomaly rule: the robust z-score that flags (default 3.5)."
    )

    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    fire_after = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text="Consecutive polls the condition must hold before the alert fires.",
    )
    for_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(7 * 86400)],
        help_text="Also required before firing: the condition has held this many seconds (0: no duration).",
    )
    resolve_after = models.PositiveIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text="Consecutive polls the condition must not hold before the alert resolves.",
    )
    renotify_interval_seconds = models.PositiveIntegerField(
        default=default_renotify_interval,
        validators=[MinValueValidator(60), MaxValueValidator(30 * 86400)],
        help_text="At most one firing notification per source in this interval; a reminder while it keeps firing.",
    )
    channels: models.ManyToManyField[NotificationChannel, Any] = models.ManyToManyField(
        "NotificationChannel",
        blank=True,
        related_name="rules",
        help_text="Where notifications go. None selected: every enabled channel marked default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AlertRuleQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["enabled", "scope"])]
        constraints = [
            # A rule is known by its name within its team: configuration as code keys it so (team + name),
            # and two rules of one name could not be told apart there, nor in the pages and notifications.
            models.UniqueConstraint(
                fields=["team", "name"],
                name="one_alert_rule_name_per_team",
                violation_error_message="The team already has an alert rule with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def applies_to(self, source: Source) -> bool:
        # A rule covers its own team's sources only, whatever its scope.
        if self.team_id != source.team_id:
            return False
        if self.kind == self.Kind.BURN_RATE:
            # A burn-rate rule watches its objective's sources, whatever its scope says.
            return self.objective_id is not None and self.objective is not None and self.objective.covers(source)
        if self.scope == self.Scope.ALL:
            return True
        if self.scope == self.Scope.SOURCE:
            return self.source_id == source.pk
        return self.tag in (source.tags or [])

    def condition(self) -> evaluate.Condition:
        """The evaluator's view of this rule; call only on a rule that passed ``full_clean``."""
        if self.kind == self.Kind.METRIC:
            return evaluate.Condition(
                kind=self.kind, subject=self.metric, operator=self.operator, expected=self.threshold
            )
        if self.kind == self.Kind.FIELD:
            return evaluate.Condition(
                kind=self.kind,
                subject=self.path,
                path=parse_path(self.path),
                operator=self.operator,
                expected=parse_literal(self.value),
            )
        if self.kind in evaluate.MEASURED_KINDS:
            return evaluate.Condition(
                kind=self.kind, subject=self.metric, key=f"rule:{self.pk}", summary=self.describe_measured()
            )
        return evaluate.Condition(kind=self.kind, count=int(self.count or 1), seconds=float(self.duration_seconds or 0))

    def burn_pairs(self) -> tuple[BurnRateCondition, ...]:
        """The rule's window pairs (``metrics.slo`` conditions); the standard ones when none are set."""
        if not self.burn_conditions:
            return STANDARD_CONDITIONS
        return tuple(parse_burn_condition(item) for item in self.burn_conditions)

    def anomaly_sensitivity(self) -> float:
        return float(self.sensitivity if self.sensitivity is not None else DEFAULT_SENSITIVITY)

    def describe_measured(self) -> str:
        if self.kind == self.Kind.BURN_RATE:
            try:
                pairs = " or ".join(
                    f"{float(c.threshold):g}x over {c.long_window} and {c.short_window}" for c in self.burn_pairs()
                )
            except ConditionError:
                pairs = "(invalid pairs)"
            name = self.objective.name if self.objective_id and self.objective else "?"
            return f"budget of {name} burning {pairs}"
        mode = self.anomaly_mode or self.AnomalyMode.SEASONAL
        return f"{self.metric} anomalous ({mode}, |z| > {self.anomaly_sensitivity():g})"

    def timing(self) -> evaluate.Timing:
        return evaluate.Timing(
            fire_after=self.fire_after,
            resolve_after=self.resolve_after,
            for_seconds=float(self.for_seconds),
            renotify=timedelta(seconds=self.renotify_interval_seconds),
        )

    def summary(self) -> str:
        try:
            return evaluate.describe(self.condition())
        except ConditionError:
            return "(invalid condition)"

    def target_display(self) -> str:
        """What the rule watches, as pages name it. A burn-rate rule watches its objective's sources whatever its
        scope says (``applies_to``): its objective, not a source or tag it may still hold and ignores."""
        if self.kind == self.Kind.BURN_RATE:
            return f"objective {self.objective.name}" if self.objective_id and self.objective else "objective ?"
        if self.scope == self.Scope.SOURCE:
            return f"source {self.source.slug}" if self.source_id and self.source else "source ?"
        if self.scope == self.Scope.TAG:
            return f"tag {self.tag}"
        return "all sources"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        self._clean_target(errors)
        self._clean_condition(errors)
        if errors:
            raise ValidationError(errors)

    def _clean_target(self, errors: dict[str, str]) -> None:
        if self.kind == self.Kind.BURN_RATE:
            # It watches its objective's sources whatever its scope says (applies_to): a source or tag it held
            # would be ignored, yet a source named would take the rule along when deleted (the key's CASCADE).
            if self.source_id:
                errors["source"] = "A burn-rate rule watches its objective's sources: it names no source."
            if self.tag:
                errors["tag"] = "A burn-rate rule watches its objective's sources: it names no tag."
            if self.scope != self.Scope.ALL and not (self.source_id or self.tag):
                errors["scope"] = "A burn-rate rule watches its objective's sources: its scope is all sources."
            return
        if self.scope == self.Scope.SOURCE:
            if not self.source_id:
                errors["source"] = "Choose the source this rule watches."
            elif self.source is not None and self.source.team_id != (self.team_id or default_team_id()):
                # A rule covers its own team's sources only (applies_to): it would never fire, and would name
                # the source to a team that may not see it. A source that moves takes its rules along
                # (alerts.source_moves.follow_moved_source).
                errors["source"] = "The source belongs to another team."
            if self.tag:
                errors["tag"] = "A rule for one source has no tag."
        elif self.scope == self.Scope.TAG:
            if not self.tag.strip():
                errors["tag"] = "Name the tag whose sources this rule watches."
            if self.source_id:
                errors["source"] = "A rule for a tag has no source."
        elif self.scope == self.Scope.ALL and (self.source_id or self.tag):
            errors["scope"] = "A rule for all sources has neither a source nor a tag."

    def _clean_condition(self, errors: dict[str, str]) -> None:
        kind = self.kind
        if kind in (self.Kind.METRIC, self.Kind.FIELD) and self.operator not in OPERATORS:
            errors["operator"] = (
                f"Unknown operator {self.operator!r}: use one of {' '.join(OPERATORS)}."
                if self.operator
                else f"Choose an operator: {' '.join(OPERATORS)}."
            )
        if kind == self.Kind.METRIC:
            if not self.metric.strip():
                errors["metric"] = "Name the metric, e.g. cpu_load."
            elif self.scope == self.Scope.SOURCE and self.source_id and self.source:
                known = sorted((self.source.metric_paths or {}).keys())
                if self.metric not in known:
                    errors["metric"] = (
                        f"The source {self.source.slug} extracts no metric {self.metric!r}; "
                        f"it has: {', '.join(known) or 'none'}."
                    )
            if self.threshold is None:
                errors["threshold"] = "A metric rule needs a threshold number."
            elif not is_number(self.threshold):
                errors["threshold"] = "The threshold must be a finite number."
        elif kind == self.Kind.FIELD:
            try:
                parse_path(self.path)
            except ConditionError as exc:
                errors["path"] = f"{str(exc).capitalize()}."
            try:
                literal = parse_literal(self.value)
            except ConditionError as exc:
                errors["value"] = f"{str(exc).capitalize()}."
            else:
                if self.operator in ORDERING_OPERATORS and not is_number(literal):
                    errors["value"] = f"The operator {self.operator} compares numbers; {self.value.strip()} is not one."
        elif kind in (self.Kind.POLL_FAILURES, self.Kind.STALE_HASH):
            if not self.count or self.count < 1:
                errors["count"] = "How many polls: a whole number of at least 1."
        elif kind == self.Kind.NO_SUCCESS:
            if not self.duration_seconds or self.duration_seconds < 1:
                errors["duration_seconds"] = "How long without a successful poll, in seconds (at least 1)."
        elif kind == self.Kind.BURN_RATE:
            if not self.objective_id:
                errors["objective"] = "Choose the objective whose error budget this rule watches."
            elif self.objective is not None and self.objective.team_id != (self.team_id or default_team_id()):
                errors["objective"] = "The objective belongs to another team."
            if not isinstance(self.burn_conditions, list) or len(self.burn_conditions) > MAX_BURN_CONDITIONS:
                errors["burn_conditions"] = f"A list of at most {MAX_BURN_CONDITIONS} window pairs."
            else:
                try:
                    self.burn_pairs()
                except ConditionError as exc:
                    errors["burn_conditions"] = f"{str(exc).capitalize()}."
        elif kind == self.Kind.ANOMALY:
            if not self.metric.strip():
                errors["metric"] = "Name the metric whose hourly values are watched, e.g. wait_time."
            if self.anomaly_mode not in self.AnomalyMode.values:
                errors["anomaly_mode"] = "Choose seasonal, peer or both."
            if self.sensitivity is not None:
                try:
                    check_sensitivity(self.sensitivity)
                except AnomalyError as exc:
                    errors["sensitivity"] = f"{str(exc).capitalize()}."
        elif kind != self.Kind.CIRCUIT_OPEN:
            errors["kind"] = f"Unknown condition kind {kind!r}."


class SilenceQuerySet(models.QuerySet):
    def active(self, at: datetime | None = None) -> SilenceQuerySet:
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, ends_at__gt=at)

    def covering(self, source: Source, at: datetime | None = None) -> bool:
        tags = list(source.tags or [])
        mine = self.active(at).filter(team_id=source.team_id)
        return mine.filter(models.Q(source=source) | models.Q(source__isnull=True, tag__in=tags)).exists()

    def covered_slugs(self, at: datetime | None = None, teams: Iterable[int] | None = None) -> set[str]:
        """Slugs of every source an active silence covers, by the source or by one of its tags; only the
        sources of ``teams`` (ids) when given (a team's page), so the work follows that team, not all."""
        active = self.active(at) if teams is None else self.active(at).filter(team_id__in=list(teams))
        found = list(active.values_list("source__slug", "source__team_id", "tag", "team_id"))
        # As ``covering``: a source silence covers its source while the source is of the silence's team (a
        # source moved to another team is no longer quieted by the old team's silences).
        slugs = {slug for slug, source_team, _, team in found if slug and source_team == team}
        tags = {(team, tag) for slug, _, tag, team in found if not slug and tag}
        if tags:
            # A tag silence covers its own team's sources with that tag: only those teams' sources are read.
            candidates = Source.objects.filter(team_id__in={team for team, _ in tags})
            slugs |= {
                slug
                for slug, src_tags, team in candidates.values_list("slug", "tags", "team_id")
                if any((team, t) in tags for t in src_tags or [])
            }
        return slugs


class Silence(TeamOwned):
    """A maintenance window: alerts still evaluate and record events, but notify nobody."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="silences", blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.CASCADE, related_name="silences")
    tag = models.CharField(max_length=64, blank=True)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    # Kept by a status page's maintenance window for one of its sources (statuspages/maintenance.py): the
    # window's silences share its reason and follow the window, so they are no silence of their own.
    kept_by_window = models.BooleanField(default=False, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-ends_at"]
        indexes = [models.Index(fields=["ends_at", "starts_at"])]
        constraints = [
            # Configuration as code knows a silence by team and reason (provisioning/sections/silences.py): two
            # requests at once picking the same free reason must not both keep it (alerts/silences.py).
            models.UniqueConstraint(
                fields=["team", "reason"],
                condition=models.Q(kept_by_window=False),
                name="one_silence_reason_per_team",
                violation_error_message="The team already has a silence with this reason.",
            )
        ]

    def __str__(self) -> str:
        target = self.source.slug if self.source_id and self.source else f"tag {self.tag}"
        return f"{target} until {self.ends_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if bool(self.source_id) == bool(self.tag.strip()):
            errors["tag"] = "Silence either one source or one tag."
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must come after the start."
        if errors:
            raise ValidationError(errors)


class RuleStateQuerySet(models.QuerySet):
    def active(self) -> RuleStateQuerySet:
        """Pending or firing, for enabled rules: what the API and dashboards list as active alerts."""
        return self.filter(status__in=[evaluate.PENDING, evaluate.FIRING], rule__enabled=True).current()

    def firing(self) -> RuleStateQuerySet:
        return self.filter(status=evaluate.FIRING, rule__enabled=True).current()

    def current(self) -> RuleStateQuerySet:
        """Those whose rule is of their source's team, the only ones that count.

        A rule covers its own team's sources only, and a source's move drops the old team's states
        (receivers.drop_stale_states); but a poller polls from the source it loaded until its next reload,
        so a poll in between evaluates the old team's rules. The engine writes none of their states since
        (engine._apply checks the team at write time); one written before that, never evaluated after, would
        stay firing: on the new team's card, Alerts page and the source's level, never resolving.
        """
        return self.filter(rule__team_id=models.F("source__team_id"))


class RuleState(models.Model):
    """Where one alert rule stands for one source. Written only through compare-and-set on ``version``.

    The source's overall level (the worst rule firing for it) is ``Source.alert_state``, a
    ``pollers.models.SourceAlertLevel``.
    """

    class Status(models.TextChoices):
        INACTIVE = evaluate.INACTIVE, "Inactive"
        PENDING = evaluate.PENDING, "Pending"
        FIRING = evaluate.FIRING, "Firing"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="rule_states")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INACTIVE)
    true_streak = models.PositiveIntegerField(default=0)
    false_streak = models.PositiveIntegerField(default=0)
    pending_since = models.DateTimeField(null=True, blank=True)
    firing_since = models.DateTimeField(null=True, blank=True)
    last_value = models.JSONField(null=True, blank=True)
    last_hash = models.CharField(max_length=64, blank=True)
    hash_streak = models.PositiveIntegerField(default=0)
    notified = models.BooleanField(default=False)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    fired_event = models.ForeignKey("AlertEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The last poll this state has seen: an older or repeated poll is not evaluated twice.
    last_poll_id = models.CharField(max_length=64, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    # An operator saw it: counts while ``acknowledged_at`` is after ``firing_since`` (a new firing needs a new ack).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RuleStateQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "source"], name="one_rule_state_per_rule_and_source")]
        indexes = [models.Index(fields=["source", "status"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.source_id}: {self.status}"

    def data(self) -> evaluate.StateData:
        return evaluate.StateData(
            status=self.status,
            true_streak=self.true_streak,
            false_streak=self.false_streak,
            pending_since=self.pending_since,
            firing_since=self.firing_since,
            last_value=self.last_value,
            last_hash=self.last_hash,
            hash_streak=self.hash_streak,
            notified=self.notified,
            last_notified_at=self.last_notified_at,
        )

    @property
    def acknowledged(self) -> bool:
        since = self.firing_since or self.pending_since
        return self.acknowledged_at is not None and (since is None or self.acknowledged_at >= since)

    def has_seen(self, poll_id: str, at: datetime) -> bool:
        if self.last_poll_at is None:
            return False
        return at < self.last_poll_at or (at == self.last_poll_at and poll_id == self.last_poll_id)


class AlertEvent(models.Model):
    """One firing or resolving, with the values that caused it. Kept when its rule is deleted."""

    class Kind(models.TextChoices):
        FIRED = evaluate.FIRED, "Fired"
        RESOLVED = evaluate.RESOLVED, "Resolved"

    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    rule_name = models.CharField(max_length=120)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="alert_events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    condition = models.CharField(max_length=600)
    value = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=1000)
    poll_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    silenced = models.BooleanField(default=False)
    # A resolved event points at the firing it ends.
    fired_event = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resolutions"
    )

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["source", "-occurred_at"]), models.Index(fields=["severity", "-occurred_at"])]

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape shared by the API, the live WebSocket message and notifications."""
        return {
            "id": self.pk,
            "kind": self.kind,
            "rule": {"id": self.rule_id, "name": self.rule_name},
            "source": self.source.slug,
            "severity": self.severity,
            "condition": self.condition,
            "value": self.value,
            "message": self.message,
            "poll_id": self.poll_id,
            "occurred_at": self.occurred_at.isoformat(),
            "silenced": self.silenced,
            "fired_event_id": self.fired_event_id,
        }


class NotificationChannelQuerySet(models.QuerySet):
    def enabled(self) -> NotificationChannelQuerySet:
        return self.filter(enabled=True)


class NotificationChannel(TeamOwned):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (JSON, HMAC-signed)"
        SLACK = "slack", "Slack-compatible incoming webhook"
        APPRISE = "apprise", "Apprise (about 170 services)"

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="channels", blank=True)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        "default channel", default=False, help_text="Used by rules that select no channel."
    )
    email_to = models.CharField(max_length=1000, blank=True, help_text="Comma-separated addresses.")
    # An incoming-webhook URL is itself a credential (Slack's carries its token): shown masked, never logged.
    url = models.URLField(max_length=2000, blank=True)
    secret = models.CharField(max_length=200, blank=True, help_text="HMAC-SHA256 key for the webhook signature.")
    # An Apprise URL carries the service's tokens: stored Fernet-encrypted (devops_insights.crypto),
    # shown only as scheme://host (apprise_target), never logged. Set through set_apprise_url().
    apprise_url_encrypted = models.TextField(blank=True, editable=False)
    apprise_target = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NotificationChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def __repr__(self) -> str:
        return f"<NotificationChannel {self.pk} {self.name!r} {self.kind}>"

    def recipients(self) -> list[str]:
        return [address.strip() for address in self.email_to.split(",") if address.strip()]

    def masked_url(self) -> str:
        """Scheme and host only: the path of an incoming-webhook URL is often its secret."""
        if not self.url:
            return ""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"

    def target_display(self) -> str:
        if self.kind == self.Kind.APPRISE:
            return self.apprise_target
        return ", ".join(self.recipients()) if self.kind == self.Kind.EMAIL else self.masked_url()

    def set_apprise_url(self, url: str) -> None:
        """Check ``url`` (allowlisted scheme, every host past the SSRF guard) and store it encrypted."""
        from alerts.apprise_channel import AppriseURLError, check
        from devops_insights import crypto

        try:
            checked = check(url.strip())
            token = crypto.encrypt(url.strip())
        except (AppriseURLError, crypto.SecretUnavailable) as exc:
            raise ValidationError({"apprise_url": str(exc)}) from None
        self.apprise_url_encrypted = token
        self.apprise_target = checked.display

    def apprise_url(self) -> str:
        """The stored Apprise URL in clear, for the send only (raises crypto.SecretUnavailable)."""
        from devops_insights import crypto

        return crypto.decrypt(self.apprise_url_encrypted)

    def clean(self) -> None:
        from alerts.urlguard import UnsafeURL, check_url

        errors: dict[str, str] = {}
        if self.kind == self.Kind.EMAIL:
            recipients = self.recipients()
            if not recipients:
                errors["email_to"] = "List at least one address."
            for address in recipients:
                try:
                    validate_email(address)
                except ValidationError:
                    errors["email_to"] = f"{address!r} is not an email address."
                    break
        elif self.kind in (self.Kind.WEBHOOK, self.Kind.SLACK):
            if not self.url:
                errors["url"] = "Give the URL to POST to."
            else:
                try:
                    check_url(self.url)
                except UnsafeURL as exc:
                    errors["url"] = str(exc)
            if self.kind == self.Kind.WEBHOOK and len(self.secret) < 16:
                errors["secret"] = "A webhook needs a signing secret of at least 16 characters."  # noqa: S105
        elif self.kind == self.Kind.APPRISE and not self.apprise_url_encrypted:
            errors["kind"] = "Give the Apprise URL of the service to notify."
        if errors:
            raise ValidationError(errors)


class DeliveryQuerySet(models.QuerySet):
    def due(self, at: datetime) -> DeliveryQuerySet:
        """Waiting and due, or claimed by a sender whose claim ran out (it died mid-send)."""
        waiting = models.Q(status=Delivery.Status.PENDING, next_attempt_at__lte=at)
        abandoned = models.Q(status=Delivery.Status.SENDING, claimed_until__lt=at)
        return self.filter(waiting | abandoned)


class Delivery(models.Model):
    """One notification to one channel: attempts, outcome, last error. The outbox senders drain."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Reason(models.TextChoices):
        FIRED = evaluate.FIRED, "Fired"
        REMINDER = evaluate.REMINDER, "Still firing"
        RESOLVED = evaluate.RESOLVED, "Resolved"

    # None only for a test notification (is_test), which has no alert event behind it.
    event = models.ForeignKey(AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    is_test = models.BooleanField("test", default=False, help_text="Sent by the admin's test action.")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        what = "test" if self.is_test else f"{self.reason} #{self.event_id}"
        return f"{what} -> {self.channel.name}: {self.status}"
