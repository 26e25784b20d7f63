"""Boards (custom dashboards) with their version history, and annotations (deploy and change markers).

Who may do what (accounts.teams, the one access rule; docs/boards.md "Who may do what"):
a team's viewers read its boards and annotations; its operators and admins create, edit, restore,
duplicate and delete boards and add annotations. A board is shared by its link: anyone who may read
its team opens it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils.text import slugify

from accounts.models import Team, TeamOwned
from accounts.teams import Action, allows, restrict
from boards import spec

# Creating and changing a board is an operator's work: it changes what the team sees, not what it watches.
EDIT = Action.OPERATE


class BoardQuerySet(models.QuerySet["Board"]):
    def readable_by(self, user: Any) -> BoardQuerySet:
        return restrict(self, user, Action.READ)

    def editable_by(self, user: Any) -> BoardQuerySet:
        return restrict(self, user, EDIT)


class Board(TeamOwned):
    """A team's board: settings here, panels and layout in its versions (the newest is the board)."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="boards", blank=True)
    title = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)
    time_range = models.CharField(max_length=4, default="24h", choices=[(r, r) for r in spec.TIME_RANGES])
    refresh = models.PositiveIntegerField(default=0)  # seconds; 0: none (live updates still arrive)
    variables = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=0)  # the newest version's number
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BoardQuerySet.as_manager()

    class Meta:
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title

    def can_edit(self, user: Any) -> bool:
        return allows(user, self.team_id, EDIT)

    def latest_version(self) -> BoardVersion | None:
        return self.versions.order_by("-number").first()

    def document(self) -> dict[str, Any]:
        """The board in the import/export format (boards.spec), from its newest version."""
        latest = self.latest_version()
        stored = latest.document if latest is not None else {}
        layout = {"phone_order": stored["phone_order"]} if "phone_order" in stored else {}
        return {
            "format": spec.FORMAT,
            "title": self.title,
            "slug": self.slug,
            "team": self.team.slug,
            "time_range": self.time_range,
            "refresh": self.refresh,
            "variables": self.variables,
            "panels": stored.get("panels", []),
            **layout,
        }

    @classmethod
    def unique_slug(cls, wanted: str, exclude: int | None = None) -> str:
        base = (slugify(wanted) or "board")[:56]
        candidate, n = base, 1
        others = cls.objects.exclude(pk=exclude) if exclude else cls.objects.all()
        while others.filter(slug=candidate).exists():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    @classmethod
    def create_from(cls, document: Any, team: Team, author: Any) -> Board:
        """A new board from a document (validated here; its ``slug`` is kept when free)."""
        doc = spec.validate(document)
        with transaction.atomic():
            board = cls(team=team, created_by=author if getattr(author, "pk", None) else None)
            board.slug = cls.unique_slug(doc.get("slug") or doc["title"])
            board._apply(doc)
            board.save()
            board._add_version(doc, author, "created")
        return board

    def save_document(self, document: Any, author: Any, note: str = "") -> BoardVersion:
        """A new version from a document (validated here); the board's settings follow it."""
        doc = spec.validate(document)
        with transaction.atomic():
            locked = Board.objects.select_for_update().get(pk=self.pk)
            locked._apply(doc)
            locked.save()
            version = locked._add_version(doc, author, note)
        self.refresh_from_db()
        return version

    def restore(self, number: int, author: Any) -> BoardVersion:
        """A new version copying version ``number``: history only grows, so a restore can be undone too."""
        old = self.versions.get(number=number)
        document = {**old.document, "slug": self.slug, "team": self.team.slug}
        return self.save_document(document, author, note=f"restored version {number}")

    def duplicate(self, author: Any, team: Team | None = None) -> Board:
        document = {**self.document(), "title": f"{self.title} (copy)"[:120]}
        document.pop("slug")
        return Board.create_from(document, team or self.team, author)

    def _apply(self, doc: dict[str, Any]) -> None:
        self.title = doc["title"]
        self.time_range = doc["time_range"]
        self.refresh = doc["refresh"]
        self.variables = doc["variables"]

    def _add_version(self, doc: dict[str, Any], author: Any, note: str) -> BoardVersion:
        self.version += 1
        Board.objects.filter(pk=self.pk).update(version=self.version)
        stored = {key: value for key, value in doc.items() if key not in ("slug", "team")}
        return BoardVersion.objects.create(
            board=self,
            number=self.version,
            document=stored,
            author=author if getattr(author, "pk", None) else None,
            note=note[:200],
        )


class BoardVersion(models.Model):
    """One saved state of a board: its whole document (title, settings, variables, panels with layout)."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["board", "number"], name="one_board_version_number")]

    def __str__(self) -> str:
        return f"{self.board} v{self.number}"


class AnnotationQuerySet(models.QuerySet["Annotation"]):
    def readable_by(self, user: Any) -> AnnotationQuerySet:
        return restrict(self, user, Action.READ).current()

    def current(self) -> AnnotationQuerySet:
        """Those that still count: source-less ones, and those whose source is still of their team.

        A source moved to another team keeps its annotations (they come back should it move back), but
        they are the old team's: its markers must not reach the new team's charts, nor the moved source's
        slug and changes the old team's list.
        """
        return self.filter(models.Q(source__isnull=True) | models.Q(source__team_id=models.F("team_id")))

    def covering(self, sources: list[int], start: datetime, end: datetime) -> AnnotationQuerySet:
        """What a chart of ``sources`` over [start, end) shows: theirs, and their teams' source-less ones."""
        return (
            self.current()
            .filter(at__gte=start, at__lt=end)
            .filter(models.Q(source_id__in=sources) | models.Q(source__isnull=True, team__sources__id__in=sources))
            .distinct()
        )


class Annotation(TeamOwned):
    """A marker on every chart covering its source (or, without one, every source of its team) and time."""

    class Kind(models.TextChoices):
        AUTO = "auto", "Recorded from a change"
        MANUAL = "manual", "Added by a person or CI"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="annotations", blank=True)
    source = models.ForeignKey(
        "pollers.Source", null=True, blank=True, on_delete=models.CASCADE, related_name="annotations"
    )
    at = models.DateTimeField()
    text = models.CharField(max_length=500)
    tags = models.JSONField(default=list, blank=True)
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AnnotationQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["source", "at"], name="boards_annotation_source_at"),
            models.Index(fields=["team", "at"], name="boards_annotation_team_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at.isoformat()} {self.text}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "team": self.team.slug,
            "source": self.source.slug if self.source_id and self.source else None,
            "at": self.at.isoformat(),
            "text": self.text,
            "tags": list(self.tags or []),
            "kind": self.kind,
            "created_by": self.created_by.get_username() if self.created_by else None,
        }
