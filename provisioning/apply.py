"""Applying a plan: in one transaction, all or nothing, recorded in the audit trail with the plan it ran."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.audit import record
from alerts.receivers import on_rules_changed
from provisioning.plan import CREATE, DELETE, UPDATE, Plan, make_plan
from provisioning.sections import SECTIONS
from realtime.receivers import on_access_changed

AUDIT_ACTION = "config.apply"
# Rules and silences are cached by every poller (alerts.rule_cache): a bulk write bumps that cache itself.
RULE_SECTIONS = frozenset({"alert_rules", "silences"})
# What a WebSocket may read is kept by every web process (realtime.access): sources are created in bulk
# (no save signal), so a write of sources moves that cache's generation itself.
ACCESS_SECTIONS = frozenset({"sources"})
AUDIT_CHANGES = 1000  # changes listed in the audit record; the counts are always whole


class Declined(Exception):  # the person said no: not an error
    """The confirmation said no: nothing was written."""


class Conflict(Exception):
    """The database refused the writes, which the plan could not foresee: another writer changed what the files
    describe after the plan read it (a silence of the reason the files create, made on the Alerts page in
    between), or the files clash in a way the plan does not compare (two new teams of one name in two files).
    Nothing was written."""

    def __init__(self, refused: IntegrityError) -> None:
        # The constraint's name says what clashed; the database's own message would quote stored values.
        constraint = getattr(getattr(refused.__cause__, "diag", None), "constraint_name", None)  # PostgreSQL's
        which = f" ({constraint})" if constraint else ""
        super().__init__(
            f"The database refused these changes{which}: they clash with each other or with what is stored, "
            "which another writer may have changed while they were applied. Nothing was changed; plan and apply again."
        )


def apply_files(
    files: Mapping[str, str],
    *,
    prune: bool = False,
    environ: Mapping[str, str] | None = None,
    user: Any = None,
    request: HttpRequest | None = None,
    actor_label: str = "",
    confirm: Callable[[Plan], bool] | None = None,
    admit: Callable[[Plan], None] | None = None,
) -> Plan:
    """Plan and apply ``files`` in one transaction; raises ConfigInvalid, Conflict (nothing changed) or Declined.

    ``admit`` may refuse the plan (raise) before anything is written, e.g. the API's access check.
    """
    try:
        with transaction.atomic():
            plan = make_plan(files, prune=prune, environ=environ)
            if admit is not None:
                admit(plan)
            if confirm is not None and plan.has_changes and not confirm(plan):
                raise Declined
            write(plan)
            record(
                AUDIT_ACTION,
                request=request,
                user=user,
                actor_label=actor_label,
                object_type="config",
                **plan.summary(AUDIT_CHANGES),
            )
    except IntegrityError as exc:
        raise Conflict(exc) from exc
    return plan


def write(plan: Plan) -> None:
    ctx = plan.context
    for section in SECTIONS:
        mine = [c for c in plan.changes if c.section == section.name]
        created = [c.built for c in mine if c.action == CREATE and c.built is not None]
        if created:
            section.create(created, ctx)
        for change in mine:
            if change.action == UPDATE and change.built is not None:
                section.update(change.built, ctx)
    for section in reversed(SECTIONS):
        doomed = [c.stored for c in plan.changes if c.section == section.name and c.action == DELETE]
        if doomed:
            section.delete(doomed, ctx)
    if any(c.section in RULE_SECTIONS for c in plan.changes):
        on_rules_changed(sender=None)
    if any(c.section in ACCESS_SECTIONS for c in plan.changes):
        on_access_changed(sender=None)
