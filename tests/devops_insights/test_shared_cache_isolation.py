"""The shared database cache (devops_insights.shared_cache) is a table but no model: a transactional test's flush
leaves its rows, so tests/conftest.py empties it after such a test, as it empties the default cache."""

from __future__ import annotations

import pytest

from devops_insights.shared_cache import shared_cache
from metrics.lifecycle import maintenance


@pytest.mark.django_db(transaction=True)
def test_it_lets_a_transactional_test_mark_a_rollup() -> None:
    maintenance.mark_rolled_up(1234.5)

    assert maintenance.rolled_up_at() == 1234.5


@pytest.mark.django_db(transaction=True)
def test_it_starts_the_next_transactional_test_with_nothing_of_it() -> None:
    assert maintenance.rolled_up_at() is None
    assert shared_cache().get(maintenance.LAST_PRUNE_KEY) is None


@pytest.mark.django_db
def test_it_starts_the_next_test_with_nothing_of_it_either() -> None:
    maintenance.mark_rolled_up(99.0)  # rolled back with the test's transaction

    assert maintenance.rolled_up_at() == 99.0
