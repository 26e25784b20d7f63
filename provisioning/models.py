"""The feature flag model: waffle's flag, switchable per team as well as per user, group and percentage."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from waffle.models import CACHE_EMPTY, AbstractUserFlag
from waffle.utils import get_cache, keyfmt

from accounts.models import Membership

TEAMS_CACHE_KEY = "provisioning:flag:%s:teams"


class Flag(AbstractUserFlag):
    """``WAFFLE_FLAG_MODEL``: on for the members of ``teams`` too (any role), beside waffle's own rules."""

    teams = models.ManyToManyField(
        "accounts.Team", blank=True, related_name="+", help_text="Activate this flag for the members of these teams."
    )

    class Meta(AbstractUserFlag.Meta):
        verbose_name = _("feature flag")
        verbose_name_plural = _("feature flags")

    def get_flush_keys(self, flush_keys: list[str] | None = None) -> list[str]:
        keys = super().get_flush_keys(flush_keys)
        keys.append(keyfmt(TEAMS_CACHE_KEY, self.name))
        return keys

    def team_ids(self) -> set[int]:
        """The ids of the flag's teams, cached like waffle caches its users and groups."""
        cache = get_cache()
        key = keyfmt(TEAMS_CACHE_KEY, self.name)
        cached = cache.get(key)
        if cached == CACHE_EMPTY:
            return set()
        if cached:
            return set(cached)
        ids = set(self.teams.values_list("pk", flat=True))
        cache.add(key, ids or CACHE_EMPTY)
        return ids

    def is_active_for_user(self, user: Any) -> bool | None:
        active = super().is_active_for_user(user)
        if active:
            return active
        ids = self.team_ids()
        signed_in = getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)
        if ids and signed_in and Membership.objects.filter(user=user, team_id__in=ids).exists():
            return True
        return None
