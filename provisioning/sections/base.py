"""What every section (one kind of object: teams, sources, alert rules, ...) declares and what they share.

A section says, once, the fields of its items (``Field``: file key, type, default, limits taken from the
model field), its natural key, how to read its objects from the database (``load``, a fixed number of
queries), what a stored object looks like as plain values (``actual``) and as written in a file
(``exported``), how to build and validate a model instance from an item (``build``, which calls the model's
own ``full_clean``) and how to write (``write``). The JSON Schema, the type checks, the diff and the plan
are generic (``provisioning.schema``, ``provisioning.plan``).

The usual mapping is declared, not written: ``plain`` fields are copied as they are between the file key and
the model field, ``refs`` are foreign keys written as the natural key of another section's object (a team's
slug, a source's slug), ``lists`` are many-to-many fields written as a sorted list of such keys. ``actual``,
``check`` (does the named object exist?) and ``build`` follow from them; a section adds only what is its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import DEFAULT_TEAM_SLUG
from devops_insights import crypto
from provisioning import secrets
from provisioning.context import Skip

if TYPE_CHECKING:
    from provisioning.context import Context

REQUIRED: Any = object()  # a Field default meaning: the item must give it

STRING, INTEGER, NUMBER, BOOLEAN = "string", "integer", "number", "boolean"
STRINGS, STRING_MAP, SECRET, HEADERS, DATETIME = "strings", "string_map", "secret", "headers", "datetime"
LIST = "list"  # a list whose items the model's own validation checks (a burn-rate rule's window pairs)

Key = tuple[str, ...]


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    default: Any = REQUIRED
    description: str = ""
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    model_field: str = ""  # the model field whose errors land on this key ("" when none)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def default_value(self) -> Any:
        """A fresh default (a list or a mapping is never shared between items)."""
        value = self.default() if callable(self.default) else self.default
        kind = type(value)
        return list(value) if kind is list else dict(value) if kind is dict else value


def from_model(model: type[models.Model], name: str, key: str, type_: str, **kwargs: Any) -> Field:
    """A Field whose limits (choices, min/max validators, max_length) are read from the model field."""
    model_field = model._meta.get_field(name)
    if not isinstance(model_field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    limits: dict[str, Any] = {"model_field": name}
    if isinstance(model_field, models.PositiveIntegerField | models.PositiveBigIntegerField):
        limits["minimum"] = 0
    # The field's own validators only: the range validators Django adds depend on the database backend.
    for validator in getattr(model_field, "_validators", ()):
        if isinstance(validator, MinValueValidator):
            limits["minimum"] = validator.limit_value
        elif isinstance(validator, MaxValueValidator):
            limits["maximum"] = validator.limit_value
    if model_field.choices and type_ == STRING:
        limits["enum"] = tuple(str(value) for value, _label in model_field.choices)
    if type_ == STRING and getattr(model_field, "max_length", None):
        limits["max_length"] = model_field.max_length
    if "default" not in kwargs:
        if model_field.has_default():
            kwargs["default"] = model_field.default
        elif model_field.null:
            kwargs["default"] = None
        elif model_field.blank:
            kwargs["default"] = ""  # what Django stores for a blank text field
    if "description" not in kwargs:
        verbose = str(getattr(model_field, "verbose_name", ""))
        kwargs["description"] = str(getattr(model_field, "help_text", "")) or (
            verbose if verbose != name.replace("_", " ") else ""
        )
    limits.update(kwargs)
    return Field(key, type_, **limits)


def type_problem(spec: Field, value: Any) -> str | None:
    """Why ``value`` is not of ``spec``'s type (limits are the model's to check), or None."""
    if value is None:
        return None if spec.nullable else "must not be empty (null)"
    kind = spec.type
    if kind == STRING:
        if not isinstance(value, str):
            return "must be a string"
        if spec.enum is not None and value not in spec.enum:
            return f"must be one of: {', '.join(repr(v) for v in spec.enum)}"
        return None
    if kind == INTEGER:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"
    if kind == NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else "must be a number"
    if kind == BOOLEAN:
        return None if isinstance(value, bool) else "must be true or false"
    if kind == STRINGS:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    if kind == LIST:
        return None if isinstance(value, list) else "must be a list"
    if kind == STRING_MAP:
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        return None if ok else "must be a mapping of names to strings"
    if kind == HEADERS:
        if not isinstance(value, dict):
            return "must be a mapping of header names to values"
        return None  # each value is checked by the section (literal, or a reference for a credential header)
    if kind == SECRET:
        try:
            secrets.parse(value)
        except secrets.SecretProblem as exc:
            return str(exc)
        return None
    if kind == DATETIME:
        if isinstance(value, datetime):
            return None if value.tzinfo is not None else "must give a time zone (e.g. 2026-12-01T10:00:00Z)"
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return "must be an ISO 8601 time, e.g. 2026-12-01T10:00:00Z"
            return None if parsed.tzinfo is not None else "must give a time zone (e.g. 2026-12-01T10:00:00Z)"
        return "must be an ISO 8601 time, e.g. 2026-12-01T10:00:00Z"
    raise ValueError(f"unknown field type {kind}")


TEAM_FIELD = Field("team", STRING, DEFAULT_TEAM_SLUG, "Slug of the owning team.", model_field="team")


@dataclass(frozen=True)
class Ref:
    """A reference to another section's object by its one-part natural key (``teams`` by slug, ...)."""

    section: str
    attr: str  # the referred model's attribute holding that key
    noun: str  # how problems name it: "no source 'x' (neither in the files nor stored)"


