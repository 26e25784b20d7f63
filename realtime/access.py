"""Who a WebSocket connection acts as and what it may read, looked up once per principal and process.

A handshake used to cost four database reads in a row on Channels' one thread-sensitive executor
(the token, the user's teams, the readable sources at subscribe, the snapshot), so during a
reconnect storm every handshake queued on that one thread (bench/ws_fanout.py: about 30 connections
per second). Here a principal (an API token, by its hash; a browser session, by its key; or a
session's user) is read in one database hop (the token with its owner, or the session row and its
user; the owner's teams; the slugs of those teams' sources) into an immutable ``Access`` that every
connection of that principal in this process shares.

Kept entries are checked against a **generation**, as ``alerts.rule_cache``: one value in the shared
cache that any save or delete of what access depends on replaces (``bump``, connected in
``realtime.apps``: API tokens, users, memberships, teams, sources, and the deletion of a session that
held a login, which is how a logout ends; provisioning's bulk creation of sources calls it too). A
lookup reads the generation (one cache round trip on a worker thread, never the database, never the
thread-sensitive executor) and reuses the kept entry only when it was loaded under the same one, so
a token revoked, a session logged out, a password changed, a membership removed or a user
deactivated in any process refuses the very next handshake or request in every process. ``bump``
replaces the generation at once and again after the commit, so nothing loaded in between is kept.

Backstops: an entry older than ``max_age()`` is read again (the token's last use is then recorded,
as ``ApiToken.authenticate`` does once a minute, and a change that moved no generation, made while
the cache was unreachable or by a bulk update that sends no signal, is seen within it); an expired
token or session is refused from the kept ``expires_at``; nothing is kept while the cache cannot be read; and
with a process-local default cache (no ``REDIS_URL``), where the generation lives in the database's
shared cache table (devops_insights.shared_cache) and reading it would cost the hop it saves, nothing is
kept at all: every lookup is one database hop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.models import LAST_USED_RESOLUTION, ApiToken, hash_token
from accounts.teams import Action, team_ids
from devops_insights import cache_generation
from metrics.read_cache import cache_is_shared
from pollers.models import Source
from realtime.offload import in_worker
from realtime.session_login import session_login
from realtime.shared_reads import SharedReads

logger = logging.getLogger(__name__)

GENERATION_KEY: Final = "realtime:access:generation"
MAX_ENTRIES: Final = 10_000  # principals kept per process; the oldest goes first

Key = tuple[str, Any]  # ("token", token hash), ("session", session key) or ("user", user pk)


@dataclass(frozen=True, eq=False)
class Access:
    """What one principal may read, as loaded under ``generation``."""

    key: Key
    user: Any
    token: ApiToken | None
    teams: frozenset[int] | None  # the teams whose sources and events it may read; None: every team
    sources: frozenset[str]  # slugs of the sources it may read
    generation: str | None
    loaded_at: float  # time.monotonic()
    expires_at: datetime | None = None  # the token's or the session's expiry, refused from then on

    def may_read(self, slug: str) -> bool:
        return slug in self.sources

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


def max_age() -> float:
    """Seconds a kept entry is reused at most, whatever the generation says."""
    return min(float(settings.REALTIME_REAUTH_INTERVAL), LAST_USED_RESOLUTION.total_seconds())


# --- The shared generation ------------------------------------------------------------------------


def _read_generation() -> str | None:
    return cache_generation.read(GENERATION_KEY)


async def _fetch_generation(_key: None) -> str | None:
    return await in_worker(_read_generation)


def _set_generation() -> None:
    try:
        cache_generation.replace(GENERATION_KEY)
    except Exception as exc:
        # Other processes see the change within max_age(); this one forgets its entries in bump().
        logger.warning("realtime: access changed but the cache is unreachable: %s", type(exc).__name__)


def bump(*_args: Any, **_kwargs: Any) -> None:
    """Make every process read access again (a signal receiver: any arguments)."""
    _set_generation()
    # Again after the commit: a lookup between the two loads what the transaction had not yet committed.
    transaction.on_commit(_set_generation)
    ACCESS.forget()


# --- Loading: one database hop ----------------------------------------------------------------------


def _teams(user: Any, token: ApiToken | None) -> frozenset[int] | None:
    """``accounts.teams``' READ rule: a session reads its user's teams; a token only its own, within its owner's."""
    ids = team_ids(user, Action.READ)
    if ids is None:
        return None if token is None else frozenset({token.team_id})
    found = frozenset(ids.values_list("team_id", flat=True))
    return found & {token.team_id} if token is not None else found


