"""Validation of rules, silences and channels: every mistake gets a clear, field-level message."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.models import AlertRule, NotificationChannel, Silence
from tests.factories import make_objective, make_source

pytestmark = pytest.mark.django_db


def errors_of(obj: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        obj.full_clean()  # type: ignore[attr-defined]
    return info.value.message_dict


def test_it_accepts_the_documented_examples() -> None:
    source = make_source()
    examples = [
        AlertRule(
            name="cpu", scope="source", source=source, kind="metric", metric="cpu_load", operator=">", threshold=85
        ),
        AlertRule(name="redis", kind="field", path="results.services.redis", operator="==", value="false"),
        AlertRule(name="status", kind="field", path="status", operator="!=", value='"ok"'),
        AlertRule(name="down", scope="tag", tag="prod", kind="poll_failures", count=3, severity="critical"),
        AlertRule(name="circuit", kind="circuit_open"),
        AlertRule(name="frozen", kind="stale_hash", count=20),
        AlertRule(name="silent", kind="no_success", duration_seconds=600),
    ]
    for rule in examples:
        rule.full_clean()
    assert [r.summary() for r in examples] == [
        "cpu_load > 85",
        "results.services.redis == false",
        'status != "ok"',
        "3 consecutive failed polls",
        "circuit open",
        "payload unchanged for 20 successful polls",
        "no successful poll for 10m",
    ]
    assert (examples[0].fire_after, examples[0].resolve_after) == (3, 2)


def test_it_explains_a_bad_operator() -> None:
    errors = errors_of(AlertRule(name="x", kind="metric", metric="cpu_load", operator="=>", threshold=1))
    assert errors["operator"] == ["Unknown operator '=>': use one of > >= < <= == !=."]


def test_it_explains_a_bad_path_and_a_bad_literal() -> None:
    errors = errors_of(AlertRule(name="x", kind="field", path="results..redis", operator="==", value="ok"))
    assert "empty segment" in errors["path"][0]
    assert 'a string needs double quotes: "ok"' in errors["value"][0]


def test_it_refuses_ordering_a_field_against_a_string() -> None:
    errors = errors_of(AlertRule(name="x", kind="field", path="version", operator=">", value='"v2"'))
    assert errors["value"] == ['The operator > compares numbers; "v2" is not one.']


def test_it_names_the_metrics_a_source_really_extracts() -> None:
    source = make_source(metric_paths={"cpu_load": "a.b", "wait_time": "a.c"})
    rule = AlertRule(name="x", scope="source", source=source, kind="metric", metric="cpu", operator=">", threshold=1)
    assert errors_of(rule)["metric"] == ["The source us-east extracts no metric 'cpu'; it has: cpu_load, wait_time."]


def test_it_requires_what_each_kind_needs() -> None:
    assert "threshold" in errors_of(AlertRule(name="x", kind="metric", metric="cpu_load", operator=">"))
    assert "count" in errors_of(AlertRule(name="x", kind="poll_failures"))
    assert "count" in errors_of(AlertRule(name="x", kind="stale_hash", count=0))
    assert "duration_seconds" in errors_of(AlertRule(name="x", kind="no_success"))
    assert "fire_after" in errors_of(AlertRule(name="x", kind="circuit_open", fire_after=0))
    assert "renotify_interval_seconds" in errors_of(
        AlertRule(name="x", kind="circuit_open", renotify_interval_seconds=5)
    )


def test_it_checks_the_target_matches_the_scope() -> None:
    source = make_source()
    assert "source" in errors_of(AlertRule(name="x", kind="circuit_open", scope="source"))
    assert "tag" in errors_of(AlertRule(name="x", kind="circuit_open", scope="tag"))
    assert "scope" in errors_of(AlertRule(name="x", kind="circuit_open", scope="all", source=source))


def test_it_matches_rules_to_sources_by_source_tag_or_all() -> None:
    prod = make_source("us-east", tags=["prod"])
    dev = make_source("eu-west", tags=["dev"])
    for name, fields in {
        "one": {"scope": "source", "source": prod},
        "tag": {"scope": "tag", "tag": "prod"},
        "all": {"scope": "all"},
        "off": {"scope": "all", "enabled": False},
    }.items():
        AlertRule.objects.create(name=name, kind="circuit_open", **fields)
    rules = AlertRule.objects.enabled().order_by("pk")
    assert [r.name for r in rules if r.applies_to(prod)] == ["one", "tag", "all"]
    assert [r.name for r in rules if r.applies_to(dev)] == ["all"]


def test_it_refuses_a_burn_rate_rule_naming_a_source_or_tag() -> None:
    # It watches its objective's sources whatever its scope says; a source named would take it along when deleted.
    source = make_source()
    objective = make_objective(sources=[source])
    burn = partial(AlertRule, name="x", kind="burn_rate", objective=objective)
    watches = "A burn-rate rule watches its objective's sources"
    assert errors_of(burn(scope="source", source=source)) == {"source": [f"{watches}: it names no source."]}
    assert errors_of(burn(scope="tag", tag="prod")) == {"tag": [f"{watches}: it names no tag."]}
    assert errors_of(burn(scope="source")) == {"scope": [f"{watches}: its scope is all sources."]}
    burn(scope="all").full_clean()


def test_it_validates_silences() -> None:
    source = make_source()
    now = timezone.now()
    assert "tag" in errors_of(Silence(reason="x", starts_at=now, ends_at=now + timedelta(hours=1)))
    assert "tag" in errors_of(Silence(reason="x", source=source, tag="prod", ends_at=now + timedelta(hours=1)))
    assert "ends_at" in errors_of(Silence(reason="x", source=source, starts_at=now, ends_at=now))


def test_it_finds_active_silences_by_source_or_tag() -> None:
    source = make_source(tags=["prod"])
    other = make_source("eu-west")
    now = timezone.now()
    Silence.objects.create(
        reason="deploy", tag="prod", starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=5)
    )
    Silence.objects.create(
        reason="old", source=other, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)
    )
    assert Silence.objects.covering(source, now) is True
    assert Silence.objects.covering(source, now + timedelta(minutes=6)) is False
    assert Silence.objects.covering(other, now) is False


def test_it_validates_channels_and_refuses_internal_webhooks(settings: object) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = []  # type: ignore[attr-defined]
    assert "email_to" in errors_of(NotificationChannel(name="a", kind="email", email_to="ops@example.com, nope"))
    internal = NotificationChannel(name="b", kind="webhook", url="http://169.254.169.254/latest", secret="s" * 20)
    assert errors_of(internal)["url"][0].startswith("169.254.169.254 is a cloud metadata address")
    local = NotificationChannel(name="c", kind="slack", url="http://localhost:9000/hook")
    assert "a loopback address (allow it with POLLER_ALLOWED_PRIVATE_HOSTS)" in errors_of(local)["url"][0]
    creds = NotificationChannel(name="f", kind="slack", url="https://user:pw@hooks.example.com/x")
    assert "credentials" in errors_of(creds)["url"][0]
    scheme = NotificationChannel(name="d", kind="slack", url="ftp://example.com/hook")
    assert "url" in errors_of(scheme)
    weak = NotificationChannel(name="e", kind="webhook", url="https://hooks.example.com/x", secret="short")
    assert errors_of(weak)["secret"] == ["A webhook needs a signing secret of at least 16 characters."]


def test_it_lets_allowed_private_hosts_through(settings: object) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]  # type: ignore[attr-defined]
    NotificationChannel(name="ok", kind="webhook", url="http://127.0.0.1:9000/hook", secret="s" * 20).full_clean()


def test_it_masks_webhook_urls_when_showing_them() -> None:
    channel = NotificationChannel(name="s", kind="slack", url="https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    assert channel.masked_url() == "https://hooks.slack.com/…"
    assert "XXXXSECRET" not in repr(channel) + str(channel) + channel.target_display()
