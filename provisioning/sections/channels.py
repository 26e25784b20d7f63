"""``channels:``: notification channels, by name (unique across teams). The webhook URL, the signing secret
and the Apprise URL are credentials: secret references only. Which fields a kind takes is alerting's rule
(``alerts.forms.CHANNEL_FIELDS``)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError

from alerts.forms import CHANNEL_FIELDS
from alerts.models import NotificationChannel
from provisioning.context import Context
from provisioning.sections.base import (
    BOOLEAN,
    SECRET,
    STRING,
    TEAM,
    TEAM_FIELD,
    Built,
    Field,
    Key,
    Ref,
    Section,
    decrypted,
    from_model,
    model_errors,
)

KIND_KEYS = ("email_to", "url", "secret", "apprise_url")


class Channels(Section):
    name = "channels"
    title = "Notification channels"
    model = NotificationChannel
    key_fields = ("name",)
    fields: ClassVar[tuple[Field, ...]] = (
        from_model(NotificationChannel, "name", "name", STRING, description="Unique across teams: the natural key."),
        TEAM_FIELD,
        from_model(NotificationChannel, "kind", "kind", STRING),
        from_model(NotificationChannel, "enabled", "enabled", BOOLEAN),
        from_model(NotificationChannel, "is_default", "is_default", BOOLEAN),
        from_model(NotificationChannel, "email_to", "email_to", STRING),
        Field("url", SECRET, "", "Webhook or Slack URL (a credential): a secret reference.", model_field="url"),
        Field("secret", SECRET, "", "Webhook HMAC signing key: a secret reference.", model_field="secret"),
        Field(
            "apprise_url",
            SECRET,
            "",
            "Apprise URL (carries the service's tokens): a secret reference.",
            model_field="apprise_url_encrypted",
        ),
    )

    plain = ("name", "kind", "enabled", "is_default", "email_to", "url", "secret")
    refs: ClassVar[dict[str, Ref]] = {"team": TEAM}

    def load(self, ctx: Context) -> dict[Key, Any]:
        return self.keyed(ctx, NotificationChannel.objects.select_related("team"), lambda c: (c.name,))

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {**super().actual(obj, ctx), "apprise_url": decrypted(obj.apprise_url_encrypted)}

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems = super().check(item, ctx)
        used = CHANNEL_FIELDS.get(item.get("kind", ""), KIND_KEYS)
        for key in KIND_KEYS:
            if item.get(key) not in (None, "") and key not in used:
                problems.append((key, f"not used by a {item.get('kind')} channel (it takes: {', '.join(used)})"))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        built = super().build(obj, values, ctx)
        channel = built.instance
        if values["apprise_url"]:
            try:
                channel.set_apprise_url(values["apprise_url"])
            except ValidationError as exc:
                built.problems.extend(model_errors(exc, self.model_keys() | {"apprise_url": "apprise_url"}))
        else:
            channel.apprise_url_encrypted = channel.apprise_target = ""
        return built
