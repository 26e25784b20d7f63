"""Configuration files refer only to objects of the item's own team: a team's rule cannot notify through another
team's channel, its objective cover another team's source, nor its status page show or silence one; and the
refusal reads the same whether the object is another team's or nobody's."""

from __future__ import annotations

import pytest

from accounts.models import Team
from pollers.models import Source
from provisioning.plan import make_plan
from statuspages.models import StatusPage
from tests.factories import make_channel, make_component, make_source, make_status_page, make_team
from tests.provisioning.support import counts, problems

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("setup_settings")]


@pytest.fixture
def teams() -> tuple[Team, Team]:
    blue, red = make_team("blue"), make_team("red")
    make_source("blue-one", team=blue)
    make_source("red-secret", team=red, metric_paths=["results.stats.queue_depth"])
    make_channel("blue-pager", team=blue)
    make_channel("red-pager", team=red)
    make_status_page("blue-page", team=blue)
    return blue, red


RULE = (
    "alert_rules:\n  - team: blue\n    name: r\n    kind: poll_failures\n    count: 1\n    source: {source}\n"
    "    channels: [{channel}]\n"
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"c.yaml": "status_page_components:\n  - page: blue-page\n    name: Red\n    sources: [red-secret]\n"},
            "c.yaml:4: status_page_components[0].sources[0]: no source 'red-secret' in the team 'blue'",
        ),
        (
            {"o.yaml": "objectives:\n  - team: blue\n    name: spy\n    sources: [red-secret]\n"},
            "o.yaml:4: objectives[0].sources[0]: no source 'red-secret' in the team 'blue'",
        ),
        (
            {"r.yaml": RULE.format(source="blue-one", channel="red-pager")},
            "r.yaml:7: alert_rules[0].channels[0]: no channel 'red-pager' in the team 'blue'",
        ),
        (
            {"r.yaml": RULE.format(source="red-secret", channel="blue-pager")},
            "r.yaml:6: alert_rules[0].source: no source 'red-secret' in the team 'blue'",
        ),
        (
            {
                "s.yaml": "silences:\n  - team: blue\n    source: red-secret\n    reason: x\n"
                "    starts_at: 2030-01-01T00:00:00Z\n    ends_at: 2030-01-02T00:00:00Z\n"
            },
            "s.yaml:3: silences[0].source: no source 'red-secret' in the team 'blue'",
        ),
    ],
)
def test_it_refuses_a_reference_to_another_teams_object(
    teams: tuple[Team, Team], files: dict[str, str], expected: str
) -> None:
    before = counts()
    found = problems(files)
    assert any(line.startswith(expected) for line in found), found
    # Nothing of red's source comes back: not the metrics it extracts, not that it exists at all.
    assert not any("queue_depth" in line for line in found), found
    nobodys = {
        name: text.replace("red-secret", "no-such-source").replace("red-pager", "no-such-pager")
        for name, text in files.items()
    }
    assert [
        line.replace("no-such-source", "red-secret").replace("no-such-pager", "red-pager") for line in problems(nobodys)
    ] == found
    assert counts() == before


def test_it_accepts_references_within_the_team_and_to_objects_the_files_give_it(teams: tuple[Team, Team]) -> None:
    files = {
        "a.yaml": RULE.format(source="blue-one", channel="blue-pager"),
        "b.yaml": "sources:\n  - slug: blue-two\n    team: blue\n    name: Blue Two\n    url: http://127.0.0.1:9/b\n"
        "objectives:\n  - team: blue\n    name: up\n    sources: [blue-one, blue-two]\n"
        "status_page_components:\n  - page: blue-page\n    name: API\n    sources: [blue-two]\n",
    }
    plan = make_plan(files)
    assert plan.counts()["create"] == 4
    # A source the files move into red is red's for the rest of the files.
    moved = "sources:\n  - slug: blue-one\n    team: red\n    name: Moved\n    url: http://127.0.0.1:9/b\n"
    found = problems({**files, "0.yaml": moved})
    assert any("alert_rules[0].source: no source 'blue-one' in the team 'blue'" in line for line in found), found


def test_it_refuses_to_move_a_page_whose_stored_components_group_the_old_teams_sources(
    teams: tuple[Team, Team],
) -> None:
    # The admin refuses the move (StatusPage.foreign_source_teams); a file moved the page to red all the same,
    # its component keeping blue's source, so red's page showed blue's state and its windows silenced blue.
    page = StatusPage.objects.get(slug="blue-page")
    make_component(page, "API", [Source.objects.get(slug="blue-one")])
    moved = "status_pages:\n  - slug: blue-page\n    team: red\n    title: Blue page status\n"
    found = problems({"p.yaml": moved})
    assert found == [
        "p.yaml:3: status_pages[0].team: the page's component 'API' groups the source 'blue-one' of the team 'blue', "
        "and a page shows only its own team's sources: take it off the component (or describe the component "
        "without it) to move the page to 'red'"
    ], found
    assert StatusPage.objects.get(slug="blue-page").team.slug == "blue"
    # Moved with the component described without it, or with the source moved along, the page goes.
    emptied = moved + "status_page_components:\n  - page: blue-page\n    name: API\n    sources: []\n"
    assert make_plan({"p.yaml": emptied}).counts()["change"] == 2
    along = moved + "sources:\n  - slug: blue-one\n    team: red\n    name: Blue One\n    url: http://127.0.0.1:9/b\n"
    assert make_plan({"p.yaml": along}).counts()["change"] == 2