TEAM = Ref("teams", "slug", "team")
SOURCE = Ref("sources", "slug", "source")


def missing(ctx: Context, ref: Ref, value: Any, team: str | None = None) -> str | None:
    """Why ``value`` names nothing of ``ref``'s section (of ``team``, for an object a team owns), or None.

    An object of another team is missing to the item: a rule of one team cannot notify through another's
    channel, nor a component show another team's source. The message is the same whether the object is
    another team's or nobody's, so a plan tells nothing of other teams' objects.
    """
    if ctx.will_exist(ref.section, (str(value),)) and (team is None or owning_team(ctx, ref, value) in (None, team)):
        return None
    # A team belongs to no team: "no team 'x' in the team 'x'" would name the missing team as its owner.
    where = f" in the team {team!r}" if team is not None and ref is not TEAM else ""
    return f"no {ref.noun} {value!r}{where} (neither in the files nor stored)"


def owning_team(ctx: Context, ref: Ref, value: Any) -> str | None:
    """The slug of the team owning the object ``value`` names (None: not a team's, or not known yet)."""
    try:
        obj = ctx.lookup(ref.section, (str(value),))
    except Skip:
        return None  # declared, but its own problems kept it from being described: reported there
    team = getattr(obj, "team", None) if obj is not None and hasattr(obj, "team_id") else None
    return str(team.slug) if team is not None else None


UNREADABLE = "\x00unreadable"  # a stored secret the key ring cannot decrypt: never equal to a file's


def decrypted(token: str) -> str:
    """A stored encrypted secret, for comparing with the file's (never shown)."""
    if not token:
        return ""
    try:
        return crypto.decrypt(token)
    except Exception:
        return UNREADABLE


def utc(value: Any) -> datetime:
    """A DATETIME field's value (checked by ``type_problem``) as an aware UTC datetime."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.astimezone(UTC)


def written_time(value: datetime) -> str:
    """A time as the files write it: ISO 8601 in UTC with a Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Built:
    """A model instance made from one item, and the related objects to link when writing it."""

    instance: Any
    links: dict[str, Any] = field(default_factory=dict)  # FK field name -> related object (maybe unsaved)
    many: dict[str, list[Any]] = field(default_factory=dict)  # M2M field name -> related objects
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file key, message) found while building
    document: Any = None  # what a section writes through its app's own code instead (a board's document)


