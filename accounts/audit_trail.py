"""The audit trail of object changes: every create, change and delete of a registered model, recorded by model
signals, so no view, form, admin page, API operation or command has to remember it.

A model is registered by its label (``"pollers.Source"``), so accounts needs no import of the apps above it;
``accounts/audited_models.py`` lists them with their secret fields. For each change the event holds:

- who and from where: accounts/audit.py's ``record`` (the current request of accounts/audit_context.py, or the
  system actor);
- what: ``object_type`` (the model label, lower case), ``object_id``, ``team`` (the object's), and ``before``
  and ``after``: every field on create (after) and delete (before), the changed fields on a change. Secret
  fields are masked (``MASK``; URL fields keep their host and path), and any key naming a secret is masked by
  ``mask_secrets``; ``detail.changed`` names the changed fields, secrets included, since their masked values
  look alike.

A save that changes only ignored fields (runtime state such as poll health) records nothing. Bulk
``QuerySet.update`` sends no signal and is not recorded: the code paths that change audited objects save them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from accounts import audit
from accounts.audit import MASK, masked_url

logger = logging.getLogger("accounts.audit")

CREATE, UPDATE, DELETE = "create", "update", "delete"
ACTIONS = (CREATE, UPDATE, DELETE)
_BEFORE = "_audit_before"


@dataclass(frozen=True)
class Audited:
    label: str  # "app_label.ModelName"
    team: str | None  # dotted attribute path to the object's team id ("team_id", "source.team_id", "pk"); None: none
    secrets: frozenset[str]  # fields masked whole (a dict keeps its keys)
    urls: frozenset[str]  # URL fields: the password and secret-looking query values masked
    ignore: frozenset[str]  # runtime state whose changes are not audited
    relations: frozenset[str]  # many-to-many fields whose changes are audited too (as lists of ids)

    @property
    def object_type(self) -> str:
        return self.label.lower()


REGISTRY: dict[str, Audited] = {}


def register(
    label: str,
    *,
    team: str | None = "team_id",
    secrets: tuple[str, ...] = (),
    urls: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    relations: tuple[str, ...] = (),
) -> None:
    """Audit every create, change and delete of the model ``label``; idempotent."""
    REGISTRY[label] = Audited(label, team, frozenset(secrets), frozenset(urls), frozenset(ignore), frozenset(relations))
    pre_save.connect(_remember_before, sender=label, dispatch_uid=f"audit_trail.pre_save.{label}")
    post_save.connect(_record_save, sender=label, dispatch_uid=f"audit_trail.post_save.{label}")
    post_delete.connect(_record_delete, sender=label, dispatch_uid=f"audit_trail.post_delete.{label}")
    for name in relations:
        # The auto-created through model's label: "<app>.<Model>_<field>".
        m2m_changed.connect(_record_relation, sender=f"{label}_{name}", dispatch_uid=f"audit_trail.m2m.{label}.{name}")


def spec_of(model: type[models.Model]) -> Audited | None:
    """The registration of ``model``; None for anything else, such as a migration's historical model of the
    same name (its rows are history being rewritten, not a change someone made)."""
    spec = REGISTRY.get(model._meta.label)
    if spec is None or model._meta.apps is not global_apps:
        return None
    return spec


# --- field values ---------------------------------------------------------------------------------


def raw_fields(instance: models.Model, spec: Audited) -> dict[str, Any]:
    """The object's audited field values, JSON-safe (a foreign key as its id), not yet masked."""
    values = {
        field.name: field.value_from_object(instance)
        for field in instance._meta.concrete_fields
        if field.name not in spec.ignore
    }
    return dict(json.loads(json.dumps(values, cls=DjangoJSONEncoder, default=str)))


def masked(values: dict[str, Any], spec: Audited) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, value in values.items():
        if name in spec.secrets and value not in (None, "", {}, []):
            value = {key: MASK for key in value} if isinstance(value, dict) else MASK
        elif name in spec.urls and isinstance(value, str) and value:
            value = masked_url(value)
        shown[name] = value
    result: dict[str, Any] = audit.mask_secrets(shown)
    return result


def team_id_of(instance: models.Model, spec: Audited) -> int | None:
    if spec.team is None:
        return None
    value: Any = instance
    try:
        for part in spec.team.split("."):
            value = getattr(value, part)
    except (AttributeError, models.ObjectDoesNotExist):
        return None
    return value if isinstance(value, int) else None


# --- receivers ------------------------------------------------------------------------------------


def _remember_before(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    spec = spec_of(sender)
    if spec is None or instance._state.adding or instance.pk is None or kwargs.get("raw"):
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and set(update_fields) <= spec.ignore:
        return
    stored = sender._base_manager.filter(pk=instance.pk).first()
    if stored is not None:
        instance.__dict__[_BEFORE] = raw_fields(stored, spec)


def _record_save(sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any) -> None:
    spec = spec_of(sender)
    if spec is None or kwargs.get("raw"):
        return
    after = raw_fields(instance, spec)
    before = instance.__dict__.pop(_BEFORE, None)
    if created or before is None:
        if not created:
            return  # a save that changed only ignored fields, or of a row gone meanwhile
        _write(CREATE, instance, spec, None, after, list(after))
        return
    changed = [name for name in after if before.get(name) != after[name]]
    if changed:
        _write(
            UPDATE,
            instance,
            spec,
            {name: before.get(name) for name in changed},
            {name: after[name] for name in changed},
            changed,
        )


def _record_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    spec = spec_of(sender)
    if spec is None:
        return
    before = raw_fields(instance, spec)
    _write(DELETE, instance, spec, before, None, list(before))


def _related_ids(instance: models.Model, name: str) -> list[Any]:
    return sorted(getattr(instance, name).values_list("pk", flat=True))


def _record_relation(sender: Any, instance: models.Model, action: str, reverse: bool, **kwargs: Any) -> None:
    """A change of an audited many-to-many field (e.g. a rule's channels), from the side that declares it."""
    spec = spec_of(type(instance))
    if spec is None or reverse:
        return
    name = next((field for field in spec.relations if getattr(type(instance), field).through is sender), None)
    if name is None:
        return
    if action in ("pre_add", "pre_remove", "pre_clear"):
        instance.__dict__[f"{_BEFORE}_{name}"] = _related_ids(instance, name)
    elif action in ("post_add", "post_remove", "post_clear"):
        before = instance.__dict__.pop(f"{_BEFORE}_{name}", None)
        after = _related_ids(instance, name)
        if before != after:
            _write(UPDATE, instance, spec, {name: before}, {name: after}, [name])


def _write(
    action: str,
    instance: models.Model,
    spec: Audited,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    changed: list[str],
) -> None:
    from accounts.audit_context import current_request

    audit.record(
        action,
        request=current_request(),
        object_type=spec.object_type,
        object_id=str(instance.pk),
        before=masked(before, spec) if before is not None else None,
        after=masked(after, spec) if after is not None else None,
        team_id=team_id_of(instance, spec),
        changed=sorted(changed),
        name=_label(instance, spec)[:200],
    )


def _label(instance: models.Model, spec: Audited) -> str:
    """The object's name as people read it; its type and id when the name needs a row already gone.

    A cascade deletes the parent first: a retention policy deleted with its source cannot name the source.
    """
    try:
        return str(instance)
    except models.ObjectDoesNotExist:
        return f"{spec.object_type} {instance.pk}"
