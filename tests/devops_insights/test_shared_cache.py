"""Without REDIS_URL the processes of `make run` (daphne, `poll --loop`, `manage.py prune`) share what one
tells another through the database cache (devops_insights.shared_cache), not their own local memory.

Each test runs a real second process, ``manage.py shell`` on this test's database, and looks from here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone

from alerts import rule_cache
from devops_insights.shared_cache import shared_cache
from metrics.lifecycle import maintenance
from pollers.models import Source
from provisioning.flags import LIVE_CHANGES, flag_active
from provisioning.models import Flag
from tests.factories import make_component, make_source, make_status_page, make_team, make_user
from tests.run_manage import database_url, run_manage, talking_shell

pytestmark = pytest.mark.django_db(transaction=True)


def in_other_process(code: str, tmp_path: Path) -> str:
    result = run_manage("shell", "-c", code, env={"DATABASE_URL": database_url()}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_it_shows_the_poller_a_silence_saved_in_another_process(tmp_path: Path, settings: Any) -> None:
    settings.ALERT_RULES_RECHECK_SECONDS = 0  # the other process has finished: its save applies at the next poll
    team = make_team()
    assert rule_cache.current().silences == ()  # this process keeps its snapshot from here on

    in_other_process(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from alerts.models import Silence\n"
        f"Silence.objects.create(team_id={team.pk}, tag='db', ends_at=timezone.now() + timedelta(hours=1),"
        " reason='maintenance')\n",
        tmp_path,
    )

    assert [window.tag for window in rule_cache.current().silences] == ["db"]


def test_it_refuses_the_retention_lock_while_another_process_holds_it(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from metrics.lifecycle.maintenance import retention_lock\n"
        "with retention_lock() as taken:\n"
        "    print('taken' if taken else 'refused', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    holder = talking_shell(code, tmp_path)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "taken"
        with maintenance.retention_lock() as taken:
            assert not taken
    finally:
        holder.communicate("", timeout=60)

    with maintenance.retention_lock() as taken:
        assert taken  # released by the other process on leaving its block


def test_it_reads_the_rollup_marker_another_process_left(tmp_path: Path) -> None:
    in_other_process("from metrics.lifecycle.maintenance import mark_rolled_up\nmark_rolled_up(1234.5)\n", tmp_path)

    assert maintenance.rolled_up_at() == 1234.5


def test_it_shows_daphne_a_feature_flag_switched_in_another_process(tmp_path: Path) -> None:
    """Waffle caches a flag for the cache's timeout (300 s) and flushes it when the flag is saved: in local
    memory, that flush reached only the process that saved it (`manage.py provision`, an admin's)."""
    Flag.objects.update_or_create(name=LIVE_CHANGES.name, defaults={"everyone": True})
    request = RequestFactory().get("/")
    request.user = make_user("ada")
    assert flag_active(request, LIVE_CHANGES)  # cached in this process from here on

    in_other_process(
        "from provisioning.models import Flag\n"
        f"flag = Flag.objects.get(name={LIVE_CHANGES.name!r})\n"
        "flag.everyone = False\n"
        "flag.save()\n",
        tmp_path,
    )

    assert not flag_active(request, LIVE_CHANGES)


def test_it_keeps_the_rollup_marker_while_the_shared_cache_holds_many_entries() -> None:
    """Django's database cache culls a third of its rows, by key, once it holds MAX_ENTRIES (300 by default):
    waffle's flag entries (a few per flag) could push out the markers, whose ``ops:`` keys sort first, and
    anomaly rules would wait for a rollup run that had finished."""
    cache = shared_cache()
    maintenance.mark_rolled_up(1_700_000_000.0)
    for number in range(400):
        cache.set(f"waffle:flag:{number:04}", "-", None)
    cache.set("waffle:flag:last", "-", None)  # a write past the bound culls

    assert maintenance.rolled_up_at() == 1_700_000_000.0


@pytest.mark.django_db(transaction=True)
def test_it_says_nothing_of_the_cache_table_on_a_migrate_that_finds_it(capsys: pytest.CaptureFixture[str]) -> None:
    """The table is made on the signal Django sends once per app with models after `migrate`: a line
    saying it exists, for each of them, on every deploy's `migrate`, told nothing."""
    call_command("migrate", verbosity=1, interactive=False)

    assert "devops_insights_shared_cache" not in capsys.readouterr().out


def test_it_shows_daphne_a_health_change_the_poller_announced(client: Client, tmp_path: Path) -> None:
    now = timezone.now()
    api = make_source("api-1")
    Source.objects.filter(pk=api.pk).update(last_polled_at=now, last_success_at=now)
    make_component(make_status_page("acme"), "Public API", [api])
    assert client.get("/status/acme/state.json").json()["overall"]["state"] == "operational"  # now cached here

    # What the poller does when a source starts failing: its row, then the signal statuspages listens to.
    in_other_process(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from pollers.models import Source\n"
        "from pollers.signals import health_changed\n"
        "now = timezone.now()\n"
        f"Source.objects.filter(pk={api.pk}).update(last_polled_at=now, last_error_at=now,"
        " last_success_at=now - timedelta(minutes=1), consecutive_failures=3, last_error_kind='timeout')\n"
        f"health_changed.send_robust(sender=Source, source=Source.objects.get(pk={api.pk}), status='failing',"
        " detail={})\n",
        tmp_path,
    )

    assert client.get("/status/acme/state.json").json()["overall"]["state"] == "major_outage"
