"""The Alerts page: firing, pending, events; silence and acknowledge; rules and channels made there."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from alerts.models import AlertEvent, AlertRule, NotificationChannel, RuleState, Silence
from pollers.models import Source
from provisioning.apply import apply_files
from provisioning.export import export_files
from tests.factories import default_team, make_channel, make_rule, make_source, make_team, member, rule_form
from tests.races import needs_two_writers, waiting_at

pytestmark = pytest.mark.django_db


def firing(source: Source, status: str = "firing") -> RuleState:
    # One rule, in a state per source (a rule's name is unique in its team).
    condition = {"kind": "metric", "metric": "cpu_load", "operator": ">", "threshold": 90}
    rule, _ = AlertRule.objects.get_or_create(name="cpu hot", defaults=condition)
    since = timezone.now() - timedelta(minutes=3)
    return RuleState.objects.create(
        rule=rule, source=source, status=status, firing_since=since if status == "firing" else None, pending_since=since
    )


def test_it_lists_firing_pending_and_recent_events(user_client: Client) -> None:
    state = firing(make_source("eu-west"))
    firing(make_source("us-east"), status="pending")
    AlertEvent.objects.create(
        rule=state.rule,
        rule_name="cpu hot",
        source=state.source,
        kind="fired",
        severity="warning",
        condition="cpu_load > 90",
        message="cpu hot on eu-west",
        occurred_at=timezone.now(),
    )
    page = user_client.get("/alerts/").content.decode()
    firing_part = page.split('id="firing"')[1].split("</ul>")[0]
    pending_part = page.split('id="pending"')[1].split("</ul>")[0]
    assert 'data-source="eu-west"' in firing_part
    assert 'data-source="us-east"' in pending_part
    assert "cpu hot on eu-west" in page
    assert "Silence 1 h" not in page, "a reader sees no buttons"


def test_it_silences_for_a_preset_and_shows_silenced_everywhere(staff_client: Client) -> None:
    state = firing(make_source("eu-west"))
    before = timezone.now()
    response = staff_client.post("/alerts/silence/eu-west/", {"duration": "4h"}, follow=True)
    page = response.content.decode()
    assert "Silenced Eu West until" in page
    silence = Silence.objects.get(source=state.source)
    assert timedelta(hours=4) <= silence.ends_at - before < timedelta(hours=4, minutes=1)
    firing_part = page.split('id="firing"')[1].split("</ul>")[0]
    assert "data-silenced" in firing_part
    assert "data-silenced" in staff_client.get("/sources/eu-west/").content.decode()
    overview = staff_client.get("/").content.decode()
    assert "data-silenced" in overview


def test_it_silences_until_a_time_and_refuses_bad_times(staff_client: Client) -> None:
    make_source("eu-west")
    until = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    staff_client.post("/alerts/silence/eu-west/", {"duration": "until", "until": until})
    assert Silence.objects.get().ends_at.strftime("%Y-%m-%dT%H:%M") == until
    for bad, message in [
        ("", "Choose 1 h, 4 h, or an end time."),
        ("tomorrow", "is not a date and time"),
        ("2027-02-30T10:00", "is not a date and time"),  # well formed, no such day: was a 500
        ("2001-01-01T00:00", "The end time is in the past."),
        ((timezone.now() + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M"), "at most 30 days"),
    ]:
        page = staff_client.post("/alerts/silence/eu-west/", {"duration": "until", "until": bad}, follow=True)
        assert message in page.content.decode()
    assert Silence.objects.count() == 1


def test_it_ends_a_silence(staff_client: Client) -> None:
    source = make_source("eu-west")
    silence = Silence.objects.create(source=source, ends_at=timezone.now() + timedelta(hours=1), reason="x")
    staff_client.post(f"/alerts/silences/{silence.pk}/end/")
    assert not Silence.objects.active().exists()


def test_it_acknowledges_until_the_alert_fires_again(staff_client: Client) -> None:
    state = firing(make_source("eu-west"))
    staff_client.post(f"/alerts/states/{state.pk}/acknowledge/")
    state.refresh_from_db()
    assert state.acknowledged
    assert state.acknowledged_by is not None
    assert state.acknowledged_by.username == "ops"
    assert "acknowledged by ops" in staff_client.get("/alerts/").content.decode()
    RuleState.objects.filter(pk=state.pk).update(firing_since=timezone.now() + timedelta(seconds=1))
    state.refresh_from_db()
    assert not state.acknowledged


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("/alerts/silence/eu-west/", Role.OPERATOR),
        ("/alerts/states/{state}/acknowledge/", Role.OPERATOR),
        ("/alerts/silences/{silence}/end/", Role.OPERATOR),
        ("/alerts/rules/new/", Role.ADMIN),
        ("/alerts/channels/new/", Role.ADMIN),
        ("/alerts/channels/{channel}/test/", Role.ADMIN),
    ],
)
def test_it_refuses_actions_to_members_below_the_role(client: Client, path: str, needed: str) -> None:
    state = firing(make_source("eu-west"))
    silence = Silence.objects.create(source=state.source, ends_at=timezone.now() + timedelta(hours=1), reason="x")
    channel = NotificationChannel.objects.create(name="mail", kind="email", email_to="ops@example.com")
    url = path.format(state=state.pk, silence=silence.pk, channel=channel.pk)
    below = Role.VIEWER if needed == Role.OPERATOR else Role.OPERATOR
    member(client, role=below, username="reader")
    assert client.post(url, {"duration": "1h"}).status_code == 403
    assert list(Silence.objects.values_list("pk", flat=True)) == [silence.pk]
    assert Silence.objects.get().ends_at > timezone.now()
    assert not RuleState.objects.get().acknowledged
    assert not AlertRule.objects.exclude(pk=state.rule_id).exists()


def test_it_needs_a_login_to_read(client: Client) -> None:
    assert client.get("/alerts/").status_code == 302


def test_it_saves_a_rule_and_warns_when_it_notifies_no_one(staff_client: Client) -> None:
    data = rule_form(path="results.stale.value")  # the path is hidden for a metric rule: not kept
    page = staff_client.post("/alerts/rules/new/", data, follow=True).content.decode()
    assert "Saved the rule" in page
    assert "notifies no one" in page
    rule = AlertRule.objects.get(name="cpu")
    assert (rule.metric, rule.threshold, rule.path) == ("cpu_load", 80, "")
    NotificationChannel.objects.create(name="ops", kind="email", email_to="ops@example.com", is_default=True)
    data["name"] = "cpu2"
    page = staff_client.post("/alerts/rules/new/", data, follow=True).content.decode()
    assert "notifies no one" not in page


def test_it_refuses_a_bad_rule_with_the_field_errors(staff_client: Client) -> None:
    response = staff_client.post(
        "/alerts/rules/new/",
        {
            "name": "x",
            "severity": "warning",
            "scope": "all",
            "kind": "metric",
            "fire_after": "3",
            "resolve_after": "2",
            "for_seconds": "0",
            "renotify_interval_seconds": "3600",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Name the metric" in page
    assert "Choose an operator" in page
    assert not AlertRule.objects.exists()


def test_it_marks_fields_with_the_kinds_they_serve(staff_client: Client) -> None:
    page = staff_client.get("/alerts/rules/new/").content.decode()
    assert 'data-for="metric field"' in page  # operator
    assert 'data-for="poll_failures stale_hash"' in page  # count
    assert "js/forms.js" in page
    channel_page = staff_client.get("/alerts/channels/new/").content.decode()
    assert 'data-for="webhook slack"' in channel_page  # url
    assert re.search(r'<label for="id_url">URL[ <]', channel_page), "spelt URL, as the source form does"


def test_it_makes_the_first_channel_the_default_and_keeps_input_after_an_error(
    staff_client: Client, settings: Any
) -> None:
    response = staff_client.post(
        "/alerts/channels/new/",
        {"name": "hook", "kind": "webhook", "enabled": "on", "url": "https://hooks.example.com/x", "secret": "short"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "at least 16 characters" in page
    assert 'value="https://hooks.example.com/x"' in page, "the URL typed is kept"
    assert 'value="short"' in page, "the secret typed in this post is kept"
    email = {"name": "mail", "kind": "email", "enabled": "on", "email_to": "ops@example.com"}
    staff_client.post("/alerts/channels/new/", email)
    assert NotificationChannel.objects.get(name="mail").is_default
    staff_client.post("/alerts/channels/new/", {**email, "name": "mail2"})
    assert not NotificationChannel.objects.get(name="mail2").is_default


def test_it_never_shows_a_stored_secret_and_blank_keeps_it(staff_client: Client) -> None:
    channel = NotificationChannel.objects.create(
        name="hook", kind="webhook", url="https://hooks.example.com/T0KEN", secret="s" * 20
    )
    page = staff_client.get(f"/alerts/channels/{channel.pk}/").content.decode()
    assert "T0KEN" not in page
    assert "s" * 20 not in page
    assert "Leave blank to keep" in page
    response = staff_client.post(
        f"/alerts/channels/{channel.pk}/",
        {"name": "hook2", "kind": "webhook", "enabled": "on", "url": "", "secret": ""},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url, channel.secret) == ("hook2", "https://hooks.example.com/T0KEN", "s" * 20)


def test_it_offers_and_accepts_only_the_teams_objectives(staff_client: Client) -> None:
    from accounts.models import default_team_id
    from tests.factories import make_objective, make_team

    ours = make_objective("our budget", team_id=default_team_id())
    theirs = make_objective("RED-SECRET-SLO", team=make_team("red"))
    form = staff_client.get("/alerts/rules/new/").content.decode()
    assert "our budget" in form
    assert "RED-SECRET-SLO" not in form
    data = {
        "name": "burn",
        "severity": "critical",
        "scope": "all",
        "kind": "burn_rate",
        "fire_after": "1",
        "resolve_after": "1",
        "for_seconds": "0",
        "renotify_interval_seconds": "3600",
    }
    refused = staff_client.post("/alerts/rules/new/", {**data, "objective": theirs.pk})
    assert refused.status_code == 400
    assert not AlertRule.objects.exists()
    assert staff_client.post("/alerts/rules/new/", {**data, "objective": ours.pk}).status_code == 302
    assert AlertRule.objects.get().objective == ours


def test_it_refuses_an_enabled_burn_rate_rule_on_an_objective_that_covers_no_source(staff_client: Client) -> None:
    # It watches the objective's sources one by one: with none (no source carries its tag any more) it was saved
    # and never fired, silently.
    from tests.factories import make_objective

    objective = make_objective("tagged budget", tag="prod")
    data = {
        "name": "burn",
        "enabled": "on",
        "severity": "critical",
        "scope": "all",
        "kind": "burn_rate",
        "objective": objective.pk,
        "fire_after": "1",
        "resolve_after": "1",
        "for_seconds": "0",
        "renotify_interval_seconds": "3600",
    }
    refused = staff_client.post("/alerts/rules/new/", data)
    assert refused.status_code == 400
    assert "covers no source (no source of its team has the tag &#x27;prod&#x27;)" in refused.content.decode()
    assert not AlertRule.objects.exists()
    disabled = {key: value for key, value in data.items() if key != "enabled"}
    assert staff_client.post("/alerts/rules/new/", disabled).status_code == 302  # switching off stays possible
    make_source("us-east", tags=["prod"])
    assert staff_client.post("/alerts/rules/new/", {**data, "name": "burn 2"}).status_code == 302


def test_it_gives_each_silence_made_by_the_buttons_a_reason_of_its_own(staff_client: Client) -> None:
    # Configuration as code knows a silence by team and reason, and refuses to export two of one reason.
    for slug in ("eu-west", "us-east"):
        make_source(slug)
    for slug in ("eu-west", "us-east", "eu-west"):
        staff_client.post(f"/alerts/silence/{slug}/", {"duration": "1h"})
    reasons = list(Silence.objects.order_by("pk").values_list("reason", flat=True))
    assert len(set(reasons)) == 3  # the same source silenced twice in one minute: the second gets " (2)"
    assert [reason.split(", ")[0] for reason in reasons] == [
        f"{slug} silenced on the Alerts page by ops" for slug in ("eu-west", "us-east", "eu-west")
    ]
    staff_client.post("/alerts/silence/us-east/", {"duration": "1h", "reason": "deploy"})
    assert Silence.objects.filter(reason="deploy").count() == 1  # a reason given is kept as given


def test_it_makes_a_typed_reason_unique_so_the_silences_can_be_exported(staff_client: Client) -> None:
    # A typed reason was kept as typed: two silences of one reason, which configuration export then refused.
    for slug in ("eu-west", "us-east"):
        make_source(slug)
    for slug in ("eu-west", "us-east", "eu-west"):
        staff_client.post(f"/alerts/silence/{slug}/", {"duration": "1h", "reason": " deploy "})
    reasons = list(Silence.objects.order_by("pk").values_list("reason", flat=True))
    assert reasons == ["deploy", "deploy (2)", "deploy (3)"]
    assert "reason: deploy (3)" in export_files()["silences.yaml"]
    long = "x" * 400  # cut to the field's 300 characters, then made unique within them
    staff_client.post("/alerts/silence/us-east/", {"duration": "1h", "reason": long})
    staff_client.post("/alerts/silence/us-east/", {"duration": "1h", "reason": long})
    assert list(Silence.objects.filter(reason__startswith="xxx").order_by("pk").values_list("reason", flat=True)) == [
        "x" * 300,
        "x" * 296 + " (2)",
    ]


def test_it_reads_the_current_teams_silences_only(staff_client: Client) -> None:
    # The page read every team's active silences (and, for their tag silences, those teams' sources) to mark
    # its own team's alerts; another team's silence even marked a source it had moved to this team.
    red = make_team("red")
    moved = make_source("eu-west", team=red, tags=["prod"])
    later = timezone.now() + timedelta(hours=1)
    Silence.objects.create(team=red, source=moved, ends_at=later, reason="red deploy")
    moved.team = default_team()
    moved.save()
    firing(moved)
    staff_client.get("/alerts/")
    with CaptureQueriesContext(connection) as quiet:
        page = staff_client.get("/alerts/").content.decode()
    assert 'data-source="eu-west"' in page.split('id="firing"')[1].split("</ul>")[0]
    assert "data-silenced" not in page.split('id="firing"')[1].split("</ul>")[0]
    for n in range(3):
        make_source(f"red-{n}", team=red, tags=["prod"])
        Silence.objects.create(team=red, tag="prod", ends_at=later, reason=f"red {n}")
    with CaptureQueriesContext(connection) as busy:
        staff_client.get("/alerts/")
    assert len(busy) == len(quiet)  # red's tag silences sent no read of red's sources


@pytest.mark.django_db(transaction=True)
def test_it_makes_a_typed_reason_unique_when_two_silences_are_made_at_once() -> None:
    # The other request's "deploy" is written, not yet committed, when this one picks its reason: it finds
    # "deploy" free. The database holds the reason unique in the team, so this one takes the next free name.
    needs_two_writers()
    source = make_source("eu-west")
    browser = member(Client(), role=Role.ADMIN, username="ops", staff=True)
    silence = {"duration": "1h", "reason": "deploy"}
    with waiting_at('INSERT INTO "alerts_silence" ', lambda: browser.post("/alerts/silence/eu-west/", silence)) as race:
        Silence.objects.create(
            team_id=source.team_id, source=source, ends_at=timezone.now() + timedelta(hours=1), reason="deploy"
        )
    assert race.answer.status_code == 302
    assert list(Silence.objects.order_by("pk").values_list("reason", flat=True)) == ["deploy", "deploy (2)"]


APPLIED_RULE = 'alert_rules:\n  - name: "{name}"\n    metric: cpu_load\n    operator: ">"\n    threshold: 90\n'


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_rule_whose_name_an_apply_took_meanwhile_with_the_forms_error(staff_client: Client) -> None:
    # A configuration apply creates the rule "cpu" while the page saves a new rule "cpu": the page's check ran
    # before the apply committed, and one_alert_rule_name_per_team refused the page's INSERT (a 500). The page
    # answers the form's own error; the apply's rule stands.
    needs_two_writers()
    new_rule = partial(staff_client.post, "/alerts/rules/new/", rule_form())
    with waiting_at('INSERT INTO "alerts_alertrule" ', new_rule) as race:
        apply_files({"rules.yaml": APPLIED_RULE.format(name="cpu")})
    assert race.answer.status_code == 400
    assert "The team already has an alert rule with this name." in race.answer.content.decode()
    assert 'value="cpu"' in race.answer.content.decode()  # what was typed is kept
    assert list(AlertRule.objects.values_list("name", "threshold")) == [("cpu", 90)]


@pytest.mark.django_db(transaction=True)
def test_it_keeps_a_rule_an_apply_renamed_while_it_was_edited_gone(staff_client: Client) -> None:
    # An apply renames "cpu" to "cpu hot" (deletes the one, creates the other) while the page saves an edit
    # of "cpu": the page's UPDATE found no row and Django's save inserted it again, so the apply's rename was
    # undone with "Saved the rule". The page says the rule is gone; the apply's result stands.
    needs_two_writers()
    rule = AlertRule.objects.create(name="cpu", metric="cpu_load", operator=">", threshold=80)
    edit = partial(staff_client.post, f"/alerts/rules/{rule.pk}/", rule_form(threshold="95"), follow=True)
    with waiting_at('UPDATE "alerts_alertrule" ', edit) as race:
        apply_files({"rules.yaml": APPLIED_RULE.format(name="cpu hot")}, prune=True)
    assert race.answer.status_code == 200
    assert "was deleted while you edited it" in race.answer.content.decode()
    assert list(AlertRule.objects.values_list("name", "threshold")) == [("cpu hot", 90)]


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_silence_of_a_source_an_apply_deleted_meanwhile(staff_client: Client, settings: Any) -> None:
    # An apply with --prune deletes the source "eu-west" while the page silences it: the page's silence named
    # a source gone at its commit (the foreign key, a 500). The page says the source is gone; nothing is kept.
    needs_two_writers()
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    make_source("eu-west")
    other = "sources:\n  - slug: us-east\n    name: US East\n    url: http://127.0.0.1:9/us\n"
    silence = partial(staff_client.post, "/alerts/silence/eu-west/", {"duration": "1h"}, follow=True)
    with waiting_at('INSERT INTO "alerts_silence" ', silence) as race:
        apply_files({"sources.yaml": other}, prune=True)
    assert race.answer.status_code == 200
    assert "Not silenced: Eu West was deleted" in race.answer.content.decode()
    assert list(Source.objects.values_list("slug", flat=True)) == ["us-east"]
    assert not Silence.objects.exists()


def test_it_says_where_a_rule_without_channels_sends_and_when_that_is_no_one(user_client: Client) -> None:
    # The list said "default channels" for such a rule even when the team had none: it notified no one.
    AlertRule.objects.create(name="cpu hot", kind="metric", metric="cpu_load", operator=">", threshold=90)
    rules = user_client.get("/alerts/").content.decode().split('id="rules"')[1].split("</section>")[0]
    assert "notifies no one" in rules
    assert "default channels" not in rules
    make_channel("pager", is_default=False)
    rules = user_client.get("/alerts/").content.decode().split('id="rules"')[1].split("</section>")[0]
    assert "notifies no one" in rules, "a channel that is not the default does not hear it"
    make_channel("ops-mail", is_default=True)
    rules = user_client.get("/alerts/").content.decode().split('id="rules"')[1].split("</section>")[0]
    assert "default: ops-mail" in rules
    assert "notifies no one" not in rules


def test_it_names_a_rule_and_a_channel_as_stored_around_an_edit_it_refuses(staff_client: Client) -> None:
    # The form wrote the name typed onto the object the page is headed by: a refused rename read as done.
    rule = make_rule("cpu high")
    refused = staff_client.post(f"/alerts/rules/{rule.pk}/", rule_form(name="renamed", operator=""))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "Choose an operator" in page
    assert "<h1>Edit rule “cpu high”</h1>" in page
    assert '<span aria-current="page">cpu high</span>' in page
    assert 'value="renamed"' in page, "what was typed stays in the form"

    channel = make_channel("ops-mail")
    typed = {"name": "renamed", "kind": "webhook", "enabled": "on", "url": "https://hooks.example.com/x"}
    refused = staff_client.post(f"/alerts/channels/{channel.pk}/", {**typed, "secret": "short"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "at least 16 characters" in page
    assert "<h1>Edit channel “ops-mail”</h1>" in page
    assert 'value="renamed"' in page
    rule.refresh_from_db()
    channel.refresh_from_db()
    assert (rule.name, channel.name) == ("cpu high", "ops-mail")


def test_it_names_a_burn_rate_rules_objective_as_its_target_not_the_source_it_ignores(staff_client: Client) -> None:
    # A burn-rate rule watches its objective's sources: its scope (all sources, the only one it takes) is not
    # what the list and its page name.
    from tests.factories import make_objective

    us_east = make_source("us-east", tags=["prod"])
    objective = make_objective("api up", tag="prod")
    burn = make_rule(name="burn", kind="burn_rate", objective=objective)
    make_rule(name="cpu hot", metric="cpu_load", operator=">", threshold=90, scope="source", source=us_east)

    rules = staff_client.get("/alerts/").content.decode().split('id="rules"')[1].split("</section>")[0]
    burn_row, cpu_row = (row for row in rules.split('<li class="alert-row">')[1:])
    assert ">burn</a>" in burn_row
    assert "· objective api up ·" in burn_row
    assert "all sources" not in burn_row
    assert "· source us-east ·" in cpu_row  # a rule of one source still names it

    page = staff_client.get(f"/alerts/rules/{burn.pk}/").content.decode()
    assert '<p class="muted" data-role="target">Watches objective api up</p>' in page


def field_tags(page: str) -> dict[str, str]:
    """Each form field's name, with the opening tag of the block that holds it (where ``hidden`` is written)."""
    blocks = re.findall(r'(<div class="field[^"]*"[^>]*>)(.*?)</div>\n', page, flags=re.S)
    return {name: tag for tag, body in blocks for name in re.findall(r' name="([a-z_]+)"', body)[:1]}


