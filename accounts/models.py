"""Teams and memberships; API tokens (shown once, stored as a SHA-256 hash, acting in one team with one role,
optionally expiring); the append-only audit trail."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

TOKEN_PREFIX = "dit_"  # noqa: S105 - a public marker, not a secret
# Tokens one user may hold at once: each is a credential to keep track of and revoke.
MAX_TOKENS_PER_USER = 50
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    # Tokens are 256 bits of randomness, so a fast unsalted hash is safe here (no dictionary to attack).
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_raw_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class Role(models.TextChoices):
    """A member's rights in one team; each role includes the ones before it (accounts/teams.py ranks them)."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"


class Team(models.Model):
    """The owner of sources, alert rules, channels, silences, tokens, pages and boards."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LastAdminError(Exception):
    """Refused: the change would leave a team without an admin (docs/accounts.md, "Last admin")."""


def _lock_teams_and_check_admins(team_ids: set[int], leaving_pks: set[int]) -> None:
    """Inside a transaction: lock ``team_ids`` and refuse if any would keep no admin once ``leaving_pks`` go.

    "Leaving" covers removal and demotion. Locking the team rows first serialises every change to a
    team's admins (on PostgreSQL; SQLite serialises writers itself), so two concurrent demotions of a
    team's two admins cannot both see the other one still there.
    """
    if not team_ids:
        return
    list(Team.objects.select_for_update().filter(pk__in=sorted(team_ids)).order_by("pk").values_list("pk"))
    admins = Membership.objects.filter(team_id__in=team_ids, role=Role.ADMIN)
    losing = set(admins.filter(pk__in=leaving_pks).values_list("team_id", flat=True))
    keeping = set(admins.exclude(pk__in=leaving_pks).values_list("team_id", flat=True))
    stranded = losing - keeping
    if stranded:
        names = ", ".join(Team.objects.filter(pk__in=stranded).values_list("name", flat=True))
        raise LastAdminError(f"{names} would have no admin left: make another member admin first.")


class MembershipQuerySet(models.QuerySet["Membership"]):
    """Bulk removals and role changes keep every team's last admin (``_lock_teams_and_check_admins``)."""

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic():
            rows = list(self.values_list("pk", "team_id"))
            _lock_teams_and_check_admins({team for _, team in rows}, {pk for pk, _ in rows})
            return super(MembershipQuerySet, Membership.objects.filter(pk__in=[pk for pk, _ in rows])).delete()

    def update(self, **kwargs: Any) -> int:
        if "role" not in kwargs or kwargs["role"] == Role.ADMIN:
            return super().update(**kwargs)
        with transaction.atomic():
            rows = list(self.values_list("pk", "team_id"))
            _lock_teams_and_check_admins({team for _, team in rows}, {pk for pk, _ in rows})
            return super(MembershipQuerySet, Membership.objects.filter(pk__in=[pk for pk, _ in rows])).update(**kwargs)


