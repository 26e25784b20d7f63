"""``sources:``: what to poll and how, by slug (unique across teams): URL, interval, timeouts, headers,
metric and volatile paths, tags, network settings and credentials (references only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.views.decorators.debug import sensitive_variables

from metrics.defaults import default_metric_paths
from pollers.models import SECRET_HEADER_PATTERN, Source, default_interval
from pollers.source_secrets import SecretsEdit, stored_client_key
from provisioning import secrets
from provisioning.context import Context
from provisioning.sections.base import (
    BOOLEAN,
    HEADERS,
    INTEGER,
    NUMBER,
    SECRET,
    STRING,
    STRING_MAP,
    STRINGS,
    TEAM,
    TEAM_FIELD,
    Built,
    Field,
    Key,
    Ref,
    Section,
    decrypted,
    from_model,
    relink,
)


@sensitive_variables()
def file_secrets(values: dict[str, Any]) -> SecretsEdit:
    """The edit a file makes to a source's password or token and client key: the file states them whole on every
    run, so a value replaces the stored one and one left out removes it (none is ever kept, as in the admin when
    left blank). Their rules are the admin's and the API's (``pollers.source_secrets``): a scheme needs its secret
    and a secret its scheme, a key needs its certificate and must match it, a token must go in a header."""
    return SecretsEdit(
        auth_secret=values["auth_secret"],
        clear_auth_secret=True,
        tls_client_key=values["tls_client_key"],
        clear_tls_client_key=True,
    )


class Sources(Section):
    name = "sources"
    title = "Sources: the status endpoints to poll"
    model = Source
    key_fields = ("slug",)
    fields: ClassVar[tuple[Field, ...]] = (
        from_model(Source, "slug", "slug", STRING, description="Unique across teams: the natural key."),
        TEAM_FIELD,
        from_model(Source, "name", "name", STRING),
        from_model(Source, "url", "url", STRING),
        from_model(Source, "enabled", "enabled", BOOLEAN),
        from_model(Source, "interval_seconds", "interval", INTEGER, default=default_interval),
        from_model(Source, "timeout_seconds", "timeout", NUMBER),
        Field(
            "headers",
            HEADERS,
            dict,
            "Extra request headers; credential headers as secret references.",
            model_field="headers",
        ),
        from_model(Source, "region", "region", STRING),
        from_model(Source, "tags", "tags", STRINGS),
        from_model(Source, "metric_paths", "metric_paths", STRING_MAP, default=default_metric_paths),
        from_model(Source, "volatile_paths", "volatile_paths", STRINGS),
        from_model(Source, "pinned_metrics", "pinned_metrics", STRINGS),
        from_model(Source, "proxy", "proxy", STRING),
        from_model(Source, "tls_verify", "tls_verify", BOOLEAN),
        from_model(Source, "insecure_credentials_acknowledged", "insecure_credentials_acknowledged", BOOLEAN),
        from_model(Source, "tls_ca_pem", "tls_ca_pem", STRING),
        from_model(Source, "tls_client_cert_pem", "tls_client_cert_pem", STRING),
        Field(
            "tls_client_key",
            SECRET,
            "",
            "The client certificate's key: a secret reference.",
            model_field="tls_client_key_encrypted",
        ),
        from_model(Source, "auth_scheme", "auth_scheme", STRING),
        from_model(Source, "auth_username", "auth_username", STRING),
        Field(
            "auth_secret",
            SECRET,
            "",
            "Password or bearer token: a secret reference.",
            model_field="auth_secret_encrypted",
        ),
    )

    plain = (
        "slug",
        "name",
        "url",
        "enabled",
        "interval",
        "timeout",
        "headers",
        "region",
        "tags",
        "metric_paths",
        "volatile_paths",
        "pinned_metrics",
        "proxy",
        "tls_verify",
        "insecure_credentials_acknowledged",
        "tls_ca_pem",
        "tls_client_cert_pem",
        "auth_scheme",
        "auth_username",
    )
    refs: ClassVar[dict[str, Ref]] = {"team": TEAM}

    def load(self, ctx: Context) -> dict[Key, Any]:
        return self.keyed(ctx, Source.objects.select_related("team"), lambda s: (s.slug,))

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        values = super().actual(obj, ctx)
        values["tls_client_key"] = stored_client_key(decrypted(obj.tls_client_key_encrypted))
        values["auth_secret"] = decrypted(obj.auth_secret_encrypted)
        return values

    def exported(self, obj: Any, ctx: Context) -> dict[str, Any]:
        out = super().exported(obj, ctx)
        headers = out.get("headers")
        if headers:
            out["headers"] = {
                name: secrets.placeholder("source", obj.slug, "header", name)
                if SECRET_HEADER_PATTERN.search(name)
                else value
                for name, value in headers.items()
            }
        return out

    def references(self, item: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
        found = super().references(item)
        headers = item.get("headers")
        if isinstance(headers, dict):
            found += [
                (("headers", name), value)
                for name, value in headers.items()
                if not isinstance(value, str) or SECRET_HEADER_PATTERN.search(name) or secrets.is_reference(value)
            ]
        return found

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        values = super().desired(item, resolved)
        values["headers"] = {name: resolved.get(("headers", name), value) for name, value in values["headers"].items()}
        values["tls_client_key"] = stored_client_key(values["tls_client_key"])
        return values

    def redact_value(self, key: str, value: Any) -> Any:
        if key == "headers" and isinstance(value, dict):
            return {n: secrets.REDACTED if SECRET_HEADER_PATTERN.search(n) else v for n, v in value.items()}
        return super().redact_value(key, value)

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        edit = file_secrets(values)
        # Judged against the source as stored, before its fields take the file's values.
        found = edit.errors(obj or Source(), values["auth_scheme"] or "", values["tls_client_cert_pem"] or "")
        built = super().build(obj, values, ctx)
        built.problems.extend((key, message) for key, messages in found.items() for message in messages)
        if not found:
            edit.apply(built.instance)
        return built

    def create(self, built: list[Built], ctx: Context) -> None:
        for item in built:
            relink(item)
        Source.objects.bulk_create([item.instance for item in built])

    def delete(self, objs: Iterable[Any], ctx: Context) -> None:
        # Their stored metrics go after the commit (pollers/receivers.py), as for every deleted source.
        for source in objs:
            source.delete()
