"""Cross-site WebSocket hijacking protection that does not get in the way of non-browser clients.

Channels' ``AllowedHostsOriginValidator`` refuses a handshake without an ``Origin`` header. Browsers
always send one on a WebSocket handshake, so a missing header means a non-browser client (a script
with an API token), which could send any Origin it likes anyway: refusing it protects nothing and
forces every script to fake a header. This validator checks the Origin against ``ALLOWED_HOSTS``
whenever there is one, exactly like Channels', and lets a handshake without it through to the
authentication that follows.
"""

from __future__ import annotations

from typing import Any

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        return bool(super().valid_origin(parsed_origin))


def AllowedHostsOriginValidator(application: Any) -> BrowserOriginValidator:
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)