class Membership(models.Model):
    """One user in one team with one role.

    A team's last admin cannot leave, be removed or be demoted: ``save``, ``delete`` and the queryset's
    ``delete`` and ``update`` raise ``LastAdminError`` (deleting the team or the user still removes it).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team_and_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding or self.role == Role.ADMIN:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            _lock_teams_and_check_admins({self.team_id}, {self.pk})
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic():
            _lock_teams_and_check_admins({self.team_id}, {self.pk})
            return super().delete(*args, **kwargs)


DEFAULT_TEAM_SLUG = "default"
DEFAULT_TEAM_NAME = "Default"


def default_team_id() -> int:
    """The id of the team that owns what is saved without naming one (seeded demo sources, old data)."""
    team, _ = Team.objects.get_or_create(slug=DEFAULT_TEAM_SLUG, defaults={"name": DEFAULT_TEAM_NAME})
    return team.pk


class TeamOwned(models.Model):
    """Base of every model with a ``team`` foreign key: saved without one, it lands in the default team.

    The field is ``blank=True`` (validation lets it be left out) and NOT NULL in the database.

    Not a field default: an unsaved instance (a form's preview, a probe, a unit test) must not touch the
    database, so the default team is looked up (and made on first use) only when the row is saved.
    ``bulk_create`` skips ``save``: callers of it name the team.
    """

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "team_id", None) is None:
            self.team_id = default_team_id()
        super().save(*args, **kwargs)


class TokenRefused(Exception):
    """A token not issued; ``field`` is the form field the message belongs to (None: the form as a whole)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(TeamOwned):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # A token acts in one team, with a role no higher than its owner's there, at creation and at every use
    # (accounts/teams.py: token_role).
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens", blank=True)
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters identify a token in lists without revealing it.
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"  # not "Api token", as the admin derived it from the class name
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_token_name_per_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls,
        user: Any,
        name: str,
        role: str = Role.VIEWER,
        expires_at: datetime | None = None,
        *,
        team: Team | None = None,
    ) -> tuple[ApiToken, str]:
        """Create a token and return it with its raw value, which is never stored or shown again.

        Refused (``TokenRefused``) when the owner has ``MAX_TOKENS_PER_USER`` tokens or one of this name. The
        caller checks that ``role`` is no higher than the owner's in ``team`` (the token page's form does);
        at every use the token's role is capped by the owner's current one anyway.
        """
        raw = generate_raw_token()
        token = cls(user=user, name=name, role=role, expires_at=expires_at)
        if team is not None:
            token.team = team
        token.set_raw(raw)
        token.save_new()
        return token, raw

    @classmethod
    def check_room(cls, user_id: int, name: str) -> None:
        """Refuse (``TokenRefused``) a new token of ``name`` for the user: the one home of the cap
        (``MAX_TOKENS_PER_USER``) and of a name per user, for the forms that say it early and ``save_new``."""
        mine = cls.objects.filter(user_id=user_id)
        if mine.count() >= MAX_TOKENS_PER_USER:
            raise TokenRefused(f"You have {MAX_TOKENS_PER_USER} tokens; revoke some first.")
        if mine.filter(name=name).exists():
            raise TokenRefused("You already have a token with this name.", "name")

    def save_new(self) -> None:
        """Save this new token (its raw value set) if its owner has room for it (``check_room``): every way a
        token is made (the token page, the API's callers of ``issue``, the Django admin) comes here."""
        with transaction.atomic():
            # Counting and creating under a lock on the owner's row: two requests that both counted 49 would
            # otherwise both create (PostgreSQL; SQLite's IMMEDIATE transactions serialise writers already).
            list(get_user_model().objects.select_for_update().filter(pk=self.user_id).values_list("pk", flat=True))
            self.check_room(self.user_id, self.name)
            self.save()

    def set_raw(self, raw: str) -> None:
        self.token_hash = hash_token(raw)
        self.prefix = raw[:10]

    @staticmethod
    def well_formed(raw: str) -> bool:
        """Whether ``raw`` could be a token at all (checked before any hashing or lookup)."""
        return bool(raw) and raw.startswith(TOKEN_PREFIX) and len(raw) <= 200

    @classmethod
    def authenticate(cls, raw: str) -> ApiToken | None:
        """The active token matching ``raw``, recording its use, or None."""
        if not cls.well_formed(raw):
            return None
        return cls.authenticate_hash(hash_token(raw))

    @classmethod
    def authenticate_hash(cls, token_hash: str) -> ApiToken | None:
        """``authenticate`` by the token's hash (for a caller that keeps the hash, never the raw token)."""
        token = cls.objects.active().select_related("user", "team").filter(token_hash=token_hash).first()
        if token is None:
            return None
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token