def hidden_on_the_page(page: str) -> set[str]:
    return {name for name, tag in field_tags(page).items() if re.search(r"\shidden[\s>]", tag)}


BURN_RULE = {
    "name": "burn",
    "enabled": "on",
    "severity": "critical",
    "kind": "burn_rate",
    "fire_after": "1",
    "resolve_after": "1",
    "for_seconds": "0",
    "renotify_interval_seconds": "3600",
}


def test_it_shows_a_burn_rate_rule_without_the_scope_source_and_tag_it_ignores(staff_client: Client) -> None:
    # Its page showed the scope and the source (the script hides fields by kind or by scope, not both), and the
    # page as sent showed every field until the script ran: a burn-rate rule watches its objective's sources.
    from tests.factories import make_objective

    make_source("us-east", tags=["prod"])
    objective = make_objective("api up", tag="prod")
    burn = make_rule(name="burn", kind="burn_rate", objective=objective)

    page = staff_client.get(f"/alerts/rules/{burn.pk}/").content.decode()
    hidden = hidden_on_the_page(page)
    assert {"scope", "source", "tag", "metric", "threshold", "count"} <= hidden
    assert not {"name", "kind", "objective", "burn_conditions", "channels"} & hidden
    assert 'data-unless="burn_rate"' in field_tags(page)["scope"]  # the script keeps them hidden as kinds change

    # A new rule (a metric one on all sources until told): its scope, not its source, tag or objective.
    new = hidden_on_the_page(staff_client.get("/alerts/rules/new/").content.decode())
    assert {"source", "tag", "objective", "burn_conditions", "count"} <= new
    assert not {"scope", "metric", "operator", "threshold"} & new