def link(instance: Any, name: str, related: Any) -> None:
    """Point ``instance.<name>`` at ``related``, even before ``related`` is saved.

    Validation (``full_clean``) runs before anything is written, so a rule may name a source the same
    files create: its id is a placeholder then (models test ``source_id`` for presence) and is set to the
    real one when the source has been written (``relink``).
    """
    setattr(instance, name, related)
    if related is not None and related.pk is None:
        setattr(instance, instance._meta.get_field(name).attname, -1)
        instance._meta.get_field(name).set_cached_value(instance, related)


def relink(built: Built) -> None:
    for name, related in built.links.items():
        setattr(built.instance, name, related)


def model_errors(error: ValidationError, keys: dict[str, str]) -> list[tuple[str, str]]:
    """A model's ValidationError as (file key, message) pairs; limits said plainly ("must be at least 5")."""
    found: list[tuple[str, str]] = []
    if not hasattr(error, "error_dict"):
        return [("", message) for message in error.messages]
    for name, errors in error.error_dict.items():
        key = keys.get(name, "" if name == "__all__" else name)
        for item in errors:
            params = item.params or {}
            if item.code == "min_value":
                message = f"must be at least {params.get('limit_value')}"
            elif item.code == "max_value":
                message = f"must be at most {params.get('limit_value')}"
            else:
                message = item.messages[0] if item.messages else str(item)
            found.append((key, message))
    return found


