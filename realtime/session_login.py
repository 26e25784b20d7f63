"""Who a session cookie is logged in as, read straight from the session table (one row, then the user).

The rule is Channels' ``get_user`` (``AuthMiddlewareStack``), itself ``django.contrib.auth.get_user``
without the session key rotation that a WebSocket handshake could not send back as a cookie: the
session holds a user id and an authentication backend listed in ``AUTHENTICATION_BACKENDS``, that
backend returns the user (an active one), and the session's auth hash matches the user's current
one (a password change logs every session out). Unlike Channels, a session whose hash no longer
matches is only refused here, not flushed: the next page the browser loads flushes it.

The session row is read rather than loaded through a ``SessionStore`` so that its expiry date comes
with it: ``realtime.access`` keeps a session's access and must refuse it once the session expires,
which the store does not tell. Only for the engines that keep sessions in that table; with another
engine the WebSocket stack resolves sessions as Channels does (realtime/auth.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.crypto import constant_time_compare

DATABASE_ENGINES = frozenset({"django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"})


def sessions_in_database() -> bool:
    return settings.SESSION_ENGINE in DATABASE_ENGINES


@dataclass(frozen=True)
class SessionLogin:
    user: Any
    expires_at: datetime


def session_login(session_key: str) -> SessionLogin | None:
    """The login held by the session ``session_key``; None when it is gone, expired or holds no valid login."""
    from django.contrib.sessions.models import Session

    row = Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).first()
    if row is None:
        return None
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).decode(row.session_data)
    backend_path, user_id = data.get(BACKEND_SESSION_KEY), data.get(SESSION_KEY)
    if user_id is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    try:
        pk = get_user_model()._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    user = load_backend(backend_path).get_user(pk)
    if user is None or not user.is_active:
        return None
    session_hash = data.get(HASH_SESSION_KEY)
    if not (session_hash and constant_time_compare(session_hash, user.get_session_auth_hash())):
        return None
    return SessionLogin(user, row.expire_date)


def holds_login(session: Any) -> bool:
    """Whether a ``Session`` row (being deleted) held a login: only those can change what a WebSocket reads."""
    try:
        return SESSION_KEY in session.get_decoded()
    except Exception:  # undecodable: as if it did, so that nothing kept outlives it
        return True
