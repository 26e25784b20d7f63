"""Writing audit events: one call, ``record``, fills in who, when and from where; secrets are masked.

Logins, failed and refused logins, logouts, password and MFA changes are recorded by the receivers in
accounts/audit_receivers.py. Object changes (sources, rules, channels, silences, tokens, memberships, retention
policies) are recorded by accounts/audit_trail.py through the same ``record`` with ``object_type``,
``object_id``, ``team`` and the fields ``before`` and ``after``.

Who: ``user`` when given, else the request's user; a request that came with an API token also names the token's
prefix (``api.access`` leaves the principal on the request); without a request, the system actor of
accounts/audit_context.py (``command:<name>`` or ``system``).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest

from accounts.audit_context import system_actor
from accounts.client_ip import client_ip
from accounts.models import AuditEvent
from observability.context import current_request_id

logger = logging.getLogger("accounts.audit")

MASK = "********"
# A field whose name says it holds a secret is masked wherever it sits in before/after/detail.
SECRET_NAME = re.compile(r"pass(word)?|secret|token|api[_-]?key|private|credential|authorization|cookie|seed", re.I)
USER_AGENT_MAX = 512


def mask_secrets(value: Any) -> Any:
    """``value`` with every entry whose key names a secret replaced by ``MASK`` (dicts and lists, deeply)."""
    if isinstance(value, dict):
        return {
            key: (MASK if SECRET_NAME.search(str(key)) and item not in (None, "") else mask_secrets(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    return value


def masked_url(url: str, *, mask: str = MASK, secret_name: re.Pattern[str] = SECRET_NAME) -> str:
    """``url`` with a password in its user part and every query value whose name matches ``secret_name``
    replaced by ``mask``; host and path stay readable. An unparseable URL is masked whole.

    The one URL-masking rule: the audit trail uses the defaults, the API passes the poller's header rule and
    mask so a source's URL reads the same there as its headers do.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{mask}@{host}" if colon else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, mask if secret_name.search(k) else v) for k, v in pairs], safe=mask)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    user: Any = None,
    actor_label: str = "",
    object_type: str = "",
    object_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    team_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one event. ``user`` defaults to the request's authenticated user (or its API token's owner)."""
    token = getattr(getattr(request, "principal", None), "token", None)
    request_user = getattr(request, "user", None) if request is not None else None
    if user is None and token is not None:
        user = token.user
    if user is None and request_user is not None and request_user.is_authenticated:
        user = request_user
    if not actor_label:
        actor_label = user.get_username() if user is not None else ("" if request is not None else system_actor())
    event = AuditEvent(
        action=action,
        actor=user if user is not None and getattr(user, "pk", None) else None,
        actor_label=actor_label[:254],
        token_prefix=token.prefix if token is not None else "",
        team_id=team_id,
        ip=client_ip(request) if request is not None else None,
        user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX] if request is not None else "",
        request_id=(current_request_id() or "")[:64],
        object_type=object_type,
        object_id=str(object_id)[:64],
        before=mask_secrets(before) if before is not None else None,
        after=mask_secrets(after) if after is not None else None,
        detail=mask_secrets(detail),
    )
    event.save()
    logger.info("audit %s by %s from %s", action, event.actor_label or "-", event.ip or "-")
    return event
