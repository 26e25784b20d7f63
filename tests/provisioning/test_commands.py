"""``manage.py config export|plan|apply``: files written, exit codes for CI, confirmation, problems on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.models import AuditEvent
from pollers.models import Source
from tests.factories import make_source
from tests.provisioning.support import counts, run_config

pytestmark = pytest.mark.django_db

NEW_SOURCE = "sources:\n  - slug: new-one\n    name: New\n    url: http://127.0.0.1:9/new\n"


def test_it_exports_plans_nothing_then_applies_a_change_with_exit_codes(setup_settings: Any, tmp_path: Path) -> None:
    make_source("us-east")
    code, out, _ = run_config("export", "-o", str(tmp_path))
    assert code == 0
    assert "sources.yaml" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alert_rules.yaml",
        "boards.yaml",
        "channels.yaml",
        "flags.yaml",
        "maintenance_windows.yaml",
        "objectives.yaml",
        "retention.yaml",
        "silences.yaml",
        "sources.yaml",
        "status_page_components.yaml",
        "status_pages.yaml",
        "teams.yaml",
    ]
    assert run_config("plan", "-f", str(tmp_path)) == (0, "No changes: the stored setup matches the files.\n", "")

    (tmp_path / "more.yaml").write_text(NEW_SOURCE)
    code, out, _ = run_config("plan", "-f", str(tmp_path))
    assert code == 2
    assert out.startswith("+ create sources new-one\n")
    assert not Source.objects.filter(slug="new-one").exists()

    code, out, _ = run_config("apply", "-f", str(tmp_path), "--yes")
    assert code == 0
    assert out.endswith("Applied.\n")
    assert Source.objects.filter(slug="new-one").exists()
    event = AuditEvent.objects.get(action="config.apply")
    assert event.actor_label == "manage.py config apply"
    assert event.detail["counts"] == {"create": 1, "change": 0, "delete": 0}
    assert run_config("apply", "-f", str(tmp_path), "--yes")[1].endswith("Nothing to apply.\n")


def test_it_prints_an_export_without_a_directory_as_one_file_that_plans_no_change(
    setup_settings: Any, tmp_path: Path
) -> None:
    # Printed as one file per section, each with its own ``version: 1``, the text saved by
    # ``config export > setup.yaml`` was refused ("version: duplicate key", once per section).
    make_source("us-east")
    code, out, _ = run_config("export")
    assert code == 0
    assert out.count("version: 1") == 1
    (tmp_path / "setup.yaml").write_text(out)
    assert run_config("plan", "-f", str(tmp_path / "setup.yaml")) == (
        0,
        "No changes: the stored setup matches the files.\n",
        "",
    )


def test_it_asks_before_applying_and_applies_nothing_without_a_yes(setup_settings: Any, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(NEW_SOURCE)
    code, out, err = run_config("apply", "-f", str(tmp_path))  # stdin is not a terminal under pytest
    assert code == 1
    assert "+ create sources new-one" in out
    assert "Refusing to apply without --yes" in err
    assert "nothing was changed" in err
    assert not Source.objects.filter(slug="new-one").exists()


def test_it_lists_every_problem_on_stderr_and_exits_1(setup_settings: Any, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "sources:\n  - slug: a\n    name: A\n    url: http://127.0.0.1:9/a\n    interval: 1\n    typo: 1\n"
    )
    before = counts()
    for args in (("plan", "-f", str(tmp_path)), ("apply", "-f", str(tmp_path), "--yes")):
        code, out, err = run_config(*args)
        assert code == 1
        assert out == ""
        assert err.splitlines() == [
            "s.yaml:5: sources[0].interval: must be at least 5",
            "s.yaml:6: sources[0].typo: unknown key (known: slug, team, name, url, enabled, interval, timeout, "
            "headers, region, tags, metric_paths, volatile_paths, pinned_metrics, proxy, tls_verify, "
            "insecure_credentials_acknowledged, tls_ca_pem, "
            "tls_client_cert_pem, tls_client_key, auth_scheme, auth_username, auth_secret)",
            "2 problem(s): nothing was changed.",
        ]
    assert counts() == before


def test_it_says_what_the_database_refused_and_exits_1(setup_settings: Any, tmp_path: Path) -> None:
    # A clash only the database sees (two new teams of one name, in two files): the apply was a traceback.
    (tmp_path / "t.yaml").write_text("teams:\n  - slug: green\n    name: Green\n")
    (tmp_path / "u.yaml").write_text("teams:\n  - slug: teal\n    name: Green\n")
    before = counts()
    code, _out, err = run_config("apply", "-f", str(tmp_path), "--yes")
    assert code == 1
    assert "The database refused these changes" in err
    assert "Nothing was changed" in err
    assert counts() == before


def test_it_exports_one_team_only(setup_settings: Any, tmp_path: Path) -> None:
    from tests.factories import make_team

    make_source("blue-one", team=make_team("blue"))
    make_source("other")
    code, out, _ = run_config("export", "--team", "blue")
    assert code == 0
    assert "slug: blue-one" in out
    assert "slug: other" not in out
    assert "flags.yaml" not in out
    assert run_config("export", "--team", "nope")[0] == 1


def test_its_help_names_every_section_and_the_exit_codes_ci_relies_on() -> None:
    import argparse

    from provisioning.management.commands.config import Command
    from provisioning.sections import SECTIONS

    parser = Command().create_parser("manage.py", "config")
    # The section list was written by hand and lacked objectives, boards, components, maintenance windows.
    top = " ".join(parser.format_help().split())
    for section in SECTIONS:
        assert section.name in top, section.name
    sub = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    # `config plan --help` had no description: the exit codes a CI check depends on were only in the docs.
    plan = " ".join(sub.choices["plan"].format_help().split())
    assert "Exit code 0: nothing would change, 2: something would, 1: problems" in plan
    assert "in the sections the files name and the teams they speak for" in plan
    apply = " ".join(sub.choices["apply"].format_help().split())
    assert "Exit code 0: applied or nothing to do, 1: problems or declined" in apply
