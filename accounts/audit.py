"""Writing audit events: one call, ``record``, fills in who, when and from where; secrets are masked.

Logins, failed and refused logins, logouts, password and MFA changes are recorded by the receivers in
accounts/audit_receivers.py. Object changes (later: sources, rules, tokens, memberships) go through the
same ``record`` with ``object_type``, ``object_id`` and the fields ``before`` and ``after``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpRequest

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
    **detail: Any,
) -> AuditEvent:
    """Append one event. ``user`` defaults to the request's authenticated user."""
    request_user = getattr(request, "user", None) if request is not None else None
    if user is None and request_user is not None and request_user.is_authenticated:
        user = request_user
    event = AuditEvent(
        action=action,
        actor=user if user is not None and getattr(user, "pk", None) else None,
        actor_label=(actor_label or (user.get_username() if user is not None else ""))[:254],
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
