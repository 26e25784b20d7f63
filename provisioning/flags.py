"""The feature flags the code asks about: each one's owner, what it gates, its state before anyone sets it
(no row yet), and when it goes away (docs/feature-flags.md). Flags live in waffle (``provisioning.models.Flag``:
per user, group, team, percentage or everyone), managed in the admin and in the ``flags:`` section of the
configuration files."""

from __future__ import annotations

from dataclasses import dataclass

import waffle
from django.http import HttpRequest
from waffle import get_waffle_flag_model


@dataclass(frozen=True)
class DeclaredFlag:
    name: str
    gates: str
    owner: str
    removal: str
    default: bool  # when the flag has no row (a fresh or flushed database): what the code does


CONFIG_API = DeclaredFlag(
    name="config_api",
    gates="POST /api/v1/config/plan and /apply (configuration as code over the API, for CI pipelines)",
    owner="provisioning",
    removal="on for everyone once two releases of CI use have reported no problem; then the flag and its check go",
    default=False,
)
LIVE_CHANGES = DeclaredFlag(
    name="live_changes",
    gates="the changes page (/sources/<slug>/changes/) following new changes live over the WebSocket",
    owner="dashboard",
    removal="remove one release after it has been on for everyone with no regression in the live-update tests",
    default=True,
)
FLAGS: dict[str, DeclaredFlag] = {flag.name: flag for flag in (CONFIG_API, LIVE_CHANGES)}


def flag_active(request: HttpRequest, declared: DeclaredFlag) -> bool:
    """Whether ``declared`` is on for this request: waffle's answer, or the declared default without a row."""
    if get_waffle_flag_model().get(declared.name).pk is None:
        return declared.default
    return bool(waffle.flag_is_active(request, declared.name))
