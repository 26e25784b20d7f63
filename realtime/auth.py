"""Who a WebSocket connection is: the session cookie's user (``SessionAuthMiddleware``), else an API token's.

A browser logged in to the dashboard is authenticated by its session cookie (``SessionAuthMiddleware``).
Other clients present an API token, in the first of these places that holds one:

1. ``Authorization: Bearer <token>``: for clients that can set headers (scripts, services).
2. A WebSocket subprotocol ``bearer.<token>`` offered next to ``devops-insights.v1``: for browser
   code holding a token, since browsers cannot set headers on a WebSocket. The server selects
   ``devops-insights.v1`` and never echoes the token back.
3. ``?token=<token>`` in the URL (when ``REALTIME_QUERY_TOKEN_AUTH`` is on): the easiest to use,
   but URLs end up in proxy and browser history logs, so prefer 1 or 2 and turn this off where
   proxies log query strings. Our own logs never contain it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.auth import get_user as channels_get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

from realtime.access import ACCESS
from realtime.session_login import sessions_in_database

PROTOCOL = "devops-insights.v1"
BEARER_SUBPROTOCOL_PREFIX = "bearer."
# Scope key of a token connection's ``realtime.access.Access``, looked up by this middleware.
ACCESS_SCOPE_KEY = "realtime_access"


def token_from_scope(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    for subprotocol in scope.get("subprotocols", ()):
        if subprotocol.startswith(BEARER_SUBPROTOCOL_PREFIX):
            return subprotocol[len(BEARER_SUBPROTOCOL_PREFIX) :]
    if settings.REALTIME_QUERY_TOKEN_AUTH:
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        values = query.get("token")
        if values and values[0]:
            return values[0]
    return None


class ApiTokenAuthMiddleware:
    """Put the token's user in ``scope["user"]`` when the session did not authenticate one.

    The token is looked up through the per-process access cache (realtime/access.py): a handshake of a
    known, unchanged token reads one cache value and no database row. Its ``Access`` (teams, readable
    sources) goes in the scope for the consumer.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            scope = dict(scope, auth_method="session")
        else:
            raw = token_from_scope(scope)
            access = await ACCESS.for_token(raw) if raw else None
            if access is not None:
                scope = dict(
                    scope, user=access.user, api_token=access.token, **{ACCESS_SCOPE_KEY: access}, auth_method="token"
                )
        return await self.inner(scope, receive, send)


class SessionAuthMiddleware:
    """The session cookie's user in ``scope["user"]``, its session in ``scope["session"]``: for WebSocket scopes.

    What Channels' ``AuthMiddlewareStack`` (cookie, session and auth middleware) did, in one layer and
    without its wrapper around every ``send``, which only ever saves a session on an HTTP response:
    each layer cost every handshake a scope copy and a coroutine, and every message sent a call.

    A handshake without a session key (a token client, a reconnecting script) has no user to look
    up and reads nothing. A session key is resolved through ``ACCESS.for_session``
    (realtime/access.py, realtime/session_login.py): a browser reconnecting with an unchanged,
    logged-in session reads one cache value and no database row, and its ``Access`` goes in the scope
    for the consumer. Only a session engine other than the database ones takes Channels' own
    ``get_user`` (a database hop per handshake).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":  # the first one, as Channels' CookieMiddleware reads it
                cookies = parse_cookie(value.decode("latin1"))
                break
        # The store checks the key's form: a malformed one leaves it without a key.
        session = import_module(settings.SESSION_ENGINE).SessionStore(cookies.get(settings.SESSION_COOKIE_NAME))
        added: dict[str, Any] = {"session": session, "user": AnonymousUser()}
        if session.session_key is not None and sessions_in_database():
            access = await ACCESS.for_session(session.session_key)
            if access is not None:
                added.update(user=access.user, **{ACCESS_SCOPE_KEY: access})
        elif session.session_key is not None:
            added["user"] = await channels_get_user({"session": session})
        return await self.inner(dict(scope, **added), receive, send)


def select_subprotocol(scope: dict[str, Any]) -> str | None:
    """The subprotocol to accept: ours when offered, else none (a bearer token is never echoed)."""
    return PROTOCOL if PROTOCOL in scope.get("subprotocols", ()) else None