class Section:
    """One kind of object in the files. Subclasses fill in the class attributes and the hooks."""

    name: ClassVar[str]
    title: ClassVar[str]
    model: ClassVar[type[models.Model]]  # what ``build`` makes
    fields: ClassVar[tuple[Field, ...]]
    key_fields: ClassVar[tuple[str, ...]]  # file keys forming the natural key
    teamed: ClassVar[bool] = True  # items have a ``team`` (prune and access are per team)
    prunable: ClassVar[bool] = True
    plain: ClassVar[tuple[str, ...]] = ()  # file keys copied as they are to and from ``Field.model_field``
    refs: ClassVar[dict[str, Ref]] = {}  # file key (= foreign key name) -> what its value names
    lists: ClassVar[dict[str, Ref]] = {}  # file key (= many-to-many name) -> what its values name

    @classmethod
    def field(cls, key: str) -> Field:
        by_key: dict[str, Field] | None = cls.__dict__.get("_by_key")
        if by_key is None:  # built once per section class: plans ask for every field of every item
            by_key = {spec.key: spec for spec in cls.fields}
            cls._by_key = by_key  # type: ignore[attr-defined]
        return by_key[key]

    @classmethod
    def model_keys(cls) -> dict[str, str]:
        """Model field name -> file key, for mapping the model's errors onto the file."""
        return {f.model_field or f.key: f.key for f in cls.fields}

    def key_of(self, record: dict[str, Any]) -> Key:
        return tuple("" if record.get(k) is None else str(record.get(k)) for k in self.key_fields)

    def item_key(self, item: dict[str, Any]) -> Key:
        """The natural key of an item of the files (absent key fields at their defaults)."""
        return tuple(
            "" if (value := item[k] if k in item else self.field(k).default_value()) is None else str(value)
            for k in self.key_fields
        )

    def describe(self, key: Key) -> str:
        return "/".join(part or "(default)" for part in key)

    def normalized(self, item: dict[str, Any]) -> dict[str, Any]:
        """The item with every absent field at its default."""
        return {f.key: item[f.key] if f.key in item else f.default_value() for f in self.fields}

    def item_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of an item when the app owns one (else it is made from ``fields``)."""
        return None

    def prunes(self, obj: Any) -> bool:
        """Whether ``--prune`` may delete this stored object when the files do not describe it."""
        return True

    def item_is_global(self, item: dict[str, Any]) -> bool:
        """Whether an item describes an object of no team (only a superuser may manage those)."""
        return not self.teamed

    def redact(self, key: str, value: Any) -> Any:
        """What a plan shows of a field's value: never a secret; times as the files write them."""
        if self.field(key).type == SECRET:
            return secrets.REDACTED if value else ""
        if isinstance(value, datetime):
            return written_time(value)
        return self.redact_value(key, value)

    def redact_value(self, key: str, value: Any) -> Any:
        return value

    def exported_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """The fields a new object's plan shows: those the files set away from the default."""
        return {
            spec.key: values[spec.key]
            for spec in self.fields
            if spec.required or values[spec.key] != spec.default_value()
        }

    def keyed(self, ctx: Context, objects: Iterable[Any], key: Callable[[Any], Key]) -> dict[Key, Any]:
        """The stored objects by natural key: what ``load`` returns.

        The database holds the natural keys unique, but a database restored without a constraint may hold
        twins all the same. Objects sharing a key are all kept in ``ctx.twins`` (the
        first by id is the mapping's), so that export and plan refuse them by name: a file names one object
        per key, and keeping one would silently drop the others from an export, or change or prune an
        arbitrary one.
        """
        found: dict[Key, Any] = {}
        shared: dict[Key, list[Any]] = {}
        for obj in sorted(objects, key=lambda o: o.pk):
            natural = key(obj)
            if natural in found:
                shared.setdefault(natural, [found[natural]]).append(obj)
            else:
                found[natural] = obj
        ctx.twins[self.name] = shared
        return found

    def twins_message(self, key: Key, objs: list[Any]) -> str:
        """Why stored objects sharing ``key`` cannot be in files, and what to do (export and plan say it)."""
        ids = ", ".join(str(obj.pk) for obj in objs)
        return (
            f"{len(objs)} stored objects share the key {self.describe(key)} ({' + '.join(self.key_fields)}; "
            f"ids {ids}): a file names one object per key, so the files cannot describe them all; rename all "
            f"but one so that each has its own {self.key_fields[-1]} (e.g. in the admin), then try again"
        )

    # --- hooks ---------------------------------------------------------------------------------
    def load(self, ctx: Context) -> dict[Key, Any]:
        """The stored objects by natural key (``keyed``), in a fixed number of queries."""
        raise NotImplementedError

    def item_team(self, item: dict[str, Any], ctx: Context | None = None) -> str | None:
        """The slug of the team an item of the files belongs to (None: global)."""
        return str(item.get("team", DEFAULT_TEAM_SLUG)) if self.teamed else None

    def team_of(self, obj: Any) -> str | None:
        """The slug of the team owning a stored object (None: global)."""
        team = getattr(obj, "team", None)
        return team.slug if team is not None else None

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        """The stored object as plain values (secrets decrypted: compared, never shown).

        Generic over ``plain``, ``refs`` and ``lists``; a section with more fields adds them."""
        values: dict[str, Any] = {}
        for key, ref in self.refs.items():
            related = getattr(obj, key) if getattr(obj, f"{key}_id") is not None else None
            values[key] = getattr(related, ref.attr) if related is not None else None
        for key in self.plain:
            spec = self.field(key)
            value = getattr(obj, spec.model_field or key)
            if spec.type == DATETIME and value is not None:
                value = value.astimezone(UTC)
            elif spec.type in (STRINGS, LIST):
                value = list(value or [])
            elif spec.type in (STRING_MAP, HEADERS):
                value = dict(value or {})
            values[key] = value
        for key, ref in self.lists.items():
            values[key] = sorted(getattr(related, ref.attr) for related in getattr(obj, key).all())
        return values

    def exported(self, obj: Any, ctx: Context) -> dict[str, Any]:
        """The stored object as written in a file: secrets as references, defaults left out."""
        values = self.actual(obj, ctx)
        out: dict[str, Any] = {}
        for spec in self.fields:
            value = values[spec.key]
            if spec.type == SECRET:
                if value:
                    out[spec.key] = self.placeholder(values, spec.key)
                continue
            if spec.required or spec.key in self.key_fields or value != spec.default_value():
                out[spec.key] = written_time(value) if isinstance(value, datetime) else value
        return out

    def placeholder(self, values: dict[str, Any], key: str) -> str:
        return secrets.placeholder(self.name.rstrip("s"), *self.key_of(values), key)

    def references(self, item: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
        """(path inside the item, reference as written) of every secret the item names."""
        return [((f.key,), item[f.key]) for f in self.fields if f.type == SECRET and item.get(f.key) not in (None, "")]

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        """The item's values as stored: defaults filled, secret references replaced by ``resolved``."""
        values = self.normalized(item)
        for spec in self.fields:
            value = values[spec.key]
            if spec.type == SECRET:
                values[spec.key] = resolved.get((spec.key,), "")
            elif value is None:
                continue
            elif spec.type == DATETIME:
                values[spec.key] = utc(value)
            elif spec.type == NUMBER:
                values[spec.key] = float(value)
        for key in self.lists:
            values[key] = sorted(set(values[key]))
        return values

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[str | tuple[str | int, ...], str]]:
        """Cross-references and rules the model cannot see; (key or sub-path, message) pairs.

        Generic: every object ``refs`` and ``lists`` name exists (in the files or stored)."""
        problems: list[tuple[str | tuple[str | int, ...], str]] = []
        team = self.owner_team(item, ctx)
        for key, ref in self.refs.items():
            value = item.get(key, self.field(key).default_value())
            if value not in (None, "") and (message := missing(ctx, ref, value, team)) is not None:
                problems.append((key, message))
        for key, ref in self.lists.items():
            for index, value in enumerate(item.get(key) or []):
                if (message := missing(ctx, ref, value, team)) is not None:
                    problems.append(((key, index), message))
        return problems

    def owner_team(self, item: dict[str, Any], ctx: Context) -> str | None:
        """The team whose objects an item may refer to: its own (None: an item of no team, which may refer to any)."""
        return self.item_team(item, ctx)

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        """A new instance of ``model`` (or ``obj``) with ``plain``, ``refs`` and ``lists`` set from ``values``."""
        instance = obj or self.model()
        built = Built(instance)
        self.fill(built, values, ctx)
        return built

    def fill(self, built: Built, values: dict[str, Any], ctx: Context) -> None:
        """Set ``plain``, ``refs`` (linked, maybe to unsaved objects) and ``lists`` on ``built.instance``."""
        instance = built.instance
        for key in self.plain:
            setattr(instance, self.field(key).model_field or key, values[key])
        for key, ref in self.refs.items():
            related = ctx.lookup(ref.section, (str(values[key]),)) if values[key] not in (None, "") else None
            link(instance, key, related)
            built.links[key] = related
        for key, ref in self.lists.items():
            built.many[key] = [ctx.lookup(ref.section, (str(value),)) for value in values[key]]

    def clean(self, built: Built) -> list[tuple[str, str]]:
        """The model's own validation (``full_clean``); uniqueness is the plan's (natural keys)."""
        try:
            built.instance.full_clean(exclude=self.clean_exclude(), validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            return model_errors(exc, self.model_keys())
        return []

    def clean_exclude(self) -> list[str]:
        """What ``full_clean`` skips: the references (checked by ``check``, maybe unsaved yet)."""
        return [*self.refs, *self.lists]

    def create(self, built: list[Built], ctx: Context) -> None:
        """Write new objects (bulk where the model allows it)."""
        for item in built:
            relink(item)
            item.instance.save()
            self.write_many(item)

    def update(self, built: Built, ctx: Context) -> None:
        relink(built)
        built.instance.save()
        self.write_many(built)

    def write_many(self, built: Built) -> None:
        for name, related in built.many.items():
            getattr(built.instance, name).set(related)

    def delete(self, objs: Iterable[Any], ctx: Context) -> None:
        for obj in objs:
            obj.delete()