def _load(key: Key, generation: str | None) -> Access | None:
    kind, ident = key
    token: ApiToken | None = None
    expires_at: datetime | None = None
    user: Any
    if kind == "token":
        token = ApiToken.authenticate_hash(ident)  # active tokens of active users only; records the use
        if token is None:
            return None
        user, expires_at = token.user, token.expires_at
    elif kind == "session":
        login = session_login(ident)
        if login is None:
            return None
        user, expires_at = login.user, login.expires_at
    else:
        user = get_user_model().objects.filter(pk=ident, is_active=True).first()
        if user is None:
            return None
    teams = _teams(user, token)
    sources = Source.objects.all() if teams is None else Source.objects.filter(team_id__in=teams)
    slugs = frozenset(sources.values_list("slug", flat=True))
    return Access(key, user, token, teams, slugs, generation, time.monotonic(), expires_at)


# --- The per-process lookup -------------------------------------------------------------------------


class AccessCache:
    def __init__(self) -> None:
        self.entries: dict[Key, Access] = {}
        # One load per principal and generation at a time: a reconnect storm of one token reads once.
        self.loading: dict[tuple[Key, str | None], asyncio.Task[Access | None]] = {}
        self.loads = 0  # tests and benches count database reads by it
        # Concurrent lookups share one read of the generation that began after they asked.
        self.generations: SharedReads[None, str | None] = SharedReads(_fetch_generation)

    async def for_token(self, raw: str) -> Access | None:
        """The access of the API token ``raw``; None for an unknown, revoked or expired one."""
        if not ApiToken.well_formed(raw):
            return None
        return await self.lookup(("token", hash_token(raw)))

    async def for_session(self, session_key: str) -> Access | None:
        """The access of the user logged in with session ``session_key`` (realtime/session_login.py); None
        when the session is gone, expired or holds no valid login. Only for the database session engines."""
        return await self.lookup(("session", session_key))

    async def for_user(self, user: Any) -> Access | None:
        """The access of a session's user; None when the user is gone or inactive."""
        return await self.lookup(("user", user.pk))

    async def current(self, access: Access) -> Access | None:
        """``access`` as it stands now (the same object while nothing changed); None once revoked."""
        return await self.lookup(access.key)

    async def lookup(self, key: Key) -> Access | None:
        generation = await self.generations.read(None) if cache_is_shared("default") else None
        kept = self.entries.get(key)
        if (
            kept is not None
            and generation is not None
            and kept.generation == generation
            and time.monotonic() - kept.loaded_at < max_age()
            and not kept.expired()
        ):
            return kept
        loop = asyncio.get_running_loop()
        task = self.loading.get((key, generation)) if generation is not None else None
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(self._read(key, generation))
            if generation is not None:
                self.loading[(key, generation)] = task
                task.add_done_callback(functools.partial(self._done, (key, generation)))
        return await asyncio.shield(task)

    def _done(self, loading_key: tuple[Key, str | None], task: asyncio.Task[Access | None]) -> None:
        if self.loading.get(loading_key) is task:
            del self.loading[loading_key]

    async def _read(self, key: Key, generation: str | None) -> Access | None:
        # The generation was read before the database: what is loaded is at least as new as it.
        self.loads += 1
        access = await database_sync_to_async(_load)(key, generation)
        entries = self.entries  # forget() may replace it from another thread meanwhile
        entries.pop(key, None)
        if access is not None and generation is not None:
            entries[key] = access  # at the end: the oldest entries go first
            while len(entries) > MAX_ENTRIES:
                del entries[next(iter(entries))]
        return access

    def forget(self) -> None:
        """Drop every kept entry (a change made in this process; tests)."""
        self.entries = {}


ACCESS = AccessCache()