def test_it_saves_a_burn_rate_rule_as_of_all_sources_whatever_its_hidden_scope_held(staff_client: Client) -> None:
    # Without the script the hidden fields are sent as they stand: a scope of "source" with no source chosen was
    # refused ("Choose the source this rule watches.") though the rule ignores both, and a source kept.
    from tests.factories import make_objective

    us_east = make_source("us-east", tags=["prod"])
    objective = make_objective("api up", tag="prod")
    sent = {**BURN_RULE, "objective": objective.pk, "scope": "source", "source": "", "tag": "stale"}
    assert staff_client.post("/alerts/rules/new/", sent).status_code == 302
    rule = AlertRule.objects.get(name="burn")
    assert (rule.scope, rule.source_id, rule.tag, rule.objective_id) == ("all", None, "", objective.pk)

    # Nor is a scope needed at all; and an edit sending a source leaves it one of all sources.
    assert (
        staff_client.post("/alerts/rules/new/", {**BURN_RULE, "name": "b2", "objective": objective.pk}).status_code
        == 302
    )
    assert AlertRule.objects.get(name="b2").scope == "all"
    old = make_rule(name="old", kind="burn_rate", objective=objective)
    edit = {**BURN_RULE, "name": "old", "objective": objective.pk, "scope": "source", "source": us_east.pk}
    assert staff_client.post(f"/alerts/rules/{old.pk}/", edit).status_code == 302
    old.refresh_from_db()
    assert (old.scope, old.source_id, old.target_display()) == ("all", None, "objective api up")