class AppendOnlyQuerySet(models.QuerySet["AuditEvent"]):
    """Audit events are never edited or deleted through the ORM; only retention prunes them (``prune_before``)."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are append-only")

    def prune_before(self, cutoff: datetime) -> int:
        """Retention's one way out: delete events older than ``cutoff``; the count deleted."""
        doomed = self.filter(created_at__lt=cutoff)
        # QuerySet.delete (the plain one, not ours) on the filtered rows: nothing cascades from an audit event.
        return int(models.QuerySet.delete(doomed)[0])


class AuditEvent(models.Model):
    """One append-only audit record: who did what, when and from where.

    accounts/audit.py writes logins, failed and refused logins, logouts, password and MFA changes;
    accounts/audit_trail.py writes every create, change and delete of the audited models (sources, rules,
    channels, silences, tokens, memberships, retention policies) with ``object_type``, ``object_id``,
    ``before``, ``after`` (secrets masked) and the object's ``team``.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    action = models.CharField(max_length=64, db_index=True)
    # Who: a user (kept as text too, so the record survives the account), with the prefix of the API token it
    # acted through; or a command ("system", "command:<name>").
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True, db_index=True)
    token_prefix = models.CharField(max_length=16, blank=True)
    # From where.
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # What, for object changes.
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    # The team the object belongs to, so a team's admins read their team's trail. No database constraint and
    # nothing done on delete: the record keeps the id of a team deleted since.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "created_at"]),
            models.Index(fields=["team", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.actor_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are append-only")


INVITATION_PREFIX = "dii_"


class InvitationError(Exception):
    """Why an invitation link cannot be used; the message is shown to the person who followed it.

    ``status``: 410 for a link that is unknown, used or expired; 409 when the user is already a member.
    """

    def __init__(self, message: str, status: int = 410) -> None:
        super().__init__(message)
        self.status = status


class Invitation(models.Model):
    """A one-time, expiring link that makes whoever accepts it (signed in) a member of ``team`` with ``role``.

    Only a hash of the link's token is stored, as for API tokens; the link is shown once to the admin.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.role} in {self.team} until {self.expires_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()

    @classmethod
    def issue(cls, team: Team, role: str, created_by: Any, lifetime: timedelta) -> tuple[Invitation, str]:
        """A new invitation and its raw token (the link's last segment), which is never stored."""
        raw = INVITATION_PREFIX + secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            team=team,
            role=role,
            token_hash=hash_token(raw),
            created_by=created_by if getattr(created_by, "pk", None) else None,
            expires_at=timezone.now() + lifetime,
        )
        return invitation, raw

    @classmethod
    def find(cls, raw: str) -> Invitation:
        """The invitation of ``raw``, still usable, or ``InvitationError`` saying why not."""
        found = None
        if raw.startswith(INVITATION_PREFIX) and len(raw) <= 200:
            found = cls.objects.select_related("team").filter(token_hash=hash_token(raw)).first()
        if found is None:
            raise InvitationError("This invitation link is not valid. Ask a team admin for a new one.")
        if found.used_at is not None:
            raise InvitationError("This invitation link has already been used. Ask a team admin for a new one.")
        if found.expires_at <= timezone.now():
            raise InvitationError("This invitation link has expired. Ask a team admin for a new one.")
        return found

    @classmethod
    def accept(cls, raw: str, user: Any) -> Membership:
        """Make ``user`` a member with the invitation's role, using the link up; once, even when raced."""
        invitation = cls.find(raw)
        if Membership.objects.filter(team=invitation.team, user=user).exists():
            raise InvitationError(f"You are already a member of {invitation.team}.", status=409)
        with transaction.atomic():
            # The conditional update is the one-time guarantee: of two concurrent accepts, one changes the row.
            used = cls.objects.filter(pk=invitation.pk, used_at__isnull=True, expires_at__gt=timezone.now()).update(
                used_at=timezone.now(), used_by=user
            )
            if not used:
                raise InvitationError("This invitation link has already been used. Ask a team admin for a new one.")
            return Membership.objects.create(team=invitation.team, user=user, role=invitation.role)
