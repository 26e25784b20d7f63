"""Status pages, their components, incidents with a timeline of updates, and maintenance windows.

A page belongs to one team (accounts/teams.py decides who may manage it); what a visitor may see of it
is its ``visibility``. A component is a public display name over one or more sources: nothing of the
sources (URL, payload, errors, metric values) is shown unless the component opts in to one named
metric. See docs/status-pages.md.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from alerts.models import AlertEvent, Silence
from pollers.models import Source
from statuspages import own_hosts

# A dotted name ending in a letter label: never an IP address, localhost or a bare name (statuspages/hosts.py
# skips those without a lookup, so the product's own requests cost nothing).
HOST_NAME = RegexValidator(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
    "A lowercase host name with a domain, without scheme, port or path, e.g. status.example.com.",
)
PLAIN_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")  # urlsplit's hostname is lowercase already
METRIC_NAME = RegexValidator(r"^[A-Za-z0-9_.:-]{1,100}$", "A metric name as the source's metric paths name it.")


def new_badge_key() -> str:
    """An unguessable key addressing one component's badges (about 190 bits)."""
    return secrets.token_urlsafe(24)


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public: anyone with the link"
    PASSWORD = "password", "Password: anyone who knows the page password"
    MEMBERS = "members", "Members: signed-in members of the team"


class StatusPageQuerySet(models.QuerySet["StatusPage"]):
    def published(self) -> StatusPageQuerySet:
        return self.filter(published=True)