def test_it_asks_for_what_a_changed_kind_needs_when_sent_without_the_script(staff_client: Client) -> None:
    # The page as sent shows the chosen kind's fields: a metric rule changed to burn rate without the script
    # comes back showing the objective it needs, no longer the scope it ignores; a scope is still asked of others.
    response = staff_client.post("/alerts/rules/new/", {**BURN_RULE, "scope": "all", "metric": "cpu_load"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose the objective whose error budget this rule watches." in page
    hidden = hidden_on_the_page(page)
    assert "objective" not in hidden
    assert {"scope", "source", "tag", "metric"} <= hidden

    unscoped = staff_client.post("/alerts/rules/new/", rule_form(scope=""))
    assert unscoped.status_code == 400
    assert "Choose what the rule watches" in unscoped.content.decode()
    assert "scope" not in hidden_on_the_page(unscoped.content.decode())
    assert not AlertRule.objects.exists()


def test_it_neither_keeps_nor_refuses_what_a_hidden_field_of_another_kind_holds(staff_client: Client) -> None:
    # The threshold box is hidden for a payload-field rule: a word left in it refused the form ("Enter a
    # number.") over a field the page does not show.
    data = rule_form(kind="field", path="results.ok", operator="==", value="true", threshold="eighty")
    assert staff_client.post("/alerts/rules/new/", data).status_code == 302
    rule = AlertRule.objects.get(name="cpu")
    assert (rule.kind, rule.path, rule.threshold, rule.metric) == ("field", "results.ok", None, "")


def test_it_lists_rules_in_as_many_queries_for_one_as_for_several_of_every_kind(staff_client: Client) -> None:
    from tests.factories import make_objective

    us_east = make_source("us-east", tags=["prod"], metric_paths={"cpu_load": "cpu"})
    pager, mail = make_channel("pager", is_default=False), make_channel("ops-mail", is_default=True)
    make_rule("cpu hot", scope="source", source=us_east, channels=[pager])
    staff_client.get("/alerts/")  # warm the session and user caches of this client
    with CaptureQueriesContext(connection) as one:
        staff_client.get("/alerts/")

    api_up = make_objective("api up", tag="prod")
    eu_up = make_objective("eu up", sources=[us_east])
    make_rule("stale", kind="field", path="results.ok", operator="==", value="true", scope="tag", tag="prod")
    make_rule("failing", kind="poll_failures", count=3, channels=[pager, mail])
    make_rule("frozen", kind="stale_hash", count=5)
    make_rule("silent", kind="no_success", duration_seconds=600, enabled=False)
    make_rule("breaker", kind="circuit_open")
    make_rule("burn", kind="burn_rate", objective=api_up, channels=[mail])
    make_rule("burn eu", kind="burn_rate", objective=eu_up)
    make_rule("odd", kind="anomaly", metric="wait_time", anomaly_mode="both", scope="source", source=us_east)
    with CaptureQueriesContext(connection) as several:
        page = staff_client.get("/alerts/").content.decode()

    rules = page.split('id="rules"')[1].split("</section>")[0]
    assert rules.count('<li class="alert-row">') == 9
    assert "· objective api up · budget of api up burning" in rules
    assert "· objective eu up · budget of eu up burning" in rules
    assert "· source us-east · wait_time anomalous (both" in rules
    failing = next(row for row in rules.split('<li class="alert-row">') if ">failing</a>" in row)
    assert {"ops-mail", "pager"} <= set(re.findall(r"ops-mail|pager", failing))
    assert len(several) == len(one), [query["sql"] for query in several.captured_queries]