class StatusPage(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="status_pages")
    slug = models.SlugField(max_length=64, unique=True, help_text="The page lives at /status/<slug>/.")
    title = models.CharField(max_length=120)
    # A URL or a static path (``/static/...``); an uploaded image would need media serving we do not have.
    logo = models.CharField(max_length=500, blank=True, help_text="https:// URL or /static/ path of a small logo.")
    custom_host = models.CharField(
        max_length=253,
        blank=True,
        validators=[HOST_NAME],
        help_text="Served at / when a request's Host is this name and it is in ALLOWED_HOSTS.",
    )
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    # django's make_password; empty unless visibility is "password".
    password_hash = models.CharField(max_length=200, blank=True, editable=False)
    description = models.TextField(blank=True, help_text="Markdown, shown under the title.")
    published = models.BooleanField(default=False)
    # Open a draft incident when a critical alert fires for a component's source (statuspages/auto_incidents.py).
    auto_draft_incidents = models.BooleanField(
        default=False, help_text="Open a draft incident when a critical alert fires for a component."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StatusPageQuerySet.as_manager()

    class Meta:
        ordering = ["title", "slug"]
        constraints = [
            # Unique when set: many pages have no custom host.
            models.UniqueConstraint(
                fields=["custom_host"], condition=~models.Q(custom_host=""), name="one_status_page_per_custom_host"
            )
        ]

    def __str__(self) -> str:
        return self.title or self.slug

    def next_component_order(self) -> int:
        """Where a component added now goes: after the last (at 0 each, they sorted by name instead)."""
        last = self.components.aggregate(last=models.Max("order"))["last"]
        return 0 if last is None else last + 1

    def clean(self) -> None:
        self.custom_host = (self.custom_host or "").strip().lower().rstrip(".")
        if self.logo and not (self.logo.startswith("https://") or self.logo.startswith("/static/")):
            raise ValidationError({"logo": "Use an https:// URL or a /static/ path."})
        if self.logo.startswith("https://") and not self.logo_origin():
            raise ValidationError({"logo": "Use an https:// URL whose host is a plain name (letters, digits, ., -)."})
        if self.custom_host and self.visibility == Visibility.MEMBERS:
            # A session belongs to the product's host name; members could not sign in on another one.
            raise ValidationError({"custom_host": "A members-only page cannot have a custom host."})
        refused = own_hosts.refusal(self.custom_host) if self.custom_host else None
        if refused:
            raise ValidationError({"custom_host": refused})

    def logo_origin(self) -> str:
        """An https:// logo's origin as a Content-Security-Policy source (``https://host[:port]``), which the public
        views allow images from; "" for a /static/ path or a host that is not a plain name (a ';' or a space in
        it wrote directives of its own into the page's policy)."""
        if not self.logo.startswith("https://"):
            return ""
        try:
            parts = urlsplit(self.logo)
            port = parts.port
        except ValueError:
            return ""
        host = parts.hostname or ""
        if not PLAIN_HOST.fullmatch(host):
            return ""
        return f"https://{host}:{port}" if port else f"https://{host}"

    def set_password(self, raw: str) -> None:
        self.password_hash = make_password(raw) if raw else ""

    def check_password(self, raw: str) -> bool:
        return bool(self.password_hash) and check_password(raw, self.password_hash)

    @property
    def is_public(self) -> bool:
        return self.published and self.visibility == Visibility.PUBLIC

    def foreign_source_teams(self, team_id: int) -> list[str]:
        """The names of the teams other than ``team_id`` whose sources this page's components group: what keeps
        the page from moving to that team (a page shows only its own team's sources)."""
        sources = Source.objects.filter(status_components__page=self).exclude(team_id=team_id)
        return sorted(set(sources.values_list("team__name", flat=True)))

    def deletion_counts(self) -> dict[str, int]:
        """What deleting the page deletes with it, counted for the confirmation that says so: its components,
        its incidents and their timeline updates, its maintenance windows, and the alert silences its windows keep
        that have not ended (alerts they hold back notify again)."""
        return {
            "components": self.components.count(),
            "incidents": self.incidents.count(),
            "updates": IncidentUpdate.objects.filter(incident__page=self).count(),
            "windows": self.maintenance_windows.count(),
            "silences": Silence.objects.filter(maintenance_windows__page=self, ends_at__gt=timezone.now())
            .distinct()
            .count(),
        }

    def may_group(self, sources: Any) -> bool:
        """Whether a component of this page may group ``sources``: only the page's team's sources, since a page
        shows its components' states to its visitors and a window silences their sources' alerts."""
        return all(source.team_id == self.team_id for source in sources)


class ComponentQuerySet(models.QuerySet["Component"]):
    def published(self) -> ComponentQuerySet:
        return self.filter(published=True)


class Component(models.Model):
    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="components")
    name = models.CharField("display name", max_length=120)
    description = models.CharField(max_length=300, blank=True, help_text="One public line under the name.")
    # A component groups one or more sources; its state is the worst of theirs (statuspages/state.py).
    sources: models.ManyToManyField[Source, Any] = models.ManyToManyField(
        Source, related_name="status_components", blank=True
    )
    order = models.PositiveIntegerField(default=0)
    published = models.BooleanField(default=True, help_text="Unpublished components are shown nowhere public.")
    # Opt-in: the one metric whose latest value may be shown publicly (badges, summary); empty = none.
    show_metric = models.CharField(max_length=100, blank=True, validators=[METRIC_NAME])
    show_metric_unit = models.CharField(max_length=20, blank=True)
    badge_key = models.CharField(max_length=64, unique=True, default=new_badge_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ComponentQuerySet.as_manager()

    class Meta:
        ordering = ["page", "order", "name", "pk"]
        constraints = [
            # Visitors tell components apart by name, and configuration as code keys them so (page + name).
            models.UniqueConstraint(
                fields=["page", "name"],
                name="one_component_name_per_page",
                violation_error_message="The page already has a component with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def shown_sources(self) -> list[Source]:
        """The sources the component shows (and its page's windows silence): its page's team's only. A source
        moved to another team since stays linked (the page's team takes it off), but its state, uptime and
        numbers are now that team's, for neither the old team's page nor its visitors."""
        return [source for source in self.sources.all() if source.team_id == self.page.team_id]

    def rotate_badge_key(self) -> None:
        self.badge_key = new_badge_key()


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class Impact(models.TextChoices):
    # The Statuspage v2 impact values, so the summary endpoint can pass them through.
    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


class IncidentQuerySet(models.QuerySet["Incident"]):
    def visible(self) -> IncidentQuerySet:
        """What a page's visitors see: never drafts."""
        return self.filter(is_draft=False)

    def unresolved(self) -> IncidentQuerySet:
        return self.exclude(status=IncidentStatus.RESOLVED)

    def last_changed_at(self) -> datetime | None:
        """The latest ``Incident.last_changed_at`` of these incidents, in one query (None for none): the same
        rule, a start, an update or a resolution, so the page's v2 ``updated_at`` dates them as each one is."""
        found = self.aggregate(
            started=models.Max("started_at"),
            updated=models.Max("updates__created_at"),
            resolved=models.Max("resolved_at"),
        )
        moments = [m for m in found.values() if m is not None]
        return max(moments) if moments else None

    def open_auto_for(self, component: Component | int) -> IncidentQuerySet:
        """The unresolved incident opened automatically for ``component`` (at most one: the constraint
        ``one_open_auto_incident_per_component``), draft or published."""
        return self.unresolved().filter(opened_for=component)


class Incident(models.Model):
    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="incidents")
    title = models.CharField(max_length=200)
    impact = models.CharField(max_length=10, choices=Impact.choices, default=Impact.MINOR)
    status = models.CharField(max_length=15, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING)
    components: models.ManyToManyField[Component, Any] = models.ManyToManyField(
        Component, related_name="incidents", blank=True
    )
    started_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # A draft is seen only by the team (e.g. opened automatically by a critical alert, statuspages/auto.py).
    is_draft = models.BooleanField(default=False)
    # The alert firing that opened this draft, so one firing opens at most one incident.
    opened_by_event = models.OneToOneField(
        AlertEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="status_incident"
    )
    # The component this incident was opened for automatically (statuspages/auto_incidents.py): kept apart
    # from ``components``, which the team edits, and from ``opened_by_event``, which alert retention empties,
    # so that the database itself keeps one open automatic incident per component (constraint below).
    opened_for = models.ForeignKey(
        Component,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="auto_incidents",
        verbose_name="opened automatically for",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["page", "is_draft", "started_at"])]
        constraints = [
            # Draft or published: two polls of a failing source, on two threads or processes, both finding
            # none open must not open two (the second insert fails, statuspages/auto_incidents.py).
            models.UniqueConstraint(
                fields=["opened_for"],
                condition=~models.Q(status=IncidentStatus.RESOLVED),
                name="one_open_auto_incident_per_component",
                violation_error_message="The component already has an open incident opened automatically.",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        # The status and the resolved time say the same thing, as a timeline update keeps them
        # (statuspages/manage.py): the public page lists a resolved incident by its resolved time, so one
        # resolved without a time would vanish from it, and an open one with a time would read as resolved.
        if self.status == IncidentStatus.RESOLVED and self.resolved_at is None:
            self.resolved_at = timezone.now()
        if self.status != IncidentStatus.RESOLVED and self.resolved_at is not None:
            message = "Only a resolved incident has a resolved time: clear it, or set the status to Resolved."
            raise ValidationError({"resolved_at": message})
        if self.resolved_at and self.started_at and self.resolved_at < self.started_at:
            raise ValidationError({"resolved_at": "An incident cannot be resolved before it started."})
        self.check_open_twin(self.status)

    def last_changed_at(self, updates: list[IncidentUpdate]) -> datetime:
        """When the incident last changed in public, given its ``updates`` (prefetched): its start, an update or
        its resolution, which may come without an update (the admin). The feeds and the Statuspage JSON both
        date an incident by it, so a reader's two views of one incident agree."""
        moments = [self.started_at, *(update.created_at for update in updates)]
        if self.resolved_at is not None:
            moments.append(self.resolved_at)
        return max(moments)

    def check_open_twin(self, status: str) -> None:
        """Refuse ``status`` for this incident when it was opened automatically and another incident opened
        for the same component is open: reopening this one would make two (the constraint above)."""
        if self.opened_for_id is None or status == IncidentStatus.RESOLVED:
            return
        twin = Incident.objects.open_auto_for(self.opened_for_id).exclude(pk=self.pk).first()
        if twin is not None:
            message = (
                f'Incident "{twin.title}" (#{twin.pk}) was opened automatically for the same component and is '
                "still open: resolve it before reopening this one."
            )
            raise ValidationError({"status": message})

    def save_refusing_twins(self, **kwargs: Any) -> None:
        """Save, refusing with ``check_open_twin``'s error when another writer opened or reopened a twin after
        that check: two admins reopening the component's two resolved incidents at once both pass the check,
        and the constraint fails the second save. Called inside a transaction: only this save is undone."""
        try:
            with transaction.atomic():
                self.save(**kwargs)
        except IntegrityError:
            self.check_open_twin(self.status)  # the twin is committed now: its error, where the person reads it
            raise


class IncidentUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=15, choices=IncidentStatus.choices)
    body = models.TextField(help_text="Markdown.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.status} at {self.created_at:%Y-%m-%d %H:%M}"


class MaintenanceQuerySet(models.QuerySet["MaintenanceWindow"]):
    def active(self, at: datetime | None = None) -> MaintenanceQuerySet:
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, ends_at__gt=at)

    def upcoming(self, at: datetime | None = None) -> MaintenanceQuerySet:
        return self.filter(starts_at__gt=at or timezone.now())


class MaintenanceWindow(models.Model):
    """Scheduled work: shown on the page, puts its components in maintenance and silences their sources."""

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="maintenance_windows")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown.")
    components: models.ManyToManyField[Component, Any] = models.ManyToManyField(
        Component, related_name="maintenance_windows", blank=True
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # The alerts.Silence rows this window keeps for its components' sources (statuspages/maintenance.py).
    silences: models.ManyToManyField[Silence, Any] = models.ManyToManyField(
        Silence, related_name="maintenance_windows", blank=True, editable=False
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MaintenanceQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["page", "ends_at", "starts_at"])]
        constraints = [
            # Configuration as code keys a window by page + title, ended ones included (the page's history):
            # a recurring window is told apart by its title ("Database upgrade, March").
            models.UniqueConstraint(
                fields=["page", "title"],
                name="one_maintenance_title_per_page",
                violation_error_message="The page already has a maintenance window with this title.",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must come after the start."})

    def phase(self, at: datetime | None = None) -> str:
        """scheduled, in_progress or completed (the Statuspage v2 words)."""
        at = at or timezone.now()
        if at < self.starts_at:
            return "scheduled"
        return "in_progress" if at < self.ends_at else "completed"
